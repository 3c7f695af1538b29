//! A pool whose results come back: the parent queues numbered tasks on pipe 0, workers send
//! "took n" and "done n" on pipe 1, and the parent collects them in whatever order they come.
//! It reaps its workers as they die, and a task taken by a dead worker without a result is
//! lost: the parent says so and queues it again.

use std::collections::HashMap;
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid as NixPid, getpid};

use super::pipes::{die_of_sigpipe, keep_only, read_end, receive, send, write_end};
use super::{Kit, publish, spend};
use crate::proc::Pid;

const TASKS: u8 = 0;
const RESULTS: u8 = 1;

/// A message on the results pipe: what happened (took or done), to which task, by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    Took { task: u32, by: Pid },
    Done { task: u32, by: Pid },
}

impl Report {
    fn encode(self) -> u64 {
        let (kind, task, by) = match self {
            Report::Took { task, by } => (1u64, task, by),
            Report::Done { task, by } => (2u64, task, by),
        };
        kind << 56 | u64::from(task & 0xff_ffff) << 32 | u64::from(by.unsigned_abs())
    }

    fn decode(message: u64) -> Option<Report> {
        let task = ((message >> 32) & 0xff_ffff) as u32;
        let by = Pid::try_from(message & 0xffff_ffff).ok()?;
        match message >> 56 {
            1 => Some(Report::Took { task, by }),
            2 => Some(Report::Done { task, by }),
            _ => None,
        }
    }
}

/// Task `n` costs 1, 2 or 3 times the base work, so results overtake each other.
fn cost(task: u32) -> u32 {
    1 + (task * 2) % 3
}

pub(super) fn worker(kit: &mut Kit, work_ms: u32) -> i32 {
    keep_only(kit, &[TASKS], &[RESULTS]);
    die_of_sigpipe();
    let (Ok(tasks), Ok(results)) = (read_end(kit, TASKS), write_end(kit, RESULTS)) else {
        return 1;
    };
    let me = getpid().as_raw();
    let mut done = 0;
    publish("done=0 idle");
    loop {
        let task = match receive(tasks) {
            Ok(Some(task)) => task as u32,
            Ok(None) => return 0,
            Err(_) => return 1,
        };
        if send(results, Report::Took { task, by: me }.encode()).is_err() {
            return 1;
        }
        publish(&format!("done={done} working=task{task}"));
        spend(work_ms * cost(task), true);
        if send(results, Report::Done { task, by: me }.encode()).is_err() {
            return 1;
        }
        done += 1;
        publish(&format!("done={done} idle"));
    }
}

/// What the pool's parent knows.
struct Ledger {
    total: u32,
    /// Task → the worker that took it, until its result comes.
    taken: HashMap<u32, Pid>,
    /// Results in arrival order.
    order: Vec<u32>,
    /// Tasks whose worker died with them, and how it ended (`PID:signal-9`).
    lost: Vec<(u32, String)>,
    workers: Vec<Pid>,
}

impl Ledger {
    fn line(&self, end: &str) -> String {
        let list = |words: Vec<String>| {
            if words.is_empty() {
                "-".to_string()
            } else {
                words.join(",")
            }
        };
        format!(
            "results={} of={} order={} lost={} lost-with={} workers={}{end}",
            self.order.len(),
            self.total,
            list(self.order.iter().map(u32::to_string).collect()),
            list(self.lost.iter().map(|(task, _)| task.to_string()).collect()),
            list(self.lost.iter().map(|(_, with)| with.clone()).collect()),
            self.workers.len()
        )
    }
}

pub(super) fn master(kit: &mut Kit, total: u32) -> i32 {
    keep_only(kit, &[RESULTS], &[TASKS]);
    let mut ledger = Ledger {
        total,
        taken: HashMap::new(),
        order: Vec::new(),
        lost: Vec::new(),
        workers: kit.children.clone(),
    };
    let Ok(queue) = write_end(kit, TASKS) else {
        return 1;
    };
    for task in 0..total {
        if send(queue, u64::from(task)).is_err() {
            return 1;
        }
    }
    publish(&ledger.line(""));
    // Workers seen dead, and how they ended. A worker's last messages are in the pipe before
    // its death can be seen, so whatever it took is known once the pipe is read after that.
    let mut dead: Vec<(Pid, String)> = Vec::new();
    let mut wait = PollTimeout::from(100u16);
    while (ledger.order.len() as u32) < total {
        let Ok(results) = read_end(kit, RESULTS) else {
            return 1;
        };
        let mut ready = [PollFd::new(results.as_fd(), PollFlags::POLLIN)];
        if poll(&mut ready, wait).unwrap_or(0) > 0 {
            // Read what is there, then look again at once.
            wait = PollTimeout::ZERO;
            match receive(results).ok().flatten().and_then(Report::decode) {
                Some(Report::Took { task, by }) => {
                    ledger.taken.insert(task, by);
                }
                Some(Report::Done { task, .. }) => {
                    ledger.taken.remove(&task);
                    ledger.order.push(task);
                }
                None => {}
            }
            continue;
        }
        wait = PollTimeout::from(100u16);
        for (worker, how) in reap_workers() {
            ledger.workers.retain(|w| *w != worker);
            dead.push((worker, how));
        }
        let lost: Vec<(u32, String)> = ledger
            .taken
            .iter()
            .filter_map(|(task, by)| {
                let (worker, how) = dead.iter().find(|(d, _)| d == by)?;
                Some((*task, format!("{worker}:{how}")))
            })
            .collect();
        for (task, with) in lost {
            ledger.taken.remove(&task);
            ledger.lost.push((task, with));
            // Queued again: a live worker takes it. With none left it can never be done.
            if ledger.workers.is_empty() || send(queue, u64::from(task)).is_err() {
                publish(&ledger.line(" no-workers-left"));
                return 1;
            }
        }
        if ledger.workers.is_empty() {
            publish(&ledger.line(" no-workers-left"));
            return 1;
        }
        publish(&ledger.line(""));
    }
    // Every result is in: closing the queue lets the workers read end of file and exit.
    keep_only(kit, &[], &[]);
    while !ledger.workers.is_empty() {
        match waitpid(NixPid::from_raw(-1), None) {
            Ok(status) => {
                if let Some(pid) = status.pid() {
                    ledger.workers.retain(|w| *w != pid.as_raw());
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    publish(&ledger.line(" all-done"));
    0
}

/// Workers that ended since the last look, with how they ended ("exit-N" or "signal-N").
fn reap_workers() -> Vec<(Pid, String)> {
    let mut ended = Vec::new();
    loop {
        match waitpid(NixPid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => ended.push((pid.as_raw(), format!("exit-{code}"))),
            Ok(WaitStatus::Signaled(pid, signal, _)) => {
                ended.push((pid.as_raw(), format!("signal-{}", signal as i32)));
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return ended,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_through_their_message() {
        for report in [
            Report::Took {
                task: 7,
                by: 4_194_304,
            },
            Report::Done { task: 0, by: 1 },
        ] {
            assert_eq!(Report::decode(report.encode()), Some(report));
        }
        assert_eq!(Report::decode(0), None);
    }
}
