//! The live figures of a running scenario: for each of its processes where it sleeps in the
//! kernel (`wchan`) and what its task published, plus the scenario's own numbers (queue depth,
//! counters, tasks per worker, locks). It only reads; it reports a few times a second.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::driver::{ADDERS, ADDS_PER_CHILD, Reporter};
use super::{Control, Figures, ProcFigure, ScenarioId, Step};
use crate::lab::Lab;
use crate::lab::tasks::{self, MESSAGE_BYTES};
use crate::proc::scan::read_identity;
use crate::proc::{Identity, Pid};

const EVERY: Duration = Duration::from_millis(250);

/// A process's part in a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Role {
    pub pid: Pid,
    /// Read when the role was given, so ending the scenario never signals a reused PID.
    pub identity: Option<Identity>,
    pub key: String,
    pub label: String,
}

impl Role {
    /// The scenario's parents stay as idle lab workers when the lesson is over.
    fn lasting(&self) -> bool {
        self.key.starts_with("parent")
    }
}

pub(super) fn start(
    id: ScenarioId,
    lab: Arc<Lab>,
    roles: Arc<Mutex<Vec<Role>>>,
    report: Reporter,
    control: Arc<Control>,
    script_done: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
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
            let figures = read_figures(id, lab.dir(), &roles);
            let over = figures
                .procs
                .iter()
                .zip(&roles)
                .all(|(p, role)| !p.alive || role.lasting());
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
    let mut killed = 0;
    for role in roles.iter().rev() {
        let Some(identity) = role
            .identity
            .filter(|&i| read_identity(role.pid) == Some(i))
        else {
            continue;
        };
        if crate::effects::send_signal(identity, nix::sys::signal::Signal::SIGKILL).is_ok() {
            killed += 1;
        }
    }
    crate::lab::reap_all_own(
        roles.iter().map(|r| r.pid).collect(),
        Duration::from_secs(2),
    );
    if killed > 0 {
        report(Step::Note(format!(
            "scenario {id} ended: its {killed} remaining process(es) were killed"
        )));
    }
}

/// Reads the figures of every role once.
pub(super) fn read_figures(id: ScenarioId, dir: &Path, roles: &[Role]) -> Figures {
    let procs: Vec<ProcFigure> = roles
        .iter()
        .map(|role| {
            let alive = Path::new(&format!("/proc/{}", role.pid)).exists();
            let status = tasks::read_status(dir, role.pid)
                .into_iter()
                .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
                .collect::<Vec<_>>()
                .join(" ");
            ProcFigure {
                pid: role.pid,
                key: role.key.clone(),
                label: role.label.clone(),
                wchan: if alive {
                    crate::proc::wchan::read_symbol(role.pid).unwrap_or_default()
                } else {
                    String::new()
                },
                status,
                alive,
            }
        })
        .collect();
    let mut figures = Figures {
        procs,
        ..Figures::default()
    };
    summarize(id, dir, roles, &mut figures);
    figures
}

fn number(status: &str, key: &str) -> Option<i64> {
    status.split_whitespace().find_map(|word| {
        let (k, v) = word.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

fn summarize(id: ScenarioId, dir: &Path, roles: &[Role], figures: &mut Figures) {
    let sum = |key: &str, field: &str| -> i64 {
        figures
            .procs
            .iter()
            .filter(|p| p.key == key)
            .filter_map(|p| number(&p.status, field))
            .sum()
    };
    let owner = |key: &str| roles.iter().find(|r| r.key == key).map(|r| r.pid);
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
                figures
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
                let Some(shared) = owner(key).and_then(|pid| tasks::read_shared(dir, pid)) else {
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
            let each: Vec<String> = figures
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
            let forked = roles.iter().filter(|r| r.key == "task").count() as i64;
            let now: Vec<String> = figures
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
            if let Some(shared) = owner("parent").and_then(|pid| tasks::read_shared(dir, pid)) {
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
            let pids: Vec<Pid> = roles.iter().map(|r| r.pid).collect();
            let (held, waiting) = proc_locks(&pids);
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
}

/// Locks held by and waiters among `pids`, from /proc/locks.
fn proc_locks(pids: &[Pid]) -> (i64, i64) {
    let (mut held, mut waiting) = (0, 0);
    for lock in crate::proc::ipc::read_locks() {
        if lock.pid.is_some_and(|pid| pids.contains(&pid)) {
            if lock.blocked {
                waiting += 1;
            } else {
                held += 1;
            }
        }
    }
    (held, waiting)
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
