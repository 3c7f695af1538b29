//! What a file descriptor is, as far as IPC goes: a pipe, a socket, POSIX or System V shared
//! memory, a message queue; and which way it is open. Read from /proc/PID/fd and its fdinfo.

use std::io;

use crate::proc::Pid;

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
