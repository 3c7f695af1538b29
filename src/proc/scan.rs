//! The only reader of /proc: turns the process table into a [`Snapshot`].
//!
//! Built for a refresh every second at 10 000 processes: each process's `stat` file stays open and
//! is re-read with one `pread` (instead of open/read/close), static fields (command line, user) are
//! read once per process identity, and anything beyond `stat` is read only when a state needs it.
//! A process that vanishes mid-read is skipped: that is normal on a live system, not an error.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Instant;

use super::stat::{PF_KTHREAD, StatFields, parse_stat};
use super::text::{cmdline_from_raw, sanitize};
use super::{Identity, Pid, ProcInfo, Snapshot, State, TaskKind};

/// File descriptors kept free for everything else brood opens (terminal, lab sockets, pipes).
const FD_RESERVE: u64 = 256;

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Also list each process's threads (other than the main one) as its children.
    pub threads: bool,
    /// Cap on `stat` files kept open between scans; `None` means "as many as RLIMIT_NOFILE allows".
    pub max_open_files: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot list /proc: {0}")]
    ProcUnreadable(#[source] io::Error),
}

/// What the scanner remembers about one task between scans.
struct Entry {
    id: Identity,
    stat_file: Option<File>,
    comm_raw: Vec<u8>,
    name: Arc<str>,
    cmdline: Arc<str>,
    uid: Option<u32>,
    user: Arc<str>,
    prev_cpu_ticks: u64,
    seen_in_scan: u64,
}

/// Reads /proc repeatedly, keeping per-process state to make each refresh cheap.
pub struct Scanner {
    options: ScanOptions,
    entries: HashMap<Pid, Entry>,
    users: HashMap<u32, Arc<str>>,
    open_budget: usize,
    open_files: usize,
    scan_count: u64,
    last_scan: Option<Instant>,
    ticks_per_sec: u64,
    page_size: u64,
    buf: Vec<u8>,
    path: String,
}

impl Scanner {
    pub fn new(options: ScanOptions) -> Scanner {
        let open_budget = options.max_open_files.unwrap_or_else(raise_fd_limit);
        Scanner {
            options,
            entries: HashMap::new(),
            users: HashMap::new(),
            open_budget,
            open_files: 0,
            scan_count: 0,
            last_scan: None,
            ticks_per_sec: procfs::ticks_per_second().max(1),
            page_size: procfs::page_size(),
            buf: vec![0; 1024],
            path: String::with_capacity(64),
        }
    }

    pub fn set_threads(&mut self, threads: bool) {
        self.options.threads = threads;
    }

    /// How many tasks the scanner remembers (one per task of the last scan; for churn tests).
    pub fn cached_tasks(&self) -> usize {
        self.entries.len()
    }

    /// How many `stat` files are held open now (for tests of the fd fallback).
    pub fn open_files(&self) -> usize {
        self.open_files
    }

    /// One pass over /proc.
    pub fn scan(&mut self) -> Result<Snapshot, ScanError> {
        let now = Instant::now();
        let elapsed = self.last_scan.map(|t| now.duration_since(t).as_secs_f64());
        self.last_scan = Some(now);
        self.scan_count += 1;

        let mut procs = Vec::with_capacity(self.entries.len() + 64);
        let dir = std::fs::read_dir("/proc").map_err(ScanError::ProcUnreadable)?;
        for dirent in dir.flatten() {
            let Some(pid) = dirent
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<Pid>().ok())
            else {
                continue;
            };
            let Some(info) = self.read_task(pid, None, elapsed) else {
                continue;
            };
            let wants_threads =
                self.options.threads && info.threads > 1 && info.kind == TaskKind::Process;
            procs.push(info);
            if wants_threads {
                self.read_threads(pid, elapsed, &mut procs);
            }
        }

        self.forget_unseen();
        Ok(Snapshot {
            procs,
            uptime_secs: read_uptime().unwrap_or_default(),
            ticks_per_sec: self.ticks_per_sec,
        })
    }

    fn read_threads(&mut self, tgid: Pid, elapsed: Option<f64>, procs: &mut Vec<ProcInfo>) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{tgid}/task")) else {
            return;
        };
        for dirent in tasks.flatten() {
            let Some(tid) = dirent
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<Pid>().ok())
            else {
                continue;
            };
            if tid == tgid {
                continue;
            }
            if let Some(mut thread) = self.read_task(tid, Some(tgid), elapsed) {
                thread.kind = TaskKind::Thread;
                thread.ppid = tgid;
                procs.push(thread);
            }
        }
    }

    /// Reads one task's stat (through its kept-open file when there is one) and its cached fields.
    fn read_task(&mut self, tid: Pid, tgid: Option<Pid>, elapsed: Option<f64>) -> Option<ProcInfo> {
        let len = self.read_stat(tid, tgid)?;
        let buf = std::mem::take(&mut self.buf);
        let info = parse_stat(&buf[..len]).and_then(|stat| self.update_entry(&stat, tgid, elapsed));
        self.buf = buf;
        info
    }

    /// Merges a fresh stat line with what is cached for the task, reading static fields if new.
    fn update_entry(
        &mut self,
        stat: &StatFields<'_>,
        tgid: Option<Pid>,
        elapsed: Option<f64>,
    ) -> Option<ProcInfo> {
        let tid = stat.pid;
        let id = Identity {
            pid: tid,
            start_ticks: stat.starttime,
        };
        let scan_count = self.scan_count;

        let is_new = self.entries.get(&tid).is_none_or(|e| e.id != id);
        if is_new {
            let fresh = self.fresh_entry(id, stat, tgid.unwrap_or(tid));
            // The old entry's file (if any) belonged to a dead process that had this PID.
            if let Some(old) = self.entries.insert(tid, fresh) {
                self.release(old);
            }
        }
        let entry = self.entries.get_mut(&tid)?;
        if !is_new && entry.comm_raw != stat.comm {
            // A new comm means exec (or prctl PR_SET_NAME): the command line may have changed too.
            entry.comm_raw = stat.comm.to_vec();
            entry.name = sanitize(stat.comm).into();
            if let Some(cmdline) = read_cmdline(tgid.unwrap_or(tid)) {
                entry.cmdline = cmdline.into();
            }
        }
        entry.seen_in_scan = scan_count;

        let cpu_ticks = stat.utime + stat.stime;
        let cpu_percent = match elapsed {
            Some(secs) if secs > 0.0 && !is_new => {
                let used = cpu_ticks.saturating_sub(entry.prev_cpu_ticks) as f64;
                (used / (secs * self.ticks_per_sec as f64) * 100.0) as f32
            }
            _ => 0.0,
        };
        entry.prev_cpu_ticks = cpu_ticks;

        let state = State::from_letter(stat.state);
        let kind = if stat.flags & PF_KTHREAD != 0 {
            TaskKind::KernelThread
        } else {
            TaskKind::Process
        };
        let tracer = (state == State::Traced).then(|| read_tracer(tid)).flatten();
        Some(ProcInfo {
            id,
            ppid: stat.ppid,
            pgrp: stat.pgrp,
            session: stat.session,
            kind,
            state,
            name: entry.name.clone(),
            cmdline: entry.cmdline.clone(),
            uid: entry.uid,
            user: entry.user.clone(),
            cpu_ticks,
            cpu_percent,
            rss_bytes: u64::try_from(stat.rss_pages).unwrap_or(0) * self.page_size,
            vsize_bytes: stat.vsize,
            nice: stat.nice,
            threads: stat.num_threads,
            tracer,
        })
    }

    fn fresh_entry(&mut self, id: Identity, stat: &StatFields<'_>, tgid: Pid) -> Entry {
        let kernel = stat.flags & PF_KTHREAD != 0;
        let cmdline = if kernel {
            String::new()
        } else {
            read_cmdline(tgid).unwrap_or_default()
        };
        let uid = read_uid(tgid);
        let user = match uid {
            Some(uid) => self.user_name(uid),
            None => Arc::from("?"),
        };
        Entry {
            id,
            stat_file: None,
            comm_raw: stat.comm.to_vec(),
            name: sanitize(stat.comm).into(),
            cmdline: cmdline.into(),
            uid,
            user,
            prev_cpu_ticks: stat.utime + stat.stime,
            seen_in_scan: 0,
        }
    }

    /// Fills `self.buf` with the task's stat line; returns its length.
    fn read_stat(&mut self, tid: Pid, tgid: Option<Pid>) -> Option<usize> {
        if let Some(file) = self.entries.get(&tid).and_then(|e| e.stat_file.as_ref()) {
            match file.read_at(&mut self.buf, 0) {
                Ok(len) if len > 0 && len < self.buf.len() => return Some(len),
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

        use std::fmt::Write;
        self.path.clear();
        let _ = match tgid {
            Some(tgid) => write!(self.path, "/proc/{tgid}/task/{tid}/stat"),
            None => write!(self.path, "/proc/{tid}/stat"),
        };
        let file = File::open(&self.path).ok()?;
        let len = loop {
            let len = file.read_at(&mut self.buf, 0).ok()?;
            if len < self.buf.len() {
                break len;
            }
            let bigger = self.buf.len() * 2;
            self.buf.resize(bigger, 0);
        };
        // Keep it for the next scan while the fd budget allows; past it, fall back to open/read/close.
        if self.open_files < self.open_budget
            && let Some(entry) = self.entries.get_mut(&tid)
        {
            entry.stat_file = Some(file);
            self.open_files += 1;
        }
        Some(len)
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
            if !keep && e.stat_file.is_some() {
                closed += 1;
            }
            keep
        });
        self.open_files -= closed;
    }

    fn release(&mut self, entry: Entry) {
        if entry.stat_file.is_some() {
            self.open_files -= 1;
        }
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns how many stat files may stay open.
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

fn read_cmdline(pid: Pid) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|raw| cmdline_from_raw(&raw))
}

fn read_uid(pid: Pid) -> Option<u32> {
    procfs::process::Process::new(pid)
        .ok()?
        .status()
        .ok()
        .map(|s| s.euid)
}

fn read_tracer(pid: Pid) -> Option<Pid> {
    let tracer = procfs::process::Process::new(pid)
        .ok()?
        .status()
        .ok()?
        .tracerpid;
    (tracer > 0).then_some(tracer)
}

fn read_uptime() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The identity of the process now holding `pid`, read fresh from /proc (no cache): what a signal
/// is checked against just before it is sent.
pub fn read_identity(pid: Pid) -> Option<Identity> {
    let line = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let stat = parse_stat(&line)?;
    Some(Identity {
        pid,
        start_ticks: stat.starttime,
    })
}
