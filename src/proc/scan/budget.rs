//! The descriptor budget: how many files the scanner keeps open between scans (all RLIMIT_NOFILE
//! allows, less a reserve for the rest of brood), and what it does when descriptors run short
//! anyway: give kept files back, lower the budget for good, and carry on with open/read/close.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::{Entry, Scanner, parse_decimal};

/// File descriptors kept free for everything else brood opens (terminal, lab sockets, pipes).
pub(super) const FD_RESERVE: u64 = 256;

/// How many kept files to give back when an open fails with EMFILE/ENFILE anyway (the limit was
/// lower than the budget, or the rest of brood holds more than the reserve).
pub(super) const FD_SHED: usize = 32;

impl Scanner {
    /// Runs `open`; if it fails for want of file descriptors, gives back the files read ahead
    /// and some kept `stat` files, lowers the budget for good, and tries once more. Past the
    /// budget, scans are slower, never partial.
    pub(super) fn retry_on_fd_exhaustion<T>(
        &mut self,
        mut open: impl FnMut() -> io::Result<T>,
    ) -> io::Result<T> {
        match open() {
            Err(err)
                if is_fd_exhaustion(&err)
                    && (self.open_files > 0 || !self.read_ahead.is_empty()) =>
            {
                // What was read ahead is read again the ordinary way, one file at a time.
                self.read_ahead = Default::default();
                self.shed_files();
                open()
            }
            result => result,
        }
    }

    pub(super) fn shed_files(&mut self) {
        self.shed_in_scan = true;
        self.open_budget = self.open_files.saturating_sub(FD_SHED);
        for entry in self.entries.values_mut() {
            if self.open_files <= self.open_budget {
                break;
            }
            self.open_files -= entry.close_files();
        }
    }
}

impl Entry {
    /// Closes the kept files; returns how many there were.
    pub(super) fn close_files(&mut self) -> usize {
        self.runtime_at_read = None;
        usize::from(self.stat_file.take().is_some()) + usize::from(self.sched_file.take().is_some())
    }
}

/// Grows the descriptor table to hold the kept files of the processes there are now. Call it while
/// brood is single-threaded: once threads share the table, every doubling of it waits for an RCU
/// grace period, which made a first scan of 2 000 processes a third slower.
/// Returns how many files brood may have open at once.
pub fn reserve_descriptors() -> u64 {
    let limit = raise_fd_limit();
    let budget = budget(limit);
    // The 4th field of /proc/loadavg, "running/total", counts every task (threads too): an upper
    // bound of the processes, one read away, where listing /proc takes milliseconds.
    let Ok(loadavg) = File::open("/proc/loadavg") else {
        return limit;
    };
    let mut buf = [0u8; 128];
    let Ok(len) = loadavg.read_at(&mut buf, 0) else {
        return limit;
    };
    let tasks = buf[..len]
        .split(|&b| b == b' ')
        .nth(3)
        .and_then(|field| field.split(|&b| b == b'/').nth(1))
        .and_then(parse_decimal)
        .unwrap_or(0);
    // A stat and a schedstat file each, and room for some more processes; capped, as the count
    // includes threads (a table of 64 Ki slots is half a MiB of kernel memory).
    let wanted = (usize::try_from(tasks).unwrap_or(0) * 2 + 256)
        .min(budget)
        .min(1 << 16);
    let Ok(wanted) = libc::c_int::try_from(wanted) else {
        return limit;
    };
    // A copy at the lowest free number ≥ `wanted` grows the table to hold it; dropped at once,
    // only the table's size remains.
    drop(rustix::io::fcntl_dupfd_cloexec(&loadavg, wanted));
    limit
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the limit now in force.
pub(super) fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let wanted = hard.min(1 << 20);
    if wanted > soft && setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).is_ok() {
        wanted
    } else {
        soft
    }
}

/// How many files the scanner may keep open under a descriptor `limit`.
pub(super) fn budget(limit: u64) -> usize {
    usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(0)
}

pub(super) fn is_fd_exhaustion(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
