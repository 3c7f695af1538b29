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
