//! Scripted tasks a lab worker can run for the scenarios: work then exit, exec, pipes, shared
//! memory with a process-shared mutex and semaphore, flock pairs, ticking, a SIGTERM handler.
//! They run inside the single-threaded worker (so forking around them stays safe); each task
//! publishes what it is doing to a small status file in the run directory, never to a terminal.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::unistd::getpid;

use crate::proc::Pid;

/// One message on a scenario pipe: 8 bytes, well under PIPE_BUF, so every write is atomic.
pub const MESSAGE_BYTES: usize = 8;
/// The message that means "no more work" (the sentinel, or poison pill, of a queue).
const SENTINEL: u64 = u64::MAX;

/// A task a worker runs on request. Setup tasks ([`Task::is_setup`]) finish at once and the
/// worker goes on serving; every other task ends the worker with an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Spend `ms` busy on a CPU (R) or asleep (S), then `_exit(code)`.
    Work { ms: u32, busy: bool, code: u8 },
    /// Replace this process with `sleep SECS` (execvp): same PID, new program and command line.
    ExecSleep { secs: u32 },
    /// Setup: make a pipe that this worker and every child it forks from now on hold.
    Pipe,
    /// Setup: close every pipe end this worker holds, so readers can see end of file.
    ClosePipes,
    /// Setup: write `count` numbered messages into pipe `pipe` (the pipe buffers them).
    Feed { pipe: u8, count: u32 },
    /// Write `count` messages into pipe `pipe`, `burst` at a time and `every_ms` apart, then
    /// the sentinel if asked, close and exit 0.
    Produce {
        pipe: u8,
        count: u32,
        burst: u32,
        every_ms: u32,
        sentinel: bool,
    },
    /// Read messages from pipe `pipe`, spending `each_ms` on each, until end of file or the
    /// sentinel, then exit 0. With `stop_after` > 0: stop reading after that many and sleep on,
    /// holding the read end open.
    Consume {
        pipe: u8,
        each_ms: u32,
        stop_after: u32,
    },
    /// A pool worker: take task numbers from pipe `pipe`, `work_ms` busy each, until end of file.
    PoolWorker { pipe: u8, work_ms: u32 },
    /// Setup: map a shared region (a file in the run directory, `MAP_SHARED`) holding a counter,
    /// a process-shared mutex and a process-shared semaphore with `permits` permits.
    Share { permits: u32 },
    /// Add 1 to the shared counter `count` times, with or without the shared mutex; exit 0.
    Add { count: u32, locked: bool },
    /// Take the shared semaphore, stay inside `work_ms` busy, give it back; exit 0.
    Enter { work_ms: u32 },
    /// `flock` the parent's lock file `first`, hold it `hold_ms`, then `flock` `second`;
    /// exit 0 once both were held.
    LockPair { first: u8, second: u8, hold_ms: u32 },
    /// Read one message from pipe `read`, then write one to pipe `write`; exit 0 (1 on EOF).
    ReadThenWrite { read: u8, write: u8 },
    /// Count up every `every_ms`, `ticks` times, publishing the count; exit 0.
    Tick { every_ms: u32, ticks: u32 },
    /// Catch SIGTERM, then wait up to `ms`; on SIGTERM clean up and exit 0.
    HandleTerm { ms: u32 },
}

impl Task {
    /// Setup tasks finish at once and leave the worker serving requests.
    pub fn is_setup(self) -> bool {
        matches!(
            self,
            Task::Pipe | Task::ClosePipes | Task::Feed { .. } | Task::Share { .. }
        )
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |on: bool| u8::from(on);
        match *self {
            Task::Work { ms, busy, code } => write!(f, "work {ms} {} {code}", flag(busy)),
            Task::ExecSleep { secs } => write!(f, "exec-sleep {secs}"),
            Task::Pipe => f.write_str("pipe"),
            Task::ClosePipes => f.write_str("close-pipes"),
            Task::Feed { pipe, count } => write!(f, "feed {pipe} {count}"),
            Task::Produce {
                pipe,
                count,
                burst,
                every_ms,
                sentinel,
            } => write!(
                f,
                "produce {pipe} {count} {burst} {every_ms} {}",
                flag(sentinel)
            ),
            Task::Consume {
                pipe,
                each_ms,
                stop_after,
            } => write!(f, "consume {pipe} {each_ms} {stop_after}"),
            Task::PoolWorker { pipe, work_ms } => write!(f, "pool-worker {pipe} {work_ms}"),
            Task::Share { permits } => write!(f, "share {permits}"),
            Task::Add { count, locked } => write!(f, "add {count} {}", flag(locked)),
            Task::Enter { work_ms } => write!(f, "enter {work_ms}"),
            Task::LockPair {
                first,
                second,
                hold_ms,
            } => write!(f, "lock-pair {first} {second} {hold_ms}"),
            Task::ReadThenWrite { read, write } => write!(f, "read-then-write {read} {write}"),
            Task::Tick { every_ms, ticks } => write!(f, "tick {every_ms} {ticks}"),
            Task::HandleTerm { ms } => write!(f, "handle-term {ms}"),
        }
    }
}

impl Task {
    /// Parses the words after `task` in a request line.
    pub fn parse(words: &[&str]) -> Result<Task, String> {
        let (&name, args) = words.split_first().ok_or("task needs a name")?;
        let expected = match name {
            "pipe" | "close-pipes" => 0,
            "exec-sleep" | "share" | "enter" | "handle-term" => 1,
            "feed" | "pool-worker" | "add" | "read-then-write" | "tick" => 2,
            "work" | "consume" | "lock-pair" => 3,
            "produce" => 5,
            _ => {
                return Err(format!(
                    "unknown task {:?}",
                    name.chars().take(32).collect::<String>()
                ));
            }
        };
        if args.len() != expected {
            return Err(format!("task {name} takes {expected} numbers"));
        }
        let n = |i: usize| -> Result<u32, String> {
            args[i]
                .parse()
                .map_err(|_| format!("task {name}: {:?} is not a number", args[i]))
        };
        let small = |i: usize| -> Result<u8, String> {
            u8::try_from(n(i)?).map_err(|_| format!("task {name}: {} is over 255", args[i]))
        };
        let flag = |i: usize| -> Result<bool, String> {
            match n(i)? {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(format!("task {name}: a flag is 0 or 1")),
            }
        };
        Ok(match name {
            "work" => Task::Work {
                ms: n(0)?,
                busy: flag(1)?,
                code: small(2)?,
            },
            "exec-sleep" => Task::ExecSleep { secs: n(0)? },
            "pipe" => Task::Pipe,
            "close-pipes" => Task::ClosePipes,
            "feed" => Task::Feed {
                pipe: small(0)?,
                count: n(1)?,
            },
            "produce" => Task::Produce {
                pipe: small(0)?,
                count: n(1)?,
                burst: n(2)?.max(1),
                every_ms: n(3)?,
                sentinel: flag(4)?,
            },
            "consume" => Task::Consume {
                pipe: small(0)?,
                each_ms: n(1)?,
                stop_after: n(2)?,
            },
            "pool-worker" => Task::PoolWorker {
                pipe: small(0)?,
                work_ms: n(1)?,
            },
            "share" => Task::Share { permits: n(0)? },
            "add" => Task::Add {
                count: n(0)?,
                locked: flag(1)?,
            },
            "enter" => Task::Enter { work_ms: n(0)? },
            "lock-pair" => Task::LockPair {
                first: small(0)?,
                second: small(1)?,
                hold_ms: n(2)?,
            },
            "read-then-write" => Task::ReadThenWrite {
                read: small(0)?,
                write: small(1)?,
            },
            "tick" => Task::Tick {
                every_ms: n(0)?,
                ticks: n(1)?,
            },
            _ => Task::HandleTerm { ms: n(0)? },
        })
    }
}

/// The status file a task process publishes to (one line of `key=value` words).
pub fn status_path(dir: &Path, pid: Pid) -> PathBuf {
    dir.join(format!("task-{pid}"))
}

/// The shared region a worker mapped with [`Task::Share`].
pub fn shared_path(dir: &Path, owner: Pid) -> PathBuf {
    dir.join(format!("shared-{owner}"))
}

/// The lock files [`Task::LockPair`] takes: named after the parent both lockers share.
pub fn lock_path(dir: &Path, parent: Pid, which: u8) -> PathBuf {
    dir.join(format!("lock-{parent}-{which}"))
}

/// Reads a status file back into `key=value` pairs; a bare word (`eof`, `idle`) has an empty value.
pub fn read_status(dir: &Path, pid: Pid) -> Vec<(String, String)> {
    std::fs::read_to_string(status_path(dir, pid))
        .unwrap_or_default()
        .split_whitespace()
        .map(|word| {
            let (key, value) = word.split_once('=').unwrap_or((word, ""));
            (key.to_string(), value.to_string())
        })
        .collect()
}

/// The counters at the start of a shared region, as another process reads them from the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedFigures {
    pub counter: u64,
    pub inside: u32,
    pub max_inside: u32,
    pub done: u32,
}

pub fn read_shared(dir: &Path, owner: Pid) -> Option<SharedFigures> {
    let bytes = std::fs::read(shared_path(dir, owner)).ok()?;
    let u32_at = |at: usize| Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some(SharedFigures {
        counter: u64::from_ne_bytes(bytes.get(0..8)?.try_into().ok()?),
        inside: u32_at(8)?,
        max_inside: u32_at(12)?,
        done: u32_at(16)?,
    })
}

/// The layout of a shared region. The counters come first so a reader of the file finds them
/// at fixed offsets; the mutex and semaphore live in the same pages, marked process-shared.
#[repr(C)]
struct Region {
    counter: AtomicU64,
    inside: AtomicU32,
    max_inside: AtomicU32,
    done: AtomicU32,
    _pad: u32,
    mutex: libc::pthread_mutex_t,
    semaphore: libc::sem_t,
}

const REGION_BYTES: usize = 4096;
/// Increments between pauses in [`Task::Add`], and the time all of them are spread over.
const ADD_BURST: u32 = 10_000;
const ADD_PACE: Duration = Duration::from_secs(3);
const _: () = assert!(std::mem::size_of::<Region>() <= REGION_BYTES);

/// A `MAP_SHARED` mapping; fork() gives the child the same pages, not a copy.
struct Mapping {
    region: *mut Region,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the pointer and length are those mmap returned; nothing uses it afterwards.
        unsafe {
            libc::munmap(self.region.cast(), REGION_BYTES);
        }
    }
}

/// What a worker holds for the tasks: pipe ends and a shared region. A forked child gets a copy
/// of the kit (fork duplicates file descriptors and keeps shared mappings shared).
#[derive(Default)]
pub struct Kit {
    pipes: Vec<(Option<OwnedFd>, Option<OwnedFd>)>,
    shared: Option<Mapping>,
}

/// Runs a setup task; the worker then goes on serving.
pub fn setup(task: Task, kit: &mut Kit, dir: &Path) -> Result<(), String> {
    match task {
        Task::Pipe => {
            let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| format!("pipe() failed: {}", e.desc()))?;
            kit.pipes.push((Some(read), Some(write)));
            Ok(())
        }
        Task::ClosePipes => {
            kit.pipes
                .iter_mut()
                .for_each(|(read, write)| (*read, *write) = (None, None));
            Ok(())
        }
        Task::Feed { pipe, count } => {
            let write = write_end(kit, pipe)?;
            for n in 0..u64::from(count) {
                send(write, n).map_err(|e| format!("write to the pipe failed: {}", e.desc()))?;
            }
            Ok(())
        }
        Task::Share { permits } => {
            kit.shared = Some(map_shared(dir, permits)?);
            Ok(())
        }
        other => Err(format!("{other} is not a setup task")),
    }
}

/// Runs a task to its end and returns the exit code for the worker. A task may block for ever
/// (that is what a deadlock is); if brood is killed meanwhile, the lab's guard ends it.
pub fn run(task: Task, kit: &mut Kit, dir: &Path) -> i32 {
    let me = getpid().as_raw();
    let publish = |text: &str| publish(dir, me, text);
    match task {
        Task::Work { ms, busy, code } => {
            publish(if busy { "busy" } else { "sleeping" });
            spend(ms, busy);
            publish(&format!("exiting code={code}"));
            i32::from(code)
        }
        Task::ExecSleep { secs } => {
            let program = c"sleep";
            let Ok(arg) = std::ffi::CString::new(secs.to_string()) else {
                return 127;
            };
            let _ = nix::unistd::execvp(program, &[program, arg.as_c_str()]);
            127
        }
        Task::Produce {
            pipe,
            count,
            burst,
            every_ms,
            sentinel,
        } => produce(kit, pipe, count, burst, every_ms, sentinel, &publish),
        Task::Consume {
            pipe,
            each_ms,
            stop_after,
        } => consume(kit, pipe, each_ms, stop_after, &publish),
        Task::PoolWorker { pipe, work_ms } => pool_worker(kit, pipe, work_ms, &publish),
        Task::Add { count, locked } => add(kit, count, locked, &publish),
        Task::Enter { work_ms } => enter(kit, work_ms, &publish),
        Task::LockPair {
            first,
            second,
            hold_ms,
        } => lock_pair(dir, first, second, hold_ms, &publish),
        Task::ReadThenWrite { read, write } => read_then_write(kit, read, write, &publish),
        Task::Tick { every_ms, ticks } => {
            for tick in 1..=ticks {
                std::thread::sleep(Duration::from_millis(u64::from(every_ms)));
                publish(&format!("ticks={tick}"));
            }
            0
        }
        Task::HandleTerm { ms } => handle_term(ms, &publish),
        Task::Pipe | Task::ClosePipes | Task::Feed { .. } | Task::Share { .. } => {
            match setup(task, kit, dir) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        }
    }
}

/// Writes the status file atomically (write, then rename), so a reader never sees half a line.
fn publish(dir: &Path, pid: Pid, text: &str) {
    let path = status_path(dir, pid);
    let temporary = path.with_extension("new");
    if std::fs::write(&temporary, format!("{text}\n")).is_ok() {
        let _ = std::fs::rename(&temporary, &path);
    }
}

/// Spends `ms` on a CPU (a loop that never sleeps: state R) or asleep (state S).
fn spend(ms: u32, busy: bool) {
    let duration = Duration::from_millis(u64::from(ms));
    if !busy {
        std::thread::sleep(duration);
        return;
    }
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < duration {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

fn read_end(kit: &Kit, pipe: u8) -> Result<&OwnedFd, String> {
    kit.pipes
        .get(usize::from(pipe))
        .and_then(|(read, _)| read.as_ref())
        .ok_or_else(|| format!("this process holds no read end of pipe {pipe}"))
}

fn write_end(kit: &Kit, pipe: u8) -> Result<&OwnedFd, String> {
    kit.pipes
        .get(usize::from(pipe))
        .and_then(|(_, write)| write.as_ref())
        .ok_or_else(|| format!("this process holds no write end of pipe {pipe}"))
}

/// Closes every pipe end except the ones listed: a child inherits all of them at fork, and a
/// reader only sees end of file once every copy of the write end is closed.
fn keep_only(kit: &mut Kit, reads: &[u8], writes: &[u8]) {
    for (i, (read, write)) in kit.pipes.iter_mut().enumerate() {
        if !reads.iter().any(|&r| usize::from(r) == i) {
            *read = None;
        }
        if !writes.iter().any(|&w| usize::from(w) == i) {
            *write = None;
        }
    }
}

fn send(fd: &OwnedFd, message: u64) -> nix::Result<()> {
    let bytes = message.to_ne_bytes();
    match nix::unistd::write(fd.as_fd(), &bytes)? {
        MESSAGE_BYTES => Ok(()),
        _ => Err(nix::errno::Errno::EIO),
    }
}

/// One message, or `None` at end of file.
fn receive(fd: &OwnedFd) -> nix::Result<Option<u64>> {
    let mut bytes = [0u8; MESSAGE_BYTES];
    let mut filled = 0;
    while filled < MESSAGE_BYTES {
        match nix::unistd::read(fd.as_fd(), &mut bytes[filled..]) {
            Ok(0) => return Ok(None),
            Ok(n) => filled += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Some(u64::from_ne_bytes(bytes)))
}

fn produce(
    kit: &mut Kit,
    pipe: u8,
    count: u32,
    burst: u32,
    every_ms: u32,
    sentinel: bool,
    publish: &dyn Fn(&str),
) -> i32 {
    keep_only(kit, &[], &[pipe]);
    // A writer whose reader is gone should die of SIGPIPE, as any program would; the worker
    // loop ignores it only to survive hung-up control connections.
    // SAFETY: restoring the default disposition runs no handler code.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let Ok(write) = write_end(kit, pipe) else {
        return 1;
    };
    let mut sent = 0u32;
    publish("sent=0");
    while sent < count {
        if sent > 0 {
            std::thread::sleep(Duration::from_millis(u64::from(every_ms)));
        }
        for _ in 0..burst.min(count - sent) {
            if send(write, u64::from(sent)).is_err() {
                publish(&format!("sent={sent} write-failed"));
                return 1;
            }
            sent += 1;
            publish(&format!("sent={sent}"));
        }
    }
    if sentinel {
        let _ = send(write, SENTINEL);
        publish(&format!("sent={sent} sentinel=sent"));
    }
    0
}

fn consume(kit: &mut Kit, pipe: u8, each_ms: u32, stop_after: u32, publish: &dyn Fn(&str)) -> i32 {
    keep_only(kit, &[pipe], &[]);
    let Ok(read) = read_end(kit, pipe) else {
        return 1;
    };
    let mut received = 0u32;
    publish("received=0");
    loop {
        if stop_after > 0 && received >= stop_after {
            publish(&format!("received={received} stopped-reading"));
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        match receive(read) {
            Ok(Some(SENTINEL)) => {
                publish(&format!("received={received} sentinel=received"));
                return 0;
            }
            Ok(Some(_)) => {
                received += 1;
                publish(&format!("received={received}"));
                spend(each_ms, false);
            }
            Ok(None) => {
                publish(&format!("received={received} eof"));
                return 0;
            }
            Err(_) => return 1,
        }
    }
}

fn pool_worker(kit: &mut Kit, pipe: u8, work_ms: u32, publish: &dyn Fn(&str)) -> i32 {
    keep_only(kit, &[pipe], &[]);
    let Ok(read) = read_end(kit, pipe) else {
        return 1;
    };
    let mut done = 0u32;
    publish("done=0 idle");
    loop {
        match receive(read) {
            Ok(Some(task)) => {
                publish(&format!("done={done} working=task{task}"));
                spend(work_ms, true);
                done += 1;
                publish(&format!("done={done} idle"));
            }
            Ok(None) => return 0,
            Err(_) => return 1,
        }
    }
}

fn map_shared(dir: &Path, permits: u32) -> Result<Mapping, String> {
    let path = shared_path(dir, getpid().as_raw());
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.set_len(REGION_BYTES as u64)
        .map_err(|e| format!("cannot size the shared file: {e}"))?;
    // SAFETY: a fresh shared file mapping of its whole length; the kernel checks the arguments.
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            REGION_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if address == libc::MAP_FAILED {
        return Err(format!("mmap failed: {}", std::io::Error::last_os_error()));
    }
    let mapping = Mapping {
        region: address.cast(),
    };
    // SAFETY: the region is zeroed (a new file), page-aligned and big enough for `Region`; the
    // mutex and semaphore are initialised once here, before any child that uses them exists.
    unsafe {
        let region = &mut *mapping.region;
        let mut attributes: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attributes);
        libc::pthread_mutexattr_setpshared(&mut attributes, libc::PTHREAD_PROCESS_SHARED);
        let mutex_ok = libc::pthread_mutex_init(&mut region.mutex, &attributes) == 0;
        libc::pthread_mutexattr_destroy(&mut attributes);
        let semaphore_ok = libc::sem_init(&mut region.semaphore, 1, permits) == 0;
        if !mutex_ok || !semaphore_ok {
            return Err("cannot set up the process-shared mutex and semaphore".into());
        }
    }
    Ok(mapping)
}

fn region(kit: &Kit) -> Option<&Region> {
    // SAFETY: the mapping lives as long as the kit and the region was initialised in map_shared.
    kit.shared.as_ref().map(|m| unsafe { &*m.region })
}

fn add(kit: &Kit, count: u32, locked: bool, publish: &dyn Fn(&str)) -> i32 {
    let Some(region) = region(kit) else {
        return 1;
    };
    let mutex = std::ptr::addr_of!(region.mutex).cast_mut();
    publish("adding");
    // Paced so a person can watch the counter climb: bursts on a fixed schedule, the same for
    // every child, so the bursts of different children run at the same moments and collide.
    let start = Instant::now();
    for i in 1..=count {
        if locked {
            // SAFETY: a process-shared mutex initialised before this process was forked.
            unsafe { libc::pthread_mutex_lock(mutex) };
        }
        // Read, then write back one more: two steps, not one atomic add. Another process can
        // write in between, and then one of the two updates is lost. The short pause widens that
        // window so the loss shows on any machine with more than one CPU.
        let value = region.counter.load(Ordering::Relaxed);
        for _ in 0..50 {
            std::hint::spin_loop();
        }
        region.counter.store(value + 1, Ordering::Relaxed);
        if locked {
            // SAFETY: this process holds the mutex.
            unsafe { libc::pthread_mutex_unlock(mutex) };
        }
        if i % ADD_BURST == 0 {
            let due = ADD_PACE.mul_f64(f64::from(i) / f64::from(count.max(1)));
            std::thread::sleep(due.saturating_sub(start.elapsed()));
        }
    }
    region.done.fetch_add(1, Ordering::SeqCst);
    publish(&format!("added={count} of={count}"));
    0
}

fn enter(kit: &Kit, work_ms: u32, publish: &dyn Fn(&str)) -> i32 {
    let Some(region) = region(kit) else {
        return 1;
    };
    let semaphore = std::ptr::addr_of!(region.semaphore).cast_mut();
    publish("waiting");
    // SAFETY: a process-shared semaphore initialised before this process was forked.
    while unsafe { libc::sem_wait(semaphore) } != 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 1;
        }
    }
    let now = region.inside.fetch_add(1, Ordering::SeqCst) + 1;
    region.max_inside.fetch_max(now, Ordering::SeqCst);
    publish("inside");
    spend(work_ms, true);
    region.inside.fetch_sub(1, Ordering::SeqCst);
    region.done.fetch_add(1, Ordering::SeqCst);
    publish("done");
    // SAFETY: this process took one permit above and gives it back.
    unsafe { libc::sem_post(semaphore) };
    0
}

fn lock_pair(dir: &Path, first: u8, second: u8, hold_ms: u32, publish: &dyn Fn(&str)) -> i32 {
    // Each locker opens the files itself: flock belongs to the open file description, and one
    // inherited across fork would be the same lock for both, so nothing would block.
    let parent = nix::unistd::getppid().as_raw();
    let open = |which: u8| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path(dir, parent, which))
    };
    let (Ok(a), Ok(b)) = (open(first), open(second)) else {
        return 1;
    };
    let lock = |file: &File| {
        // SAFETY: flock on a file we own; blocks until the lock is ours.
        while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return false;
            }
        }
        true
    };
    publish(&format!("taking={first}"));
    if !lock(&a) {
        return 1;
    }
    publish(&format!("holding={first} taking={second}"));
    std::thread::sleep(Duration::from_millis(u64::from(hold_ms)));
    if !lock(&b) {
        return 1;
    }
    publish(&format!("holding={first},{second}"));
    0
}

fn read_then_write(kit: &mut Kit, read: u8, write: u8, publish: &dyn Fn(&str)) -> i32 {
    keep_only(kit, &[read], &[write]);
    let (Ok(input), Ok(output)) = (read_end(kit, read), write_end(kit, write)) else {
        return 1;
    };
    publish(&format!("reading={read}"));
    match receive(input) {
        Ok(Some(_)) => {
            publish(&format!("writing={write}"));
            let _ = send(output, 1);
            0
        }
        _ => {
            publish(&format!("reading={read} eof"));
            1
        }
    }
}

static TERM_RECEIVED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM_RECEIVED.store(true, Ordering::SeqCst);
}

fn handle_term(ms: u32, publish: &dyn Fn(&str)) -> i32 {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_term),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    if unsafe { sigaction(Signal::SIGTERM, &action) }.is_err() {
        return 1;
    }
    publish("handler=installed");
    let deadline = Instant::now() + Duration::from_millis(u64::from(ms));
    while Instant::now() < deadline {
        if TERM_RECEIVED.load(Ordering::SeqCst) {
            // The handler only set a flag; the real clean-up runs here, outside the handler.
            publish("handled=SIGTERM cleaned-up");
            return 0;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    publish("timed-out");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_round_trip_through_their_text() {
        let tasks = [
            Task::Work {
                ms: 5000,
                busy: true,
                code: 3,
            },
            Task::ExecSleep { secs: 30 },
            Task::Pipe,
            Task::ClosePipes,
            Task::Feed { pipe: 1, count: 4 },
            Task::Produce {
                pipe: 0,
                count: 5,
                burst: 1,
                every_ms: 1000,
                sentinel: true,
            },
            Task::Consume {
                pipe: 0,
                each_ms: 600,
                stop_after: 0,
            },
            Task::PoolWorker {
                pipe: 0,
                work_ms: 800,
            },
            Task::Share { permits: 3 },
            Task::Add {
                count: 100,
                locked: false,
            },
            Task::Enter { work_ms: 900 },
            Task::LockPair {
                first: 0,
                second: 1,
                hold_ms: 300,
            },
            Task::ReadThenWrite { read: 0, write: 1 },
            Task::Tick {
                every_ms: 200,
                ticks: 10,
            },
            Task::HandleTerm { ms: 60_000 },
        ];
        for task in tasks {
            let text = task.to_string();
            let words: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(Task::parse(&words), Ok(task), "{text}");
        }
    }

    #[test]
    fn bad_tasks_are_refused_with_a_reason() {
        assert!(Task::parse(&[]).is_err());
        assert!(
            Task::parse(&["rm", "-rf"])
                .unwrap_err()
                .contains("unknown task")
        );
        assert!(Task::parse(&["work", "1"]).unwrap_err().contains("takes 3"));
        assert!(
            Task::parse(&["work", "1", "2", "3"])
                .unwrap_err()
                .contains("0 or 1")
        );
        assert!(
            Task::parse(&["feed", "300", "1"])
                .unwrap_err()
                .contains("over 255")
        );
    }
}
