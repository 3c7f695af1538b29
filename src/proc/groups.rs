//! Process groups as the kernel judges them for job control. A group is *orphaned* when no
//! member has a parent in another group of the same session: nobody is left who could resume a
//! stopped member. When a group becomes orphaned while a member is stopped, the kernel sends the
//! whole group SIGHUP, then SIGCONT (POSIX; `kill_orphaned_pgrp` in kernel/exit.c). Pure.

use std::collections::HashMap;

use super::{Identity, Pid, PidIndex, Snapshot, State, TaskKind};

/// A process group with a stopped member, as one scan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedGroup {
    pub group: Pid,
    pub session: Pid,
    /// Its members, by identity, and which of them were stopped.
    pub members: Vec<(Identity, bool)>,
    pub orphaned: bool,
}

/// Every process group of `snapshot` that has a stopped member.
pub fn stopped_groups(snapshot: &Snapshot, index: &PidIndex) -> Vec<StoppedGroup> {
    let processes = || {
        snapshot
            .procs
            .iter()
            .filter(|p| p.kind == TaskKind::Process)
    };
    let mut groups: HashMap<Pid, StoppedGroup> = processes()
        .filter(|p| p.state == State::Stopped)
        .map(|p| {
            let group = StoppedGroup {
                group: p.pgrp,
                session: p.session,
                members: Vec::new(),
                orphaned: true,
            };
            (p.pgrp, group)
        })
        .collect();
    if groups.is_empty() {
        return Vec::new();
    }
    for proc in processes() {
        let Some(group) = groups.get_mut(&proc.pgrp) else {
            continue;
        };
        group.members.push((proc.id, proc.state == State::Stopped));
        let parent = index.get(proc.ppid).map(|i| &snapshot.procs[i]);
        if parent.is_some_and(|p| p.pgrp != proc.pgrp && p.session == proc.session) {
            group.orphaned = false;
        }
    }
    let mut groups: Vec<StoppedGroup> = groups.into_values().collect();
    groups.sort_by_key(|g| g.group);
    groups
}

/// Whether, judged by `snapshot`, the survivors of `before` (a group with a stopped member that
/// was not orphaned) were just orphaned, so that the kernel sent them SIGHUP and SIGCONT: the
/// stopped members are no longer stopped (continued, or killed by the SIGHUP) and the group has
/// no link left to another group of its session.
pub fn was_orphaned(before: &StoppedGroup, snapshot: &Snapshot, index: &PidIndex) -> bool {
    if before.orphaned {
        return false;
    }
    let now = |id: Identity| {
        index
            .get(id.pid)
            .map(|i| &snapshot.procs[i])
            .filter(|p| p.id == id)
    };
    let still_stopped = before
        .members
        .iter()
        .any(|(id, stopped)| *stopped && now(*id).is_some_and(|p| p.state == State::Stopped));
    let linked = before
        .members
        .iter()
        .filter_map(|(id, _)| now(*id))
        .any(|p| {
            index
                .get(p.ppid)
                .map(|i| &snapshot.procs[i])
                .is_some_and(|parent| {
                    parent.pgrp != before.group && parent.session == before.session
                })
        });
    !still_stopped && !linked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::SnapshotBuilder;

    /// A shell (10, its own group) whose job is group 20: a leader 20 and a stopped member 21.
    fn job(shell_alive: bool, member: State) -> Snapshot {
        let mut builder = SnapshotBuilder::default().proc(1, 0, "init");
        if shell_alive {
            builder = builder.proc(10, 1, "sh");
        }
        let parent = if shell_alive { 10 } else { 1 };
        builder
            .with(20, parent, "job", |p| p.pgrp = 20)
            .with(21, 20, "member", |p| {
                p.pgrp = 20;
                p.state = member;
            })
            .build()
    }

    fn groups(snapshot: &Snapshot) -> Vec<StoppedGroup> {
        stopped_groups(snapshot, &snapshot.index_by_pid())
    }

    #[test]
    fn a_group_with_a_parent_in_another_group_of_its_session_is_not_orphaned() {
        let found = groups(&job(true, State::Stopped));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].group, 20);
        assert!(!found[0].orphaned);
        assert_eq!(found[0].members.len(), 2);
    }

    #[test]
    fn a_group_whose_only_outside_parent_is_in_another_session_is_orphaned() {
        // Init is in another session here (1 vs the job's 1? no: make it so).
        let snapshot = SnapshotBuilder::default()
            .with(1, 0, "init", |p| p.session = 0)
            .with(20, 1, "job", |p| p.pgrp = 20)
            .with(21, 20, "member", |p| {
                p.pgrp = 20;
                p.state = State::Stopped;
            })
            .build();
        assert!(groups(&snapshot)[0].orphaned);
    }

    #[test]
    fn the_shell_exiting_with_a_stopped_member_is_the_kernels_orphaned_group_rule() {
        let before = &groups(&job(true, State::Stopped))[0];
        // The shell is gone; the member was continued (SIGCONT) and ended by the SIGHUP.
        let after = SnapshotBuilder::default()
            .with(1, 0, "init", |p| p.session = 0)
            .with(20, 1, "job", |p| p.pgrp = 20)
            .build();
        assert!(was_orphaned(before, &after, &after.index_by_pid()));
        // The shell lives and the member still stops: nothing happened.
        let same = job(true, State::Stopped);
        assert!(!was_orphaned(before, &same, &same.index_by_pid()));
        // The member was continued, but the shell still links the group: that was a SIGCONT.
        let continued = job(true, State::Sleeping);
        assert!(!was_orphaned(before, &continued, &continued.index_by_pid()));
    }

    #[test]
    fn no_stopped_member_no_group_to_watch() {
        assert!(groups(&job(true, State::Sleeping)).is_empty());
    }
}
