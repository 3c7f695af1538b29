//! One-off look-ups of a single process, read fresh from /proc with no cache: what a signal or a
//! lab request is checked against just before it goes, and what a scenario reads about one
//! process. The scanner reads everyone; these read one.

use super::stat::parse_stat;
use super::text::sanitize;
use super::{Identity, Pid};

/// The identity of the process now holding `pid`.
pub fn read_identity(pid: Pid) -> Option<Identity> {
    read_membership(pid).map(|(id, _)| id)
}

/// The identity of the process now holding `pid` and its process group, from one read.
pub fn read_membership(pid: Pid) -> Option<(Identity, Pid)> {
    let line = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let stat = parse_stat(&line)?;
    let id = Identity {
        pid,
        start_ticks: stat.starttime,
    };
    Some((id, stat.pgrp))
}

/// The parent of `pid` and the parent's name.
pub fn read_parent(pid: Pid) -> Option<(Pid, String)> {
    let line = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let ppid = parse_stat(&line)?.ppid;
    let parent = std::fs::read(format!("/proc/{ppid}/stat")).ok();
    let name = parent
        .as_deref()
        .and_then(parse_stat)
        .map(|s| sanitize(s.comm))
        .unwrap_or_default();
    Some((ppid, name))
}

/// Whether process group `group` has a member that is not a zombie (a zombie has let go of
/// everything but its entry in the process table).
pub fn group_has_live_members(group: Pid) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<Pid>().ok())
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/stat")).ok())
        .any(|line| parse_stat(&line).is_some_and(|s| s.pgrp == group && s.state != b'Z'))
}
