//! Figures of the process-lifecycle lessons: children waited for in order, reaped in a handler
//! or by the kernel, a daemon's session, a job's process group, a ticking child.

use super::{Out, View, field, has_signal, number, tty_name};
use crate::lab::scenarios::Figures;
use crate::proc::wchan::WaitKind;

const SIGHUP: i32 = 1;
const SIGCHLD: i32 = 17;

pub(super) fn ticks(view: &View, out: &mut Out) {
    let ticks = view.sum("child", "ticks");
    out.value("ticks", ticks);
    out.line(format!("count: {ticks}"));
}

pub(super) fn in_order(view: &View, out: &mut Out) {
    let zombies = view.role("child").filter(|p| p.state == Some('Z')).count();
    out.value("zombies", zombies as i64);
    let first = view.one("child");
    let waiting = view.one("parent").is_some_and(|p| p.waits(WaitKind::Child));
    match first {
        Some(first) if waiting && first.alive() && first.state != Some('Z') => {
            out.line(format!(
                "the parent is blocked in waitpid({}) for child 1; zombies waiting behind it: \
                 {zombies}",
                first.pid
            ));
        }
        _ => out.line(format!("zombies waiting: {zombies}")),
    }
}

pub(super) fn sigchld(view: &View, out: &mut Out) {
    let zombies = |key| view.role(key).filter(|p| p.state == Some('Z')).count() as i64;
    if let Some(parent) = view.one("parent-never") {
        out.value("never_zombies", zombies("child-never"));
        out.line(format!(
            "{} never waits: {} zombie(s) under it",
            parent.pid,
            zombies("child-never")
        ));
    }
    if let Some(parent) = view.one("parent-handler") {
        let runs = number(&parent.status, "runs").unwrap_or(0);
        let reaped = number(&parent.status, "reaped").unwrap_or(0);
        let last = number(&parent.status, "last").unwrap_or(0);
        out.value("handler_runs", runs);
        out.value("handler_reaped", reaped);
        out.value("handler_last", last);
        let pending = has_signal(parent.pending, SIGCHLD) && has_signal(parent.blocked, SIGCHLD);
        out.value("handler_pending", i64::from(pending));
        let mask = if pending {
            format!(
                "; SIGCHLD blocked, one pending for {} exits",
                zombies("child-handler")
            )
        } else if has_signal(parent.blocked, SIGCHLD) {
            "; SIGCHLD blocked".to_string()
        } else {
            String::new()
        };
        out.line(format!(
            "{} reaps in its SIGCHLD handler: {runs} run(s) reaped {reaped} child(ren), the last \
             run {last}{mask}",
            parent.pid
        ));
    }
    if let Some(parent) = view.one("parent-ignore") {
        let alive = view.role("child-ignore").filter(|p| p.alive()).count();
        let echild = parent.status.contains("wait=ECHILD");
        out.value("ignore_zombies", zombies("child-ignore"));
        out.value("ignore_echild", i64::from(echild));
        out.line(format!(
            "{} set SIGCHLD to SIG_IGN: children alive {alive}, zombies {}; its wait() {}",
            parent.pid,
            zombies("child-ignore"),
            if echild {
                "failed with ECHILD"
            } else {
                "is blocked"
            }
        ));
    }
}

pub(super) fn sigchld_events(before: &Figures, after: &Figures, notes: &mut Vec<String>) {
    let value = |f: &Figures, name| f.value(name).unwrap_or(0);
    if value(after, "handler_runs") > value(before, "handler_runs") {
        let last = value(after, "handler_last");
        let mut note = format!(
            "the SIGCHLD handler ran (run {}): waitpid(-1, WNOHANG) in a loop reaped {last}",
            value(after, "handler_runs")
        );
        if last > 1 {
            note.push_str(" — several exits, one signal: a pending signal is a flag, not a count");
        }
        notes.push(note);
    }
    if value(after, "ignore_echild") > value(before, "ignore_echild") {
        notes.push(
            "wait() failed with ECHILD: with SIGCHLD set to SIG_IGN the kernel reaped each child \
             as it exited, so none was ever a zombie"
                .into(),
        );
    }
}

pub(super) fn daemon(view: &View, out: &mut Out) {
    if let Some(first) = view.one("first") {
        let state = if first.alive() { "" } else { "; it exited" };
        out.line(format!(
            "first child {}: setsid() made it leader of a new session and process group, with \
             no controlling terminal; it forked the daemon{state}",
            first.pid
        ));
    }
    let Some(daemon) = view.one("daemon").filter(|d| d.alive()) else {
        return;
    };
    out.value("daemon_sid", i64::from(daemon.sid));
    out.value("daemon_pgid", i64::from(daemon.pgid));
    out.value("daemon_ppid", i64::from(daemon.ppid));
    out.value("daemon_tty", i64::from(daemon.tty));
    out.line(format!(
        "daemon {}: parent {}, process group {} and session {}, the first child's (it leads \
         neither, so no terminal it opens can become its controlling terminal), controlling \
         terminal: {}",
        daemon.pid,
        daemon.ppid,
        daemon.pgid,
        daemon.sid,
        tty_name(daemon.tty)
    ));
    if let Some(files) = view.0.files.get(&daemon.pid) {
        out.value("daemon_fds", files.fds.len() as i64);
        out.value("daemon_cwd_root", i64::from(files.cwd == "/"));
        let fds: Vec<String> = files
            .fds
            .iter()
            .map(|(fd, target)| format!("{fd} → {target}"))
            .collect();
        out.line(format!(
            "working directory {}; descriptors: {}",
            files.cwd,
            fds.join(", ")
        ));
    }
}

pub(super) fn job(view: &View, out: &mut Out) {
    let stages: Vec<_> = ["stage-1", "stage-2", "stage-3"]
        .iter()
        .filter_map(|key| view.one(key))
        .collect();
    match view.one("shell") {
        Some(shell) if shell.alive() => {
            out.value("shell_alive", 1);
            out.line(format!(
                "shell {}: session {}, group {}, terminal {} (its own pseudo-terminal), whose \
                 foreground group is the shell's",
                shell.pid,
                shell.sid,
                shell.pgid,
                tty_name(shell.tty)
            ));
        }
        Some(shell) => {
            out.value("shell_alive", 0);
            out.line(format!("shell {}: exited", shell.pid));
        }
        None => {}
    }
    let live: Vec<_> = stages.iter().filter(|s| s.alive()).collect();
    let stopped = live.iter().filter(|s| s.state == Some('T')).count();
    out.value("stopped", stopped as i64);
    out.value("stages_alive", live.len() as i64);
    if let Some(first) = live.first() {
        out.value("job_group", i64::from(first.pgid));
        let states: Vec<String> = live
            .iter()
            .map(|s| format!("{} {}", s.pid, s.state.unwrap_or('-')))
            .collect();
        out.line(format!(
            "job: process group {}, session {}, in the background: {}",
            first.pgid,
            first.sid,
            states.join(" · ")
        ));
    }
    out.line(format!(
        "pipeline: stage 1 sent {}, stage 2 passed on {}, stage 3 read {}",
        view.sum("stage-1", "sent"),
        view.sum("stage-2", "relayed"),
        view.sum("stage-3", "received")
    ));
    if let Some(last) = view.one("stage-3") {
        let outcome = field(&last.status, "terminal-read");
        out.value("terminal_read_done", i64::from(outcome.is_some()));
        let pending = has_signal(last.pending, SIGHUP);
        out.value("hup_pending", i64::from(pending));
        if let Some(outcome) = outcome {
            out.line(format!(
                "stage 3's read of its terminal returned {outcome}{}",
                if pending {
                    "; SIGHUP is pending (it blocks SIGHUP)"
                } else {
                    ""
                }
            ));
        } else if last.status.contains("reading-terminal") {
            out.line("stage 3 reads its terminal from the background".into());
        }
    }
}

pub(super) fn job_events(before: &Figures, after: &Figures, notes: &mut Vec<String>) {
    let value = |f: &Figures, name| f.value(name).unwrap_or(0);
    if value(after, "hup_pending") > value(before, "hup_pending") {
        notes.push(
            "stage 3 has SIGHUP pending: the kernel hung up the orphaned job (SIGHUP, then \
             SIGCONT to the whole group)"
                .into(),
        );
    }
}
