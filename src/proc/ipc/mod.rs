//! How processes are connected: pipe, socket, shared-memory and message-queue ends, read from
//! /proc/PID/fd (+ fdinfo for the direction) and, for Unix socket pairs, the kernel's sock_diag.
//! The `read_*` functions and the [`Sweeper`] are the I/O (the collector's); the rest is pure.

mod deadlock;
mod endpoints;
mod sock_diag;
mod sysv;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::wchan::{Sleep, WaitChannel, WaitKind};
use super::{Identity, Pid, PidMap, Snapshot, State, TaskKind};
pub use deadlock::{Deadlock, Wait, WaitReason, find_deadlocks, parse_syscall, read_blocked_fd};
pub use endpoints::{Access, Endpoint, FdEnd, parse_fdinfo_flags, read_ends, read_ends_but};
pub use sock_diag::read_socket_peers;
pub use sysv::{SysvObject, parse_sysv};

/// What a sweep read about IPC, at the moment of one scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpcState {
    /// Who each PID named was at the scan the sweep read against: every other map here is by
    /// PID, and says nothing about a process that holds the PID later.
    pub ids: HashMap<Pid, Identity>,
    /// IPC descriptors per process; `None` where /proc would not let us read them.
    pub ends: HashMap<Pid, Option<Arc<Vec<FdEnd>>>>,
    /// Wait channel of each sleeping process that has one.
    pub waits_in: HashMap<Pid, WaitChannel>,
    /// Sleeping processes whose wait channel the kernel hides from brood (it may not trace
    /// them): what they wait for is unknown, which is not "nothing".
    pub waits_hidden: HashSet<Pid>,
    /// For processes blocked in a pipe read or write: the descriptor, from /proc/PID/syscall.
    pub blocked_fd: HashMap<Pid, i32>,
    pub locks: Vec<super::locks::LockEntry>,
    /// Unix socket inode → its peer's inode (socketpair and connected sockets).
    pub socket_peers: HashMap<u64, u64>,
    /// System V objects and the processes /proc/sysvipc names for them.
    pub sysv: Vec<SysvObject>,
}

impl IpcState {
    /// Who `pid` was when this state was read. A PID it never saw gets start time 0, which no
    /// process has: anything about it stays apart from every real process.
    pub fn identity(&self, pid: Pid) -> Identity {
        self.ids.get(&pid).copied().unwrap_or(Identity {
            pid,
            start_ticks: 0,
        })
    }

    /// Whether this state is about `id` (and not about another process that had its PID).
    pub fn knows(&self, id: Identity) -> bool {
        self.ids.get(&id.pid) == Some(&id)
    }

    /// Where `id` slept when this state was read; none if it ran, was hidden, or had not its
    /// PID yet.
    pub fn wait_of(&self, id: Identity) -> Option<&WaitChannel> {
        self.waits_in.get(&id.pid).filter(|_| self.knows(id))
    }

    /// Whether `id` slept where the kernel would not show brood when this state was read.
    pub fn wait_hidden(&self, id: Identity) -> bool {
        self.waits_hidden.contains(&id.pid) && self.knows(id)
    }

    /// For the `WCHAN` column: what `id` waits for in a word or two, "hidden", or nothing.
    pub fn wait_short(&self, id: Identity) -> Option<&str> {
        match self.wait_of(id) {
            Some(channel) => Some(channel.short()),
            None => self.wait_hidden(id).then_some("hidden"),
        }
    }
}

/// A connection between two processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub peer: Identity,
    pub endpoint: Endpoint,
    /// How this process uses its end, and how the peer uses the other.
    pub mine: Access,
    pub theirs: Access,
}

impl IpcState {
    /// Every process that shares an IPC object with `id`, and how; none if this state was read
    /// before `id` had its PID.
    pub fn links_of(&self, id: Identity) -> Vec<Link> {
        let pid = id.pid;
        let Some(Some(mine)) = self.ends.get(&pid).filter(|_| self.knows(id)) else {
            return Vec::new();
        };
        let mut links = Vec::new();
        for end in mine.iter() {
            // A socket's other end is another inode (its peer); everything else is shared as is.
            let wanted = match &end.endpoint {
                Endpoint::Socket(inode) => match self.socket_peers.get(inode) {
                    Some(peer) => Endpoint::Socket(*peer),
                    None => continue,
                },
                other => other.clone(),
            };
            for (other, ends) in &self.ends {
                if *other == pid {
                    continue;
                }
                for theirs in ends
                    .iter()
                    .flat_map(|e| e.iter())
                    .filter(|e| e.endpoint == wanted)
                {
                    let link = Link {
                        peer: self.identity(*other),
                        endpoint: end.endpoint.clone(),
                        mine: end.access,
                        theirs: theirs.access,
                    };
                    if !links.contains(&link) {
                        links.push(link);
                    }
                }
            }
        }
        for object in &self.sysv {
            if !object.pids.contains(&pid) {
                continue;
            }
            for &peer in object.pids.iter().filter(|p| **p != pid) {
                let link = Link {
                    peer: self.identity(peer),
                    endpoint: object.endpoint.clone(),
                    mine: Access::ReadWrite,
                    theirs: Access::ReadWrite,
                };
                if !links.contains(&link) {
                    links.push(link);
                }
            }
        }
        links.sort_by_key(|l| (l.peer, l.endpoint.clone()));
        links
    }
}

/// Reads what IPC analysis needs, scan after scan, keeping what cannot have changed. Only a
/// process that runs can change its descriptors or leave its wait channel, and the scanner says
/// which processes provably did not run ([`ProcInfo::ran`]): their wait channel and descriptors
/// are taken from the last sweep. Every scan must be shown to [`Sweeper::observe`], swept or not.
#[derive(Debug, Default)]
pub struct Sweeper {
    known: PidMap<Known>,
    /// This process's own descriptors that are no IPC end (the scanner's kept files), sorted.
    own_files: Vec<i32>,
}

/// What a sweep read of one process.
#[derive(Debug)]
struct Known {
    id: Identity,
    /// Set when a scan since the read says it may have run: read it again.
    stale: bool,
    wchan: Option<Sleep>,
    ends: Option<Option<Arc<Vec<FdEnd>>>>,
}

impl Sweeper {
    /// Tells which of this process's own descriptors are known to be no IPC end, so its table,
    /// thousands of kept /proc files in brood, is not read one readlink at a time.
    pub fn skip_own_files(&mut self, mut files: Vec<i32>) {
        files.sort_unstable();
        self.own_files = files;
    }

    /// Takes note of which processes may have run in this scan.
    pub fn observe(&mut self, snapshot: &Snapshot) {
        for proc in snapshot.procs.iter().filter(|p| p.ran) {
            if let Some(known) = self.known.get_mut(&proc.pid()) {
                known.stale = true;
            }
        }
    }

    /// Reads what IPC analysis needs for the processes of `snapshot` (already observed).
    ///
    /// Descriptors are the costly part (a directory and a readlink per fd), so they are read for
    /// everyone only when `links` are asked for. For deadlock detection alone, only the processes
    /// blocked on a pipe are read first; just if they seem to wait for each other is everyone read,
    /// to make sure no writer outside that set could still release them.
    pub fn sweep(&mut self, snapshot: &Snapshot, links: bool) -> IpcState {
        let processes = || {
            snapshot
                .procs
                .iter()
                .filter(|p| p.kind == TaskKind::Process)
        };
        // Forget the gone and the replaced; what is left is each process as last read.
        let ids: HashMap<Pid, Identity> = processes().map(|p| (p.pid(), p.id)).collect();
        self.known
            .retain(|pid, known| ids.get(pid) == Some(&known.id));
        for proc in processes() {
            let known = self.known.entry(proc.pid()).or_insert_with(|| Known {
                id: proc.id,
                stale: true,
                wchan: None,
                ends: None,
            });
            if known.stale {
                known.stale = false;
                known.wchan = None;
                known.ends = None;
            }
        }
        let mut state = IpcState {
            ids,
            ..IpcState::default()
        };
        for proc in processes().filter(|p| matches!(p.state, State::Sleeping | State::DiskSleep)) {
            match self.sleep(proc.pid()) {
                Some(Sleep::In(channel)) => {
                    state.waits_in.insert(proc.pid(), channel);
                }
                Some(Sleep::Hidden) => {
                    state.waits_hidden.insert(proc.pid());
                }
                Some(Sleep::Awake) | None => {}
            }
        }
        state.locks = super::locks::read_locks();
        let lock_waiters = state
            .waits_in
            .iter()
            .filter(|(_, channel)| channel.kind == Some(WaitKind::FileLock))
            .map(|(pid, _)| *pid);
        super::ofd::attribute_from_proc(
            &mut state.locks,
            lock_waiters,
            processes().map(|p| p.pid()),
        );
        let pipe_blocked: Vec<Pid> = state
            .waits_in
            .iter()
            .filter(|(_, channel)| {
                matches!(channel.kind, Some(WaitKind::PipeRead | WaitKind::PipeWrite))
            })
            .map(|(pid, _)| *pid)
            .collect();
        for &pid in &pipe_blocked {
            state.ends.insert(pid, self.ends(pid));
            if let Some(fd) = read_blocked_fd(pid) {
                state.blocked_fd.insert(pid, fd);
            }
        }
        let suspect = !pipe_blocked.is_empty() && !find_deadlocks(&state.waits()).is_empty();
        if links || suspect {
            for proc in processes().filter(|p| p.state != State::Zombie) {
                let pid = proc.pid();
                state.ends.entry(pid).or_insert_with(|| self.ends(pid));
            }
        }
        if links {
            state.socket_peers = read_socket_peers();
            state.sysv = sysv::read_sysv();
        }
        state
    }

    fn sleep(&mut self, pid: Pid) -> Option<Sleep> {
        let known = self.known.get_mut(&pid)?;
        Some(
            known
                .wchan
                .get_or_insert_with(|| super::wchan::read_sleep(pid))
                .clone(),
        )
    }

    fn ends(&mut self, pid: Pid) -> Option<Arc<Vec<FdEnd>>> {
        let skipped: &[i32] = if pid == std::process::id() as Pid {
            &self.own_files
        } else {
            &[]
        };
        let read = || read_ends_but(pid, skipped).ok().map(Arc::new);
        match self.known.get_mut(&pid) {
            Some(known) => known.ends.get_or_insert_with(read).clone(),
            None => read(),
        }
    }
}

/// One sweep with nothing known before: for a single look (tests, a one-off reader).
pub fn read_ipc(snapshot: &Snapshot, links: bool) -> IpcState {
    Sweeper::default().sweep(snapshot, links)
}
