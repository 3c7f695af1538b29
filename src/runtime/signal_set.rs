//! Signals to many processes at once: a subtree or a process group, taken whole even while its
//! members fork or are reparented. Which processes that is comes from fresh scans.

use std::collections::HashSet;

use nix::sys::signal::Signal;

use crate::app::reach::members_of;
use crate::message::{SignalScope, Target};
use crate::proc::scan::{ScanOptions, Scanner};
use crate::proc::signal::{SignalError, send_signal};
use crate::proc::{Identity, Pid};

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
