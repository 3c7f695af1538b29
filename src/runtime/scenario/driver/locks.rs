//! Scripts of the lock-order deadlocks: two processes take two locks in opposite order, with
//! flock, and with POSIX record locks beside open-file-description locks. A pipe barrier makes
//! each take its first lock before either asks for its second.

use super::{Driver, Result};
use crate::lab::tasks::{LockKind, Task};

pub(super) fn flock(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: waits for both")?;
    d.task(parent, Task::Pipe { cloexec: true })?;
    let a = d.fork(parent, "a", "A: lock 0, then lock 1")?;
    let b = d.fork(parent, "b", "B: lock 1, then lock 0")?;
    d.task(parent, Task::ClosePipes)?;
    for (locker, first, second) in [(a, 0, 1), (b, 1, 0)] {
        d.task(
            locker,
            Task::LockPair {
                kind: LockKind::Flock,
                first,
                second,
                barrier: 0,
            },
        )?;
    }
    d.wait_any(parent, 2);
    Ok(())
}

/// Two pairs side by side: POSIX record locks on files 0 and 1, OFD locks on files 2 and 3.
pub(super) fn fcntl(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: made the barriers, waits")?;
    d.task(parent, Task::Pipe { cloexec: true })?;
    d.task(parent, Task::Pipe { cloexec: true })?;
    let pairs = [
        (LockKind::Posix, "posix", "POSIX", [0, 1], 0),
        (LockKind::Ofd, "ofd", "OFD", [2, 3], 1),
    ];
    let mut lockers = Vec::new();
    for (kind, key, name, [x, y], barrier) in pairs {
        let a = d.fork(
            parent,
            &format!("{key}-a"),
            &format!("{name} A: file {x}, then file {y}"),
        )?;
        let b = d.fork(
            parent,
            &format!("{key}-b"),
            &format!("{name} B: file {y}, then file {x}"),
        )?;
        lockers.push((a, kind, x, y, barrier));
        lockers.push((b, kind, y, x, barrier));
    }
    d.task(parent, Task::ClosePipes)?;
    for &(locker, kind, first, second, barrier) in &lockers {
        d.task(
            locker,
            Task::LockPair {
                kind,
                first,
                second,
                barrier,
            },
        )?;
    }
    d.wait_any(parent, lockers.len());
    Ok(())
}
