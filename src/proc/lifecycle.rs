//! What changed between two snapshots: births, exec, deaths, reaping, reparenting, stops.
//! Pure: it remembers what it saw before, but reads nothing; every input is a [`Snapshot`].

use std::collections::HashMap;
use std::sync::Arc;

use super::{Identity, Pid, ProcInfo, Snapshot, State, TaskKind};

/// One change seen between two scans.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Spawned {
        id: Identity,
        parent: Pid,
        name: Arc<str>,
    },
    Exec {
        id: Identity,
        from: Arc<str>,
        to: Arc<str>,
    },
    BecameZombie {
        id: Identity,
        parent: Pid,
        name: Arc<str>,
    },
    /// A zombie went away: its parent (at the last scan) collected its status.
    Reaped {
        id: Identity,
        parent: Pid,
        name: Arc<str>,
    },
    /// Gone without ever being seen as a zombie: it exited and was reaped between two scans.
    Vanished {
        id: Identity,
        parent: Pid,
        name: Arc<str>,
    },
    Reparented {
        id: Identity,
        from: Pid,
        to: Pid,
        name: Arc<str>,
    },
    Stopped {
        id: Identity,
        name: Arc<str>,
    },
    Traced {
        id: Identity,
        tracer: Option<Pid>,
        name: Arc<str>,
    },
    Continued {
        id: Identity,
        name: Arc<str>,
    },
}

impl Change {
    /// The process the change is about.
    pub fn id(&self) -> Identity {
        match self {
            Change::Spawned { id, .. }
            | Change::Exec { id, .. }
            | Change::BecameZombie { id, .. }
            | Change::Reaped { id, .. }
            | Change::Vanished { id, .. }
            | Change::Reparented { id, .. }
            | Change::Stopped { id, .. }
            | Change::Traced { id, .. }
            | Change::Continued { id, .. } => *id,
        }
    }
}

/// Why a process carries the `orphan` badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphan {
    /// brood saw its PPID change away from this parent.
    Seen { former_parent: Pid },
    /// First seen already adopted; see [`is_probable_orphan`] for the rule.
    Probable,
}

/// How long a zombie has been one: exact when brood saw it turn, a lower bound otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZombieAge {
    pub secs: f64,
    pub at_least: bool,
}

/// Per-process marks for the current snapshot, aligned with `Snapshot::procs`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Marks {
    pub orphan: Option<Orphan>,
    pub zombie: Option<ZombieAge>,
}

#[derive(Debug, Clone)]
struct Seen {
    parent: Pid,
    state: State,
    name: Arc<str>,
}

/// What a scan saw of each process, sorted by identity (half the size of a hash map of it).
type SeenByIdentity = Vec<(Identity, Seen)>;

fn seen_in(seen: &SeenByIdentity, id: Identity) -> Option<&Seen> {
    seen.binary_search_by_key(&id, |(id, _)| *id)
        .ok()
        .map(|i| &seen[i].1)
}

/// Remembers the previous scan so each new one can be told apart from it.
#[derive(Debug, Default)]
pub struct Lifecycle {
    previous: Option<SeenByIdentity>,
    /// Uptime at which each zombie was first seen, and whether it was seen turning.
    zombie_since: HashMap<Identity, (f64, bool)>,
    /// Processes brood saw reparented, with the parent they had before.
    reparented: HashMap<Identity, Pid>,
}

impl Lifecycle {
    /// Takes the next snapshot and returns what changed since the previous one.
    /// The first snapshot only sets the baseline: it reports nothing.
    pub fn observe(&mut self, next: &Snapshot) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut seen_now = SeenByIdentity::with_capacity(next.procs.len());
        let previous = self.previous.take();
        for proc in next.procs.iter() {
            // Threads come and go with the thread toggle and inside every busy program; the
            // log is about processes.
            if proc.kind == TaskKind::Thread {
                continue;
            }
            let seen = Seen {
                parent: proc.ppid,
                state: proc.state,
                name: proc.name.clone(),
            };
            match previous.as_ref().map(|prev| seen_in(prev, proc.id)) {
                None => {
                    if proc.state == State::Zombie {
                        self.zombie_since.insert(proc.id, (next.uptime_secs, false));
                    }
                }
                Some(None) => self.report_new(proc, next, &mut changes),
                Some(Some(before)) => self.report_changed(proc, before, next, &mut changes),
            }
            seen_now.push((proc.id, seen));
        }
        seen_now.sort_unstable_by_key(|(id, _)| *id);
        if let Some(previous) = &previous {
            for (id, before) in previous {
                if seen_in(&seen_now, *id).is_some() {
                    continue;
                }
                let (id, parent, name) = (*id, before.parent, before.name.clone());
                changes.push(if before.state == State::Zombie {
                    Change::Reaped { id, parent, name }
                } else {
                    Change::Vanished { id, parent, name }
                });
            }
        }
        self.zombie_since
            .retain(|id, _| seen_in(&seen_now, *id).is_some());
        self.reparented
            .retain(|id, _| seen_in(&seen_now, *id).is_some());
        self.previous = Some(seen_now);
        changes
    }

    fn report_new(&mut self, proc: &ProcInfo, next: &Snapshot, changes: &mut Vec<Change>) {
        let id = proc.id;
        changes.push(Change::Spawned {
            id,
            parent: proc.ppid,
            name: proc.name.clone(),
        });
        if proc.state == State::Zombie {
            // Born and dead between two scans: it has been a zombie for at most one interval.
            self.zombie_since.insert(id, (next.uptime_secs, true));
            changes.push(Change::BecameZombie {
                id,
                parent: proc.ppid,
                name: proc.name.clone(),
            });
        }
    }

    fn report_changed(
        &mut self,
        proc: &ProcInfo,
        before: &Seen,
        next: &Snapshot,
        changes: &mut Vec<Change>,
    ) {
        let (id, name) = (proc.id, proc.name.clone());
        if before.name != proc.name && proc.state != State::Zombie {
            changes.push(Change::Exec {
                id,
                from: before.name.clone(),
                to: name.clone(),
            });
        }
        if before.parent != proc.ppid && proc.kind != TaskKind::Thread {
            self.reparented.entry(id).or_insert(before.parent);
            changes.push(Change::Reparented {
                id,
                from: before.parent,
                to: proc.ppid,
                name: name.clone(),
            });
        }
        if before.state == proc.state {
            return;
        }
        match proc.state {
            State::Zombie => {
                self.zombie_since.insert(id, (next.uptime_secs, true));
                changes.push(Change::BecameZombie {
                    id,
                    parent: proc.ppid,
                    name,
                });
            }
            State::Stopped => changes.push(Change::Stopped { id, name }),
            State::Traced => changes.push(Change::Traced {
                id,
                tracer: proc.tracer,
                name,
            }),
            _ if matches!(before.state, State::Stopped | State::Traced) => {
                changes.push(Change::Continued { id, name });
            }
            _ => {}
        }
    }

    /// Orphan and zombie marks for every process of `snapshot` (the one last observed), with
    /// `by_pid` its index.
    pub fn marks(&self, snapshot: &Snapshot, by_pid: &crate::proc::PidIndex) -> Vec<Marks> {
        snapshot
            .procs
            .iter()
            .map(|proc| {
                let orphan = match self.reparented.get(&proc.id) {
                    Some(&former_parent) => Some(Orphan::Seen { former_parent }),
                    None => {
                        let parent = by_pid.get(proc.ppid).map(|i| &snapshot.procs[i]);
                        is_probable_orphan(proc, parent).then_some(Orphan::Probable)
                    }
                };
                let zombie = self
                    .zombie_since
                    .get(&proc.id)
                    .map(|&(since, exact)| ZombieAge {
                        secs: (snapshot.uptime_secs - since).max(0.0),
                        at_least: !exact,
                    });
                Marks { orphan, zombie }
            })
            .collect()
    }
}

/// The rule for a process first seen already adopted, which brood never saw lose its parent.
///
/// A child inherits its parent's session, and only `setsid()` (which makes the caller a session
/// leader) changes it. So a process that is *not* a session leader, yet whose parent lives in
/// another session, was almost always adopted: its original parent, in its own session, died.
/// The rule never looks at the parent's PID, so it holds for subreapers and for containers whose
/// PID 1 is not init. Kernel threads (session 0) and threads are never orphans.
pub fn is_probable_orphan(proc: &ProcInfo, parent: Option<&ProcInfo>) -> bool {
    if proc.kind != TaskKind::Process || proc.session == 0 || proc.session == proc.pid() {
        return false;
    }
    parent.is_some_and(|parent| parent.session != proc.session)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::SnapshotBuilder;

    fn family() -> SnapshotBuilder {
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "shell")
            .proc(11, 10, "parent")
            .proc(12, 11, "child")
    }

    #[test]
    fn the_first_snapshot_is_a_baseline() {
        let mut lifecycle = Lifecycle::default();
        assert!(lifecycle.observe(&family().build()).is_empty());
    }

    #[test]
    fn a_child_whose_parent_died_is_reported_reparented_and_marked() {
        let mut lifecycle = Lifecycle::default();
        lifecycle.observe(&family().build());
        // The parent died; the adopter is whatever /proc says (here a subreaper, PID 10).
        let after = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "shell")
            .proc(12, 10, "child")
            .build();
        let changes = lifecycle.observe(&after);
        let child = after.procs[2].id;
        assert!(changes.contains(&Change::Reparented {
            id: child,
            from: 11,
            to: 10,
            name: "child".into()
        }));
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::Vanished { id, parent: 10, .. } if id.pid == 11))
        );
        let marks = lifecycle.marks(&after, &after.index_by_pid());
        assert_eq!(marks[2].orphan, Some(Orphan::Seen { former_parent: 11 }));
        assert_eq!(marks[1].orphan, None);
    }

    #[test]
    fn a_zombie_is_timed_from_when_it_turned_and_reaped_when_it_goes() {
        let mut lifecycle = Lifecycle::default();
        lifecycle.observe(&family().uptime(100.0).build());
        let zombie = family().with(13, 11, "kid", |p| p.state = State::Zombie);
        let changes = lifecycle.observe(&zombie.clone().uptime(101.0).build());
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::BecameZombie { id, parent: 11, .. } if id.pid == 13))
        );
        let later = zombie.uptime(131.0).build();
        lifecycle.observe(&later);
        let marks = lifecycle.marks(&later, &later.index_by_pid());
        assert_eq!(
            marks[4].zombie,
            Some(ZombieAge {
                secs: 30.0,
                at_least: false
            })
        );

        let changes = lifecycle.observe(&family().uptime(132.0).build());
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::Reaped { id, parent: 11, .. } if id.pid == 13))
        );
    }

    #[test]
    fn a_zombie_present_from_the_start_has_a_lower_bound_age() {
        let mut lifecycle = Lifecycle::default();
        let first = family()
            .with(13, 11, "kid", |p| p.state = State::Zombie)
            .uptime(50.0);
        lifecycle.observe(&first.clone().build());
        let later = first.uptime(55.0).build();
        lifecycle.observe(&later);
        assert_eq!(
            lifecycle.marks(&later, &later.index_by_pid())[4].zombie,
            Some(ZombieAge {
                secs: 5.0,
                at_least: true
            })
        );
    }

    #[test]
    fn stop_trace_continue_and_exec_are_reported() {
        let mut lifecycle = Lifecycle::default();
        lifecycle.observe(&family().build());
        let stopped = family()
            .with(13, 11, "kid", |p| p.state = State::Stopped)
            .build();
        lifecycle.observe(&stopped);
        let traced = family().with(13, 11, "kid", |p| {
            p.state = State::Traced;
            p.tracer = Some(10);
        });
        let changes = lifecycle.observe(&traced.build());
        assert!(changes.iter().any(|c| matches!(
            c,
            Change::Traced {
                tracer: Some(10),
                ..
            }
        )));
        let changes = lifecycle.observe(&family().with(13, 11, "ls", |_| {}).build());
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::Continued { .. }))
        );
        assert!(changes.iter().any(
            |c| matches!(c, Change::Exec { from, to, .. } if &**from == "kid" && &**to == "ls")
        ));
    }

    #[test]
    fn probable_orphan_rule_uses_sessions_not_pid_1() {
        let snapshot = SnapshotBuilder::default()
            .with(1, 0, "init", |p| p.session = 1)
            // A daemon: session leader under init. Not an orphan.
            .with(50, 1, "daemon", |p| p.session = 50)
            // Left behind by a shell in session 60: adopted by a subreaper (70) in another session.
            .with(70, 1, "subreaper", |p| p.session = 70)
            .with(61, 70, "leftover", |p| p.session = 60)
            // Its sibling in the same session as its parent: an ordinary child.
            .with(71, 70, "child", |p| p.session = 70)
            .build();
        let marks = Lifecycle::default().marks(&snapshot, &snapshot.index_by_pid());
        let orphans: Vec<i32> = snapshot
            .procs
            .iter()
            .zip(&marks)
            .filter(|(_, m)| m.orphan.is_some())
            .map(|(p, _)| p.pid())
            .collect();
        assert_eq!(orphans, vec![61]);
    }
}
