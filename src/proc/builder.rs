//! Hand-made snapshots for tests and benchmarks: a process table in a few lines instead of
//! filling every field of [`ProcInfo`] by hand.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Identity, Pid, ProcInfo, Snapshot, State, TaskKind};

/// Clock ticks per second in built snapshots (the usual USER_HZ).
pub const TICKS_PER_SEC: u64 = 100;

/// The identity [`process`] gives `pid`.
pub fn id(pid: Pid) -> Identity {
    Identity {
        pid,
        start_ticks: pid as u64,
    }
}

/// A sleeping userland process in session 1, started `pid` ticks after boot.
pub fn process(pid: Pid, ppid: Pid, name: &str) -> ProcInfo {
    ProcInfo {
        id: id(pid),
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
        ran: true,
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
                procs: Arc::default(),
                uptime_secs: 10_000.0,
                ticks_per_sec: TICKS_PER_SEC,
                descriptors_short: false,
            },
        }
    }
}

impl SnapshotBuilder {
    /// Adds a sleeping process.
    pub fn proc(self, pid: Pid, ppid: Pid, name: &str) -> Self {
        self.with(pid, ppid, name, |_| {})
    }

    /// Adds a process and lets `edit` change any field; one already there with that PID is
    /// replaced (a process table holds a PID once).
    pub fn with(
        mut self,
        pid: Pid,
        ppid: Pid,
        name: &str,
        edit: impl FnOnce(&mut ProcInfo),
    ) -> Self {
        let mut proc = process(pid, ppid, name);
        edit(&mut proc);
        let procs = Arc::make_mut(&mut self.snapshot.procs);
        match procs.iter_mut().find(|p| p.pid() == pid) {
            Some(old) => *old = proc,
            None => procs.push(proc),
        }
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

/// Deterministic pseudo-random numbers (xorshift), so every run benches the same tree.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Builds snapshots shaped like a busy server: init, kernel threads under kthreadd, a few wide
/// worker pools, some deep chains (nested shells, build tools), and a random tree for the rest.
pub struct ServerBuilder {
    pub procs: Vec<ProcInfo>,
    pub sessions: HashMap<Pid, Pid>,
    pub next_pid: Pid,
}

impl ServerBuilder {
    /// Adds a process under `ppid` in its parent's session and returns its PID.
    pub fn add(&mut self, ppid: Pid, name: &str, kind: TaskKind) -> Pid {
        let pid = self.next_pid;
        self.next_pid += 1 + (pid % 7 == 0) as Pid; // leave gaps, as a live PID space has
        let session = match kind {
            TaskKind::KernelThread => 0,
            _ => self.sessions.get(&ppid).copied().unwrap_or(pid),
        };
        self.sessions.insert(pid, session);
        let cmdline = match kind {
            TaskKind::KernelThread => String::new(),
            _ => format!("/usr/bin/{name} --id {pid} --config /etc/{name}/{name}.conf"),
        };
        let mut proc = process(pid, ppid, name);
        proc.id.start_ticks = 10_000 + pid as u64 * 3;
        proc.session = session;
        proc.kind = kind;
        proc.cmdline = Arc::from(cmdline);
        proc.cpu_ticks = pid as u64 * 17 % 5_000;
        proc.cpu_percent = (pid % 13) as f32 * 0.7;
        proc.rss_bytes = 4096 * (100 + pid as u64 % 20_000);
        proc.threads = 1 + (pid % 5) as i64;
        self.procs.push(proc);
        pid
    }
}

/// A machine-like table of `n` processes (see [`ServerBuilder`]), the same on every call.
pub fn population(n: usize) -> Snapshot {
    let mut b = ServerBuilder {
        procs: Vec::with_capacity(n),
        sessions: HashMap::new(),
        next_pid: 1,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let init = b.add(0, "init", TaskKind::Process);
    let kthreadd = b.add(0, "kthreadd", TaskKind::KernelThread);
    for _ in 0..n / 20 {
        b.add(kthreadd, "kworker/0:1", TaskKind::KernelThread);
    }
    // Wide fan-outs: worker pools.
    for (pool, share) in [("nginx", 10), ("postgres", 20), ("php-fpm", 25)] {
        let master = b.add(init, pool, TaskKind::Process);
        for _ in 0..n / share {
            b.add(master, pool, TaskKind::Process);
        }
    }
    // Deep chains: nested shells and build tools.
    for _ in 0..4 {
        let mut parent = b.add(init, "sshd", TaskKind::Process);
        for _ in 0..(n / 40).min(300) {
            parent = b.add(parent, "bash", TaskKind::Process);
        }
    }
    // The rest: each under a random earlier user process.
    let users: Vec<Pid> = b
        .procs
        .iter()
        .filter(|p| p.kind == TaskKind::Process)
        .map(ProcInfo::pid)
        .collect();
    let mut parents = users;
    while b.procs.len() < n {
        let parent = parents[rng.below(parents.len())];
        let name = ["python3", "node", "cc1", "make", "sleep", "cargo"][rng.below(6)];
        let pid = b.add(parent, name, TaskKind::Process);
        parents.push(pid);
    }
    // A few of every state the UI marks.
    for i in 0..b.procs.len() / 50 {
        let proc = &mut b.procs[rng.below(n)];
        if proc.kind != TaskKind::Process || proc.pid() == init {
            continue;
        }
        proc.state = [
            State::Running,
            State::Zombie,
            State::Stopped,
            State::DiskSleep,
        ][i % 4];
        if i % 7 == 0 {
            proc.session = proc.pid() + 1; // a different session than its parent: orphan?
        }
    }
    Snapshot {
        procs: Arc::new(b.procs),
        uptime_secs: 100_000.0,
        ticks_per_sec: 100,
        descriptors_short: false,
    }
}

/// What an IPC sweep of `snapshot` would find if processes `a` and `b` each read the pipe only
/// the other writes: a pipe deadlock (pipes 100 and 200, read on fd 3, written on fd 4).
pub fn pipe_deadlock(snapshot: &Snapshot, a: Pid, b: Pid) -> super::ipc::IpcState {
    use super::ipc::{Access, Endpoint, FdEnd, IpcState};
    use super::wchan::WaitChannel;
    let end = |fd, inode, access| FdEnd {
        fd,
        endpoint: Endpoint::Pipe(inode),
        access,
    };
    let mut ipc = IpcState::default();
    ipc.ends.insert(
        a,
        Some(vec![end(3, 100, Access::Read), end(4, 200, Access::Write)].into()),
    );
    ipc.ends.insert(
        b,
        Some(vec![end(3, 200, Access::Read), end(4, 100, Access::Write)].into()),
    );
    let reading = WaitChannel::parse("anon_pipe_read").expect("a known wait channel");
    ipc.waits_in.insert(a, reading.clone());
    ipc.waits_in.insert(b, reading);
    // Read against this scan: the same processes, not others with their PIDs.
    ipc.ids = snapshot.procs.iter().map(|p| (p.pid(), p.id)).collect();
    ipc
}
