//! Skipping the processes that stayed quiet: a single-threaded process's `schedstat` (its CPU
//! time, cheap to read) is kept open beside its `stat`, and while that time stands still what
//! `stat` said last is still true. Children of parents that died are read again (reparenting
//! needs no running), and everyone is read in full at least every [`FULL_READ_EVERY`] scans.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::budget::is_fd_exhaustion;
use super::{Pid, ProcInfo, Scanner, State, parse_decimal};

/// A process whose CPU time stands still is still read in full this often (in scans, staggered by
/// PID), bounding how stale its resident memory or nice value can get.
pub(super) const FULL_READ_EVERY: u64 = 10;

impl Scanner {
    /// A full read of a process, remembered for the scans in which it stays quiet. `runtime` is
    /// its CPU time read just before, if its `schedstat` is kept open.
    pub(super) fn read_process(
        &mut self,
        pid: Pid,
        runtime: Option<u64>,
        elapsed: Option<f64>,
    ) -> Option<ProcInfo> {
        let mut info = self.read_task(pid, None, elapsed)?;
        let budget_left = self.open_files < self.open_budget;
        let entry = self.entries.get_mut(&pid)?;
        // Read in full because it was due, not because it ran: say so.
        if runtime.is_some() && entry.runtime_at_read == runtime && info.threads == 1 {
            info.ran = false;
        }
        entry.runtime_at_read = runtime;
        // Only a single thread's CPU time is in schedstat; only processes with a kept stat file
        // have the budget for a second one. Not on the first read: it could not skip a read
        // before the next one anyway, and the first scan (the first frame) stays shorter.
        let wanted = info.threads == 1
            && entry.stat_file.is_some()
            && (entry.born_in_scan < self.scan_count || entry.sched_file.is_some());
        if wanted && entry.sched_file.is_none() && budget_left {
            use std::fmt::Write;
            self.path.clear();
            let _ = write!(self.path, "/proc/{pid}/schedstat");
            match File::open(&self.path) {
                Ok(file) => {
                    entry.sched_file = Some(file);
                    self.open_files += 1;
                    // Read after `stat`, this time could hide a change: wait for the next one.
                    entry.runtime_at_read = None;
                }
                Err(err) if is_fd_exhaustion(&err) => self.shed_files(),
                Err(_) => {}
            }
        } else if !wanted && entry.sched_file.take().is_some() {
            self.open_files -= 1;
            entry.runtime_at_read = None;
        }
        Some(info)
    }

    /// CPU time so far (ns), from the kept `schedstat` file; `None` if there is none or it failed
    /// (the process is gone, or its PID now names another process).
    pub(super) fn read_runtime(&mut self, pid: Pid) -> Option<u64> {
        let entry = self.entries.get_mut(&pid)?;
        let file = entry.sched_file.as_ref()?;
        let mut buf = [0u8; 96];
        match file.read_at(&mut buf, 0) {
            Ok(len) if len > 0 => buf[..len]
                .split(|&b| b == b' ')
                .next()
                .and_then(parse_decimal),
            _ => {
                entry.sched_file = None;
                self.open_files -= 1;
                None
            }
        }
    }

    /// What the last full read found, if the process has not run since and is not due a full read.
    pub(super) fn reuse_if_quiet(&mut self, pid: Pid, runtime: u64) -> Option<ProcInfo> {
        let scan_count = self.scan_count;
        let entry = self.entries.get_mut(&pid)?;
        let last = self
            .last
            .get(entry.index as usize)
            .filter(|p| p.id == entry.id)?;
        let due = (pid as u64)
            .wrapping_add(scan_count)
            .is_multiple_of(FULL_READ_EVERY);
        if due || entry.runtime_at_read != Some(runtime) || last.threads != 1 {
            return None;
        }
        entry.seen_in_scan = scan_count;
        Some(ProcInfo {
            cpu_percent: 0.0,
            ran: false,
            ..last.clone()
        })
    }

    /// A quiet process whose parent died was reparented without running: read those again. Run
    /// after the pass, when every live parent has been seen.
    pub(super) fn reread_adopted(
        &mut self,
        procs: &mut [ProcInfo],
        quiet: &[usize],
        elapsed: Option<f64>,
    ) {
        let scan_count = self.scan_count;
        for &i in quiet {
            let (pid, ppid) = (procs[i].pid(), procs[i].ppid);
            let parent_lives = ppid <= 0
                || self.entries.get(&ppid).is_some_and(|parent| {
                    parent.seen_in_scan == scan_count
                        && parent.born_in_scan < scan_count
                        && procs
                            .get(parent.next_index as usize)
                            .is_some_and(|p| p.id == parent.id && p.state != State::Zombie)
                });
            if parent_lives {
                continue;
            }
            let runtime = self.read_runtime(pid);
            if let Some(info) = self.read_process(pid, runtime, elapsed) {
                procs[i] = info;
            }
        }
    }
}
