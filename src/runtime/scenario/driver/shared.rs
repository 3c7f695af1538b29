//! Scripts of the shared-memory lessons: counters with and without a mutex, a semaphore, a
//! mutex whose holder dies, and memory shared copy-on-write after a fork.

use super::{Driver, Result};
use crate::lab::scenarios::{ADDERS, ADDS_PER_CHILD};
use crate::lab::tasks::{Task, read_shared};

pub(super) fn counters(d: &Driver) -> Result<()> {
    let mut parents = Vec::new();
    for (key, label, locked) in [
        ("parent-a", "group A: no lock", false),
        ("parent-b", "group B: process-shared mutex", true),
    ] {
        let parent = d.spawn(key, label)?;
        d.task(
            parent,
            Task::Share {
                permits: 1,
                robust: false,
            },
        )?;
        let mut children = Vec::new();
        for n in 1..=ADDERS {
            let group = if locked { "B" } else { "A" };
            let label = format!("{group} adder {n}: +1 ×{ADDS_PER_CHILD}");
            children.push(d.fork(parent, "adder", &label)?);
        }
        parents.push((parent, children, locked));
    }
    for (parent, children, locked) in &parents {
        d.task_all(
            children,
            Task::Add {
                count: ADDS_PER_CHILD,
                locked: *locked,
                spread_ms: d.ms(3000),
            },
        )?;
        d.wait_any(*parent, children.len());
    }
    Ok(())
}

pub(super) fn semaphore(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: semaphore with 3 permits")?;
    d.task(
        parent,
        Task::Share {
            permits: 3,
            robust: false,
        },
    )?;
    let mut children = Vec::new();
    for n in 1..=10 {
        let label = format!("child {n}: sem_wait, 1.5 s inside, sem_post");
        children.push(d.fork(parent, "child", &label)?);
    }
    d.task_all(
        &children,
        Task::Enter {
            work_ms: d.ms(1500),
        },
    )?;
    d.wait_any(parent, children.len());
    Ok(())
}

/// Two groups of three take turns on a process-shared mutex, plain in one, robust in the
/// other; after a while brood kills each mutex's holder while it holds it, as X would.
pub(super) fn robust_mutex(d: &Driver) -> Result<()> {
    let mut groups = Vec::new();
    for (parent_key, key, label, robust) in [
        ("parent-plain", "plain", "plain process-shared mutex", false),
        (
            "parent-robust",
            "robust",
            "robust process-shared mutex",
            true,
        ),
    ] {
        let parent = d.spawn(parent_key, &format!("parent: {label}"))?;
        d.task(parent, Task::Share { permits: 1, robust })?;
        let mut children = Vec::new();
        for n in 1..=3 {
            let label = format!("{key} {n}: takes the mutex 4 times, holds it 1 s");
            children.push(d.fork(parent, key, &label)?);
        }
        groups.push((parent, children, key));
    }
    for (parent, children, _) in &groups {
        d.task_all(
            children,
            Task::HoldMutex {
                rounds: 4,
                hold_ms: d.ms(1000),
            },
        )?;
        d.wait_any(*parent, children.len());
    }
    if !d.pause(2500) {
        return Ok(());
    }
    for (parent, _, key) in &groups {
        let holder = || read_shared(d.lab.dir(), parent.pid).map_or(0, |s| s.holder);
        // Whoever holds it now, caught holding it (it is stopped before it is killed).
        let mut killed = None;
        d.until(|| {
            let pid = holder();
            let member = d
                .member(pid)
                .filter(|&m| d.kill_while(m, || holder() == pid));
            killed = member;
            member.is_some()
        });
        if let Some(victim) = killed {
            d.note(format!(
                "brood killed {victim} while it held the {key} mutex, as X would (stopped \
                 first, so it could not let go meanwhile)"
            ));
        }
    }
    Ok(())
}

/// A parent touches its memory, then forks three children that share it; one of them writes
/// every page after a while.
pub(super) fn copy_on_write(d: &Driver) -> Result<()> {
    let mb = d.control.pace().memory_mb;
    let parent = d.spawn("parent", &format!("parent: wrote {mb} MiB, then forked 3"))?;
    d.task(parent, Task::Touch { mb })?;
    let writer = d.fork(parent, "writer", "child 1: 3 s later writes every page")?;
    let mut sharers = Vec::new();
    for n in 2..=3 {
        sharers.push(d.fork(parent, "sharer", &format!("child {n}: only holds it"))?);
    }
    d.task(
        writer,
        Task::Rewrite {
            after_ms: d.ms(3000),
            over_ms: d.ms(6000),
            hold_ms: d.ms(30_000),
        },
    )?;
    d.task_all(
        &sharers,
        Task::Work {
            ms: d.ms(40_000),
            busy: false,
            code: 0,
        },
    )?;
    d.wait_any(parent, 3);
    Ok(())
}
