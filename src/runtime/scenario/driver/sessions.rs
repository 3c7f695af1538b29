//! Scripts of the session lessons: a daemon made by the double fork, and a shell-like session
//! with a terminal of its own whose job is stopped, continued, stopped by a background read and
//! finally orphaned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::{Driver, Result, report_wait, state_of};
use crate::lab::REPLY_TIMEOUT;
use crate::lab::protocol::{Reply, Request};
use crate::lab::scenarios::Step;
use crate::lab::tasks::Task;
use crate::proc::{Identity, lookup};

pub(super) fn daemon(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: forks, waits for its child")?;
    let first = d.fork(
        parent,
        "first",
        "first child: setsid(), fork(), 2 s later exit",
    )?;
    d.task(
        first,
        Task::Daemonize {
            every_ms: d.ms(1000),
            linger_ms: d.ms(2000),
        },
    )?;
    let reaped = d.wait_any(parent, 1);
    // The daemon's PID, from the first child's last words; checked to be of the session the
    // first child made (a PID reused meanwhile would not be).
    let mut said = None;
    d.until(|| {
        said = d
            .status(first.pid)
            .split_whitespace()
            .find_map(|w| w.strip_prefix("daemon=")?.parse::<i32>().ok());
        said.is_some()
    });
    let Some(pid) = said else {
        return Ok(());
    };
    let session = std::fs::read(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|line| crate::proc::stat::parse_stat(&line).map(|s| s.session));
    let Some(daemon) = lookup::read_identity(pid).filter(|_| session == Some(first.pid)) else {
        return Err(format!(
            "the daemon {pid} is gone before it could be watched"
        ));
    };
    (d.report)(Step::Forked {
        parent: first,
        child: daemon,
    });
    d.lab.remember(daemon);
    d.role(daemon, "daemon", "daemon: own session, in /, no terminal");
    let _ = reaped.join();
    d.note_adoption(daemon, first);
    Ok(())
}

/// Sends `signal` to the process group `leader` leads, as `kill(-PGID, …)` does, once it is
/// sure the group is still that one's.
fn signal_group(d: &Driver, leader: Identity, signal: Signal, why: &str) {
    if lookup::read_membership(leader.pid) != Some((leader, leader.pid)) {
        d.note(format!(
            "{} not sent: {leader} no longer leads its group",
            signal.as_str()
        ));
        return;
    }
    let group = nix::unistd::Pid::from_raw(leader.pid);
    match nix::sys::signal::killpg(group, signal) {
        Ok(()) => d.note(format!(
            "brood sent {} to process group {leader} (kill(-{leader}, …)){why}",
            signal.as_str()
        )),
        Err(errno) => d.note(format!(
            "{} to group {leader}: {}",
            signal.as_str(),
            errno.desc()
        )),
    }
}

pub(super) fn job_control(d: &Driver) -> Result<()> {
    let shell = d.spawn("shell", "shell: session leader, a terminal of its own")?;
    d.task(shell, Task::Pipe { cloexec: true })?;
    d.task(shell, Task::Pipe { cloexec: true })?;
    d.task(shell, Task::Terminal)?;
    let first = d.fork(shell, "stage-1", "stage 1: a message every 0.5 s")?;
    let second = d.fork(shell, "stage-2", "stage 2: passes them on")?;
    let third = d.fork(shell, "stage-3", "stage 3: reads 12, then its terminal")?;
    d.task(shell, Task::ClosePipes)?;
    // As a shell does: the job's processes get a group of their own, led by the first.
    d.task(first, Task::JoinGroup { leader: 0 })?;
    d.task_all(
        &[second, third],
        Task::JoinGroup {
            leader: first.pid.unsigned_abs(),
        },
    )?;
    d.note(format!(
        "the shell {shell} made a session and took a pseudo-terminal as its controlling terminal; \
         the job {first} {second} {third} is process group {first}, in the background"
    ));
    d.task(
        third,
        Task::ReadTerminal {
            pipe: 1,
            after: 12,
            linger_ms: d.ms(8000),
        },
    )?;
    d.task(second, Task::Relay { read: 0, write: 1 })?;
    d.task(
        first,
        Task::Produce {
            pipe: 0,
            count: 1_000_000,
            burst: 1,
            every_ms: d.ms(500),
            sentinel: false,
        },
    )?;
    // The shell hears of its children's stops and continues, as a shell does (WUNTRACED).
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (lab, report, watching) = (d.lab.clone(), d.report.clone(), watching.clone());
        std::thread::spawn(move || {
            while watching.load(Ordering::SeqCst) {
                match lab.request(shell, Request::Check, Some(REPLY_TIMEOUT)) {
                    Ok(Reply::Waited(outcome)) => report_wait(&lab, &report, shell.pid, outcome),
                    Ok(_) => std::thread::sleep(Duration::from_millis(50)),
                    Err(_) => return,
                }
            }
        })
    };
    let stages = [first, second, third];
    let all_stopped = || stages.iter().all(|s| state_of(s.pid) == Some('T'));
    let steps = d.pause(3000)
        && {
            signal_group(
                d,
                first,
                Signal::SIGTSTP,
                ", as Ctrl-Z at its terminal would",
            );
            d.until(all_stopped) && d.pause(2500)
        }
        && {
            signal_group(d, first, Signal::SIGCONT, ", as bg would");
            // Stage 3 reads 12 messages, then its terminal: SIGTTIN stops the group again.
            d.until(|| d.status(third.pid).contains("reading-terminal") && all_stopped())
        };
    if steps {
        d.note(format!(
            "{third} read its terminal from a background group: the kernel sent SIGTTIN to the \
             whole group {first}, which stopped"
        ));
    }
    let ending = steps && d.pause(3000);
    watching.store(false, Ordering::SeqCst);
    let _ = watcher.join();
    if !ending {
        return Ok(());
    }
    // The shell goes while its job is stopped: nobody is left in the session who could
    // continue it, and the kernel hangs it up.
    d.note(format!("the shell {shell} exits while its job is stopped"));
    d.lab
        .request(shell, Request::Exit(0), Some(REPLY_TIMEOUT))
        .map_err(|e| e.to_string())?;
    d.brood_reaps(shell);
    Ok(())
}
