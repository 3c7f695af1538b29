//! The process table's reader: turns /proc into a [`Snapshot`] (details and IPC links are read
//! elsewhere, in `details` and `ipc`).
//!
//! Built for a refresh every second at 10 000 processes: each process's `stat` file stays open and
//! is re-read with one `pread` (instead of open/read/close), static fields (command line, user) are
//! read once per process identity, and anything beyond `stat` is read only when a state needs it.
//! A process that vanishes mid-read is skipped: that is normal on a live system, not an error.
//!
//! Most processes sleep through most refreshes, and the kernel's `stat` is the dear part of a scan
//! (it formats 52 fields). So a single-threaded process's `schedstat` (its time on a CPU, cheap to
//! read) is kept open too, and while that time stands still, what `stat` said last is still true:
//! a task must run to change its state, threads or CPU time. The one change made *to* a sleeping
//! process, reparenting when its parent exits, is caught by re-reading the children of parents
//! that died, and every process is read in full at least every [`FULL_READ_EVERY`] scans anyway
//! (memory can be reclaimed and nice changed from outside).
//!
//! What the scanner knew of each process is the last snapshot itself, shared with the UI, so a
//! process is held once, not twice. A first scan (what the first frame waits for) reads its many
//! new processes ahead on two threads.

mod budget;
mod quiet;
mod read;
mod read_ahead;

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::Instant;

use rustix::fs::RawDir;

use super::{Identity, Pid, PidMap, ProcInfo, Snapshot, State, TaskKind};
use budget::raise_fd_limit;
pub use budget::reserve_descriptors;
use read::read_uptime;

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Also list each process's threads (other than the main one) as its children.
    pub threads: bool,
    /// Cap on files (`stat`, `schedstat`) kept open between scans; `None` means "as many as
    /// RLIMIT_NOFILE allows".
    pub max_open_files: Option<usize>,
    /// How far `ProcInfo::tracer` is followed (each read is one of the dear `status` files).
    pub tracers: Tracers,
}

/// Which tracers (`TracerPid`) a scanner reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tracers {
    /// Those of processes stopped by their tracer (t) only: for readers that show no tracer.
    #[default]
    StoppedOnly,
    /// Every process's, looked for as processes run and spread over the scans (see
    /// `Scanner::read_process`): the screen, which badges a tracee whatever its state.
    Followed,
    /// Every process's at every scan: a single scan (`brood snapshot`) has no later scans to
    /// spread the reads over.
    Every,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot list /proc: {0}")]
    ProcUnreadable(#[source] io::Error),
}

/// Room for one getdents64 batch: about 2 000 /proc entries.
const DIR_BUF_BYTES: usize = 64 * 1024;

/// A stat file opened in this scan (none was kept, or the kept one was stale).
struct Opened {
    pub file: File,
    pub read_ahead: Option<ReadAhead>,
}

/// What a first read of a process needs, read ahead with its stat file.
struct ReadAhead {
    pub stat: Vec<u8>,
    pub uid: Option<u32>,
    pub cmdline: Option<String>,
}

/// What the scanner remembers about one task between scans. What it last read of the task is
/// in the last snapshot, which the UI holds too: one copy of it, not two.
struct Entry {
    id: Identity,
    /// Where the task is in the last snapshot's `procs`.
    index: u32,
    /// Where it is in the snapshot being built (becomes `index` when the scan ends).
    next_index: u32,
    stat_file: Option<File>,
    /// `/proc/PID/schedstat`, kept beside `stat_file` for single-threaded processes.
    sched_file: Option<File>,
    /// CPU time (ns) read from `sched_file` just *before* the last full read of `stat`, so that
    /// anything the process did after that read shows as a change.
    runtime_at_read: Option<u64>,
    born_in_scan: u64,
    seen_in_scan: u64,
    /// Its command line could not be read for want of descriptors: read it at the next scan.
    cmdline_unread: bool,
    /// Whether its `TracerPid` was read once since brood first saw it.
    tracer_checked: bool,
}

/// Reads /proc repeatedly, keeping per-process state to make each refresh cheap.
pub struct Scanner {
    options: ScanOptions,
    /// Boxed: the table has twice the slots of the tasks it holds, and a slot is then a pointer.
    entries: PidMap<Box<Entry>>,
    users: HashMap<u32, Arc<str>>,
    open_budget: usize,
    open_files: usize,
    scan_count: u64,
    last_scan: Option<Instant>,
    ticks_per_sec: u64,
    page_size: u64,
    buf: Vec<u8>,
    cmdline_buf: Vec<u8>,
    path: String,
    dir_buf: Vec<MaybeUninit<u8>>,
    pids: Vec<Pid>,
    tids: Vec<Pid>,
    /// Indices into the snapshot being built of processes handed out unread.
    quiet: Vec<usize>,
    /// New processes' files and static fields, read ahead in parallel in this scan.
    read_ahead: PidMap<Opened>,
    /// The processes of the last scan, shared with the snapshot handed out.
    last: Arc<Vec<ProcInfo>>,
    /// Kept files were given back for want of descriptors in the scan under way.
    shed_in_scan: bool,
}

impl Scanner {
    pub fn new(options: ScanOptions) -> Scanner {
        let open_budget = options
            .max_open_files
            .unwrap_or_else(|| budget::budget(raise_fd_limit()));
        Scanner {
            options,
            entries: PidMap::default(),
            users: HashMap::new(),
            open_budget,
            open_files: 0,
            scan_count: 0,
            last_scan: None,
            ticks_per_sec: procfs::ticks_per_second().max(1),
            page_size: procfs::page_size(),
            buf: vec![0; 1024],
            cmdline_buf: Vec::new(),
            path: String::with_capacity(64),
            dir_buf: vec![MaybeUninit::uninit(); DIR_BUF_BYTES],
            pids: Vec::new(),
            tids: Vec::new(),
            quiet: Vec::new(),
            read_ahead: PidMap::default(),
            last: Arc::default(),
            shed_in_scan: false,
        }
    }

    pub fn set_threads(&mut self, threads: bool) {
        self.options.threads = threads;
    }

    /// How many tasks the scanner remembers (one per task of the last scan; for churn tests).
    pub fn cached_tasks(&self) -> usize {
        self.entries.len()
    }

    /// The descriptors of the files held open now (for a reader of brood's own descriptor table
    /// that wants to skip them).
    pub fn held_files(&self) -> Vec<i32> {
        use std::os::fd::AsRawFd;
        self.entries
            .values()
            .flat_map(|e| [e.stat_file.as_ref(), e.sched_file.as_ref()])
            .flatten()
            .map(AsRawFd::as_raw_fd)
            .collect()
    }

    /// How many files (`stat` and `schedstat`) are held open now, never more than the budget.
    pub fn open_files(&self) -> usize {
        self.open_files
    }

    /// One pass over /proc.
    pub fn scan(&mut self) -> Result<Snapshot, ScanError> {
        let now = Instant::now();
        let elapsed = self.last_scan.map(|t| now.duration_since(t).as_secs_f64());
        self.last_scan = Some(now);
        self.scan_count += 1;

        let uptime_secs = self.retry_on_fd_exhaustion(read_uptime).unwrap_or_default();
        let mut pids = std::mem::take(&mut self.pids);
        let listed = self.list_tasks("/proc", &mut pids);
        if let Err(err) = listed {
            self.pids = pids;
            return Err(ScanError::ProcUnreadable(err));
        }
        self.read_ahead_new(&pids);
        // Exactly one slot a process: a snapshot lives on in the UI, spare room with it.
        let mut procs = Vec::with_capacity(pids.len());
        let mut quiet = std::mem::take(&mut self.quiet);
        quiet.clear();
        for &pid in &pids {
            let runtime = self.read_runtime(pid);
            if let Some(info) = runtime.and_then(|ns| self.reuse_if_quiet(pid, ns)) {
                quiet.push(procs.len());
                self.push(&mut procs, info);
                continue;
            }
            let Some(info) = self.read_process(pid, runtime, elapsed) else {
                continue;
            };
            let wants_threads =
                self.options.threads && info.threads > 1 && info.kind == TaskKind::Process;
            self.push(&mut procs, info);
            if wants_threads {
                self.read_threads(pid, elapsed, &mut procs);
            }
        }
        self.pids = pids;
        // Left over only if a process vanished between the two reads; the memory goes too.
        self.read_ahead = PidMap::default();
        self.reread_adopted(&mut procs, &quiet, elapsed);
        self.quiet = quiet;
        self.drop_gone_tracers(&mut procs);

        self.forget_unseen();
        for entry in self.entries.values_mut() {
            entry.index = entry.next_index;
        }
        // Dropped before the next is made: a refresh holds two snapshots at most (the UI's and
        // the one being read).
        self.last = Arc::new(procs);
        Ok(Snapshot {
            procs: Arc::clone(&self.last),
            uptime_secs,
            ticks_per_sec: self.ticks_per_sec,
            descriptors_short: std::mem::take(&mut self.shed_in_scan),
        })
    }

    /// Adds a task's info to the snapshot being built, noting where it went.
    fn push(&mut self, procs: &mut Vec<ProcInfo>, info: ProcInfo) {
        if let Some(entry) = self.entries.get_mut(&info.pid()) {
            entry.next_index = procs.len() as u32;
        }
        procs.push(info);
    }

    fn read_threads(&mut self, tgid: Pid, elapsed: Option<f64>, procs: &mut Vec<ProcInfo>) {
        let mut tids = std::mem::take(&mut self.tids);
        if self
            .list_tasks(&format!("/proc/{tgid}/task"), &mut tids)
            .is_ok()
        {
            for &tid in tids.iter().filter(|&&tid| tid != tgid) {
                if let Some(mut thread) = self.read_task(tid, Some(tgid), elapsed) {
                    thread.kind = TaskKind::Thread;
                    thread.ppid = tgid;
                    self.push(procs, thread);
                }
            }
        }
        self.tids = tids;
    }

    /// The numeric entries of a /proc directory, into `out`.
    fn list_tasks(&mut self, path: &str, out: &mut Vec<Pid>) -> io::Result<()> {
        let dir = self.retry_on_fd_exhaustion(|| File::open(path))?;
        list_numeric_entries(&dir, &mut self.dir_buf, out)
    }

    fn forget_unseen(&mut self) {
        let scan_count = self.scan_count;
        let mut closed = 0;
        self.entries.retain(|_, e| {
            let keep = e.seen_in_scan == scan_count;
            if !keep {
                closed += e.close_files();
            }
            keep
        });
        self.open_files -= closed;
    }

    fn release(&mut self, mut entry: Entry) {
        self.open_files -= entry.close_files();
    }
}

/// Reads a directory with getdents64 into one reused buffer, keeping the names that are numbers.
/// std's `read_dir` allocates a name per entry, 10 000 of them a second at 10 000 processes.
fn list_numeric_entries(
    dir: &File,
    buf: &mut [MaybeUninit<u8>],
    out: &mut Vec<Pid>,
) -> io::Result<()> {
    out.clear();
    let mut entries = RawDir::new(dir, buf);
    while let Some(entry) = entries.next() {
        if let Some(pid) = parse_pid(entry?.file_name().to_bytes()) {
            out.push(pid);
        }
    }
    Ok(())
}

fn parse_pid(name: &[u8]) -> Option<Pid> {
    parse_decimal(name)
        .and_then(|value| Pid::try_from(value).ok())
        .filter(|&pid| pid > 0)
}

pub(super) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests;
