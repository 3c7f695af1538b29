//! Helpers for tests that use real processes: every process made here is killed and reaped on
//! drop, also when an assertion fails.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brood::proc::scan::{ScanOptions, Scanner};
use brood::proc::{Pid, ProcInfo, Snapshot};

/// Generous: CI machines are slow and busy; a passing test never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Polls `check` until it returns `Some`, failing the test with `what` after [`DEADLINE`].
pub fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process that is killed and reaped when the guard goes away.
pub struct Reaped(pub Child);

impl Reaped {
    pub fn spawn(program: &str, args: &[&str]) -> Reaped {
        Reaped::from_command(Command::new(program).args(args).stdin(Stdio::null()))
    }

    pub fn from_command(command: &mut Command) -> Reaped {
        let child = command
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a test process");
        Reaped(child)
    }

    pub fn pid(&self) -> Pid {
        self.0.id() as Pid
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process that is not our child (an orphan we made): killed on drop; its adopter reaps it.
pub struct Killed(pub Pid);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

pub fn scanner() -> Scanner {
    Scanner::new(ScanOptions::default())
}

pub fn find(snapshot: &Snapshot, pid: Pid) -> Option<&ProcInfo> {
    snapshot.procs.iter().find(|p| p.pid() == pid)
}

pub fn own_pid() -> Pid {
    std::process::id() as Pid
}

pub fn signal(pid: Pid, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("signal a test process");
}

/// The PPID /proc reports for `pid`, read independently of brood's scanner.
pub fn ppid_from_proc(pid: Pid) -> Option<Pid> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
