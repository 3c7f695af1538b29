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

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Instant;

use super::stat::{PF_KTHREAD, StatFields, parse_stat};
use super::text::{MAX_CMDLINE_CHARS, cmdline_from_raw, sanitize};
use super::{Identity, Pid, PidMap, ProcInfo, Snapshot, State, TaskKind};

/// File descriptors kept free for everything else brood opens (terminal, lab sockets, pipes).
const FD_RESERVE: u64 = 256;

/// How many kept files to give back when an open fails with EMFILE/ENFILE anyway (the limit was
/// lower than the budget, or the rest of brood holds more than the reserve).
const FD_SHED: usize = 32;

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Also list each process's threads (other than the main one) as its children.
    pub threads: bool,
    /// Cap on files (`stat`, `schedstat`) kept open between scans; `None` means "as many as
    /// RLIMIT_NOFILE allows".
    pub max_open_files: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot list /proc: {0}")]
    ProcUnreadable(#[source] io::Error),
}

/// A process whose CPU time stands still is still read in full this often (in scans, staggered by
/// PID), bounding how stale its resident memory or nice value can get.
const FULL_READ_EVERY: u64 = 10;

/// Room for one getdents64 batch: about 2 000 /proc entries.
const DIR_BUF_BYTES: usize = 64 * 1024;

/// A stat file opened in this scan (none was kept, or the kept one was stale).
struct Opened {
    file: File,
    read_ahead: Option<ReadAhead>,
}

/// What a first read of a process needs, read ahead with its stat file.
struct ReadAhead {
    stat: Vec<u8>,
    uid: Option<u32>,
    cmdline: Option<String>,
}

/// New processes at least this many (a first scan) are read ahead on two threads.
const READ_AHEAD_FROM: usize = 256;

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
    dir_buf: Vec<u8>,
    pids: Vec<Pid>,
    tids: Vec<Pid>,
    /// Indices into the snapshot being built of processes handed out unread.
    quiet: Vec<usize>,
    /// New processes' files and static fields, read ahead in parallel in this scan.
    read_ahead: PidMap<Opened>,
    /// The processes of the last scan, shared with the snapshot handed out.
    last: Arc<Vec<ProcInfo>>,
}

/// The fields of a task that do not change without an exec, and its CPU time at the last read.
struct Known {
    name: Arc<str>,
    cmdline: Arc<str>,
    uid: Option<u32>,
    user: Arc<str>,
    cpu_ticks: Option<u64>,
}

impl Scanner {
    pub fn new(options: ScanOptions) -> Scanner {
        let open_budget = options.max_open_files.unwrap_or_else(raise_fd_limit);
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
            dir_buf: vec![0; DIR_BUF_BYTES],
            pids: Vec::new(),
            tids: Vec::new(),
            quiet: Vec::new(),
            read_ahead: PidMap::default(),
            last: Arc::default(),
        }
    }

    pub fn set_threads(&mut self, threads: bool) {
        self.options.threads = threads;
    }

    /// How many tasks the scanner remembers (one per task of the last scan; for churn tests).
    pub fn cached_tasks(&self) -> usize {
        self.entries.len()
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

    /// When many processes are new (the first scan), opens and reads their stat files and reads
    /// their owners and command lines on two threads, for the pass to take up: the first frame
    /// is waiting for it. Only with room in the fd budget for the files held ahead *and* for
    /// every file the pass itself may open (a stat and a schedstat file a process at most), as
    /// the files held ahead are not counted in `open_files` until the pass keeps them.
    fn read_ahead_new(&mut self, pids: &[Pid]) {
        let new: Vec<Pid> = pids
            .iter()
            .copied()
            .filter(|pid| !self.entries.contains_key(pid))
            .collect();
        let room = self.open_budget.saturating_sub(self.open_files);
        if new.len() < READ_AHEAD_FROM
            || new.len() + 2 * pids.len() > room
            || std::thread::available_parallelism().map_or(1, usize::from) < 2
        {
            return;
        }
        let (mine, theirs) = new.split_at(new.len() / 2);
        let read = std::thread::scope(|scope| {
            // No thread to be had (RLIMIT_NPROC, a cgroup's pids.max): the pass reads them all.
            let Ok(helper) = std::thread::Builder::new()
                .name("read-ahead".into())
                .spawn_scoped(scope, || read_ahead(theirs))
            else {
                return Vec::new();
            };
            let mut read = read_ahead(mine);
            read.extend(helper.join().unwrap_or_default());
            read
        });
        self.read_ahead = read.into_iter().collect();
    }

    /// A full read of a process, remembered for the scans in which it stays quiet. `runtime` is
    /// its CPU time read just before, if its `schedstat` is kept open.
    fn read_process(
        &mut self,
        pid: Pid,
        runtime: Option<u64>,
        elapsed: Option<f64>,
    ) -> Option<ProcInfo> {
        let info = self.read_task(pid, None, elapsed)?;
        let budget_left = self.open_files < self.open_budget;
        let entry = self.entries.get_mut(&pid)?;
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
    fn read_runtime(&mut self, pid: Pid) -> Option<u64> {
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
    fn reuse_if_quiet(&mut self, pid: Pid, runtime: u64) -> Option<ProcInfo> {
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
            ..last.clone()
        })
    }

    /// A quiet process whose parent died was reparented without running: read those again. Run
    /// after the pass, when every live parent has been seen.
    fn reread_adopted(&mut self, procs: &mut [ProcInfo], quiet: &[usize], elapsed: Option<f64>) {
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

    /// The numeric entries of a /proc directory, into `out`.
    fn list_tasks(&mut self, path: &str, out: &mut Vec<Pid>) -> io::Result<()> {
        let dir = self.retry_on_fd_exhaustion(|| File::open(path))?;
        list_numeric_entries(&dir, &mut self.dir_buf, out)
    }

    /// Reads one task's stat (through its kept-open file when there is one) and its cached fields.
    fn read_task(&mut self, tid: Pid, tgid: Option<Pid>, elapsed: Option<f64>) -> Option<ProcInfo> {
        let (len, opened) = self.read_stat(tid, tgid)?;
        let buf = std::mem::take(&mut self.buf);
        let info = parse_stat(&buf[..len])
            .and_then(|stat| self.update_entry(&stat, tgid, elapsed, opened));
        self.buf = buf;
        info
    }

    /// Merges a fresh stat line with what the last scan knew of the task, reading its static fields
    /// if it is new. `opened` is the stat file if it was just opened: kept for the next scan
    /// while the budget allows.
    fn update_entry(
        &mut self,
        stat: &StatFields<'_>,
        tgid: Option<Pid>,
        elapsed: Option<f64>,
        mut opened: Option<Opened>,
    ) -> Option<ProcInfo> {
        let tid = stat.pid;
        let id = Identity {
            pid: tid,
            start_ticks: stat.starttime,
        };
        let scan_count = self.scan_count;
        let entry = self.entries.get(&tid).filter(|e| e.id == id);
        let last = entry
            .and_then(|e| self.last.get(e.index as usize))
            .filter(|p| p.id == id);
        let known = match last {
            Some(last) if is_name_of(&last.name, stat.comm) => Known {
                name: last.name.clone(),
                cmdline: last.cmdline.clone(),
                uid: last.uid,
                user: last.user.clone(),
                cpu_ticks: Some(last.cpu_ticks),
            },
            // A new comm means exec (or prctl PR_SET_NAME): the command line may have changed too.
            Some(last) => Known {
                name: sanitize(stat.comm).into(),
                cmdline: read_cmdline(tgid.unwrap_or(tid), &mut self.cmdline_buf)
                    .map_or_else(|| last.cmdline.clone(), Arc::from),
                uid: last.uid,
                user: last.user.clone(),
                cpu_ticks: Some(last.cpu_ticks),
            },
            None => {
                let kept = entry.and_then(|e| e.stat_file.as_ref());
                let uid_from = kept.map(read_uid);
                self.read_known(stat, tgid.unwrap_or(tid), opened.as_mut(), uid_from)
            }
        };

        if self.entries.get(&tid).is_none_or(|e| e.id != id) {
            let fresh = Entry {
                id,
                index: u32::MAX,
                next_index: u32::MAX,
                stat_file: None,
                sched_file: None,
                runtime_at_read: None,
                born_in_scan: scan_count,
                seen_in_scan: scan_count,
            };
            // The old entry's file (if any) belonged to a dead process that had this PID.
            if let Some(old) = self.entries.insert(tid, Box::new(fresh)) {
                self.release(*old);
            }
        }
        let entry = self.entries.get_mut(&tid)?;
        if let Some(Opened { file, .. }) = opened
            && entry.stat_file.is_none()
            && self.open_files < self.open_budget
        {
            entry.stat_file = Some(file);
            self.open_files += 1;
        }
        entry.seen_in_scan = scan_count;

        let cpu_ticks = stat.utime + stat.stime;
        let cpu_percent = match (elapsed, known.cpu_ticks) {
            (Some(secs), Some(before)) if secs > 0.0 => {
                let used = cpu_ticks.saturating_sub(before) as f64;
                (used / (secs * self.ticks_per_sec as f64) * 100.0) as f32
            }
            _ => 0.0,
        };
        let state = State::from_letter(stat.state);
        Some(ProcInfo {
            id,
            ppid: stat.ppid,
            pgrp: stat.pgrp,
            session: stat.session,
            kind: if stat.flags & PF_KTHREAD != 0 {
                TaskKind::KernelThread
            } else {
                TaskKind::Process
            },
            state,
            name: known.name,
            cmdline: known.cmdline,
            uid: known.uid,
            user: known.user,
            cpu_ticks,
            cpu_percent,
            rss_bytes: u64::try_from(stat.rss_pages).unwrap_or(0) * self.page_size,
            vsize_bytes: stat.vsize,
            nice: stat.nice,
            threads: stat.num_threads,
            tracer: (state == State::Traced).then(|| read_tracer(tid)).flatten(),
        })
    }

    /// A new task's static fields: read ahead with its stat file, or read now. `kept_uid` is the
    /// owner from a stat file kept open, when no file was opened.
    fn read_known(
        &mut self,
        stat: &StatFields<'_>,
        tgid: Pid,
        opened: Option<&mut Opened>,
        kept_uid: Option<Option<u32>>,
    ) -> Known {
        let kernel = stat.flags & PF_KTHREAD != 0;
        // A kernel thread has no command line to read.
        let mut read_cmdline = || {
            (!kernel)
                .then(|| read_cmdline(tgid, &mut self.cmdline_buf))
                .flatten()
        };
        let (uid, cmdline) = match opened {
            Some(Opened {
                read_ahead: Some(read_ahead),
                ..
            }) => (read_ahead.uid, read_ahead.cmdline.take()),
            Some(Opened { file, .. }) => (read_uid(file), read_cmdline()),
            None => (kept_uid.flatten(), read_cmdline()),
        };
        // Read ahead, a kernel thread's is empty too.
        let cmdline = cmdline.unwrap_or_default();
        let user = match uid {
            Some(uid) => self.user_name(uid),
            None => Arc::from("?"),
        };
        Known {
            name: sanitize(stat.comm).into(),
            cmdline: cmdline.into(),
            uid,
            user,
            cpu_ticks: None,
        }
    }

    /// Fills `self.buf` with the task's stat line; returns its length, and the file if it had to
    /// be opened (no kept file, or the kept one was stale).
    fn read_stat(&mut self, tid: Pid, tgid: Option<Pid>) -> Option<(usize, Option<Opened>)> {
        if let Some(file) = self.entries.get(&tid).and_then(|e| e.stat_file.as_ref()) {
            match file.read_at(&mut self.buf, 0) {
                Ok(len) if len > 0 && len < self.buf.len() => return Some((len, None)),
                // Gone (ESRCH) or its PID reused: drop the stale file and look again by path.
                _ => {
                    if let Some(file) = self.entries.get_mut(&tid).and_then(|e| e.stat_file.take())
                    {
                        drop(file);
                        self.open_files -= 1;
                    }
                }
            }
        }

        let read_ahead = tgid
            .is_none()
            .then(|| self.read_ahead.remove(&tid))
            .flatten();
        let opened = match read_ahead {
            Some(opened) => opened,
            None => {
                use std::fmt::Write;
                self.path.clear();
                let _ = match tgid {
                    Some(tgid) => write!(self.path, "/proc/{tgid}/task/{tid}/stat"),
                    None => write!(self.path, "/proc/{tid}/stat"),
                };
                let path = std::mem::take(&mut self.path);
                let file = self.retry_on_fd_exhaustion(|| File::open(&path));
                self.path = path;
                Opened {
                    file: file.ok()?,
                    read_ahead: None,
                }
            }
        };
        if let Some(ahead) = &opened.read_ahead {
            let len = ahead.stat.len();
            if self.buf.len() <= len {
                self.buf.resize(len + 1, 0);
            }
            self.buf[..len].copy_from_slice(&ahead.stat);
            return Some((len, Some(opened)));
        }
        let file = &opened.file;
        let len = loop {
            let len = file.read_at(&mut self.buf, 0).ok()?;
            if len < self.buf.len() {
                break len;
            }
            let bigger = self.buf.len() * 2;
            self.buf.resize(bigger, 0);
        };
        Some((len, Some(opened)))
    }

    /// Runs `open`; if it fails for want of file descriptors, closes some kept `stat` files, lowers
    /// the budget for good, and tries once more. Past the budget, scans are slower, never partial.
    fn retry_on_fd_exhaustion<T>(
        &mut self,
        mut open: impl FnMut() -> io::Result<T>,
    ) -> io::Result<T> {
        match open() {
            Err(err) if is_fd_exhaustion(&err) && self.open_files > 0 => {
                self.shed_files();
                open()
            }
            result => result,
        }
    }

    fn shed_files(&mut self) {
        self.open_budget = self.open_files.saturating_sub(FD_SHED);
        for entry in self.entries.values_mut() {
            if self.open_files <= self.open_budget {
                break;
            }
            self.open_files -= entry.close_files();
        }
    }

    fn user_name(&mut self, uid: u32) -> Arc<str> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map_or_else(|| uid.to_string(), |u| u.name);
                Arc::from(sanitize(name.as_bytes()))
            })
            .clone()
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

impl Entry {
    /// Closes the kept files; returns how many there were.
    fn close_files(&mut self) -> usize {
        self.runtime_at_read = None;
        usize::from(self.stat_file.take().is_some()) + usize::from(self.sched_file.take().is_some())
    }
}

/// Grows the descriptor table to hold the kept files of the processes there are now. Call it while
/// brood is single-threaded: once threads share the table, every doubling of it waits for an RCU
/// grace period, which made a first scan of 2 000 processes a third slower.
pub fn reserve_descriptors() {
    let budget = raise_fd_limit();
    // The 4th field of /proc/loadavg, "running/total", counts every task (threads too): an upper
    // bound of the processes, one read away, where listing /proc takes milliseconds.
    let Ok(loadavg) = File::open("/proc/loadavg") else {
        return;
    };
    let mut buf = [0u8; 128];
    let Ok(len) = loadavg.read_at(&mut buf, 0) else {
        return;
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
        return;
    };
    // SAFETY: copies a descriptor we own to the lowest free number ≥ `wanted` (never one in use)
    // and closes the copy; only the table's size remains.
    unsafe {
        let copy = libc::fcntl(loadavg.as_raw_fd(), libc::F_DUPFD_CLOEXEC, wanted);
        if copy >= 0 {
            libc::close(copy);
        }
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns how many files may stay open.
fn raise_fd_limit() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let wanted = hard.min(1 << 20);
    let soft = if wanted > soft && setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).is_ok() {
        wanted
    } else {
        soft
    };
    usize::try_from(soft.saturating_sub(FD_RESERVE)).unwrap_or(0)
}

/// Reads a directory with getdents64 into one reused buffer, keeping the names that are numbers.
/// std's `read_dir` allocates a name per entry, 10 000 of them a second at 10 000 processes.
fn list_numeric_entries(dir: &File, buf: &mut [u8], out: &mut Vec<Pid>) -> io::Result<()> {
    // struct linux_dirent64: u64 d_ino, i64 d_off, u16 d_reclen, u8 d_type, then the name + NUL.
    const NAME_AT: usize = 19;
    out.clear();
    loop {
        // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which is ours alone.
        let got = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        let got = match usize::try_from(got) {
            Ok(0) => return Ok(()),
            Ok(got) => got.min(buf.len()),
            Err(_) => return Err(io::Error::last_os_error()),
        };
        let mut records = &buf[..got];
        while records.len() > NAME_AT {
            let len = usize::from(u16::from_ne_bytes([records[16], records[17]]));
            if len <= NAME_AT || len > records.len() {
                break;
            }
            let name = &records[NAME_AT..len];
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            if let Some(pid) = parse_pid(name) {
                out.push(pid);
            }
            records = &records[len..];
        }
    }
}

fn parse_pid(name: &[u8]) -> Option<Pid> {
    parse_decimal(name)
        .and_then(|value| Pid::try_from(value).ok())
        .filter(|&pid| pid > 0)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')),
    )
}

fn is_fd_exhaustion(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Opens the stat files of `pids` and reads their owners and command lines (see
/// [`Scanner::read_ahead_new`]). A process already gone is left out.
fn read_ahead(pids: &[Pid]) -> Vec<(Pid, Opened)> {
    use std::fmt::Write;
    let mut path = String::new();
    let mut buf = vec![0; 1024];
    let mut raw = Vec::new();
    pids.iter()
        .filter_map(|&pid| {
            path.clear();
            let _ = write!(path, "/proc/{pid}/stat");
            let file = File::open(&path).ok()?;
            let len = loop {
                let len = file.read_at(&mut buf, 0).ok().filter(|&len| len > 0)?;
                if len < buf.len() {
                    break len;
                }
                buf.resize(buf.len() * 2, 0);
            };
            let read_ahead = ReadAhead {
                stat: buf[..len].to_vec(),
                uid: read_uid(&file),
                cmdline: read_cmdline(pid, &mut raw),
            };
            let read_ahead = Some(read_ahead);
            Some((pid, Opened { file, read_ahead }))
        })
        .collect()
}

/// Whether `name` is what `comm` shows as. Without an allocation, unless `comm` needed escaping.
fn is_name_of(name: &str, comm: &[u8]) -> bool {
    name.as_bytes() == comm || *sanitize(comm) == *name
}

/// The command line of `pid`, read into `raw` (kept by the caller to reuse its capacity), at most
/// as many bytes as the shown command line can hold. One `read` where it fits: a read of
/// /proc/PID/cmdline returns all there is up to the buffer's size, so a short read is the end.
fn read_cmdline(pid: Pid, raw: &mut Vec<u8>) -> Option<String> {
    // Up to 4 bytes a character, plus one more character to know whether to mark a cut.
    const MAX_BYTES: usize = 4 * (MAX_CMDLINE_CHARS + 1);
    let file = File::open(format!("/proc/{pid}/cmdline")).ok()?;
    raw.clear();
    raw.resize(raw.capacity().clamp(4096, MAX_BYTES), 0);
    let mut len = 0;
    loop {
        let read = (&file).read(&mut raw[len..]).ok()?;
        len += read;
        if read == 0 || len < raw.len() {
            break;
        }
        if raw.len() == MAX_BYTES {
            break;
        }
        raw.resize((raw.len() * 2).min(MAX_BYTES), 0);
    }
    raw.truncate(len);
    Some(cmdline_from_raw(raw))
}

/// The user of a process: the owner of its /proc entries (one `fstat` of a file already open),
/// as htop and ps show it. For a process that is not dumpable (a setuid program, some daemons) the
/// kernel makes them root's, so it shows as root; reading every status file to tell would double
/// the first scan.
fn read_uid(stat_file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    stat_file.metadata().ok().map(|m| m.uid())
}

fn read_tracer(pid: Pid) -> Option<Pid> {
    let tracer = procfs::process::Process::new(pid)
        .ok()?
        .status()
        .ok()?
        .tracerpid;
    (tracer > 0).then_some(tracer)
}

fn read_uptime() -> io::Result<f64> {
    let text = std::fs::read_to_string("/proc/uptime")?;
    text.split_whitespace()
        .next()
        .and_then(|secs| secs.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/uptime"))
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use nix::sys::signal::{Signal, kill};

    use super::*;

    /// Children of the test, killed and reaped on drop, and PIDs that are not (any more) ours.
    #[derive(Default)]
    struct Guard {
        children: Vec<Child>,
        strays: Vec<Pid>,
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            for &pid in &self.strays {
                let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
            for child in &mut self.children {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    fn signal(pid: Pid, signal: Signal) {
        kill(nix::unistd::Pid::from_raw(pid), signal).unwrap();
    }

    /// The fields after `comm` in /proc/PID/stat, as the kernel has them now.
    fn proc_stat(pid: Pid) -> Vec<String> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
        after.split(' ').map(String::from).collect()
    }

    fn wait_until(mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !condition() {
            assert!(Instant::now() < deadline, "condition not met within 5 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn find(snapshot: &Snapshot, pid: Pid) -> &ProcInfo {
        snapshot
            .procs
            .iter()
            .find(|p| p.pid() == pid)
            .unwrap_or_else(|| panic!("{pid} missing from the snapshot"))
    }

    /// Scans until `pid` has been read in full with its schedstat open, and the next scan will
    /// not read it in full just because it is due.
    fn scan_until_quiet(scanner: &mut Scanner, pid: Pid) {
        for _ in 0..3 {
            scanner.scan().unwrap();
        }
        skip_due_scan(scanner, pid);
    }

    fn skip_due_scan(scanner: &mut Scanner, pid: Pid) {
        while (pid as u64 + scanner.scan_count + 1).is_multiple_of(FULL_READ_EVERY) {
            scanner.scan().unwrap();
        }
    }

    fn was_reused_quietly(scanner: &Scanner, snapshot: &Snapshot, pid: Pid) -> bool {
        scanner
            .quiet
            .iter()
            .any(|&i| snapshot.procs[i].pid() == pid)
    }

    #[test]
    fn a_sleeping_process_is_not_read_again_until_it_runs() {
        let mut guard = Guard::default();
        let sleeper = Command::new("sleep").arg("600").spawn().unwrap();
        let pid = sleeper.id() as Pid;
        guard.children.push(sleeper);
        let mut scanner = Scanner::new(ScanOptions::default());
        scan_until_quiet(&mut scanner, pid);

        let snapshot = scanner.scan().unwrap();
        assert!(was_reused_quietly(&scanner, &snapshot, pid));
        assert_eq!(find(&snapshot, pid).state, State::Sleeping);
        let own = scanner.entries.get(&(std::process::id() as Pid)).unwrap();
        assert!(
            own.sched_file.is_none(),
            "a multi-threaded process is always read"
        );

        // Each change below makes the process run, so each is seen at the next scan.
        for (sig, state) in [
            (Signal::SIGSTOP, State::Stopped),
            (Signal::SIGCONT, State::Sleeping),
            (Signal::SIGKILL, State::Zombie),
        ] {
            scan_until_quiet(&mut scanner, pid);
            signal(pid, sig);
            let letter = state.letter().to_string();
            wait_until(|| proc_stat(pid).first() == Some(&letter));
            let snapshot = scanner.scan().unwrap();
            assert_eq!(find(&snapshot, pid).state, state, "after {sig:?}");
            assert!(!was_reused_quietly(&scanner, &snapshot, pid));
        }
    }

    #[test]
    fn a_sleeping_process_whose_parent_dies_is_read_again_for_its_new_parent() {
        let mut guard = Guard::default();
        let mut parent = Command::new("sh")
            .args(["-c", "sleep 600 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let parent_pid = parent.id() as Pid;
        let mut line = String::new();
        std::io::BufReader::new(parent.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let orphan: Pid = line.trim().parse().unwrap();
        guard.strays.push(orphan);
        guard.children.push(parent);

        let mut scanner = Scanner::new(ScanOptions::default());
        wait_until(|| {
            std::fs::read_to_string(format!("/proc/{orphan}/comm")).is_ok_and(|c| c == "sleep\n")
        });
        scan_until_quiet(&mut scanner, orphan);
        let snapshot = scanner.scan().unwrap();
        assert!(was_reused_quietly(&scanner, &snapshot, orphan));
        assert_eq!(find(&snapshot, orphan).ppid, parent_pid);

        // The orphan does not run when it is adopted: only its parent's death tells.
        skip_due_scan(&mut scanner, orphan);
        signal(parent_pid, Signal::SIGKILL);
        wait_until(|| proc_stat(orphan).get(1) != Some(&parent_pid.to_string()));
        let adopter: Pid = proc_stat(orphan)[1].parse().unwrap();
        let snapshot = scanner.scan().unwrap();
        assert_eq!(
            find(&snapshot, orphan).ppid,
            adopter,
            "parent is a zombie now"
        );

        for child in &mut guard.children {
            child.wait().unwrap();
        }
        let snapshot = scanner.scan().unwrap();
        assert_eq!(find(&snapshot, orphan).ppid, adopter, "parent reaped");
    }

    #[test]
    fn a_first_scan_of_many_new_processes_reads_them_ahead_and_misses_nothing() {
        let mut guard = Guard::default();
        let argument = format!("{}.{}", 3000 + std::process::id() % 1000, 300);
        for _ in 0..READ_AHEAD_FROM + 50 {
            let child = Command::new("sleep").arg(&argument).spawn().unwrap();
            guard.children.push(child);
        }
        let mut scanner = Scanner::new(ScanOptions::default());
        let snapshot = scanner.scan().unwrap();
        let own_uid = nix::unistd::getuid().as_raw();
        for child in &guard.children {
            let proc = find(&snapshot, child.id() as Pid);
            // A child not yet past exec shows the test's own command line: wait for it is not
            // needed, its name tells which one it is.
            if &*proc.name == "sleep" {
                assert_eq!(&*proc.cmdline, format!("sleep {argument}"));
            }
            assert_eq!(proc.uid, Some(own_uid));
        }
        // Their files were kept: the next scan reads them without opening anything.
        let kept = scanner.open_files();
        assert!(kept >= guard.children.len(), "{kept} files kept");
        let again = scanner.scan().unwrap();
        for child in &guard.children {
            assert_eq!(find(&again, child.id() as Pid).uid, Some(own_uid));
        }
    }

    #[test]
    fn a_name_is_compared_to_its_comm_as_shown() {
        assert!(is_name_of("sleep", b"sleep"));
        assert!(is_name_of("evil\\x1b[2J", b"evil\x1b[2J"));
        assert!(!is_name_of("sleep", b"bash"));
        assert!(!is_name_of("evil\\x1b[2J", b"evil"));
    }

    const FRESH_PROCESS: &str = "BROOD_TEST_FRESH_PROCESS";

    /// Run in a process of its own (other tests' scanners grow the table too), with more
    /// processes than the table starts with room for.
    #[test]
    fn the_descriptor_table_is_grown_for_every_process_there_is() {
        let mut guard = Guard::default();
        for _ in 0..150 {
            guard
                .children
                .push(Command::new("sleep").arg("60").spawn().unwrap());
        }
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "proc::scan::tests::descriptor_table_of_a_fresh_process",
                "--ignored",
                "--test-threads=1",
            ])
            .env(FRESH_PROCESS, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && text.contains("1 passed"),
            "{text}"
        );
    }

    #[test]
    #[ignore = "run by the_descriptor_table_is_grown_for_every_process_there_is"]
    fn descriptor_table_of_a_fresh_process() {
        if std::env::var_os(FRESH_PROCESS).is_none() {
            return;
        }
        fn table_size() -> usize {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
            line["FDSize:".len()..].trim().parse().unwrap()
        }
        let processes = std::fs::read_dir("/proc")
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| parse_pid(e.file_name().as_encoded_bytes()).is_some())
            })
            .count();
        reserve_descriptors();
        let wanted = (processes * 2).min(raise_fd_limit());
        assert!(
            table_size() >= wanted,
            "{} slots for {processes} processes",
            table_size()
        );
    }

    #[test]
    fn only_positive_decimal_names_are_pids() {
        assert_eq!(parse_pid(b"4711"), Some(4711));
        assert_eq!(parse_pid(b"2147483647"), Some(i32::MAX));
        for name in [
            &b""[..],
            b"0",
            b"self",
            b"12a",
            b"-1",
            b"2147483648",
            b"99999999999",
        ] {
            assert_eq!(parse_pid(name), None, "{:?}", String::from_utf8_lossy(name));
        }
    }

    #[test]
    fn a_directory_is_listed_across_many_small_batches() {
        let dir = std::env::temp_dir().join(format!("brood-scan-list-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in (1..=300)
            .map(|n| n.to_string())
            .chain(["self".into(), "7x".into()])
        {
            File::create(dir.join(name)).unwrap();
        }
        let mut listed = Vec::new();
        // 256 bytes hold only a handful of records, so this takes dozens of getdents64 calls.
        let result = list_numeric_entries(&File::open(&dir).unwrap(), &mut [0; 256], &mut listed);
        std::fs::remove_dir_all(&dir).unwrap();
        result.unwrap();
        listed.sort_unstable();
        assert_eq!(listed, (1..=300).collect::<Vec<Pid>>());
    }
}
