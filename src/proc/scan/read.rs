//! Reading one task: its stat line (through the kept-open file when there is one), merged with
//! what the last scan knew of it; the fields that only change with an exec (command line, user)
//! are read once per process identity.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::budget::is_fd_exhaustion;
use super::{Entry, Opened, Scanner};
use crate::proc::stat::{PF_KTHREAD, StatFields, parse_stat};
use crate::proc::text::{MAX_CMDLINE_CHARS, cmdline_from_raw, sanitize};
use crate::proc::{Identity, Pid, ProcInfo, State, TaskKind};

/// The fields of a task that do not change without an exec, and its CPU time at the last read.
struct Known {
    name: Arc<str>,
    cmdline: Arc<str>,
    /// False when the command line could not be read for want of descriptors.
    cmdline_read: bool,
    uid: Option<u32>,
    user: Arc<str>,
    cpu_ticks: Option<u64>,
    tracer: Option<Pid>,
}

impl Scanner {
    /// Reads one task's stat (through its kept-open file when there is one) and its cached fields.
    pub(super) fn read_task(
        &mut self,
        tid: Pid,
        tgid: Option<Pid>,
        elapsed: Option<f64>,
    ) -> Option<ProcInfo> {
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
    pub(super) fn update_entry(
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
        let last_scan = Arc::clone(&self.last);
        let last = entry
            .and_then(|e| last_scan.get(e.index as usize))
            .filter(|p| p.id == id);
        let cmdline_unread = entry.is_some_and(|e| e.cmdline_unread);
        let known = match last {
            Some(last) if is_name_of(&last.name, stat.comm) && !cmdline_unread => Known {
                name: last.name.clone(),
                cmdline_read: true,
                cmdline: last.cmdline.clone(),
                uid: last.uid,
                user: last.user.clone(),
                cpu_ticks: Some(last.cpu_ticks),
                tracer: last.tracer,
            },
            // A new comm means exec (or prctl PR_SET_NAME): the command line may have changed too.
            // So does one that could not be read last time, for want of descriptors.
            Some(last) => {
                let cmdline = self.command_line(tgid.unwrap_or(tid));
                Known {
                    name: sanitize(stat.comm).into(),
                    cmdline_read: cmdline.is_some() && !read_again(stat, cmdline.as_deref()),
                    cmdline: cmdline.map_or_else(|| last.cmdline.clone(), Arc::from),
                    uid: last.uid,
                    user: last.user.clone(),
                    cpu_ticks: Some(last.cpu_ticks),
                    tracer: last.tracer,
                }
            }
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
                cmdline_unread: false,
                tracer_checked: false,
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
        entry.cmdline_unread = !known.cmdline_read;

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
            rss_bytes: u64::try_from(stat.rss_pages)
                .unwrap_or(0)
                .saturating_mul(self.page_size),
            vsize_bytes: stat.vsize,
            nice: stat.nice,
            threads: stat.num_threads,
            // A stopped tracee names its tracer every time; otherwise see `Scanner::read_process`.
            tracer: if state == State::Traced {
                read_tracer(tid)
            } else {
                known.tracer
            },
            ran: true,
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
            if kernel {
                Some(String::new())
            } else {
                self.command_line(tgid)
            }
        };
        let (uid, cmdline) = match opened {
            Some(Opened {
                read_ahead: Some(read_ahead),
                ..
            }) => (read_ahead.uid, read_ahead.cmdline.take()),
            Some(Opened { file, .. }) => (read_uid(file), read_cmdline()),
            None => (kept_uid.flatten(), read_cmdline()),
        };
        let cmdline_read = cmdline.is_some() && !read_again(stat, cmdline.as_deref());
        let cmdline = cmdline.unwrap_or_default();
        let user = match uid {
            Some(uid) => self.user_name(uid),
            None => Arc::from("?"),
        };
        Known {
            name: sanitize(stat.comm).into(),
            cmdline_read,
            cmdline: cmdline.into(),
            uid,
            user,
            cpu_ticks: None,
            tracer: None,
        }
    }

    /// The command line of `pid`, read once more after giving kept files back if descriptors ran
    /// short; `None` if it still could not be read for that reason (to be read at the next
    /// scan, rather than remembered empty for the process's whole life). A process gone has none.
    fn command_line(&mut self, pid: Pid) -> Option<String> {
        let mut raw = std::mem::take(&mut self.cmdline_buf);
        let read = self.retry_on_fd_exhaustion(|| read_cmdline(pid, &mut raw));
        self.cmdline_buf = raw;
        match read {
            Ok(cmdline) => Some(cmdline),
            Err(err) if is_fd_exhaustion(&err) => None,
            Err(_) => Some(String::new()),
        }
    }

    /// Fills `self.buf` with the task's stat line; returns its length, and the file if it had to
    /// be opened (no kept file, or the kept one was stale).
    pub(super) fn read_stat(
        &mut self,
        tid: Pid,
        tgid: Option<Pid>,
    ) -> Option<(usize, Option<Opened>)> {
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

    pub(super) fn user_name(&mut self, uid: u32) -> Arc<str> {
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
}

/// Whether `name` is what `comm` shows as. Without an allocation, unless `comm` needed escaping.
pub(super) fn is_name_of(name: &str, comm: &[u8]) -> bool {
    name.as_bytes() == comm || *sanitize(comm) == *name
}

/// The command line of `pid`, read into `raw` (kept by the caller to reuse its capacity), at most
/// as many bytes as the shown command line can hold. One `read` where it fits: a read of
/// Whether `cmdline`, as read, is to be read again at the next scan rather than remembered: an
/// empty one of a live user task was caught in the middle of an exec (or of its exit), when
/// the kernel has no address space to read it from. Kernel threads and zombies have none.
pub(super) fn read_again(stat: &StatFields<'_>, cmdline: Option<&str>) -> bool {
    cmdline == Some("") && stat.flags & PF_KTHREAD == 0 && !matches!(stat.state, b'Z' | b'X' | b'x')
}

/// /proc/PID/cmdline returns all there is up to the buffer's size, so a short read is the end.
pub(super) fn read_cmdline(pid: Pid, raw: &mut Vec<u8>) -> io::Result<String> {
    // Up to 4 bytes a character, plus one more character to know whether to mark a cut.
    const MAX_BYTES: usize = 4 * (MAX_CMDLINE_CHARS + 1);
    // Most command lines fit here; a long one grows the buffer for itself only, so the next
    // read does not clear half a megabyte.
    const FIRST_BYTES: usize = 4096;
    let file = File::open(format!("/proc/{pid}/cmdline"))?;
    raw.clear();
    raw.shrink_to(16 * FIRST_BYTES);
    raw.resize(FIRST_BYTES, 0);
    let mut len = 0;
    loop {
        let read = (&file).read(&mut raw[len..])?;
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
    Ok(cmdline_from_raw(raw))
}

/// The user of a process: the owner of its /proc entries (one `fstat` of a file already open),
/// as htop and ps show it. For a process that is not dumpable (a setuid program, some daemons) the
/// kernel makes them root's, so it shows as root; reading every status file to tell would double
/// the first scan.
pub(super) fn read_uid(stat_file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    stat_file.metadata().ok().map(|m| m.uid())
}

/// `TracerPid` of /proc/PID/status: the task (thread) that traces `pid`, if any.
pub(super) fn read_tracer(pid: Pid) -> Option<Pid> {
    let status = std::fs::read(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"TracerPid:"))?;
    let digits: Vec<u8> = line
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    super::parse_decimal(&digits)
        .and_then(|tracer| Pid::try_from(tracer).ok())
        .filter(|&tracer| tracer > 0)
}

pub(super) fn read_uptime() -> io::Result<f64> {
    let text = std::fs::read_to_string("/proc/uptime")?;
    text.split_whitespace()
        .next()
        .and_then(|secs| secs.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/uptime"))
}
