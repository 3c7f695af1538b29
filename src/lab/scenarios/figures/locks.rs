//! Figures of the lock-order deadlocks: the locks /proc/locks lists for the lockers, what the
//! kernel answered them, and which cycle brood's deadlock detector finds.

use super::{Out, View, field};
use crate::lab::scenarios::{Figures, ScenarioId};

pub(super) fn pairs(id: ScenarioId, view: &View, out: &mut Out) {
    let locks = &view.0.locks;
    let count = |class: Option<&str>, blocked: bool| {
        locks
            .iter()
            .filter(|l| l.blocked == blocked && class.is_none_or(|c| l.class == c))
            .count() as i64
    };
    let (held, waiting) = (count(None, false), count(None, true));
    out.value("locks_held", held);
    out.value("locks_waiting", waiting);
    let pids = |keys: &[&'static str]| -> Vec<i32> {
        keys.iter()
            .flat_map(|key| view.role(key))
            .map(|p| p.pid)
            .collect()
    };
    let flagged = |members: &[i32]| {
        view.0
            .deadlocks
            .iter()
            .any(|cycle| !members.is_empty() && members.iter().all(|m| cycle.contains(m)))
    };
    let detector = |members: &[i32]| {
        if flagged(members) {
            "brood's deadlock detector finds this cycle ([deadlock])"
        } else {
            "brood's detector finds no cycle"
        }
    };
    if id == ScenarioId::DeadlockFlock {
        out.line(format!(
            "/proc/locks: {held} lock(s) held and {waiting} waiter(s) among these processes; {}",
            detector(&pids(&["a", "b"]))
        ));
        return;
    }
    let posix = pids(&["posix-a", "posix-b"]);
    let ofd = pids(&["ofd-a", "ofd-b"]);
    let edeadlk: Vec<(i32, String)> = ["posix-a", "posix-b"]
        .iter()
        .flat_map(|key| view.role(key))
        .filter_map(|p| Some((p.pid, field(&p.status, "edeadlk-after-us")?.to_string())))
        .collect();
    let finished = ["posix-a", "posix-b"]
        .iter()
        .flat_map(|key| view.role(key))
        .filter(|p| field(&p.status, "holding").is_some_and(|h| h.contains(',')))
        .count();
    out.value("edeadlk", edeadlk.len() as i64);
    out.value("posix_done", finished as i64);
    out.value("ofd_held", count(Some("OFDLCK"), false));
    out.value("ofd_waiting", count(Some("OFDLCK"), true));
    out.value("flagged_ofd", i64::from(flagged(&ofd)));
    out.value(
        "flagged_posix",
        view.0
            .deadlocks
            .iter()
            .flatten()
            .filter(|p| posix.contains(p))
            .count() as i64,
    );
    let posix_line = match edeadlk.first() {
        Some((pid, us)) => format!(
            "POSIX pair (fcntl F_SETLKW): the kernel failed {pid}'s second lock with EDEADLK \
             after {us} µs; it let go and took both in the other order; {finished} of 2 done"
        ),
        None => format!(
            "POSIX pair (fcntl F_SETLKW): {} held, {} waiting",
            count(Some("POSIX"), false),
            count(Some("POSIX"), true)
        ),
    };
    out.line(posix_line);
    out.line(format!(
        "OFD pair (F_OFD_SETLKW): {} held, {} waiting, forever: the kernel does not look for \
         cycles of these locks; {}",
        count(Some("OFDLCK"), false),
        count(Some("OFDLCK"), true),
        detector(&ofd)
    ));
}

pub(super) fn fcntl_events(before: &Figures, after: &Figures, notes: &mut Vec<String>) {
    let rose = |name: &str| after.value(name).unwrap_or(0) > before.value(name).unwrap_or(0);
    if rose("edeadlk") {
        notes.push(
            "fcntl(F_SETLKW) failed with EDEADLK: the lock's holder was waiting for the asker, \
             so waiting for it would have closed a cycle of POSIX lock owners; the kernel \
             refused at once"
                .into(),
        );
    }
    if rose("flagged_ofd") {
        notes.push(
            "brood's deadlock detector flags the OFD pair: each waits for a lock the other holds"
                .into(),
        );
    }
}
