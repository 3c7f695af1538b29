//! The kernel's process events through the library, with real processes: short-lived children
//! named and ending with known codes, and fork storms that overflow a small buffer. (`brood
//! events` itself, as a process, is tested in `events_cli.rs`.)
//!
//! The connector is machine-wide and tests run in parallel: each one looks only at processes it
//! made. Where the kernel refuses the connector (an older kernel without privilege, another PID or
//! user namespace), the tests say so on stderr and pass without checking.

mod support;

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use brood::proc::Pid;
use brood::proc::events::clock::ns_to_ticks;
use brood::proc::events::source::{EventSource, SourceOptions};
use brood::proc::events::{ExitStatus, Kind, ProcEvent};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};
use support::{DEADLINE, own_pid};

/// The kernel's events, or `None` after saying on stderr why they are not available here.
fn kernel_source(test: &str) -> Option<EventSource> {
    let (mut source, _) = EventSource::open(&SourceOptions::default()).expect("first scan");
    if source.is_kernel() {
        return Some(source);
    }
    let mut notice = Vec::new();
    let _ = source.next_batch(Duration::ZERO, &mut notice);
    let why = notice.first().map(ProcEvent::describe).unwrap_or_default();
    eprintln!("skipping {test}: the kernel's process events are refused here ({why})");
    None
}

/// Children forked here, reaped on drop (they are zombies until then).
#[derive(Default)]
struct Forked(Vec<Pid>);

impl Forked {
    /// A child that names itself `name` and exits at once with `code`.
    fn spawn(&mut self, name: &str, code: i32) -> Pid {
        let name = CString::new(name).expect("a name without NUL");
        // SAFETY: between fork and _exit the child only makes two system calls (prctl and
        // _exit), which is what a child of a multi-threaded process may do; `name` was made
        // before the fork.
        match unsafe { fork() }.expect("fork") {
            ForkResult::Child => unsafe {
                libc::prctl(libc::PR_SET_NAME, name.as_ptr());
                libc::_exit(code)
            },
            ForkResult::Parent { child } => {
                self.0.push(child.as_raw());
                child.as_raw()
            }
        }
    }

    fn reap(&mut self) {
        for pid in self.0.drain(..) {
            let _ = waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        self.reap();
    }
}

/// Reads events on a thread of its own until dropped, as a program would.
struct Reader {
    events: mpsc::Receiver<ProcEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    fn start(mut source: EventSource) -> Reader {
        let (tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut batch = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                batch.clear();
                if source
                    .next_batch(Duration::from_millis(100), &mut batch)
                    .is_err()
                {
                    return;
                }
                for event in batch.drain(..) {
                    if tx.send(event).is_err() {
                        return;
                    }
                }
            }
        });
        Reader {
            events,
            stop,
            thread: Some(thread),
        }
    }

    /// Events until `done` says it has all it wants; fails the test after [`DEADLINE`].
    fn until(&self, what: &str, mut done: impl FnMut(&ProcEvent) -> bool) {
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            if let Ok(event) = self.events.recv_timeout(left)
                && done(&event)
            {
                return;
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Field 22 of /proc/PID/stat, read independently of brood.
fn start_ticks_of(pid: Pid) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

fn own_name() -> String {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("own stat");
    let open = stat.find('(').expect("comm opens");
    let close = stat.rfind(')').expect("comm closes");
    stat[open + 1..close].to_string()
}

fn task_pid(event: &ProcEvent) -> Option<Pid> {
    event.task.as_ref().map(|t| t.pid)
}

#[test]
fn fifty_short_lived_children_appear_with_parent_lifetime_and_exit_code() {
    let Some(source) = kernel_source("fifty_short_lived_children") else {
        return;
    };
    let reader = Reader::start(source);
    let mut children = Forked::default();
    let expected: HashMap<Pid, (String, i32)> = (0..50)
        .map(|i| {
            let name = format!("bev-{i}");
            let code = i + 1;
            (children.spawn(&name, code), (name, code))
        })
        .collect();
    let mut forks = HashMap::new();
    let mut renamed = HashSet::new();
    let mut exits = HashMap::new();
    reader.until("the exit of all 50 children", |event| {
        let Some(pid) = task_pid(event).filter(|p| expected.contains_key(p)) else {
            return false;
        };
        match event.kind {
            Kind::Fork => drop(forks.insert(pid, event.clone())),
            Kind::Comm { .. } => drop(renamed.insert(pid)),
            Kind::Exit { .. } => drop(exits.insert(pid, event.clone())),
            _ => {}
        }
        exits.len() == expected.len()
    });

    let me = own_pid();
    let my_name = own_name();
    let ticks_per_sec = procfs::ticks_per_second();
    for (pid, (name, code)) in &expected {
        // Still zombies: /proc has their true start times.
        let start = start_ticks_of(*pid).expect("an unreaped child's stat");
        let exit = &exits[pid];
        let task = exit.task.as_ref().expect("the exit names its task");
        assert_eq!(&*task.name, name, "{exit:?}");
        assert_eq!(task.start_ticks, Some(start), "identity of {pid}");
        let Kind::Exit {
            status,
            lifetime_ns,
        } = exit.kind
        else {
            unreachable!()
        };
        assert_eq!(status, Some(ExitStatus::Code(*code)), "{exit:?}");
        let lifetime = lifetime_ns.expect("a lifetime");
        assert!(
            lifetime > 0 && lifetime < DEADLINE.as_nanos() as u64,
            "{exit:?}"
        );
        let parent = exit.parent.as_ref().expect("the exit names the parent");
        assert_eq!((parent.pid, &*parent.name), (me, my_name.as_str()));
        assert!(renamed.contains(pid), "the rename of {pid} was told");

        let fork = forks.get(pid).expect("the fork was told");
        let child = fork.task.as_ref().expect("the fork names the child");
        assert_eq!(child.identity(), task.identity());
        assert!(!child.start_estimated, "read from /proc, not estimated");
        assert_eq!(fork.parent.as_ref().map(|p| p.pid), Some(me));
        assert!(fork.at <= exit.at);
        // What brood would have said had the child been gone: the fork's tick or the next.
        let estimate = ns_to_ticks(fork.at.boot_ns, ticks_per_sec);
        assert!(
            estimate == start || estimate == start + 1,
            "estimate {estimate} for a start at tick {start}"
        );
    }
    children.reap();
}

/// What a storm test saw: its own storm's events, the losses reported, and which children it
/// still waits for.
#[derive(Default)]
struct StormTally {
    storm: HashSet<Pid>,
    received: usize,
    /// Dropped events reporting a count, and the counts; those that could not count.
    dropped_events: usize,
    counted_lost: u64,
    uncounted_lost: usize,
    waiting: HashSet<Pid>,
}

impl StormTally {
    fn take(&mut self, batch: &mut Vec<ProcEvent>) {
        for event in batch.drain(..) {
            match (&event.kind, task_pid(&event)) {
                (Kind::Dropped { count: Some(count) }, _) => {
                    self.dropped_events += 1;
                    self.counted_lost += count;
                }
                (Kind::Dropped { count: None }, _) => self.uncounted_lost += 1,
                (Kind::Fork | Kind::Exit { .. }, Some(pid)) if self.storm.contains(&pid) => {
                    self.received += 1;
                }
                (Kind::Exit { .. }, Some(pid)) => drop(self.waiting.remove(&pid)),
                _ => {}
            }
        }
    }

    /// Reads until the exits of `children` have come.
    fn read_until_exits(&mut self, source: &mut EventSource, children: HashSet<Pid>) {
        self.waiting = children;
        let start = Instant::now();
        let mut batch = Vec::new();
        while !self.waiting.is_empty() {
            assert!(
                start.elapsed() < DEADLINE,
                "the exits of {:?} never came ({} counted losses said)",
                self.waiting,
                self.dropped_events
            );
            source
                .next_batch(Duration::from_millis(100), &mut batch)
                .expect("read events");
            self.take(&mut batch);
        }
    }
}

/// A child that exits at once on each CPU this thread may use: its fork and exit are sent from
/// that CPU.
fn one_child_per_cpu(children: &mut Forked) -> HashSet<Pid> {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    let this_thread = nix::unistd::Pid::from_raw(0);
    let allowed = sched_getaffinity(this_thread).expect("affinity");
    let mut pids = HashSet::new();
    for cpu in (0..CpuSet::count()).filter(|&cpu| allowed.is_set(cpu).unwrap_or(false)) {
        let mut one = CpuSet::new();
        if one.set(cpu).is_ok() && sched_setaffinity(this_thread, &one).is_ok() {
            pids.insert(children.spawn("bev-cpu", 0));
        }
    }
    sched_setaffinity(this_thread, &allowed).expect("affinity back");
    children.reap();
    pids
}

const STORM: usize = 2_000;

/// Forks [`STORM`] children that exit at once, reading nothing meanwhile into the kernel's
/// smallest buffer, then reads on. `heard_first`: a message from every CPU is read before.
fn storm_into_a_small_buffer(test: &str, heard_first: bool) -> Option<StormTally> {
    let mut source = kernel_source(test)?;
    let mut tally = StormTally::default();
    let mut children = Forked::default();
    if heard_first {
        tally.read_until_exits(&mut source, one_child_per_cpu(&mut children));
    }
    let granted = source.set_receive_buffer(1).expect("kernel").expect("set");
    assert!(
        granted < 16 * 1024,
        "the kernel's smallest buffer: {granted}"
    );
    for _ in 0..STORM {
        tally.storm.insert(children.spawn("bev-storm", 0));
        children.reap();
    }
    let granted = source
        .set_receive_buffer(4 << 20)
        .expect("kernel")
        .expect("set");
    assert!(granted >= 4 << 20, "{granted}");
    // Read what the small buffer kept: until its queue has been read empty, an overflowed socket
    // takes nothing more (netlink's congestion flag).
    let mut batch = Vec::new();
    source
        .next_batch(Duration::ZERO, &mut batch)
        .expect("read events");
    tally.take(&mut batch);
    // A CPU's gap shows when its next message arrives: one more from each.
    tally.read_until_exits(&mut source, one_child_per_cpu(&mut children));
    assert!(
        tally.received < 2 * STORM,
        "some were really lost: the test proves nothing otherwise"
    );
    Some(tally)
}

#[test]
fn a_fork_storm_into_a_small_buffer_reports_how_many_events_were_dropped() {
    // Losses are counted per CPU from the first message heard from it.
    let Some(tally) = storm_into_a_small_buffer("fork storm", true) else {
        return;
    };
    // Every storm event either arrived or is in a count: none vanished unsaid.
    assert!(
        tally.counted_lost as usize + tally.received >= 2 * STORM,
        "{} storm events received and {} counted lost, of {}",
        tally.received,
        tally.counted_lost,
        2 * STORM
    );
}

#[test]
fn a_storm_before_every_cpu_was_heard_from_still_says_events_were_lost() {
    let Some(tally) = storm_into_a_small_buffer("early fork storm", false) else {
        return;
    };
    // Counted in full, or said to be lost beyond the count: never less than the truth.
    assert!(
        tally.uncounted_lost > 0 || tally.counted_lost as usize + tally.received >= 2 * STORM,
        "{} storm events received, {} counted lost and no uncounted loss said",
        tally.received,
        tally.counted_lost
    );
}
