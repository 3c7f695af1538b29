//! Everything /proc says about one process, for the details pane. Read by the collector thread
//! only (never by draw or update), through one `/proc/PID` directory handle that is checked
//! against the process's identity first, so a reused PID never lends its data to another process.
//! Each part is read on its own: what cannot be read says why (permission denied, gone).

use std::fmt;

use procfs::ProcError;
use procfs::process::{FDTarget, LimitValue, Process};

use super::text::sanitize;
use super::wchan::Sleep;
use super::{Identity, Pid};

/// Open descriptors listed at most; the pane says how many more there are.
pub const MAX_FDS: usize = 256;
/// Environment variables listed at most.
pub const MAX_ENV: usize = 256;

/// Why a part of the details is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    PermissionDenied,
    /// The process exited while it was being read.
    Gone,
    /// This kernel does not provide it.
    NotAvailable,
    Other(String),
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::PermissionDenied => f.write_str("permission denied"),
            Unreadable::Gone => f.write_str("the process has exited"),
            Unreadable::NotAvailable => f.write_str("not available on this kernel"),
            Unreadable::Other(why) => f.write_str(why),
        }
    }
}

impl From<ProcError> for Unreadable {
    fn from(err: ProcError) -> Unreadable {
        match err {
            ProcError::PermissionDenied(_) => Unreadable::PermissionDenied,
            ProcError::NotFound(_) => Unreadable::Gone,
            ProcError::Io(err, _) if err.raw_os_error() == Some(libc::ESRCH) => Unreadable::Gone,
            ProcError::Io(err, _) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                Unreadable::PermissionDenied
            }
            other => Unreadable::Other(other.to_string()),
        }
    }
}

pub type Field<T> = Result<T, Unreadable>;

/// User and group ids: real, effective, saved, filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    /// Name of the real user, and of the effective one when it differs (setuid).
    pub user: String,
    pub effective_user: String,
    pub group: String,
}

/// From /proc/PID/status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPart {
    pub state: String,
    pub tracer: Pid,
    pub threads: u64,
    pub credentials: Credentials,
    /// The PID in each PID namespace, outermost first.
    pub nspid: Vec<Pid>,
    pub rss_bytes: Option<u64>,
    pub vsize_bytes: Option<u64>,
    /// File-backed and shared-memory resident pages.
    pub shared_bytes: Option<u64>,
    pub swap_bytes: Option<u64>,
    pub sig_ignored: u64,
    pub sig_caught: u64,
    pub sig_blocked: u64,
    /// Pending for the thread or the whole process.
    pub sig_pending: u64,
    pub voluntary_switches: Option<u64>,
    pub involuntary_switches: Option<u64>,
}

/// From /proc/PID/stat: times in seconds, scheduling.
#[derive(Debug, Clone, PartialEq)]
pub struct StatPart {
    pub user_secs: f64,
    pub system_secs: f64,
    /// Of its reaped children.
    pub children_user_secs: f64,
    pub children_system_secs: f64,
    pub priority: i64,
    pub nice: i64,
    pub start_ticks: u64,
    /// Wall-clock start, seconds since the epoch (boot time + start ticks).
    pub started_unix: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoCounters {
    pub rchar: u64,
    pub wchar: u64,
    pub syscr: u64,
    pub syscw: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// One line of /proc/PID/limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRow {
    pub name: &'static str,
    pub soft: String,
    pub hard: String,
}

/// Open file descriptors: the first [`MAX_FDS`], and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fds {
    pub total: usize,
    pub listed: Vec<(i32, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    pub id: Identity,
    pub cmdline: Field<Vec<String>>,
    pub exe: Field<String>,
    pub cwd: Field<String>,
    pub status: Field<StatusPart>,
    pub stat: Field<StatPart>,
    /// Where it sleeps in the kernel, that it does not, or that the kernel does not show.
    pub wchan: Field<Sleep>,
    pub io: Field<IoCounters>,
    pub fds: Field<Fds>,
    /// `NAME=value`, sorted; at most [`MAX_ENV`].
    pub environ: Field<Vec<String>>,
    pub limits: Field<Vec<LimitRow>>,
    /// `hierarchy:controllers:path` lines.
    pub cgroups: Field<Vec<String>>,
    /// (namespace type, inode id), sorted by type.
    pub namespaces: Field<Vec<(String, u64)>>,
}

impl Details {
    /// Details in which every part says `why`: for a process that is gone or was replaced.
    pub fn unreadable(id: Identity, why: Unreadable) -> Details {
        Details {
            id,
            cmdline: Err(why.clone()),
            exe: Err(why.clone()),
            cwd: Err(why.clone()),
            status: Err(why.clone()),
            stat: Err(why.clone()),
            wchan: Err(why.clone()),
            io: Err(why.clone()),
            fds: Err(why.clone()),
            environ: Err(why.clone()),
            limits: Err(why.clone()),
            cgroups: Err(why.clone()),
            namespaces: Err(why),
        }
    }
}

/// Reads the details of the process `id`, or says it is gone if its PID now holds another one.
pub fn read(id: Identity) -> Details {
    let process = match Process::new(id.pid) {
        Ok(process) => process,
        Err(err) => return Details::unreadable(id, err.into()),
    };
    // The handle is the /proc/PID directory opened once: if its start time is the one we want,
    // every later read through it is that process's (a reused PID has a different directory).
    let stat = match process.stat() {
        Ok(stat) if stat.starttime == id.start_ticks => stat,
        Ok(_) => return Details::unreadable(id, Unreadable::Gone),
        Err(err) => return Details::unreadable(id, err.into()),
    };
    let ticks = procfs::ticks_per_second().max(1) as f64;
    let boot = procfs::boot_time_secs().ok();
    let stat_part = StatPart {
        user_secs: stat.utime as f64 / ticks,
        system_secs: stat.stime as f64 / ticks,
        children_user_secs: stat.cutime.max(0) as f64 / ticks,
        children_system_secs: stat.cstime.max(0) as f64 / ticks,
        priority: stat.priority,
        nice: stat.nice,
        start_ticks: stat.starttime,
        started_unix: boot.map(|b| b + stat.starttime / ticks as u64),
    };
    let cwd: Field<String> = process.cwd().map(path_text).map_err(Into::into);
    // The kernel refuses the cwd link exactly where it hides the wait channel behind a "0".
    let may_trace = !matches!(cwd, Err(Unreadable::PermissionDenied));
    Details {
        id,
        cmdline: process
            .cmdline()
            .map(|args| args.iter().map(|a| sanitize(a.as_bytes())).collect())
            .map_err(Into::into),
        exe: process.exe().map(path_text).map_err(Into::into),
        wchan: process
            .wchan()
            .map(|text| Sleep::parse(&text, || may_trace))
            .map_err(Into::into),
        cwd,
        status: process.status().map(status_part).map_err(Into::into),
        stat: Ok(stat_part),
        io: process
            .io()
            .map(|io| IoCounters {
                rchar: io.rchar,
                wchar: io.wchar,
                syscr: io.syscr,
                syscw: io.syscw,
                read_bytes: io.read_bytes,
                write_bytes: io.write_bytes,
            })
            .map_err(Into::into),
        fds: read_fds(&process),
        environ: process
            .environ()
            .map(|env| {
                let mut vars: Vec<String> = env
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            sanitize(k.as_encoded_bytes()),
                            sanitize(v.as_encoded_bytes())
                        )
                    })
                    .collect();
                vars.sort();
                vars.truncate(MAX_ENV);
                vars
            })
            .map_err(Into::into),
        limits: process.limits().map(limit_rows).map_err(Into::into),
        cgroups: process
            .cgroups()
            .map(|groups| {
                groups
                    .0
                    .iter()
                    .map(|g| {
                        sanitize(
                            format!("{}:{}:{}", g.hierarchy, g.controllers.join(","), g.pathname)
                                .as_bytes(),
                        )
                    })
                    .collect()
            })
            .map_err(Into::into),
        namespaces: process
            .namespaces()
            .map(|ns| {
                let mut list: Vec<(String, u64)> =
                    ns.0.values()
                        .map(|n| (n.ns_type.to_string_lossy().into_owned(), n.identifier))
                        .collect();
                list.sort();
                list
            })
            .map_err(Into::into),
    }
}

fn path_text(path: std::path::PathBuf) -> String {
    sanitize(path.as_os_str().as_encoded_bytes())
}

fn status_part(status: procfs::process::Status) -> StatusPart {
    let name = |uid: u32| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |u| sanitize(u.name.as_bytes()))
    };
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(status.rgid))
        .ok()
        .flatten()
        .map_or_else(|| status.rgid.to_string(), |g| sanitize(g.name.as_bytes()));
    let kib = |v: Option<u64>| v.map(|v| v * 1024);
    StatusPart {
        state: sanitize(status.state.as_bytes()),
        tracer: status.tracerpid,
        threads: status.threads,
        credentials: Credentials {
            uids: [status.ruid, status.euid, status.suid, status.fuid],
            gids: [status.rgid, status.egid, status.sgid, status.fgid],
            user: name(status.ruid),
            effective_user: name(status.euid),
            group,
        },
        nspid: status.nspid.clone().unwrap_or_default(),
        rss_bytes: kib(status.vmrss),
        vsize_bytes: kib(status.vmsize),
        shared_bytes: match (status.rssfile, status.rssshmem) {
            (None, None) => None,
            (file, shmem) => Some((file.unwrap_or(0) + shmem.unwrap_or(0)) * 1024),
        },
        swap_bytes: kib(status.vmswap),
        sig_ignored: status.sigign,
        sig_caught: status.sigcgt,
        sig_blocked: status.sigblk,
        sig_pending: status.sigpnd | status.shdpnd,
        voluntary_switches: status.voluntary_ctxt_switches,
        involuntary_switches: status.nonvoluntary_ctxt_switches,
    }
}

fn read_fds(process: &Process) -> Field<Fds> {
    // Counting is a directory read; each listed descriptor costs a readlink, so only the first
    // MAX_FDS are resolved (a server may hold a hundred thousand).
    let total = process.fd_count()?;
    let mut listed = Vec::new();
    for fd in process.fd()?.take(MAX_FDS) {
        // A descriptor closed between listing and reading its link is simply skipped.
        let Ok(fd) = fd else { continue };
        listed.push((fd.fd, fd_target(&fd.target)));
    }
    listed.sort_by_key(|(fd, _)| *fd);
    Ok(Fds {
        total: total.max(listed.len()),
        listed,
    })
}

fn fd_target(target: &FDTarget) -> String {
    let text = match target {
        FDTarget::Path(path) => path.display().to_string(),
        FDTarget::Socket(inode) => format!("socket:[{inode}]"),
        FDTarget::Net(inode) => format!("net:[{inode}]"),
        FDTarget::Pipe(inode) => format!("pipe:[{inode}]"),
        FDTarget::AnonInode(kind) => format!("anon_inode:{kind}"),
        FDTarget::MemFD(name) => format!("memfd:{name}"),
        FDTarget::Other(kind, inode) => format!("{kind}:[{inode}]"),
        FDTarget::Unknown(kind, data) => format!("{kind}:{data}"),
    };
    sanitize(text.as_bytes())
}

fn limit_rows(limits: procfs::process::Limits) -> Vec<LimitRow> {
    let value = |v: &LimitValue| match v {
        LimitValue::Unlimited => "unlimited".to_string(),
        LimitValue::Value(n) => n.to_string(),
    };
    let rows = [
        ("cpu time (s)", &limits.max_cpu_time),
        ("file size (B)", &limits.max_file_size),
        ("data size (B)", &limits.max_data_size),
        ("stack size (B)", &limits.max_stack_size),
        ("core file size (B)", &limits.max_core_file_size),
        ("resident set (B)", &limits.max_resident_set),
        ("processes", &limits.max_processes),
        ("open files", &limits.max_open_files),
        ("locked memory (B)", &limits.max_locked_memory),
        ("address space (B)", &limits.max_address_space),
        ("file locks", &limits.max_file_locks),
        ("pending signals", &limits.max_pending_signals),
        ("msgqueue size (B)", &limits.max_msgqueue_size),
        ("nice priority", &limits.max_nice_priority),
        ("realtime priority", &limits.max_realtime_priority),
        ("realtime timeout (us)", &limits.max_realtime_timeout),
    ];
    rows.iter()
        .map(|(name, limit)| LimitRow {
            name,
            soft: value(&limit.soft_limit),
            hard: value(&limit.hard_limit),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_start_time_reads_as_gone_not_as_another_process() {
        let own = std::process::id() as Pid;
        let start = crate::proc::lookup::read_identity(own).unwrap().start_ticks;
        let details = read(Identity {
            pid: own,
            start_ticks: start + 1,
        });
        assert_eq!(details.cmdline, Err(Unreadable::Gone));
        assert_eq!(details.environ, Err(Unreadable::Gone));
        let details = read(Identity {
            pid: own,
            start_ticks: start,
        });
        assert!(details.cmdline.is_ok_and(|args| !args.is_empty()));
        assert!(details.fds.is_ok_and(|fds| fds.total >= 3));
    }
}
