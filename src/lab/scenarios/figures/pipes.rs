//! Figures of the pipe lessons: messages in flight, who still holds a write end, what a pool
//! did and what it lost.

use super::{Out, View, field, number};
use crate::lab::scenarios::{Figures, ScenarioId};
use crate::lab::tasks::MESSAGE_BYTES;
use crate::proc::ipc::Endpoint;
use crate::proc::wchan::WaitKind;

pub(super) fn messages(id: ScenarioId, view: &View, out: &mut Out) {
    let sent = view.sum("producer", "sent");
    let received = view.sum("consumer", "received");
    let depth = sent - received;
    out.value("sent", sent);
    out.value("received", received);
    out.value("depth", depth);
    match id {
        ScenarioId::PipeFull => {
            let bytes = depth * MESSAGE_BYTES as i64;
            let capacity = view.sum("producer", "capacity");
            let slots = view.sum("producer", "slots");
            out.value("bytes", bytes);
            out.value("capacity", capacity);
            out.line(format!(
                "in the pipe: {depth} messages, {bytes} bytes; its capacity: {capacity} bytes \
                 (F_GETPIPE_SZ), {slots} page-sized slots"
            ));
            let blocked = view
                .one("producer")
                .is_some_and(|p| p.state == Some('S') && p.waits(WaitKind::PipeWrite));
            if blocked && capacity > 0 {
                out.line(format!(
                    "full, {} bytes short of the capacity: the slot the consumer partly drained \
                     takes no new data",
                    capacity - bytes
                ));
            }
        }
        ScenarioId::Queue => {
            out.line(format!(
                "queue depth: {depth} (sent {sent}, received {received})"
            ));
        }
        _ => out.line(format!("messages sent {sent} of 5, received {received}")),
    }
    if view.said("producer", "sentinel=sent") {
        out.line(if view.said("consumer", "sentinel=received") {
            "sentinel sent and received: the consumer stopped".into()
        } else {
            "sentinel sent, still in the queue".into()
        });
    }
    if view.said("consumer", "eof") {
        out.line("the consumer read end of file (read() returned 0)".into());
    }
}

/// For each consumer of pipe-leak: who else still holds a write end of the pipe it reads.
pub(super) fn leak(view: &View, out: &mut Out) {
    let consumers = [
        (
            "consumer-a",
            "writers_a",
            "A (the parent never closed its ends)",
        ),
        (
            "consumer-leaky",
            "writers_leaky",
            "B (pipe without O_CLOEXEC)",
        ),
        (
            "consumer-cloexec",
            "writers_cloexec",
            "B (pipe with O_CLOEXEC)",
        ),
    ];
    for (key, value, what) in consumers {
        let Some(consumer) = view.one(key) else {
            continue;
        };
        let received = super::number(&consumer.status, "received").unwrap_or(0);
        if consumer.status.contains("eof") {
            out.value(value, 0);
            out.line(format!(
                "{what}: {} read {received}, then end of file: no write end was left",
                consumer.pid
            ));
            continue;
        }
        // The pipe it is blocked reading (it holds others: the lab's lifeline is one); then
        // every other holder of a write end.
        let ends = view.0.ends.get(&consumer.pid);
        let blocked = view.0.blocked_fd.get(&consumer.pid);
        let pipe = ends.zip(blocked).and_then(|(ends, fd)| {
            ends.iter()
                .find(|e| e.fd == *fd && matches!(e.endpoint, Endpoint::Pipe(_)))
                .map(|e| e.endpoint.clone())
        });
        let Some(pipe) = pipe else {
            continue;
        };
        let writers: Vec<String> = view
            .0
            .procs
            .iter()
            .filter(|p| p.pid != consumer.pid && p.alive())
            .filter(|p| {
                view.0.ends.get(&p.pid).is_some_and(|ends| {
                    ends.iter().any(|e| e.endpoint == pipe && e.access.writes())
                })
            })
            .map(|p| format!("{} ({})", p.pid, p.label))
            .collect();
        out.value(value, writers.len() as i64);
        let holders = if writers.is_empty() {
            "nobody".to_string()
        } else {
            writers.join(", ")
        };
        out.line(format!(
            "{what}: {} read {received}, waits for end of file on {}; write end open in: {holders}",
            consumer.pid,
            pipe.describe()
        ));
    }
}

pub(super) fn pool(view: &View, out: &mut Out) {
    let done = view.sum("worker", "done");
    out.value("done", done);
    let each: Vec<String> = view
        .role("worker")
        .map(|p| format!("{}: {}", p.pid, number(&p.status, "done").unwrap_or(0)))
        .collect();
    out.line(format!(
        "tasks done per worker — {} — {done} of 10",
        each.join(", ")
    ));
}

/// A list field of the pool master's status (`order=2,0,1`, `-` when empty).
fn list(status: &str, key: &str) -> Vec<String> {
    field(status, key)
        .filter(|v| *v != "-")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

pub(super) fn results(view: &View, out: &mut Out) {
    let Some(master) = view.one("master") else {
        return;
    };
    let status = &master.status;
    let (results, total) = (
        number(status, "results").unwrap_or(0),
        number(status, "of").unwrap_or(0),
    );
    let order = list(status, "order");
    let numbers: Vec<i64> = order.iter().filter_map(|t| t.parse().ok()).collect();
    let overtaken = numbers.windows(2).filter(|w| w[1] < w[0]).count();
    let lost = list(status, "lost");
    out.value("results", results);
    out.value("total", total);
    out.value("overtaken", overtaken as i64);
    out.value("lost", lost.len() as i64);
    out.value("workers", number(status, "workers").unwrap_or(0));
    out.line(format!(
        "results {results} of {total}, in the order they came: {}",
        if order.is_empty() {
            "none yet".into()
        } else {
            order.join(" ")
        }
    ));
    let per_worker: Vec<String> = view
        .role("worker")
        .map(|w| {
            let doing = if w.alive() {
                field(&w.status, "working").unwrap_or("idle")
            } else {
                "gone"
            };
            format!("{} {doing}", w.pid)
        })
        .collect();
    out.line(format!("workers: {}", per_worker.join(" · ")));
    if lost.is_empty() {
        out.line("no task lost so far".into());
    } else {
        let with = list(status, "lost-with");
        let told: Vec<String> = lost
            .iter()
            .zip(with.iter().chain(std::iter::repeat(&String::new())))
            .map(|(task, with)| {
                let (pid, how) = with.split_once(':').unwrap_or((with.as_str(), "?"));
                format!("task {task} (worker {pid} ended, {how})")
            })
            .collect();
        out.line(format!(
            "lost with a dead worker and queued again: {}",
            told.join(", ")
        ));
    }
    if status.contains("no-workers-left") {
        out.line("no worker left: the pool gave up on the tasks still open".into());
    }
}

pub(super) fn results_events(before: &Figures, after: &Figures, notes: &mut Vec<String>) {
    let lost = |f: &Figures| f.value("lost").unwrap_or(0);
    if lost(after) > lost(before) {
        notes.push(
            "the pool saw a worker die with a task it had taken and no result: it queued the \
             task again (see the panel)"
                .into(),
        );
    }
}

pub(super) fn fork_per_task(view: &View, out: &mut Out) {
    let forked = view.role("task").count() as i64;
    let now: Vec<String> = view
        .role("task")
        .filter(|p| p.alive())
        .map(|p| p.pid.to_string())
        .collect();
    out.value("forked", forked);
    out.line(format!(
        "processes forked so far: {forked} for 10 tasks; alive now: {}",
        if now.is_empty() {
            "none".into()
        } else {
            now.join(" ")
        }
    ));
}
