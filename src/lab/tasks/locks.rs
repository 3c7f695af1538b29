//! Lock tasks: two processes take two file locks in opposite order, with `flock`, POSIX record
//! locks (`fcntl` F_SETLKW, where the kernel detects the cycle) or open-file-description locks
//! (F_OFD_SETLKW, where it does not). A pipe barrier makes sure both hold their first lock
//! before either asks for its second, however busy the machine.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};

use super::pipes::{keep_only, read_end};
use super::{Kit, publish};
use crate::proc::Pid;

/// Which kind of lock a [`super::Task::LockPair`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    Flock = 0,
    Posix = 1,
    Ofd = 2,
}

impl LockKind {
    pub(super) fn from_number(n: u32) -> Option<LockKind> {
        [LockKind::Flock, LockKind::Posix, LockKind::Ofd]
            .into_iter()
            .find(|k| *k as u32 == n)
    }
}

/// The lock files [`super::Task::LockPair`] takes: named after the parent both lockers share.
pub fn lock_path(dir: &Path, parent: Pid, which: u8) -> PathBuf {
    dir.join(format!("lock-{parent}-{which}"))
}

/// A whole-file write lock request (or release) for `fcntl`.
fn whole_file(kind: libc::c_short) -> libc::flock {
    libc::flock {
        l_type: kind,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        // OFD locks require 0 here; POSIX locks ignore it on a set.
        l_pid: 0,
    }
}

/// Blocks until `file` is locked with `kind`; an error is the kernel's refusal (EDEADLK).
fn lock(kind: LockKind, file: &File) -> Result<(), Errno> {
    let request = whole_file(libc::F_WRLCK as libc::c_short);
    loop {
        let result = match kind {
            LockKind::Flock => file
                .lock()
                .map_err(|e| e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)),
            LockKind::Posix => fcntl(file, FcntlArg::F_SETLKW(&request)).map(drop),
            LockKind::Ofd => fcntl(file, FcntlArg::F_OFD_SETLKW(&request)).map(drop),
        };
        match result {
            Err(Errno::EINTR) => {}
            other => return other,
        }
    }
}

/// Waits at the barrier pipe: this process's write end closes (it has arrived), then a read
/// blocks until every other holder closed theirs too and returns end of file.
fn meet(kit: &mut Kit, barrier: u8) -> bool {
    if let Some((_, write)) = kit.pipes.get_mut(usize::from(barrier)) {
        *write = None;
    }
    let Ok(read) = read_end(kit, barrier) else {
        return false;
    };
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(read, &mut byte) {
            Ok(0) => return true,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
}

pub(super) fn lock_pair(
    kit: &mut Kit,
    dir: &Path,
    kind: LockKind,
    order: [u8; 2],
    barrier: u8,
) -> i32 {
    keep_only(kit, &[barrier], &[barrier]);
    // Each locker opens the files itself: flock and OFD locks belong to the open file
    // description, and one inherited across fork would be the same lock for both.
    let parent = nix::unistd::getppid().as_raw();
    let open = |which: u8| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(lock_path(dir, parent, which))
    };
    let (Ok(first), Ok(second)) = (open(order[0]), open(order[1])) else {
        return 1;
    };
    let [a, b] = order;
    publish(&format!("taking={a}"));
    if lock(kind, &first).is_err() {
        return 1;
    }
    publish(&format!("holding={a} at-barrier"));
    if !meet(kit, barrier) {
        return 1;
    }
    publish(&format!("holding={a} taking={b}"));
    let asked = Instant::now();
    match lock(kind, &second) {
        Ok(()) => {}
        // Only POSIX record locks get here: the kernel found that the owner of `b` waits for
        // this process, so waiting would never end. Backing off breaks the cycle: let go of
        // `a`, then take both in the other locker's order, `b` first, so no cycle can form.
        Err(Errno::EDEADLK) => {
            let after = asked.elapsed().as_micros();
            let release = whole_file(libc::F_UNLCK as libc::c_short);
            if fcntl(&first, FcntlArg::F_SETLK(&release)).is_err() {
                return 1;
            }
            publish(&format!(
                "edeadlk-after-us={after} released={a} taking={b},{a}"
            ));
            if lock(kind, &second).is_err() || lock(kind, &first).is_err() {
                return 1;
            }
            publish(&format!("edeadlk-after-us={after} holding={b},{a}"));
            return 0;
        }
        Err(_) => return 1,
    }
    publish(&format!("holding={a},{b}"));
    0
}
