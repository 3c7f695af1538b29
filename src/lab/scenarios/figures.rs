//! A running scenario's figures from one sample of its processes: queue depth, counters, tasks
//! per worker, locks held. Pure: the runtime's watcher reads the sample, this sums it up, so
//! every line of a panel comes from the same moment.

use std::collections::HashMap;

use super::{ADDERS, ADDS_PER_CHILD, Figures, ProcFigure, ScenarioId};
use crate::lab::tasks::{MESSAGE_BYTES, SharedFigures};

/// What the watcher read about a scenario's processes at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Each process in the order its role was given.
    pub procs: Vec<ProcFigure>,
    /// The shared region each role owns, by role key (`parent`, `parent-a`, …).
    pub shared: HashMap<String, SharedFigures>,
    /// Locks held by and waiting among the scenario's processes, from /proc/locks.
    pub locks: (i64, i64),
}

fn number(status: &str, key: &str) -> Option<i64> {
    status.split_whitespace().find_map(|word| {
        let (k, v) = word.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

/// The figures of scenario `id` from one sample of its processes.
pub fn summarize(id: ScenarioId, sample: &Sample) -> Figures {
    let mut figures = Figures {
        procs: sample.procs.clone(),
        ..Figures::default()
    };
    let sum = |key: &str, field: &str| -> i64 {
        sample
            .procs
            .iter()
            .filter(|p| p.key == key)
            .filter_map(|p| number(&p.status, field))
            .sum()
    };
    let mut lines = Vec::new();
    let mut values: Vec<(&'static str, i64)> = Vec::new();
    match id {
        ScenarioId::Pipe | ScenarioId::PipeFull | ScenarioId::Queue => {
            let sent = sum("producer", "sent");
            let received = sum("consumer", "received");
            let depth = sent - received;
            values.extend([("sent", sent), ("received", received), ("depth", depth)]);
            lines.push(match id {
                ScenarioId::PipeFull => format!(
                    "in the pipe: {depth} messages, {} bytes (a pipe holds 65536 by default)",
                    depth * MESSAGE_BYTES as i64
                ),
                ScenarioId::Queue => {
                    format!("queue depth: {depth} (sent {sent}, received {received})")
                }
                _ => format!("messages sent {sent} of 5, received {received}"),
            });
            let said = |key: &str, word: &str| {
                sample
                    .procs
                    .iter()
                    .any(|p| p.key == key && p.status.contains(word))
            };
            if said("producer", "sentinel=sent") {
                lines.push(if said("consumer", "sentinel=received") {
                    "sentinel sent and received: the consumer stopped".into()
                } else {
                    "sentinel sent, still in the queue".into()
                });
            }
            if said("consumer", "eof") {
                lines.push("the consumer read end of file (read() returned 0)".into());
            }
        }
        ScenarioId::SharedMemory => {
            let expected = i64::from(ADDERS) * i64::from(ADDS_PER_CHILD);
            values.push(("expected", expected));
            for (key, name, what) in [
                ("parent-a", "unlocked", "A, no lock"),
                ("parent-b", "locked", "B, mutex "),
            ] {
                let Some(shared) = sample.shared.get(key) else {
                    continue;
                };
                let value = shared.counter as i64;
                values.push((name, value));
                let finished = shared.done >= ADDERS;
                values.push((
                    if name == "locked" {
                        "locked_done"
                    } else {
                        "unlocked_done"
                    },
                    i64::from(shared.done),
                ));
                let verdict = match (finished, value == expected) {
                    (false, _) => format!("{} of {ADDERS} children done", shared.done),
                    (true, true) => "exact".into(),
                    (true, false) => format!("{} updates lost", expected - value),
                };
                lines.push(format!(
                    "{what}: counter {value:>8} / {expected} expected — {verdict}"
                ));
            }
        }
        ScenarioId::Pool => {
            let done = sum("worker", "done");
            values.push(("done", done));
            let each: Vec<String> = sample
                .procs
                .iter()
                .filter(|p| p.key == "worker")
                .map(|p| format!("{}: {}", p.pid, number(&p.status, "done").unwrap_or(0)))
                .collect();
            lines.push(format!(
                "tasks done per worker — {} — {done} of 10",
                each.join(", ")
            ));
        }
        ScenarioId::ForkPerTask => {
            let forked = sample.procs.iter().filter(|p| p.key == "task").count() as i64;
            let now: Vec<String> = sample
                .procs
                .iter()
                .filter(|p| p.key == "task" && p.alive)
                .map(|p| p.pid.to_string())
                .collect();
            values.push(("forked", forked));
            lines.push(format!(
                "processes forked so far: {forked} for 10 tasks; alive now: {}",
                if now.is_empty() {
                    "none".into()
                } else {
                    now.join(" ")
                }
            ));
        }
        ScenarioId::Semaphore => {
            if let Some(shared) = sample.shared.get("parent") {
                values.extend([
                    ("inside", i64::from(shared.inside)),
                    ("max_inside", i64::from(shared.max_inside)),
                    ("done", i64::from(shared.done)),
                ]);
                lines.push(format!(
                    "inside now: {} of 3 permits (most at once: {}); done {} of 10",
                    shared.inside, shared.max_inside, shared.done
                ));
            }
        }
        ScenarioId::DeadlockFlock => {
            let (held, waiting) = sample.locks;
            values.extend([("locks_held", held), ("locks_waiting", waiting)]);
            lines.push(format!(
                "/proc/locks: {held} lock(s) held and {waiting} waiter(s) among these processes"
            ));
        }
        ScenarioId::StopContinue => {
            let ticks = sum("child", "ticks");
            values.push(("ticks", ticks));
            lines.push(format!("count: {ticks}"));
        }
        _ => {}
    }
    figures.lines = lines;
    figures.values = values;
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_numbers_are_read_by_key() {
        assert_eq!(number("sent=3 writing", "sent"), Some(3));
        assert_eq!(number("done=2 idle", "sent"), None);
        assert_eq!(number("received=x", "received"), None);
    }
}
