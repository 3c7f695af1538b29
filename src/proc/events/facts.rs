//! What /proc says of one task right after its event (start time, parent, name, owner, command
//! line), and a zombie's exit status. Reads only and never waits; a task already gone gives what
//! could be read, often nothing, and that is not an error.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use super::ExitStatus;
use super::tracker::{Facts, StatFacts, Want};
use crate::proc::Identity;
use crate::proc::stat::parse_stat;
use crate::proc::text::{cmdline_from_raw, sanitize};

/// A stat line is a few hundred bytes. Beyond `CMDLINE_BYTES` a command line is cut: an event's
/// line is printed once, and 16 KiB holds all but the rarest command lines.
const STAT_BYTES: usize = 1024;
const CMDLINE_BYTES: usize = 16 * 1024;

/// Reads facts for the tracker, one `read` a file into a buffer it keeps: under a storm of forks
/// this is most of what brood does.
#[derive(Debug, Default)]
pub struct FactReader {
    /// User names by UID, looked up once each.
    users: HashMap<u32, Arc<str>>,
    buf: Vec<u8>,
}

impl FactReader {
    /// Reads what `want` asks for. A thread's /proc/TID is there though /proc does not list it.
    pub fn read(&mut self, want: &Want) -> Facts {
        let pid = want.task.pid;
        let mut facts = Facts::default();
        if want.stat
            && let Some(file) = read_once(&format!("/proc/{pid}/stat"), &mut self.buf, STAT_BYTES)
        {
            facts.stat = parse_stat(&self.buf).map(|stat| StatFacts {
                start_ticks: stat.starttime,
                ppid: stat.ppid,
                name: sanitize(stat.comm).into(),
            });
            if want.owner {
                // The owner of a process's /proc files is its effective user, as `scan` reads it.
                use std::os::unix::fs::MetadataExt;
                facts.uid = file.metadata().ok().map(|m| m.uid());
            }
        }
        if want.cmdline
            && read_once(
                &format!("/proc/{pid}/cmdline"),
                &mut self.buf,
                CMDLINE_BYTES,
            )
            .is_some()
            && !self.buf.is_empty()
        {
            facts.cmdline = Some(cmdline_from_raw(&self.buf).into());
        }
        facts.user = want.user_of.or(facts.uid).map(|uid| self.user_name(uid));
        facts
    }

    /// The name of `uid`, or the number when it has none.
    fn user_name(&mut self, uid: u32) -> Arc<str> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map_or_else(|| uid.to_string(), |u| u.name);
                sanitize(name.as_bytes()).into()
            })
            .clone()
    }
}

/// Opens `path` and reads it with one `read` of at most `max` bytes into `buf` (the kernel makes
/// a stat or cmdline file whole on the first read); returns the open file, for `fstat`.
fn read_once(path: &str, buf: &mut Vec<u8>, max: usize) -> Option<File> {
    let mut file = File::open(path).ok()?;
    buf.resize(max, 0);
    let len = file.read(buf).ok()?;
    buf.truncate(len);
    Some(file)
}

/// How a zombie ended: field 52 of its stat (`exit_code`, since Linux 3.5). `None` when `id` is
/// gone, is not a zombie, or may not be read by brood.
pub fn read_zombie_status(id: Identity) -> Option<ExitStatus> {
    let line = std::fs::read(format!("/proc/{}/stat", id.pid)).ok()?;
    let stat = parse_stat(&line)?;
    if stat.starttime != id.start_ticks || stat.state != b'Z' {
        return None;
    }
    // Only a reader allowed to ptrace-read the process sees the status; to others the kernel
    // prints 0, which would read as "exit code 0". /proc/PID/exe has the same check: for a
    // zombie (no memory map left) it fails with ENOENT if allowed, EACCES if not.
    if let Err(err) = std::fs::read_link(format!("/proc/{}/exe", id.pid))
        && err.raw_os_error() == Some(libc::EACCES)
    {
        return None;
    }
    let status = stat_field(&line, 52)?;
    let status: u32 = std::str::from_utf8(status).ok()?.parse().ok()?;
    Some(ExitStatus::from_wait_status(status))
}

/// Field `n` (numbered from 1, as in proc(5)) of a stat line, for `n` from 3 on: those after
/// `comm`, which may hold spaces and parentheses and so ends at the last `)`.
fn stat_field(line: &[u8], n: usize) -> Option<&[u8]> {
    let close = line.iter().rposition(|&b| b == b')')?;
    line.get(close + 1..)?
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .nth(n.checked_sub(3)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::connector::wire::TaskIds;

    #[test]
    fn field_52_is_counted_after_a_comm_with_parentheses_and_spaces() {
        let mut line = b"77 (a) b) c) Z 1 77 77 0 -1".to_vec();
        for field in 9..=51 {
            line.extend_from_slice(format!(" {field}").as_bytes());
        }
        line.extend_from_slice(b" 768\n");
        assert_eq!(stat_field(&line, 3), Some(&b"Z"[..]));
        assert_eq!(stat_field(&line, 4), Some(&b"1"[..]));
        assert_eq!(stat_field(&line, 51), Some(&b"51"[..]));
        assert_eq!(stat_field(&line, 52), Some(&b"768"[..]));
        assert_eq!(stat_field(&line, 53), None);
        assert_eq!(stat_field(&line, 2), None);
        assert_eq!(stat_field(b"no parenthesis", 3), None);
    }

    #[test]
    fn our_own_process_reads_in_full() {
        let me = std::process::id() as crate::proc::Pid;
        let want = Want {
            task: TaskIds { pid: me, tgid: me },
            stat: true,
            owner: true,
            cmdline: true,
            user_of: None,
        };
        let facts = FactReader::default().read(&want);
        let stat = facts.stat.expect("our own stat");
        assert_eq!(stat.ppid, nix::unistd::getppid().as_raw());
        assert!(facts.cmdline.is_some_and(|c| !c.is_empty()));
        assert_eq!(facts.uid, Some(nix::unistd::geteuid().as_raw()));
        assert!(facts.user.is_some_and(|u| !u.is_empty()));
        assert_eq!(
            read_zombie_status(Identity {
                pid: me,
                start_ticks: stat.start_ticks
            }),
            None,
            "not a zombie"
        );
    }

    #[test]
    fn a_gone_task_reads_as_nothing() {
        // PIDs above the kernel's maximum (4 194 304) never exist.
        let gone = TaskIds {
            pid: 9_999_999,
            tgid: 9_999_999,
        };
        let want = Want {
            task: gone,
            stat: true,
            owner: true,
            cmdline: true,
            user_of: None,
        };
        assert_eq!(FactReader::default().read(&want), Facts::default());
    }
}
