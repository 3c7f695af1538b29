//! Scripts of the lessons on a process's life: fork and wait, zombies and how children are
//! reaped, orphans, exec, stop and continue, signals.

use nix::sys::signal::Signal;

use super::{Driver, Result};
use crate::lab::tasks::Task;

pub(super) fn single_child(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: blocked in waitpid()")?;
    let child = d.fork(parent, "child", "child: 5 s busy, then exit 0")?;
    d.task(
        child,
        Task::Work {
            ms: d.ms(5000),
            busy: true,
            code: 0,
        },
    )?;
    d.wait_any(parent, 1);
    Ok(())
}

pub(super) fn many_children(d: &Driver, in_order: bool) -> Result<()> {
    let how = if in_order {
        "parent: waits in creation order"
    } else {
        "parent: waits for any child"
    };
    let parent = d.spawn("parent", how)?;
    let mut children = Vec::new();
    for (i, secs) in [7u32, 2, 3, 4, 5, 6].into_iter().enumerate() {
        let code = i as u8 + 1;
        let child = d.fork(
            parent,
            "child",
            &format!("child {code}: sleeps {secs} s, exits {code}"),
        )?;
        children.push((child, secs, code));
    }
    for &(child, secs, code) in &children {
        d.task(
            child,
            Task::Work {
                ms: d.ms(secs * 1000),
                busy: false,
                code,
            },
        )?;
    }
    let pids = children.iter().map(|c| c.0.pid).collect();
    if in_order {
        d.wait_in_order(parent, pids);
    } else {
        d.wait_any(parent, children.len());
    }
    Ok(())
}

pub(super) fn zombie(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: never calls waitpid()")?;
    let child = d.fork(parent, "child", "child: exits after 1 s")?;
    d.task(
        child,
        Task::Work {
            ms: d.ms(1000),
            busy: false,
            code: 0,
        },
    )
}

/// Three parents of three children each: one never waits, one reaps in a SIGCHLD handler, one
/// sets SIGCHLD to SIG_IGN. In each family one child exits after 1 s, two after 3 s.
pub(super) fn sigchld(d: &Driver) -> Result<()> {
    let never = d.spawn("parent-never", "A: never calls wait()")?;
    let handler = d.spawn("parent-handler", "B: reaps in its SIGCHLD handler")?;
    let ignore = d.spawn("parent-ignore", "C: SIGCHLD set to SIG_IGN, then wait()")?;
    let mut children = Vec::new();
    for (parent, key, family) in [
        (never, "child-never", "A"),
        (handler, "child-handler", "B"),
        (ignore, "child-ignore", "C"),
    ] {
        for (n, secs) in [1u32, 3, 3].into_iter().enumerate() {
            let label = format!("{family} child {}: exits after {secs} s", n + 1);
            children.push((d.fork(parent, key, &label)?, secs));
        }
    }
    // The parents first: a child must not exit before its parent's handler or SIG_IGN is set.
    d.task(
        handler,
        Task::ReapInHandler {
            hold_ms: d.ms(2000),
        },
    )?;
    d.task(ignore, Task::IgnoreChildren)?;
    for (child, secs) in children {
        d.task(
            child,
            Task::Work {
                ms: d.ms(secs * 1000),
                busy: false,
                code: 0,
            },
        )?;
    }
    // B and C end when their children are gone; brood reaps them. A stays, with its zombies.
    d.brood_reaps(handler);
    d.brood_reaps(ignore);
    Ok(())
}

pub(super) fn orphan(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: exits after 1 s")?;
    let child = d.fork(parent, "child", "child: lives on")?;
    d.task(
        parent,
        Task::Work {
            ms: d.ms(1000),
            busy: false,
            code: 0,
        },
    )?;
    // The parent is brood's own child: brood reaps it, without blocking the UI.
    let _ = d.brood_reaps(parent).join();
    d.note_adoption(child, parent);
    Ok(())
}

pub(super) fn exec(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: waits for the child")?;
    let child = d.fork(parent, "child", "child: fork(), 2 s later exec sleep 30")?;
    d.task(
        child,
        Task::ExecSleep {
            secs: 30,
            delay_ms: d.ms(2000),
        },
    )?;
    d.wait_any(parent, 1);
    Ok(())
}

pub(super) fn stop_continue(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: waitpid(WUNTRACED | WCONTINUED)")?;
    let child = d.fork(parent, "child", "child: counts twice a second")?;
    d.task(
        child,
        Task::Tick {
            every_ms: d.ms(500),
            ticks: 600,
        },
    )?;
    d.wait_any(parent, 1);
    Ok(())
}

pub(super) fn signals(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: waits for both")?;
    let gentle = d.fork(parent, "handles", "child 1: will get SIGTERM")?;
    let hard = d.fork(parent, "killed", "child 2: will get SIGKILL")?;
    d.task_all(&[gentle, hard], Task::HandleTerm { ms: d.ms(120_000) })?;
    d.wait_any(parent, 2);
    if !d.pause(4000) {
        return Ok(());
    }
    // By identity: a signal must not land on a PID reused in between.
    d.send(gentle, Signal::SIGTERM, "");
    d.send(hard, Signal::SIGKILL, "");
    Ok(())
}
