//! The process model: /proc in, plain data out.
//! Only `scan` reads /proc; everything else here is a pure function of snapshots.

pub mod badges;
#[cfg(any(test, feature = "test-support"))]
pub mod builder;
pub mod connector;
pub mod details;
pub mod events;
pub mod groups;
pub mod ipc;
pub mod kmsg;
pub mod lifecycle;
pub mod locks;
pub mod lookup;
pub mod ofd;
pub mod scan;
pub mod signal;
pub mod stat;
pub mod system;
pub mod text;
pub mod tree;
pub mod wchan;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub type Pid = i32;

/// A process's identity: the kernel reuses PIDs, but never a PID with the same start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identity {
    pub pid: Pid,
    /// Field 22 of /proc/PID/stat: clock ticks after boot.
    pub start_ticks: u64,
}

/// Shown as the PID: what a person reads; the start time only tells processes apart.
impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.pid)
    }
}

/// The kernel's scheduling state letter (proc(5)), as a closed set plus whatever a future kernel adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Running,
    Sleeping,
    DiskSleep,
    Stopped,
    Traced,
    Zombie,
    Dead,
    Idle,
    Other(u8),
}

impl State {
    pub fn from_letter(letter: u8) -> State {
        match letter {
            b'R' => State::Running,
            b'S' => State::Sleeping,
            b'D' => State::DiskSleep,
            b'T' => State::Stopped,
            b't' => State::Traced,
            b'Z' => State::Zombie,
            b'X' | b'x' => State::Dead,
            b'I' => State::Idle,
            other => State::Other(other),
        }
    }

    pub fn letter(self) -> char {
        match self {
            State::Running => 'R',
            State::Sleeping => 'S',
            State::DiskSleep => 'D',
            State::Stopped => 'T',
            State::Traced => 't',
            State::Zombie => 'Z',
            State::Dead => 'X',
            State::Idle => 'I',
            State::Other(letter) if letter.is_ascii_graphic() => char::from(letter),
            State::Other(_) => '?',
        }
    }

    /// It has exited: a zombie, or on its way out of the process table (as a process the
    /// kernel's exit event marked before the next scan).
    pub fn has_exited(self) -> bool {
        matches!(self, State::Zombie | State::Dead)
    }

    /// One line for the help screen and the docs.
    pub fn meaning(self) -> &'static str {
        match self {
            State::Running => "runnable: running on a CPU or waiting in the run queue for one",
            State::Sleeping => {
                "sleeping, interruptible: waiting for an event (input, a child, a timer)"
            }
            State::DiskSleep => {
                "uninterruptible wait, usually disk or network I/O; signals wait too"
            }
            State::Stopped => "stopped by job control (SIGSTOP, SIGTSTP); SIGCONT resumes it",
            State::Traced => "stopped by a tracer (a debugger, strace); TracerPid names it",
            State::Zombie => "exited, not yet reaped: its parent must wait() for it",
            State::Dead => "dead: being removed, seen only for an instant",
            State::Idle => "idle kernel thread (not counted as load)",
            State::Other(_) => "a state this version of brood does not know",
        }
    }

    /// The states the help screen explains, in the order it lists them.
    pub const KNOWN: [State; 8] = [
        State::Running,
        State::Sleeping,
        State::DiskSleep,
        State::Stopped,
        State::Traced,
        State::Zombie,
        State::Idle,
        State::Dead,
    ];
}

/// What kind of task a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Process,
    /// A thread other than its process's main thread; its `ppid` is the thread group leader.
    Thread,
    KernelThread,
}

/// One process (or thread) as one scan saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcInfo {
    pub id: Identity,
    pub ppid: Pid,
    pub pgrp: Pid,
    pub session: Pid,
    pub kind: TaskKind,
    pub state: State,
    /// `comm`, made safe to print.
    pub name: Arc<str>,
    /// Arguments joined by spaces, made safe to print; empty for kernel threads and zombies.
    pub cmdline: Arc<str>,
    pub uid: Option<u32>,
    pub user: Arc<str>,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Share of one CPU since the previous scan (100 = one core busy).
    pub cpu_percent: f32,
    pub rss_bytes: u64,
    pub vsize_bytes: u64,
    pub nice: i64,
    pub threads: i64,
    /// The task tracing it (`TracerPid`), whatever its state: `strace -p` leaves a process
    /// sleeping. Read at each scan while it is stopped by its tracer (t); beyond that, as far as
    /// the scanner was asked to follow tracers (`scan::Tracers`); dropped when the tracer is gone.
    pub tracer: Option<Pid>,
    /// Whether it may have run since the scan before: false only when the scanner proved it did
    /// not (its CPU time, to the nanosecond, stood still), so what was read of it still holds.
    pub ran: bool,
}

impl ProcInfo {
    pub fn pid(&self) -> Pid {
        self.id.pid
    }

    /// The arguments after the program name, when the command line has any (the name itself
    /// is `name`, shown instead of `argv[0]`).
    pub fn arguments(&self) -> Option<&str> {
        let (_, args) = self.cmdline.split_once(' ')?;
        let args = args.trim();
        (!args.is_empty()).then_some(args)
    }
}

/// One pass over /proc, plus the clock it was read at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Shared with the scanner, which reads the next scan against it.
    pub procs: Arc<Vec<ProcInfo>>,
    /// Seconds since boot when the scan ran (from /proc/uptime), for ages and zombie timers.
    pub uptime_secs: f64,
    pub ticks_per_sec: u64,
    /// Descriptors ran short during this scan: the scanner gave back files it keeps open, and
    /// scans more slowly from now on.
    pub descriptors_short: bool,
}

impl Snapshot {
    /// Seconds a process has existed at the time of the scan.
    pub fn age_secs(&self, proc: &ProcInfo) -> f64 {
        let started = proc.id.start_ticks as f64 / self.ticks_per_sec.max(1) as f64;
        (self.uptime_secs - started).max(0.0)
    }

    /// PID → index into `procs`. Threads share their process's PID space (TIDs), so this is total.
    pub fn index_by_pid(&self) -> PidIndex {
        PidIndex(
            self.procs
                .iter()
                .enumerate()
                .map(|(i, p)| (p.pid(), i as u32))
                .collect(),
        )
    }
}

/// Where each PID is in a snapshot's `procs`: 8 bytes a slot, and rebuilt every refresh.
#[derive(Debug, Default, Clone)]
pub struct PidIndex(PidMap<u32>);

impl PidIndex {
    pub fn get(&self, pid: Pid) -> Option<usize> {
        self.0.get(&pid).map(|&i| i as usize)
    }

    pub fn contains(&self, pid: Pid) -> bool {
        self.0.contains_key(&pid)
    }

    /// Records that `pid` is at `index` (a process added to a snapshot after its scan).
    pub fn insert(&mut self, pid: Pid, index: usize) {
        self.0.insert(pid, index as u32);
    }
}

/// Tasks by PID. PIDs are small integers chosen by the kernel, so one multiply spreads them well
/// enough, and SipHash (std's default, built for untrusted keys) was a visible part of a scan.
pub(crate) type PidMap<V> = HashMap<Pid, V, BuildHasherDefault<PidHasher>>;

#[derive(Default)]
pub(crate) struct PidHasher(u64);

impl Hasher for PidHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(FIBONACCI);
        }
    }

    fn write_i32(&mut self, pid: i32) {
        self.0 = u64::from(pid as u32).wrapping_mul(FIBONACCI);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// 2^64 / φ: multiplying by it scatters consecutive integers over the whole range.
const FIBONACCI: u64 = 0x9e37_79b9_7f4a_7c15;

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    use super::*;

    #[test]
    fn pid_hashes_spread_consecutive_pids() {
        let hash = |pid: Pid| {
            let mut h = PidHasher::default();
            h.write_i32(pid);
            h.finish()
        };
        let buckets: std::collections::HashSet<u64> = (1..=1024).map(|p| hash(p) & 1023).collect();
        assert_eq!(buckets.len(), 1024, "low bits are a bijection");
        let tags: std::collections::HashSet<u64> = (1..=1024).map(|p| hash(p) >> 57).collect();
        assert!(tags.len() > 100, "high bits vary too: {}", tags.len());
    }
}
