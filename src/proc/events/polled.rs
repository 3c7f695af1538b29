//! Process events inferred from two consecutive scans, for where the kernel's are refused: the
//! lifecycle diff's births, execs and deaths told as [`ProcEvent`]s, stamped with the scan that
//! noticed them. Pure; a zombie's exit status is read by the caller (`facts`) and handed in.

use std::collections::HashMap;

use super::clock::{Clock, ticks_to_ns};
use super::{ExitStatus, Kind, ProcEvent, Source, Task, TaskRef};
use crate::proc::lifecycle::Change;
use crate::proc::{Identity, Pid, PidIndex, ProcInfo, Snapshot};

/// Appends to `out` the events of `changes`, the lifecycle diff from `before` to `after`.
/// `statuses` holds the exit status of each new zombie that could be read. Reaping, reparenting
/// and stops are not process events (the kernel sends none for them) and are left out.
pub fn from_changes(
    changes: &[Change],
    before: &Snapshot,
    after: &Snapshot,
    statuses: &HashMap<Identity, ExitStatus>,
    clock: &Clock,
    out: &mut Vec<ProcEvent>,
) {
    let now_ns = (after.uptime_secs.max(0.0) * 1e9) as u64;
    let at = clock.from_boot(now_ns);
    let scans = [
        (after, after.index_by_pid()),
        (before, before.index_by_pid()),
    ];
    // The process as the latest scan that had it saw it.
    let find = |id: Identity| {
        scans
            .iter()
            .find_map(|(snapshot, index)| lookup(snapshot, index, id.pid).filter(|p| p.id == id))
    };
    let parent = |pid: Pid| {
        let proc = scans
            .iter()
            .find_map(|(snapshot, index)| lookup(snapshot, index, pid));
        TaskRef {
            pid,
            start_ticks: proc.map(|p| p.id.start_ticks),
            name: proc.map(|p| p.name.clone()).unwrap_or_default(),
        }
    };
    let lifetime = |id: Identity| {
        // Up to the scan that found it dead: it may have died up to an interval earlier.
        Some(now_ns.saturating_sub(ticks_to_ns(id.start_ticks, after.ticks_per_sec)))
    };
    for change in changes {
        let (id, parent_pid, kind) = match change {
            Change::Spawned { id, parent, .. } => (*id, *parent, Kind::Fork),
            Change::Exec { id, from, .. } => {
                let parent = find(*id).map_or(0, |p| p.ppid);
                let kind = Kind::Exec {
                    previous_name: from.clone(),
                };
                (*id, parent, kind)
            }
            Change::BecameZombie { id, parent, .. } => {
                let kind = Kind::Exit {
                    status: statuses.get(id).copied(),
                    lifetime_ns: lifetime(*id),
                };
                (*id, *parent, kind)
            }
            Change::Vanished { id, parent, .. } => {
                let kind = Kind::Exit {
                    status: None,
                    lifetime_ns: lifetime(*id),
                };
                (*id, *parent, kind)
            }
            Change::Reaped { .. }
            | Change::Reparented { .. }
            | Change::Stopped { .. }
            | Change::Traced { .. }
            | Change::Continued { .. } => continue,
        };
        let Some(proc) = find(id) else { continue };
        let mut task = Task::from_proc(proc);
        if task.cmdline.is_empty() {
            // A zombie's command line reads empty; the scan before may still have had it.
            if let Some(earlier) = lookup(before, &scans[1].1, id.pid).filter(|p| p.id == id) {
                task.cmdline = earlier.cmdline.clone();
            }
        }
        out.push(ProcEvent {
            at,
            source: Source::Scan,
            kind,
            task: Some(task),
            parent: Some(parent(parent_pid)),
        });
    }
}

fn lookup<'a>(snapshot: &'a Snapshot, index: &PidIndex, pid: Pid) -> Option<&'a ProcInfo> {
    index.get(pid).and_then(|i| snapshot.procs.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::State;
    use crate::proc::builder::SnapshotBuilder;
    use crate::proc::lifecycle::Lifecycle;

    fn family() -> SnapshotBuilder {
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "sh")
    }

    /// The events of going from `before` to `after`, through the real lifecycle diff.
    fn events(
        before: &Snapshot,
        after: &Snapshot,
        statuses: &HashMap<Identity, ExitStatus>,
    ) -> Vec<ProcEvent> {
        let mut lifecycle = Lifecycle::default();
        lifecycle.observe(before);
        let changes = lifecycle.observe(after);
        let mut out = Vec::new();
        let clock = Clock::at(0, 0, 1_000_000_000_000_000_000);
        from_changes(&changes, before, after, statuses, &clock, &mut out);
        out
    }

    #[test]
    fn a_birth_and_an_exec_are_told_from_the_scan() {
        let before = family().uptime(100.0).build();
        let after = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "vim")
            .proc(20, 10, "cc")
            .uptime(101.0)
            .build();
        let out = events(&before, &after, &HashMap::new());
        let kinds: Vec<&str> = out.iter().map(|e| e.kind.label()).collect();
        assert_eq!(kinds, ["exec", "fork"]);
        let fork = &out[1];
        assert_eq!(fork.source, Source::Scan);
        assert_eq!(fork.task.as_ref().unwrap().pid, 20);
        assert_eq!(fork.parent.as_ref().unwrap().name.as_ref(), "vim");
        assert_eq!(fork.at.boot_ns, 101_000_000_000);
        assert_eq!(
            out[0].kind,
            Kind::Exec {
                previous_name: "sh".into()
            }
        );
    }

    #[test]
    fn a_zombie_carries_the_status_read_and_a_vanished_process_none() {
        let before = family()
            .proc(20, 10, "job")
            .proc(30, 10, "quick")
            .uptime(100.0)
            .build();
        let after = family()
            .with(20, 10, "job", |p| {
                p.state = State::Zombie;
                p.cmdline = "".into();
            })
            .uptime(101.0)
            .build();
        let zombie = after.procs[2].id;
        let statuses = HashMap::from([(zombie, ExitStatus::Code(4))]);
        let out = events(&before, &after, &statuses);
        let exit_of = |pid| {
            out.iter()
                .find(|e| e.task.as_ref().is_some_and(|t| t.pid == pid))
                .unwrap()
        };
        let job = exit_of(20);
        assert_eq!(
            job.kind,
            Kind::Exit {
                status: Some(ExitStatus::Code(4)),
                // Started at tick 20 (0.2 s), seen dead at 101 s.
                lifetime_ns: Some(100_800_000_000),
            }
        );
        assert_eq!(
            job.task.as_ref().unwrap().cmdline.as_ref(),
            "/usr/bin/job --flag",
            "the command line from before it died"
        );
        let quick = exit_of(30);
        assert!(matches!(quick.kind, Kind::Exit { status: None, .. }));
        assert_eq!(quick.parent.as_ref().unwrap().name.as_ref(), "sh");
    }
}
