//! Skipping the processes that stayed quiet: a single-threaded process's `schedstat` (its CPU
//! time, cheap to read) is kept open beside its `stat`, and while that time stands still what
//! `stat` said last is still true. Children of parents that died are read again (reparenting
//! needs no running), and everyone is read in full at least every [`FULL_READ_EVERY`] scans.
//! The tracer (`TracerPid`, in the costly `status` file) is read on the same evidence.

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::budget::is_fd_exhaustion;
use super::read::read_tracer;
use super::{Pid, ProcInfo, Scanner, State, Tracers, parse_decimal};

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
        let scan_count = self.scan_count;
        let entry = self.entries.get_mut(&pid)?;
        // Whether its CPU time proves it ran since the last read, or did not; `None` when that
        // time is not known (no `schedstat` yet, or threads whose time it does not hold).
        let proof = match (runtime, entry.runtime_at_read) {
            (Some(now), Some(before)) if info.threads == 1 => Some(now != before),
            _ => None,
        };
        // Read in full because it was due, not because it ran: say so.
        if proof == Some(false) {
            info.ran = false;
        }
        // A tracer attaching stops the tracee, which must run to stop: a sleeping process's
        // tracer changes only if it ran (bar the tracer's exit: `drop_gone_tracers`). Where that
        // cannot be told, the staggered cadence of full reads bounds how late a tracer shows.
        // A stopped tracee's tracer was read with its stat already.
        let look = info.state != State::Traced
            && match (self.options.tracers, entry.tracer_checked, proof) {
                (Tracers::StoppedOnly, ..) => false,
                (Tracers::Every, ..) => true,
                // Never looked: at once for a process born since brood started, else staggered
                // so that the first scans stay short.
                (Tracers::Followed, false, _) => entry.born_in_scan > 1 || is_due(pid, scan_count),
                (Tracers::Followed, true, Some(ran)) => ran,
                (Tracers::Followed, true, None) => is_due(pid, scan_count),
            };
        if look {
            info.tracer = read_tracer(pid);
        }
        entry.tracer_checked |= look || info.state == State::Traced;
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
        // A command line still to read is read at the next scan, quiet or not.
        if is_due(pid, scan_count)
            || entry.runtime_at_read != Some(runtime)
            || last.threads != 1
            || entry.cmdline_unread
        {
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

    /// A tracer's exit detaches its tracees without waking them: a process whose tracer is no
    /// longer there is traced no more. (`TracerPid` names a thread, so the look is by path:
    /// /proc/TID exists for every thread, listed or not.)
    pub(super) fn drop_gone_tracers(&self, procs: &mut [ProcInfo]) {
        for proc in procs.iter_mut().filter(|p| p.state != State::Traced) {
            let Some(tracer) = proc.tracer else { continue };
            let listed = self
                .entries
                .get(&tracer)
                .is_some_and(|e| e.seen_in_scan == self.scan_count);
            let gone = !listed && !std::path::Path::new(&format!("/proc/{tracer}")).exists();
            if gone {
                proc.tracer = None;
            }
        }
    }
}

/// Whether `pid` is due its periodic full read in scan `scan_count` (one scan in
/// [`FULL_READ_EVERY`], staggered by PID so the reads spread over the scans).
fn is_due(pid: Pid, scan_count: u64) -> bool {
    (pid as u64)
        .wrapping_add(scan_count)
        .is_multiple_of(FULL_READ_EVERY)
}
