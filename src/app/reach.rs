//! Which processes a signal to a subtree or a process group reaches. Worked out from a
//! snapshot: by the app, to say in the confirmation how many and which, and again by the runtime
//! from fresh scans at send time, as members fork and are reparented meanwhile. Pure.

use std::collections::HashSet;

use crate::message::{SignalScope, Target};
use crate::proc::{Identity, Pid, Snapshot};

/// The processes a subtree or group signal reaches in `snapshot`, each with whether it is
/// already stopped; never `me` (brood), any of its ancestors, nor the lab's `guard`.
pub fn members_of(
    snapshot: &Snapshot,
    roots: &[Target],
    scope: SignalScope,
    me: Pid,
    guard: Option<Identity>,
) -> Vec<(Target, bool)> {
    let by_pid = snapshot.index_by_pid();
    let mut spared = HashSet::new();
    let mut current = by_pid.get(me);
    while let Some(i) = current.filter(|&i| spared.insert(snapshot.procs[i].pid())) {
        current = by_pid.get(snapshot.procs[i].ppid);
    }
    let indexes: Vec<usize> = match scope {
        SignalScope::Process => roots
            .iter()
            .filter_map(|r| {
                by_pid
                    .get(r.id.pid)
                    .filter(|&i| snapshot.procs[i].id == r.id)
            })
            .collect(),
        SignalScope::Group => {
            let groups: Vec<Pid> = roots.iter().map(|r| r.group).collect();
            (0..snapshot.procs.len())
                .filter(|&i| groups.contains(&snapshot.procs[i].pgrp))
                .collect()
        }
        SignalScope::Subtree => {
            let mut all = Vec::new();
            for root in roots {
                if let Some(i) = by_pid
                    .get(root.id.pid)
                    .filter(|&i| snapshot.procs[i].id == root.id)
                {
                    all.extend(crate::proc::tree::subtree(snapshot, i));
                }
            }
            all.sort_unstable();
            all.dedup();
            all
        }
    };
    indexes
        .into_iter()
        .map(|i| &snapshot.procs[i])
        .filter(|p| !spared.contains(&p.pid()) && Some(p.id) != guard)
        .filter(|p| p.kind != crate::proc::TaskKind::KernelThread)
        .map(|p| (Target::of(p), p.state == crate::proc::State::Stopped))
        .collect()
}
