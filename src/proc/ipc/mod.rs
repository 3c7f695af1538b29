//! How processes are connected: pipe, socket, shared-memory and message-queue ends, read from
//! /proc/PID/fd (+ fdinfo for the direction) and, for Unix socket pairs, the kernel's sock_diag.
//! The `read_*` functions are the I/O (called by the collector only); the rest is pure.

mod deadlock;
mod endpoints;
mod sock_diag;
mod sysv;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use super::Pid;
use super::wchan::WaitKind;
pub use deadlock::{Deadlock, Wait, WaitReason, find_deadlocks, parse_syscall, read_blocked_fd};
pub use endpoints::{Access, Endpoint, FdEnd, parse_fdinfo_flags, read_ends};
pub use sock_diag::read_socket_peers;
pub use sysv::{SysvObject, parse_sysv};

/// What the collector read about IPC on its slower cadence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpcState {
    /// IPC descriptors per process; `None` where /proc would not let us read them.
    pub ends: HashMap<Pid, Option<Vec<FdEnd>>>,
    /// Wait channel of each sleeping process that has one.
    pub waits_in: HashMap<Pid, WaitKind>,
    /// For processes blocked in a pipe read or write: the descriptor, from /proc/PID/syscall.
    pub blocked_fd: HashMap<Pid, i32>,
    pub locks: Vec<super::locks::LockEntry>,
    /// Unix socket inode → its peer's inode (socketpair and connected sockets).
    pub socket_peers: HashMap<u64, u64>,
    /// System V objects and the processes /proc/sysvipc names for them.
    pub sysv: Vec<SysvObject>,
}

/// A connection between two processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub peer: Pid,
    pub endpoint: Endpoint,
    /// How this process uses its end, and how the peer uses the other.
    pub mine: Access,
    pub theirs: Access,
}

impl IpcState {
    /// Every process that shares an IPC object with `pid`, and how.
    pub fn links_of(&self, pid: Pid) -> Vec<Link> {
        let Some(Some(mine)) = self.ends.get(&pid) else {
            return Vec::new();
        };
        let mut links = Vec::new();
        for end in mine {
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
                for theirs in ends.iter().flatten().filter(|e| e.endpoint == wanted) {
                    let link = Link {
                        peer: *other,
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
                    peer,
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

pub fn read_wchan(pid: Pid) -> Option<WaitKind> {
    super::wchan::classify(&std::fs::read_to_string(format!("/proc/{pid}/wchan")).ok()?)
}

pub fn read_locks() -> Vec<super::locks::LockEntry> {
    std::fs::read_to_string("/proc/locks")
        .map(|t| super::locks::parse_locks(&t))
        .unwrap_or_default()
}

/// Reads what IPC analysis needs for the processes of `snapshot`.
///
/// Descriptors are the costly part (a directory and a readlink per fd, for every process), so
/// they are read for everyone only when `links` are asked for. For deadlock detection alone,
/// only the processes blocked on a pipe are read first; just if they seem to wait for each other
/// is everyone read, to make sure no writer outside that set could still release them.
pub fn read_ipc(snapshot: &super::Snapshot, links: bool) -> IpcState {
    use super::{State, TaskKind};
    let processes = || {
        snapshot
            .procs
            .iter()
            .filter(|p| p.kind == TaskKind::Process)
    };
    let mut state = IpcState::default();
    for proc in processes().filter(|p| matches!(p.state, State::Sleeping | State::DiskSleep)) {
        if let Some(kind) = read_wchan(proc.pid()) {
            state.waits_in.insert(proc.pid(), kind);
        }
    }
    state.locks = read_locks();
    let pipe_blocked: Vec<Pid> = state
        .waits_in
        .iter()
        .filter(|(_, kind)| matches!(kind, WaitKind::PipeRead | WaitKind::PipeWrite))
        .map(|(pid, _)| *pid)
        .collect();
    for &pid in &pipe_blocked {
        state.ends.insert(pid, read_ends(pid).ok());
        if let Some(fd) = read_blocked_fd(pid) {
            state.blocked_fd.insert(pid, fd);
        }
    }
    let suspect = !pipe_blocked.is_empty() && !find_deadlocks(&state.waits()).is_empty();
    if links || suspect {
        for proc in processes().filter(|p| p.state != State::Zombie) {
            state
                .ends
                .entry(proc.pid())
                .or_insert_with(|| read_ends(proc.pid()).ok());
        }
    }
    if links {
        state.socket_peers = read_socket_peers();
        for (path, queue) in [("/proc/sysvipc/shm", false), ("/proc/sysvipc/msg", true)] {
            if let Ok(text) = std::fs::read_to_string(path) {
                state.sysv.extend(parse_sysv(&text, queue));
            }
        }
    }
    state
}
