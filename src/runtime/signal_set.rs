//! Signals to many processes at once: a subtree or a process group, taken whole even while its
//! members fork or are reparented. Which processes that is comes from fresh scans.

use std::collections::HashSet;

use nix::sys::signal::Signal;

use crate::message::{SignalScope, Target};
use crate::proc::scan::{ScanOptions, Scanner};
use crate::proc::signal::{SignalError, send_signal};
use crate::proc::{Identity, Pid, Snapshot};

/// Signals a whole subtree or process group without missing members that fork or get
/// reparented meanwhile. Unless the signal stops or continues by itself, every member is first
/// stopped (repeating until no new one appears: a stopped process cannot fork), then signalled,
/// then continued — only those this froze, so a process that was already stopped stays so.
/// brood and its ancestors are never members: stopping them would stop the one who resumes; nor
/// is the lab's `guard`, which must stay free to end the lab should brood be killed.
pub fn signal_set(
    roots: &[Target],
    scope: SignalScope,
    signal: Signal,
    guard: Option<Identity>,
) -> Vec<(Target, Result<(), SignalError>)> {
    const MAX_ROUNDS: usize = 50;
    let stops_by_itself =
        crate::signals::info(signal).default == crate::signals::DefaultAction::Stop;
    let freeze = !stops_by_itself && signal != Signal::SIGCONT;
    let mut scanner = Scanner::new(ScanOptions {
        threads: false,
        max_open_files: Some(0),
        ..ScanOptions::default()
    });
    let mut members: Vec<Target> = Vec::new();
    let mut seen = HashSet::new();
    let mut frozen = HashSet::new();
    let mut results = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let Ok(snapshot) = scanner.scan() else { break };
        let new: Vec<(Target, bool)> =
            members_of(&snapshot, roots, scope, std::process::id() as Pid, guard)
                .into_iter()
                .filter(|(t, _)| seen.insert(t.id))
                .collect();
        if new.is_empty() {
            break;
        }
        for (member, already_stopped) in new {
            if freeze && !already_stopped && send_signal(member.id, Signal::SIGSTOP).is_ok() {
                frozen.insert(member.id);
            }
            if stops_by_itself {
                // The stop signal freezes as it goes: send it now, round by round.
                results.push((member.clone(), send_signal(member.id, signal)));
            }
            members.push(member);
        }
        if !freeze && !stops_by_itself {
            break;
        }
    }
    if !stops_by_itself {
        results = members
            .iter()
            .map(|m| (m.clone(), send_signal(m.id, signal)))
            .collect();
    }
    for member in members.iter().filter(|m| frozen.contains(&m.id)) {
        let _ = send_signal(member.id, Signal::SIGCONT);
    }
    results
}

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
