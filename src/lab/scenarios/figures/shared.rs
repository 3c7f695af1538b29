//! Figures of the shared-memory lessons: counters with and without a lock, a semaphore, a
//! mutex whose holder died, and memory shared copy-on-write after a fork.

use super::{Out, View, number};
use crate::lab::scenarios::{ADDERS, ADDS_PER_CHILD};
use crate::proc::wchan::WaitKind;

pub(super) fn counters(view: &View, out: &mut Out) {
    let expected = i64::from(ADDERS) * i64::from(ADDS_PER_CHILD);
    out.value("expected", expected);
    for (key, name, done_name, what) in [
        ("parent-a", "unlocked", "unlocked_done", "A, no lock"),
        ("parent-b", "locked", "locked_done", "B, mutex "),
    ] {
        let Some(shared) = view.0.shared.get(key) else {
            continue;
        };
        let value = shared.counter as i64;
        out.value(name, value);
        out.value(done_name, i64::from(shared.done));
        let verdict = match (shared.done >= ADDERS, value == expected) {
            (false, _) => format!("{} of {ADDERS} children done", shared.done),
            (true, true) => "exact".into(),
            (true, false) => format!("{} updates lost", expected - value),
        };
        out.line(format!(
            "{what}: counter {value:>8} / {expected} expected — {verdict}"
        ));
    }
}

pub(super) fn semaphore(view: &View, out: &mut Out) {
    if let Some(shared) = view.0.shared.get("parent") {
        out.value("inside", i64::from(shared.inside));
        out.value("max_inside", i64::from(shared.max_inside));
        out.value("done", i64::from(shared.done));
        out.line(format!(
            "inside now: {} of 3 permits (most at once: {}); done {} of 10",
            shared.inside, shared.max_inside, shared.done
        ));
    }
}

pub(super) fn robust(view: &View, out: &mut Out) {
    for (parent, children, name, what) in [
        ("parent-plain", "plain", "plain", "plain mutex"),
        ("parent-robust", "robust", "robust", "robust mutex"),
    ] {
        let Some(shared) = view.0.shared.get(parent) else {
            continue;
        };
        let holder = shared.holder;
        let holder_alive = view.0.procs.iter().any(|p| p.pid == holder && p.alive());
        let waiting: Vec<String> = view
            .role(children)
            .filter(|p| p.alive() && p.status.contains("waiting") && p.waits(WaitKind::Futex))
            .map(|p| p.pid.to_string())
            .collect();
        let done = view
            .role(children)
            .filter(|p| p.status.contains("done"))
            .count();
        let dead_holder = holder != 0 && !holder_alive;
        let values: [(&'static str, i64); 4] = if name == "plain" {
            [
                ("plain_holder_dead", i64::from(dead_holder)),
                ("plain_waiting", waiting.len() as i64),
                ("plain_repairs", i64::from(shared.repairs)),
                ("plain_done", done as i64),
            ]
        } else {
            [
                ("robust_holder_dead", i64::from(dead_holder)),
                ("robust_waiting", waiting.len() as i64),
                ("robust_repairs", i64::from(shared.repairs)),
                ("robust_done", done as i64),
            ]
        };
        for (value_name, value) in values {
            out.value(value_name, value);
        }
        let waiters = if waiting.is_empty() {
            "none".to_string()
        } else {
            waiting.join(" ")
        };
        out.line(match (holder, dead_holder) {
            (0, _) => format!("{what}: free · waiting: {waiters}"),
            (_, false) => format!("{what}: held by {holder} · waiting in futex(): {waiters}"),
            (_, true) => format!(
                "{what}: held by {holder}, which is dead: nobody will ever unlock it · \
                 waiting in futex() forever, at 0% CPU: {waiters}"
            ),
        });
        if shared.repairs > 0 {
            out.line(format!(
                "{what}: {} time(s) a locker got EOWNERDEAD and repaired it with \
                 pthread_mutex_consistent(); {done} finished all their rounds",
                shared.repairs
            ));
        }
    }
}

pub(super) fn copy_on_write(view: &View, out: &mut Out) {
    let mib = |kb: u64| (kb / 1024) as i64;
    let memory = &view.0.memory;
    let live: Vec<_> = view
        .0
        .procs
        .iter()
        .filter(|p| p.alive())
        .filter_map(|p| Some((p, memory.get(&p.pid)?)))
        .collect();
    let rss: u64 = live.iter().map(|(_, m)| m.rss).sum();
    let pss: u64 = live.iter().map(|(_, m)| m.pss).sum();
    out.value("rss_sum_mb", mib(rss));
    out.value("pss_sum_mb", mib(pss));
    out.line(format!(
        "added up over the {} processes: RSS {} MiB (what top's RES column adds up to), \
         PSS {} MiB (each shared page split among those that map it)",
        live.len(),
        mib(rss),
        mib(pss)
    ));
    for (proc, m) in &live {
        out.line(format!(
            "{:>7} {}: RSS {} · PSS {} · shared {} · private {} MiB",
            proc.pid,
            proc.key,
            mib(m.rss),
            mib(m.pss),
            mib(m.shared),
            mib(m.private)
        ));
    }
    if let Some((writer, m)) = live.iter().find(|(p, _)| p.key == "writer") {
        out.value("writer_private_mb", mib(m.private));
        out.value(
            "rewritten",
            number(&writer.status, "rewritten").unwrap_or(0),
        );
        out.value("pages", number(&writer.status, "of").unwrap_or(0));
    }
}
