//! The kernel's process events and `brood events`, with real processes: short-lived children
//! named and ending with known codes, the JSON stream of a child's subtree, the fallback to scans,
//! a fork storm that overflows a small buffer, and every way the command ends.
//!
//! The connector is machine-wide and tests run in parallel: each one looks only at processes it
//! made. Where the kernel refuses the connector (no CAP_NET_ADMIN, another PID or user namespace),
//! the tests that need it say so on stderr and pass without checking.

mod support;

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use brood::proc::Pid;
use brood::proc::events::clock::ns_to_ticks;
use brood::proc::events::source::{EventSource, SourceOptions};
use brood::proc::events::{ExitStatus, Kind, ProcEvent};
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};
use serde_json::Value;
use support::{DEADLINE, Reaped, brood, own_pid, signal};

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

/// `brood events ARGS` with its output read line by line on a thread.
struct Running {
    child: Reaped,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        Running::reading(args, usize::MAX)
    }

    /// Reads at most `lines` lines, then closes its end of the pipe.
    fn reading(args: &[&str], lines: usize) -> Running {
        let mut child = Reaped(brood(args).spawn().expect("brood events"));
        let stdout = child.0.stdout.take().expect("piped stdout");
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().take(lines) {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines: received,
        }
    }

    fn next_json(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("brood events printed a line in time");
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
    }

    /// Interrupts it and returns its exit status and stderr.
    fn stop(mut self, with: Signal) -> (std::process::ExitStatus, String) {
        signal(self.child.pid(), with);
        wait_with_deadline(&mut self.child.0)
    }
}

fn wait_with_deadline(child: &mut Child) -> (std::process::ExitStatus, String) {
    let status = support::wait_until("brood events to end", || child.try_wait().ok().flatten());
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (status, stderr)
}

/// A shell that waits for a line on stdin, then does `script`.
fn waiting_shell(script: &str) -> Reaped {
    Reaped::from_command(
        std::process::Command::new("sh")
            .args(["-c", &format!("read go; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    )
}

fn go(shell: &mut Reaped) {
    let stdin = shell.0.stdin.as_mut().expect("piped stdin");
    stdin.write_all(b"go\n").expect("the shell reads its line");
}

#[test]
fn events_json_tells_the_fork_exec_and_exits_of_a_childs_subtree() {
    let mut shell = waiting_shell("sleep 0.2; exit 5");
    let shell_pid = shell.pid().to_string();
    let run = Running::start(&[
        "events",
        "--format",
        "json",
        "--pid",
        &shell_pid,
        "--subtree",
    ]);
    let notice = run.next_json();
    assert_eq!(notice["kind"], "notice", "{notice}");
    if notice["source"] != "kernel" {
        eprintln!(
            "skipping the kernel half of the JSON test: {}",
            notice["text"]
        );
        return;
    }
    go(&mut shell);
    let mut events = Vec::new();
    while !events
        .iter()
        .any(|e: &Value| e["kind"] == "exit" && e["task"]["pid"] == shell.pid())
    {
        events.push(run.next_json());
    }
    let (status, stderr) = run.stop(Signal::SIGINT);
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.is_empty(), "quiet on SIGINT: {stderr}");

    let fork = events
        .iter()
        .find(|e| e["kind"] == "fork")
        .expect("the shell's fork");
    assert_eq!(fork["parent"]["pid"], shell.pid());
    assert_eq!(fork["source"], "kernel");
    let sleeper = fork["task"]["pid"].clone();
    let exec = events
        .iter()
        .find(|e| e["kind"] == "exec" && e["task"]["pid"] == sleeper)
        .expect("the exec of sleep");
    assert_eq!(exec["task"]["name"], "sleep");
    assert_eq!(exec["task"]["cmdline"], "sleep 0.2");
    let slept = events
        .iter()
        .find(|e| e["kind"] == "exit" && e["task"]["pid"] == sleeper)
        .expect("the exit of sleep");
    assert_eq!(slept["status"]["code"], 0);
    assert!(
        slept["lifetime_ns"]
            .as_u64()
            .is_some_and(|ns| ns >= 200_000_000)
    );
    let last = events.last().expect("the shell's exit");
    assert_eq!(last["status"]["code"], 5);
    for event in &events {
        let pid = &event["task"]["pid"];
        assert!(
            *pid == shell.pid() || *pid == sleeper,
            "only the subtree's events: {event}"
        );
        assert!(
            event["unix_ns"].is_u64() && event["boot_ns"].is_u64(),
            "{event}"
        );
    }
}

#[test]
fn from_scans_says_it_polls_and_reads_a_zombies_exit_code() {
    let mut shell = waiting_shell("exit 7");
    let shell_pid = shell.pid().to_string();
    let run = Running::start(&[
        "events",
        "--from-scans",
        "-d",
        "0.2",
        "--format",
        "json",
        "--pid",
        &shell_pid,
    ]);
    let notice = run.next_json();
    assert_eq!(
        (&notice["kind"], &notice["source"]),
        (&"notice".into(), &"scan".into())
    );
    go(&mut shell);
    // Not reaped: it stays a zombie, whose stat holds its exit status.
    let exit = loop {
        let event = run.next_json();
        if event["kind"] == "exit" {
            break event;
        }
    };
    assert_eq!(exit["task"]["pid"], shell.pid());
    assert_eq!(exit["source"], "scan");
    assert_eq!(exit["status"]["code"], 7, "{exit}");
    let (status, stderr) = run.stop(Signal::SIGTERM);
    assert!(status.success(), "{status:?}");
    assert_eq!(
        stderr.matches("events from scans").count(),
        1,
        "said once, plainly: {stderr}"
    );
    assert!(stderr.contains("processes shorter than a refresh are not seen"));
}

#[test]
fn refused_in_a_pid_namespace_it_falls_back_to_scans_and_says_why() {
    // The kernel ignores a subscription from any PID namespace but the first: `unshare --fork`
    // starts brood in a new one (root only; skipped where it cannot).
    let brood_bin = env!("CARGO_BIN_EXE_brood");
    let output = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", brood_bin, "events"])
        .args(["--format", "json", "--duration", "0.5"])
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) if !String::from_utf8_lossy(&output.stderr).contains("unshare:") => output,
        other => {
            eprintln!("skipping the PID namespace test: cannot make one here ({other:?})");
            return;
        }
    };
    assert!(output.status.success(), "{output:?}");
    let first = String::from_utf8_lossy(&output.stdout);
    let notice: Value = serde_json::from_str(first.lines().next().unwrap_or_default())
        .unwrap_or_else(|err| panic!("not JSON ({err}): {first}"));
    assert_eq!(notice["source"], "scan", "{notice}");
    let text = notice["text"].as_str().unwrap_or_default();
    assert!(text.contains("namespace"), "says why: {text}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("events from scans"), "{stderr}");
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

#[test]
fn a_closed_pipe_ends_brood_events_quietly() {
    // One line read, then the pipe is closed, as `| head -1` does.
    let mut run = Running::reading(&["events"], 1);
    run.lines
        .recv_timeout(DEADLINE)
        .expect("brood events printed its first line");
    let start = Instant::now();
    let (status, stderr) = wait_with_deadline(&mut run.child.0);
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("panic"),
        "{stderr}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    let brood_bin = env!("CARGO_BIN_EXE_brood");
    let output = std::process::Command::new("bash")
        .args([
            "-c",
            &format!("set -o pipefail; \"{brood_bin}\" events --format json | head -1"),
        ])
        .output()
        .expect("bash");
    assert!(output.status.success(), "{output:?}");
    let line: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(line["kind"], "notice");
}

#[test]
fn duration_ends_brood_events_on_time() {
    let start = Instant::now();
    let mut child = brood(&["events", "--duration", "1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("brood events");
    let (status, _) = wait_with_deadline(&mut child);
    let took = start.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

#[test]
fn an_unknown_pid_is_refused_with_one_line() {
    let output = brood(&["events", "--pid", "9999999"])
        .output()
        .expect("brood events");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "brood: no process with PID 9999999\n"
    );
}

#[test]
fn text_lines_carry_time_kind_and_sentence() {
    let mut shell = waiting_shell("exit 3");
    let shell_pid = shell.pid().to_string();
    let run = Running::start(&["events", "--from-scans", "-d", "0.2", "--pid", &shell_pid]);
    let first = run.lines.recv_timeout(DEADLINE).expect("the notice");
    assert!(first.contains(" notice   events from scans"), "{first}");
    go(&mut shell);
    let exit = run.lines.recv_timeout(DEADLINE).expect("the exit");
    let (time, rest) = exit.split_once(' ').expect("time first");
    assert_eq!(time.len(), "12:34:56.789".len(), "{exit}");
    assert!(
        rest.starts_with(&format!(
            "exit     {shell_pid} (sh) exited with code 3 within "
        )),
        "{exit}"
    );
    let (status, _) = run.stop(Signal::SIGINT);
    assert!(status.success());
}
