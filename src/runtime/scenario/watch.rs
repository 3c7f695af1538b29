//! Watches a running scenario: a few times a second, for each of its processes, its state, where
//! it sleeps in the kernel (`wchan`), its signals and what its task published, plus what the
//! scenario's numbers need (shared counters, /proc/locks, pipe ends, memory). Everything is read
//! in one sample, then summed up by the pure `lab::scenarios::figures`, which also says what
//! the event log should tell. It only reads, except to end the processes of a replaced scenario.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Reporter, Role};
use crate::lab::Lab;
use crate::lab::scenarios::figures::{
    Files, Needs, Sample, events, needs, parse_rollup, summarize,
};
use crate::lab::scenarios::{Control, Figures, ProcFigure, ScenarioId, Step};
use crate::lab::tasks;
use crate::proc::ipc::{IpcState, find_deadlocks, read_blocked_fd, read_ends};
use crate::proc::locks::read_locks;
use crate::proc::stat::parse_stat;
use crate::proc::wchan::{self, WaitKind};
use crate::proc::{Pid, ofd};

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
        let mut last = Figures::default();
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
            let figures = summarize(id, &read_sample(&lab, &roles, needs(id)));
            for note in events(id, &last, &figures) {
                report(Step::Note(note));
            }
            let over = figures
                .procs
                .iter()
                .zip(&roles)
                .all(|(p, role)| !p.alive() || role.lasting());
            last = figures.clone();
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
fn read_sample(lab: &Lab, roles: &[Role], needs: Needs) -> Sample {
    // States first, then what the tasks published: a process seen stopped or gone has already
    // published its last line.
    let mut procs: Vec<ProcFigure> = roles.iter().map(read_proc).collect();
    let statuses = lab.statuses();
    for proc in &mut procs {
        proc.status = statuses.get(&proc.pid).cloned().unwrap_or_default();
    }
    let live: Vec<Pid> = procs.iter().filter(|p| p.alive()).map(|p| p.pid).collect();
    let mut sample = Sample {
        shared: roles
            .iter()
            .filter_map(|role| Some((role.key.clone(), tasks::read_shared(lab.dir(), role.pid)?)))
            .collect(),
        ..Sample::default()
    };
    if needs.locks {
        let waiters: Vec<Pid> = procs
            .iter()
            .filter(|p| p.waits(WaitKind::FileLock))
            .map(|p| p.pid)
            .collect();
        let mut locks = read_locks();
        ofd::attribute_from_proc(&mut locks, waiters.into_iter(), live.iter().copied());
        locks.retain(|l| l.pid.is_some_and(|pid| live.contains(&pid)));
        let state = IpcState {
            locks,
            ..IpcState::default()
        };
        sample.deadlocks = find_deadlocks(&state.waits())
            .iter()
            .map(|d| d.members().map(|m| m.pid).collect())
            .collect();
        sample.locks = state.locks;
    }
    for &pid in &live {
        if needs.ends
            && let Ok(ends) = read_ends(pid)
        {
            sample.ends.insert(pid, ends);
            if let Some(fd) = read_blocked_fd(pid) {
                sample.blocked_fd.insert(pid, fd);
            }
        }
        if needs.memory
            && let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        {
            sample.memory.insert(pid, parse_rollup(&text));
        }
        if needs.files {
            sample.files.insert(pid, read_files(pid));
        }
    }
    sample.procs = procs;
    sample
}

/// One process as /proc shows it now; gone if its PID is no longer the role's process.
fn read_proc(role: &Role) -> ProcFigure {
    let pid = role.pid;
    let mut figure = ProcFigure {
        pid,
        key: role.key.clone(),
        label: role.label.clone(),
        state: None,
        ppid: 0,
        pgid: 0,
        sid: 0,
        tty: 0,
        wchan: None,
        status: String::new(),
        pending: 0,
        blocked: 0,
    };
    let Ok(line) = std::fs::read(format!("/proc/{pid}/stat")) else {
        return figure;
    };
    let Some(stat) = parse_stat(&line).filter(|s| s.starttime == role.identity.start_ticks) else {
        return figure;
    };
    figure.state = Some(char::from(stat.state));
    (figure.ppid, figure.pgid, figure.sid, figure.tty) =
        (stat.ppid, stat.pgrp, stat.session, stat.tty_nr);
    figure.wchan = wchan::read(pid);
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        let mask = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(0)
        };
        figure.pending = mask("SigPnd:") | mask("ShdPnd:");
        figure.blocked = mask("SigBlk:");
    }
    figure
}

/// A process's working directory and what each of its descriptors points to.
fn read_files(pid: Pid) -> Files {
    let link = |path: &Path| {
        std::fs::read_link(path)
            .map(|target| target.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, link(&e.path()))))
                .collect()
        })
        .unwrap_or_default();
    fds.sort();
    Files {
        cwd: link(Path::new(&format!("/proc/{pid}/cwd"))),
        fds,
    }
}
