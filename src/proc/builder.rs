//! Hand-made snapshots for tests and benchmarks: a process table in a few lines instead of
//! filling every field of [`ProcInfo`] by hand.

use std::sync::Arc;

use super::{Identity, Pid, ProcInfo, Snapshot, State, TaskKind};

/// Clock ticks per second in built snapshots (the usual USER_HZ).
pub const TICKS_PER_SEC: u64 = 100;

/// A sleeping userland process in session 1, started `pid` ticks after boot.
pub fn process(pid: Pid, ppid: Pid, name: &str) -> ProcInfo {
    ProcInfo {
        id: Identity {
            pid,
            start_ticks: pid as u64,
        },
        ppid,
        pgrp: pid,
        session: 1,
        kind: TaskKind::Process,
        state: State::Sleeping,
        name: Arc::from(name),
        cmdline: Arc::from(format!("/usr/bin/{name} --flag").as_str()),
        uid: Some(1000),
        user: Arc::from("alice"),
        cpu_ticks: 0,
        cpu_percent: 0.0,
        rss_bytes: 4 << 20,
        vsize_bytes: 16 << 20,
        nice: 0,
        threads: 1,
        tracer: None,
    }
}

#[derive(Debug, Clone)]
pub struct SnapshotBuilder {
    snapshot: Snapshot,
}

impl Default for SnapshotBuilder {
    fn default() -> Self {
        SnapshotBuilder {
            snapshot: Snapshot {
                procs: Vec::new(),
                uptime_secs: 10_000.0,
                ticks_per_sec: TICKS_PER_SEC,
            },
        }
    }
}

impl SnapshotBuilder {
    /// Adds a sleeping process.
    pub fn proc(self, pid: Pid, ppid: Pid, name: &str) -> Self {
        self.with(pid, ppid, name, |_| {})
    }

    /// Adds a process and lets `edit` change any field.
    pub fn with(
        mut self,
        pid: Pid,
        ppid: Pid,
        name: &str,
        edit: impl FnOnce(&mut ProcInfo),
    ) -> Self {
        let mut proc = process(pid, ppid, name);
        edit(&mut proc);
        self.snapshot.procs.push(proc);
        self
    }

    pub fn uptime(mut self, secs: f64) -> Self {
        self.snapshot.uptime_secs = secs;
        self
    }

    pub fn build(self) -> Snapshot {
        self.snapshot
    }
}

/// A machine-like table of `count` processes: init, some wide services, some deep chains.
pub fn population(count: usize) -> Snapshot {
    let mut builder = SnapshotBuilder::default().proc(1, 0, "init");
    let mut pid = 2;
    let mut parent = 1;
    while (pid as usize) <= count {
        // Every 50th process starts a new service under init; each service alternates between
        // fanning out (siblings) and nesting (a chain), so both shapes are exercised.
        if pid % 50 == 2 {
            parent = 1;
        }
        builder = builder.proc(pid, parent, if pid % 3 == 0 { "worker" } else { "service" });
        if pid % 7 != 0 {
            parent = pid;
        }
        pid += 1;
    }
    builder.build()
}
