//! How processes are connected: pipe, socket, shared-memory and message-queue ends, read from
//! /proc/PID/fd (+ fdinfo for the direction) and, for Unix socket pairs, the kernel's sock_diag.
//! The `read_*` functions are the I/O (called by the collector only); the rest is pure.

use std::collections::HashMap;
use std::io;

use super::Pid;
use super::wchan::WaitKind;

/// What one file descriptor refers to, as far as IPC goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Pipe(u64),
    Socket(u64),
    /// A POSIX shared-memory object (`/dev/shm/NAME`) or memfd.
    SharedMemory(String),
    /// A POSIX message queue (`/dev/mqueue/NAME`).
    MessageQueue(String),
    /// A System V shared-memory segment, by its id (from /proc/sysvipc/shm).
    SysvSharedMemory(i64),
    /// A System V message queue, by its id (from /proc/sysvipc/msg).
    SysvMessageQueue(i64),
}

impl Endpoint {
    /// Parses a readlink(/proc/PID/fd/N) result; `None` for plain files, ttys and the like.
    pub fn from_link(target: &str) -> Option<Endpoint> {
        let inode = |prefix: &str| target.strip_prefix(prefix)?.strip_suffix(']')?.parse().ok();
        if let Some(inode) = inode("pipe:[") {
            return Some(Endpoint::Pipe(inode));
        }
        if let Some(inode) = inode("socket:[") {
            return Some(Endpoint::Socket(inode));
        }
        if let Some(name) = target.strip_prefix("/dev/shm/") {
            return Some(Endpoint::SharedMemory(
                name.trim_end_matches(" (deleted)").to_string(),
            ));
        }
        if let Some(name) = target.strip_prefix("/memfd:") {
            return Some(Endpoint::SharedMemory(format!(
                "memfd:{}",
                name.trim_end_matches(" (deleted)")
            )));
        }
        if let Some(name) = target.strip_prefix("/dev/mqueue/") {
            return Some(Endpoint::MessageQueue(name.to_string()));
        }
        None
    }

    pub fn describe(&self) -> String {
        match self {
            Endpoint::Pipe(inode) => format!("pipe:[{inode}]"),
            Endpoint::Socket(inode) => format!("unix socket:[{inode}]"),
            Endpoint::SharedMemory(name) => format!("shared memory {name}"),
            Endpoint::MessageQueue(name) => format!("message queue {name}"),
            Endpoint::SysvSharedMemory(id) => format!("System V shared memory {id}"),
            Endpoint::SysvMessageQueue(id) => format!("System V message queue {id}"),
        }
    }
}

/// Which way data can flow through a descriptor (from `flags` in fdinfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
}

impl Access {
    pub fn from_flags(flags: u32) -> Access {
        match flags & 0o3 {
            0 => Access::Read,
            1 => Access::Write,
            _ => Access::ReadWrite,
        }
    }

    pub fn reads(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }

    pub fn writes(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

/// One IPC descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdEnd {
    pub fd: i32,
    pub endpoint: Endpoint,
    pub access: Access,
}

/// The `flags:` line of /proc/PID/fdinfo/N (octal).
pub fn parse_fdinfo_flags(text: &str) -> Option<u32> {
    let line = text.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

/// From /proc/PID/syscall: the syscall number and first argument of a blocked process
/// (for a blocked read or write, the file descriptor).
pub fn parse_syscall(text: &str) -> Option<(i64, i64)> {
    let mut words = text.split_whitespace();
    let number = words.next()?.parse().ok()?;
    let arg = words.next()?;
    let arg = i64::from_str_radix(arg.strip_prefix("0x").unwrap_or(arg), 16).ok()?;
    Some((number, arg))
}

/// Why a blocked process cannot go on, and who could release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    /// Reading an empty pipe: any writer that writes (or all closing) releases it.
    PipeRead(u64),
    /// Writing a full pipe: any reader that reads releases it.
    PipeWrite(u64),
    /// Waiting for file lock `id` on `inode`: every holder must release it.
    Lock { id: u32, class: String, inode: u64 },
}

impl WaitReason {
    pub fn describe(&self) -> String {
        match self {
            WaitReason::PipeRead(inode) => format!("reads pipe:[{inode}]"),
            WaitReason::PipeWrite(inode) => format!("writes full pipe:[{inode}]"),
            WaitReason::Lock { class, inode, .. } => {
                format!("{} lock on inode {inode}", class.to_lowercase())
            }
        }
    }

    /// The step of a cycle: what `waiter` waits for and from whom, e.g. "7 reads pipe:[3] written by 8".
    pub fn step(&self, waiter: &str, on: &str) -> String {
        match self {
            WaitReason::PipeRead(inode) => format!("{waiter} reads pipe:[{inode}] written by {on}"),
            WaitReason::PipeWrite(inode) => {
                format!("{waiter} writes full pipe:[{inode}] read by {on}")
            }
            WaitReason::Lock { class, inode, .. } => {
                format!(
                    "{waiter} waits for the {} lock on inode {inode} held by {on}",
                    class.to_lowercase()
                )
            }
        }
    }

    /// Whether one releaser is enough (a pipe) or every one is needed (a lock's holders).
    fn needs_all(&self) -> bool {
        matches!(self, WaitReason::Lock { .. })
    }
}

/// One blocked process and the processes that could release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub pid: Pid,
    pub reason: WaitReason,
    pub releasers: Vec<Pid>,
}

/// A set of processes that wait only for each other: none can ever go on by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlock {
    /// Each process on the cycle, with what it waits for and on whom, in cycle order.
    pub cycle: Vec<(Pid, WaitReason, Pid)>,
}

impl Deadlock {
    pub fn members(&self) -> impl Iterator<Item = Pid> + '_ {
        self.cycle.iter().map(|(pid, _, _)| *pid)
    }
}

/// Finds deadlocks among blocked processes.
///
/// A process is stuck if what could release it is stuck too: for a pipe, *every* possible
/// releaser (any one writer would do); for a lock, *any* holder (all must let go). Starting from
/// every blocked process, those with a way out are removed until none is left to remove; what
/// remains is deadlocked. An idle reader whose writer is alive and not blocked always has a way
/// out, so it is never flagged.
pub fn find_deadlocks(waits: &[Wait]) -> Vec<Deadlock> {
    let mut stuck: HashMap<Pid, &Wait> = waits.iter().map(|w| (w.pid, w)).collect();
    loop {
        let free: Vec<Pid> = stuck
            .values()
            .filter(|w| {
                let blocked = |p: &Pid| stuck.contains_key(p);
                if w.releasers.is_empty() {
                    return true; // waits for no one known: not ours to call a deadlock
                }
                if w.reason.needs_all() {
                    !w.releasers.iter().any(blocked)
                } else {
                    !w.releasers.iter().all(blocked)
                }
            })
            .map(|w| w.pid)
            .collect();
        if free.is_empty() {
            break;
        }
        for pid in free {
            stuck.remove(&pid);
        }
    }
    // Spell out one cycle per group: follow stuck releasers until a process repeats.
    let mut seen: Vec<Pid> = Vec::new();
    let mut deadlocks = Vec::new();
    let mut starts: Vec<Pid> = stuck.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        if seen.contains(&start) {
            continue;
        }
        let mut path: Vec<Pid> = Vec::new();
        let mut current = start;
        while !path.contains(&current) {
            path.push(current);
            let Some(next) = stuck[&current]
                .releasers
                .iter()
                .copied()
                .filter(|p| stuck.contains_key(p))
                .min()
            else {
                break;
            };
            current = next;
        }
        seen.extend(&path);
        let Some(begin) = path.iter().position(|p| *p == current) else {
            continue;
        };
        let cycle_pids = &path[begin..];
        if cycle_pids.iter().any(|p| {
            deadlocks
                .iter()
                .any(|d: &Deadlock| d.members().any(|m| m == *p))
        }) {
            continue;
        }
        let cycle = cycle_pids
            .iter()
            .enumerate()
            .map(|(i, pid)| {
                (
                    *pid,
                    stuck[pid].reason.clone(),
                    cycle_pids[(i + 1) % cycle_pids.len()],
                )
            })
            .collect();
        deadlocks.push(Deadlock { cycle });
    }
    deadlocks
}

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

/// A System V IPC object. The kernel lists only its creator and the last process to use it (for
/// shared memory: to attach or detach; for a queue: to send and to receive), not every user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysvObject {
    pub endpoint: Endpoint,
    /// Shared memory: its creator and the last to attach or detach; a queue: the last sender
    /// and the last receiver.
    pub pids: Vec<Pid>,
}

/// Parses /proc/sysvipc/shm (`queue: false`) or /proc/sysvipc/msg (`queue: true`).
pub fn parse_sysv(text: &str, queue: bool) -> Vec<SysvObject> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (id_col, pid_cols) = if queue {
        (at("msqid"), [at("lspid"), at("lrpid")])
    } else {
        (at("shmid"), [at("cpid"), at("lpid")])
    };
    let Some(id_col) = id_col else {
        return Vec::new();
    };
    lines
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let id: i64 = words.get(id_col)?.parse().ok()?;
            let pids: Vec<Pid> = pid_cols
                .iter()
                .flatten()
                .filter_map(|&c| words.get(c)?.parse().ok())
                .filter(|p: &Pid| *p > 0)
                .collect();
            let endpoint = if queue {
                Endpoint::SysvMessageQueue(id)
            } else {
                Endpoint::SysvSharedMemory(id)
            };
            (!pids.is_empty()).then_some(SysvObject { endpoint, pids })
        })
        .collect()
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

    /// The blocked processes and who could release each (input for [`find_deadlocks`]).
    pub fn waits(&self) -> Vec<Wait> {
        let mut waits = Vec::new();
        for (&pid, &kind) in &self.waits_in {
            let (reading, pipe) = match kind {
                WaitKind::PipeRead => (true, self.blocked_pipe(pid, true)),
                WaitKind::PipeWrite => (false, self.blocked_pipe(pid, false)),
                _ => continue,
            };
            let Some(inode) = pipe else { continue };
            // A reader waits for writers, a writer for readers; its own other end counts too:
            // a reader holding the write end itself never sees EOF.
            let releasers: Vec<Pid> = self
                .ends
                .iter()
                .filter(|(_, ends)| {
                    ends.iter().flatten().any(|e| {
                        e.endpoint == Endpoint::Pipe(inode)
                            && if reading {
                                e.access.writes()
                            } else {
                                e.access.reads()
                            }
                    })
                })
                .map(|(p, _)| *p)
                .collect();
            // Someone we could not read might hold an end: no claim then.
            if self.ends.values().any(Option::is_none) && releasers.iter().all(|p| *p == pid) {
                continue;
            }
            let reason = if reading {
                WaitReason::PipeRead(inode)
            } else {
                WaitReason::PipeWrite(inode)
            };
            waits.push(Wait {
                pid,
                reason,
                releasers,
            });
        }
        for request in self.locks.iter().filter(|l| l.blocked) {
            let Some(pid) = request.pid else { continue };
            let releasers = self
                .locks
                .iter()
                .filter(|l| !l.blocked && l.id == request.id)
                .filter_map(|l| l.pid)
                .filter(|holder| *holder != pid)
                .collect();
            let reason = WaitReason::Lock {
                id: request.id,
                class: request.class.clone(),
                inode: request.inode,
            };
            waits.push(Wait {
                pid,
                reason,
                releasers,
            });
        }
        waits.sort_by_key(|w| w.pid);
        waits
    }

    /// The pipe a blocked process is reading (or writing): the one its blocked syscall names,
    /// else its only pipe end of that direction.
    fn blocked_pipe(&self, pid: Pid, reading: bool) -> Option<u64> {
        let ends = self.ends.get(&pid)?.as_ref()?;
        let pipe = |e: &FdEnd| match e.endpoint {
            Endpoint::Pipe(inode) => Some(inode),
            _ => None,
        };
        if let Some(fd) = self.blocked_fd.get(&pid) {
            return ends.iter().find(|e| e.fd == *fd).and_then(pipe);
        }
        let mut candidates = ends
            .iter()
            .filter(|e| {
                if reading {
                    e.access.reads()
                } else {
                    e.access.writes()
                }
            })
            .filter_map(pipe);
        let first = candidates.next()?;
        candidates.all(|other| other == first).then_some(first)
    }
}

/// The IPC descriptors of one process. Permission errors are `Err`, to be shown as such.
pub fn read_ends(pid: Pid) -> io::Result<Vec<FdEnd>> {
    let mut ends = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let Some(endpoint) = target.to_str().and_then(Endpoint::from_link) else {
            continue;
        };
        let flags = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
            .ok()
            .and_then(|t| parse_fdinfo_flags(&t));
        ends.push(FdEnd {
            fd,
            endpoint,
            access: flags.map_or(Access::ReadWrite, Access::from_flags),
        });
    }
    Ok(ends)
}

pub fn read_wchan(pid: Pid) -> Option<WaitKind> {
    super::wchan::classify(&std::fs::read_to_string(format!("/proc/{pid}/wchan")).ok()?)
}

/// The descriptor a process is blocked reading or writing, if /proc/PID/syscall says (read = 0,
/// write = 1 on x86-64 and the generic table's 63/64 elsewhere).
pub fn read_blocked_fd(pid: Pid) -> Option<i32> {
    let (number, arg) =
        parse_syscall(&std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?)?;
    let io_call = [libc::SYS_read, libc::SYS_write].contains(&number);
    if io_call {
        i32::try_from(arg).ok()
    } else {
        None
    }
}

pub fn read_locks() -> Vec<super::locks::LockEntry> {
    std::fs::read_to_string("/proc/locks")
        .map(|t| super::locks::parse_locks(&t))
        .unwrap_or_default()
}

/// Unix socket inode → peer inode, from the kernel's sock_diag netlink interface (the only place
/// that pairs the two ends of a socketpair; /proc/net/unix does not).
pub fn read_socket_peers() -> HashMap<u64, u64> {
    unix_diag::dump()
        .map(|reply| unix_diag::parse_peers(&reply))
        .unwrap_or_default()
}

mod unix_diag {
    //! A minimal UNIX_DIAG dump: one request, replies parsed without trusting their lengths.

    use std::collections::HashMap;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const NETLINK_SOCK_DIAG: i32 = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_DONE: u16 = 3;
    const NLMSG_ERROR: u16 = 2;
    const UDIAG_SHOW_PEER: u32 = 0x4;
    const UNIX_DIAG_PEER: u16 = 2;
    const HEADER: usize = 16;
    const MESSAGE: usize = 16; // unix_diag_msg

    pub fn dump() -> io::Result<Vec<u8>> {
        // SAFETY: socket() returns a new fd or -1.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned to us and is owned by nothing else.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut request = Vec::with_capacity(HEADER + 24);
        request.extend_from_slice(&(HEADER as u32 + 24).to_ne_bytes());
        request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        request.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
        request.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        request.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel
        request.push(libc::AF_UNIX as u8);
        request.push(0); // protocol
        request.extend_from_slice(&0u16.to_ne_bytes());
        request.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
        request.extend_from_slice(&0u32.to_ne_bytes()); // any inode
        request.extend_from_slice(&UDIAG_SHOW_PEER.to_ne_bytes());
        request.extend_from_slice(&[0xff; 8]); // no cookie
        // SAFETY: the buffer is valid for its length.
        let sent = unsafe {
            libc::send(
                socket.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut reply = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: the buffer is valid for its length.
            let got =
                unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if got <= 0 {
                return if got == 0 {
                    Ok(reply)
                } else {
                    Err(io::Error::last_os_error())
                };
            }
            let chunk = &buf[..got as usize];
            reply.extend_from_slice(chunk);
            if messages(chunk).any(|(kind, _)| kind == NLMSG_DONE || kind == NLMSG_ERROR) {
                return Ok(reply);
            }
        }
    }

    /// (type, payload) of each netlink message in `bytes`; stops at the first malformed one.
    fn messages(bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
        let mut rest = bytes;
        std::iter::from_fn(move || {
            let len = u32::from_ne_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
            let kind = u16::from_ne_bytes(rest.get(4..6)?.try_into().ok()?);
            if len < HEADER || len > rest.len() {
                return None;
            }
            let payload = &rest[HEADER..len];
            rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
            Some((kind, payload))
        })
    }

    pub fn parse_peers(bytes: &[u8]) -> HashMap<u64, u64> {
        let mut peers = HashMap::new();
        for (kind, payload) in messages(bytes) {
            if kind != SOCK_DIAG_BY_FAMILY || payload.len() < MESSAGE {
                continue;
            }
            let Ok(inode) = payload[4..8].try_into().map(u32::from_ne_bytes) else {
                continue;
            };
            let mut attrs = &payload[MESSAGE..];
            while attrs.len() >= 4 {
                let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
                let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
                if len < 4 || len > attrs.len() {
                    break;
                }
                if kind == UNIX_DIAG_PEER && len >= 8 {
                    let peer = u32::from_ne_bytes([attrs[4], attrs[5], attrs[6], attrs[7]]);
                    if peer != 0 {
                        peers.insert(u64::from(inode), u64::from(peer));
                    }
                }
                attrs = attrs.get((len + 3) & !3..).unwrap_or(&[]);
            }
        }
        peers
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use proptest::prelude::*;

        fn message(inode: u32, peer: u32) -> Vec<u8> {
            let mut payload = vec![libc::AF_UNIX as u8, 1, 1, 0];
            payload.extend_from_slice(&inode.to_ne_bytes());
            payload.extend_from_slice(&[0; 8]);
            payload.extend_from_slice(&8u16.to_ne_bytes());
            payload.extend_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
            payload.extend_from_slice(&peer.to_ne_bytes());
            let mut msg = Vec::new();
            msg.extend_from_slice(&((HEADER + payload.len()) as u32).to_ne_bytes());
            msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
            msg.extend_from_slice(&[0; 10]);
            msg.extend_from_slice(&payload);
            msg
        }

        #[test]
        fn peers_are_read_from_dump_messages() {
            let mut bytes = message(10, 11);
            bytes.extend(message(11, 10));
            let peers = parse_peers(&bytes);
            assert_eq!(peers.get(&10), Some(&11));
            assert_eq!(peers.get(&11), Some(&10));
        }

        proptest! {
            #[test]
            fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = parse_peers(&bytes);
            }
        }
    }
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
    let lock_waiters = state
        .waits_in
        .iter()
        .filter(|(_, kind)| **kind == WaitKind::FileLock)
        .map(|(pid, _)| *pid);
    super::ofd::attribute_from_proc(&mut state.locks, lock_waiters, processes().map(|p| p.pid()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn end(fd: i32, endpoint: Endpoint, access: Access) -> FdEnd {
        FdEnd {
            fd,
            endpoint,
            access,
        }
    }

    #[test]
    fn sysv_tables_name_creator_and_last_user() {
        let shm = "       key      shmid perms                  size  cpid  lpid nattch   uid\n\
                   1234      32769   600                  4096   700   701      2     0\n";
        assert_eq!(
            parse_sysv(shm, false),
            vec![SysvObject {
                endpoint: Endpoint::SysvSharedMemory(32769),
                pids: vec![700, 701]
            }]
        );
        let msg = "       key      msqid perms      cbytes       qnum lspid lrpid   uid\n\
                   0          7   644           0          0     0     0     0\n";
        assert!(
            parse_sysv(msg, true).is_empty(),
            "a queue nobody used has no process to name"
        );
        assert!(parse_sysv("", false).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn sysv_parsing_never_panics(text in "[ -~\\n]{0,300}") {
            let _ = parse_sysv(&text, false);
            let _ = parse_sysv(&text, true);
        }
    }

    #[test]
    fn descriptor_targets_are_classified() {
        assert_eq!(Endpoint::from_link("pipe:[123]"), Some(Endpoint::Pipe(123)));
        assert_eq!(Endpoint::from_link("socket:[9]"), Some(Endpoint::Socket(9)));
        assert_eq!(
            Endpoint::from_link("/dev/shm/counter"),
            Some(Endpoint::SharedMemory("counter".into()))
        );
        assert_eq!(
            Endpoint::from_link("/dev/mqueue/jobs"),
            Some(Endpoint::MessageQueue("jobs".into()))
        );
        assert_eq!(Endpoint::from_link("/dev/pts/0"), None);
        assert_eq!(
            parse_fdinfo_flags("pos:\t0\nflags:\t0100001\nmnt_id:\t15\n"),
            Some(0o100001)
        );
        assert_eq!(Access::from_flags(0o100001), Access::Write);
        assert_eq!(
            parse_syscall("0 0x3 0x7ffd 0x1000 0x0 0x0 0x0 0x7ffd 0x7f"),
            Some((0, 3))
        );
        assert_eq!(parse_syscall("running"), None);
    }

    /// Two processes joined by two pipes; `a_reads`/`b_reads` say who is blocked reading.
    fn crossed_pipes(b_blocked: bool) -> IpcState {
        let mut state = IpcState::default();
        state.ends.insert(
            1,
            Some(vec![
                end(3, Endpoint::Pipe(100), Access::Read),
                end(4, Endpoint::Pipe(200), Access::Write),
            ]),
        );
        state.ends.insert(
            2,
            Some(vec![
                end(3, Endpoint::Pipe(200), Access::Read),
                end(4, Endpoint::Pipe(100), Access::Write),
            ]),
        );
        state.waits_in.insert(1, WaitKind::PipeRead);
        if b_blocked {
            state.waits_in.insert(2, WaitKind::PipeRead);
        }
        state
    }

    #[test]
    fn processes_reading_each_other_before_writing_are_one_deadlock() {
        let deadlocks = find_deadlocks(&crossed_pipes(true).waits());
        assert_eq!(deadlocks.len(), 1);
        let cycle = &deadlocks[0].cycle;
        assert_eq!(
            cycle,
            &vec![
                (1, WaitReason::PipeRead(100), 2),
                (2, WaitReason::PipeRead(200), 1)
            ]
        );
    }

    #[test]
    fn an_idle_reader_whose_writer_is_not_blocked_is_no_deadlock() {
        assert!(find_deadlocks(&crossed_pipes(false).waits()).is_empty());
    }

    #[test]
    fn crossed_lock_order_is_a_deadlock_naming_both_locks() {
        let state = IpcState {
            locks: super::super::locks::parse_locks(
                "1: FLOCK ADVISORY WRITE 10 fe:00:500 0 EOF\n\
                 1: -> FLOCK ADVISORY WRITE 20 fe:00:500 0 EOF\n\
                 2: FLOCK ADVISORY WRITE 20 fe:00:600 0 EOF\n\
                 2: -> FLOCK ADVISORY WRITE 10 fe:00:600 0 EOF\n\
                 3: FLOCK ADVISORY WRITE 30 fe:00:700 0 EOF\n\
                 3: -> FLOCK ADVISORY WRITE 40 fe:00:700 0 EOF\n",
            ),
            ..IpcState::default()
        };
        let deadlocks = find_deadlocks(&state.waits());
        assert_eq!(deadlocks.len(), 1, "{deadlocks:?}");
        let inodes: Vec<String> = deadlocks[0]
            .cycle
            .iter()
            .map(|(_, r, _)| r.describe())
            .collect();
        assert_eq!(
            inodes,
            vec!["flock lock on inode 600", "flock lock on inode 500"]
        );
    }

    #[test]
    fn links_pair_pipe_ends_and_socket_peers() {
        let mut state = crossed_pipes(false);
        state.ends.get_mut(&1).unwrap().as_mut().unwrap().push(end(
            5,
            Endpoint::Socket(7),
            Access::ReadWrite,
        ));
        state.ends.get_mut(&2).unwrap().as_mut().unwrap().push(end(
            5,
            Endpoint::Socket(8),
            Access::ReadWrite,
        ));
        state.socket_peers.insert(7, 8);
        state.socket_peers.insert(8, 7);
        let links = state.links_of(1);
        assert_eq!(links.len(), 3);
        assert!(links.contains(&Link {
            peer: 2,
            endpoint: Endpoint::Pipe(100),
            mine: Access::Read,
            theirs: Access::Write
        }));
        assert!(links.iter().any(|l| l.endpoint == Endpoint::Socket(7)));
    }
}
