//! Watches a running scenario: a few times a second, for each of its processes, where it sleeps in
//! the kernel (`wchan`) and what its task published, plus what the scenario's numbers need (the
//! shared counters, /proc/locks). Everything is read in one sample, then summed up by the pure
//! `lab::scenarios::figures`. It only reads, except to end the processes of a replaced scenario.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Reporter, Role};
use crate::lab::Lab;
use crate::lab::scenarios::figures::{Sample, summarize};
use crate::lab::scenarios::{Control, ProcFigure, ScenarioId, Step};
use crate::lab::tasks;
use crate::proc::Pid;

const EVERY: Duration = Duration::from_millis(250);

pub(super) fn start(
    id: ScenarioId,
    lab: Arc<Lab>,
    roles: Arc<Mutex<Vec<Role>>>,
    report: Reporter,
    control: Arc<Control>,
    script_done: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        loop {
            let done = script_done.load(Ordering::SeqCst);
            if control.stopped() || !lab.dir().exists() {
                if control.ends() {
                    let roles = roles.lock().map(|r| r.clone()).unwrap_or_default();
                    end_processes(id, &roles, &report);
                }
                break;
            }
            let roles = roles.lock().map(|r| r.clone()).unwrap_or_default();
            let figures = summarize(id, &read_sample(lab.dir(), &roles));
            let over = figures
                .procs
                .iter()
                .zip(&roles)
                .all(|(p, role)| !p.alive || role.lasting());
            report(Step::Figures(figures));
            if done && over {
                break;
            }
            std::thread::sleep(EVERY);
        }
        report(Step::Finished);
    });
}

/// Kills the scenario's processes that are still there (children first) and reaps those that
/// are brood's own, so a new scenario starts on a clean tree.
fn end_processes(id: ScenarioId, roles: &[Role], report: &Reporter) {
    // Children first: a parent killed before its child would hand it to an adopter.
    let members: Vec<_> = roles.iter().rev().map(|r| r.identity).collect();
    let killed = crate::lab::kill_members(&members);
    if killed > 0 {
        report(Step::Note(format!(
            "scenario {id} ended: its {killed} remaining process(es) were killed"
        )));
    }
}

/// Reads everything the figures of a scenario are made of, at one moment.
fn read_sample(dir: &Path, roles: &[Role]) -> Sample {
    let procs: Vec<ProcFigure> = roles
        .iter()
        .map(|role| {
            let alive = Path::new(&format!("/proc/{}", role.pid)).exists();
            let status = tasks::read_status(dir, role.pid)
                .into_iter()
                .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
                .collect::<Vec<_>>()
                .join(" ");
            ProcFigure {
                pid: role.pid,
                key: role.key.clone(),
                label: role.label.clone(),
                wchan: if alive {
                    crate::proc::wchan::read_symbol(role.pid).unwrap_or_default()
                } else {
                    String::new()
                },
                status,
                alive,
            }
        })
        .collect();
    let shared: HashMap<String, tasks::SharedFigures> = roles
        .iter()
        .filter_map(|role| Some((role.key.clone(), tasks::read_shared(dir, role.pid)?)))
        .collect();
    let pids: Vec<Pid> = roles.iter().map(|r| r.pid).collect();
    Sample {
        procs,
        shared,
        locks: proc_locks(&pids),
    }
}

/// Locks held by and waiters among `pids`, from /proc/locks.
fn proc_locks(pids: &[Pid]) -> (i64, i64) {
    let (mut held, mut waiting) = (0, 0);
    for lock in crate::proc::locks::read_locks() {
        if lock.pid.is_some_and(|pid| pids.contains(&pid)) {
            if lock.blocked {
                waiting += 1;
            } else {
                held += 1;
            }
        }
    }
    (held, waiting)
}
