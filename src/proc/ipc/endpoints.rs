//! What a file descriptor is, as far as IPC goes: a pipe, a socket, POSIX or System V shared
//! memory, a message queue; and which way it is open. Read from /proc/PID/fd and its fdinfo.

use std::io;
use std::mem::MaybeUninit;

use crate::proc::Pid;

/// What one file descriptor refers to, as far as IPC goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Pipe(u64),
    Socket(u64),
    /// A POSIX shared-memory object (`/dev/shm/NAME`) or memfd.
    SharedMemory(String),
    /// A POSIX message queue, by its name without the leading `/`.
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
            return Some(Endpoint::MessageQueue(
                name.trim_end_matches(" (deleted)").to_string(),
            ));
        }
        None
    }

    /// The queue name in a link that may be a POSIX message queue's: `mq_open` descriptors read
    /// `/NAME` (a path in the kernel's own mqueue mount, not `/dev/mqueue`), which a file in `/`
    /// also could; [`on_mqueue_fs`] tells them apart.
    fn queue_name(target: &str) -> Option<&str> {
        let name = target.strip_prefix('/')?.trim_end_matches(" (deleted)");
        (!name.is_empty() && !name.contains('/')).then_some(name)
    }

    pub fn describe(&self) -> String {
        match self {
            Endpoint::Pipe(inode) => format!("pipe:[{inode}]"),
            Endpoint::Socket(inode) => format!("unix socket:[{inode}]"),
            Endpoint::SharedMemory(name) => format!("shared memory {name}"),
            Endpoint::MessageQueue(name) => format!("POSIX message queue /{name}"),
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
    read_ends_but(pid, &[])
}

/// [`read_ends`], without looking at the descriptors in `known` (sorted): ones the caller knows
/// are no IPC end (brood's scanner keeps thousands of /proc files open, each a readlink).
pub fn read_ends_but(pid: Pid, known: &[i32]) -> io::Result<Vec<FdEnd>> {
    use rustix::fs::{Mode, OFlags, RawDir, open, readlinkat};
    let dir = open(
        format!("/proc/{pid}/fd"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // One buffer for the listing and one for the link targets, however many descriptors.
    let mut listing = [MaybeUninit::uninit(); 8192];
    let mut entries = RawDir::new(&dir, &mut listing);
    let mut target = Vec::with_capacity(128);
    let mut ends = Vec::new();
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name();
        let Some(fd) = name
            .to_str()
            .ok()
            .and_then(|n| n.parse::<i32>().ok())
            .filter(|fd| known.binary_search(fd).is_err())
        else {
            continue;
        };
        // Gone since the listing: closed, not an error.
        let Ok(link) = readlinkat(&dir, name, std::mem::take(&mut target)) else {
            continue;
        };
        let endpoint = link.to_str().ok().and_then(|text| {
            Endpoint::from_link(text).or_else(|| {
                let name = Endpoint::queue_name(text)?;
                on_mqueue_fs(pid, fd).then(|| Endpoint::MessageQueue(name.to_string()))
            })
        });
        target = link.into_bytes_with_nul();
        let Some(endpoint) = endpoint else {
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

/// Whether descriptor `fd` of `pid` is on the mqueue file system (`statfs` follows the
/// /proc/PID/fd link to the open file itself).
fn on_mqueue_fs(pid: Pid, fd: i32) -> bool {
    /// MQUEUE_MAGIC (include/uapi/linux/magic.h).
    const MQUEUE_MAGIC: u64 = 0x1980_0202;
    // `f_type`'s integer type differs between architectures.
    rustix::fs::statfs(format!("/proc/{pid}/fd/{fd}"))
        .is_ok_and(|fs| u64::try_from(fs.f_type) == Ok(MQUEUE_MAGIC))
}
