//! Children made with fork(), for what no program on the machine does on request (hold two
//! locks in crossed order, block in a pipe read). The test process is multithreaded, so a forked
//! child calls only async-signal-safe functions (raw syscalls) and then `_exit`.
#![allow(dead_code)] // each test binary uses its own subset

use std::ffi::CString;
use std::path::PathBuf;

use brood::proc::Pid;
use nix::unistd::{ForkResult, fork};

/// A forked child, killed and reaped on drop.
pub struct Forked(pub Pid);

impl Drop for Forked {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

/// Forks a child that keeps only the descriptors in `keep` (other tests in this process hold
/// pipe ends of their own, which a fork would copy), runs `body` (async-signal-safe calls only)
/// and then `_exit(0)`.
pub fn fork_child(keep: &[i32], body: impl FnOnce()) -> Forked {
    let keep = keep.to_vec();
    // SAFETY: the child runs only async-signal-safe code (raw syscalls) and then _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            for fd in 3..4096 {
                if !keep.contains(&fd) {
                    unsafe { libc::close(fd) };
                }
            }
            body();
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => Forked(child.as_raw()),
    }
}

/// A child named `brood-tracer` that traces `target` as `strace -p` does: PTRACE_SEIZE,
/// PTRACE_INTERRUPT, a wait for the stop, PTRACE_CONT; then `target` runs (or sleeps) on,
/// traced, until the tracer is dropped. `None` where ptrace is refused.
pub fn trace_like_strace(target: Pid) -> Option<Forked> {
    let (report, told) = nix::unistd::pipe().expect("pipe");
    let told_fd = std::os::fd::AsRawFd::as_raw_fd(&told);
    let tracer = fork_child(&[told_fd], move || {
        // SAFETY: raw syscalls only (prctl, ptrace, waitpid, write, pause).
        unsafe {
            libc::prctl(libc::PR_SET_NAME, c"brood-tracer".as_ptr());
            let seized = libc::ptrace(libc::PTRACE_SEIZE, target, 0, 0) == 0
                && libc::ptrace(libc::PTRACE_INTERRUPT, target, 0, 0) == 0
                && libc::waitpid(target, std::ptr::null_mut(), libc::__WALL) == target
                && libc::ptrace(libc::PTRACE_CONT, target, 0, 0) == 0;
            let answer = if seized { b"y" } else { b"n" };
            libc::write(told_fd, answer.as_ptr().cast(), 1);
            loop {
                libc::pause();
            }
        }
    });
    drop(told);
    let mut answer = [0u8; 1];
    let _ = nix::unistd::read(&report, &mut answer);
    (answer == *b"y").then_some(tracer)
}

/// Two children deadlocked on two `flock`ed files: each locks one, waits at a pipe barrier
/// until the other holds its first lock too, then asks for the other's. The files are removed
/// on drop.
pub struct CrossedLocks {
    pub one: Forked,
    pub two: Forked,
    pub paths: [PathBuf; 2],
}

impl CrossedLocks {
    /// `tag` keeps the files of two tests of one process apart.
    pub fn start(tag: &str) -> CrossedLocks {
        use std::os::fd::AsRawFd;
        let dir = std::env::temp_dir();
        let pid = std::process::id();
        let paths = ["a", "b"].map(|n| dir.join(format!("brood-lock-{tag}-{n}-{pid}")));
        for path in &paths {
            std::fs::write(path, b"").expect("create a lock file");
        }
        let names = paths
            .clone()
            .map(|p| CString::new(p.into_os_string().into_encoded_bytes()).expect("a path"));
        // The barrier: each child closes its write end once it holds its first lock, then reads
        // until end of file, which comes when every write end is closed.
        let (barrier_read, barrier_write) = nix::unistd::pipe().expect("a pipe");
        let (read, write) = (barrier_read.as_raw_fd(), barrier_write.as_raw_fd());
        let take = |first: &CString, second: &CString| {
            let (first, second) = (first.as_ptr(), second.as_ptr());
            move || unsafe {
                let held = libc::open(first, libc::O_RDWR);
                libc::flock(held, libc::LOCK_EX);
                libc::close(write);
                let mut byte = 0u8;
                loop {
                    match libc::read(read, (&raw mut byte).cast(), 1) {
                        0 => break,
                        -1 if *libc::__errno_location() == libc::EINTR => {}
                        n if n < 0 => break,
                        _ => {}
                    }
                }
                let wanted = libc::open(second, libc::O_RDWR);
                libc::flock(wanted, libc::LOCK_EX);
            }
        };
        let one = fork_child(&[read, write], take(&names[0], &names[1]));
        let two = fork_child(&[read, write], take(&names[1], &names[0]));
        drop((barrier_read, barrier_write));
        CrossedLocks { one, two, paths }
    }
}

impl Drop for CrossedLocks {
    fn drop(&mut self) {
        for path in &self.paths {
            let _ = std::fs::remove_file(path);
        }
    }
}
