//! A scenario's script: the sequence of lab requests (spawn, fork, task, wait) that sets it up,
//! run on its own thread, reporting each step. Blocking waits get helper threads of their own, so
//! the script and the live figures go on meanwhile. It never draws and never touches the app.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Reporter, Role};
use crate::lab::protocol::{Reply, Request, WaitOutcome};
use crate::lab::scenarios::{ADDERS, ADDS_PER_CHILD, Control, ScenarioId, Step};
use crate::lab::tasks::{self, Task};
use crate::lab::{Lab, LabError, REPLY_TIMEOUT};
use crate::proc::{Identity, Pid};

pub(super) struct Driver {
    pub lab: Arc<Lab>,
    pub report: Reporter,
    pub roles: Arc<Mutex<Vec<Role>>>,
    pub control: Arc<Control>,
}

type Result<T> = std::result::Result<T, String>;

impl Driver {
    pub fn script(&self, id: ScenarioId) -> Result<()> {
        match id {
            ScenarioId::SingleChild => {
                let parent = self.spawn("parent", "parent: blocked in waitpid()")?;
                let child = self.fork(parent, "child", "child: 5 s busy, then exit 0")?;
                self.task(
                    child,
                    Task::Work {
                        ms: 5000,
                        busy: true,
                        code: 0,
                    },
                )?;
                self.wait_any(parent, 1);
            }
            ScenarioId::ManyChildrenInOrder | ScenarioId::ManyChildrenAny => {
                let in_order = id == ScenarioId::ManyChildrenInOrder;
                let how = if in_order {
                    "parent: waits in creation order"
                } else {
                    "parent: waits for any child"
                };
                let parent = self.spawn("parent", how)?;
                let mut children = Vec::new();
                for (i, secs) in [7u32, 2, 3, 4, 5, 6].into_iter().enumerate() {
                    let code = i as u8 + 1;
                    let child = self.fork(
                        parent,
                        "child",
                        &format!("child {code}: sleeps {secs} s, exits {code}"),
                    )?;
                    children.push((child, secs, code));
                }
                for &(child, secs, code) in &children {
                    self.task(
                        child,
                        Task::Work {
                            ms: secs * 1000,
                            busy: false,
                            code,
                        },
                    )?;
                }
                let pids = children.iter().map(|c| c.0.pid).collect();
                if in_order {
                    self.wait_in_order(parent, pids);
                } else {
                    self.wait_any(parent, children.len());
                }
            }
            ScenarioId::Zombie => {
                let parent = self.spawn("parent", "parent: never calls waitpid()")?;
                let child = self.fork(parent, "child", "child: exits after 1 s")?;
                self.task(
                    child,
                    Task::Work {
                        ms: 1000,
                        busy: false,
                        code: 0,
                    },
                )?;
            }
            ScenarioId::Orphan => self.orphan()?,
            ScenarioId::Exec => {
                let parent = self.spawn("parent", "parent: waits for the child")?;
                let child = self.fork(parent, "child", "child: fork(), then exec sleep 30")?;
                self.task(child, Task::ExecSleep { secs: 30 })?;
                self.wait_any(parent, 1);
            }
            ScenarioId::Pipe => self.pipe(
                Task::Produce {
                    pipe: 0,
                    count: 5,
                    burst: 1,
                    every_ms: 1000,
                    sentinel: false,
                },
                Task::Consume {
                    pipe: 0,
                    each_ms: 0,
                    stop_after: 0,
                },
                ("producer: 5 messages, 1 a second", "consumer: reads to EOF"),
            )?,
            ScenarioId::PipeFull => self.pipe(
                Task::Produce {
                    pipe: 0,
                    count: 1_000_000,
                    burst: 64,
                    every_ms: 10,
                    sentinel: false,
                },
                Task::Consume {
                    pipe: 0,
                    each_ms: 0,
                    stop_after: 20,
                },
                (
                    "producer: writes until the pipe is full",
                    "consumer: stops reading after 20",
                ),
            )?,
            ScenarioId::Queue => self.pipe(
                Task::Produce {
                    pipe: 0,
                    count: 12,
                    burst: 4,
                    every_ms: 4000,
                    sentinel: true,
                },
                Task::Consume {
                    pipe: 0,
                    each_ms: 600,
                    stop_after: 0,
                },
                (
                    "producer: 12 items in bursts of 4, then the sentinel",
                    "consumer: 0.6 s an item, stops at the sentinel",
                ),
            )?,
            ScenarioId::SharedMemory => {
                let mut parents = Vec::new();
                for (key, label, locked) in [
                    ("parent-a", "group A: no lock", false),
                    ("parent-b", "group B: process-shared mutex", true),
                ] {
                    let parent = self.spawn(key, label)?;
                    self.task(parent, Task::Share { permits: 1 })?;
                    let mut children = Vec::new();
                    for n in 1..=ADDERS {
                        let group = if locked { "B" } else { "A" };
                        let label = format!("{group} adder {n}: +1 ×{ADDS_PER_CHILD}");
                        children.push(self.fork(parent, "adder", &label)?);
                    }
                    parents.push((parent, children, locked));
                }
                for (parent, children, locked) in &parents {
                    for &child in children {
                        self.task(
                            child,
                            Task::Add {
                                count: ADDS_PER_CHILD,
                                locked: *locked,
                            },
                        )?;
                    }
                    self.wait_any(*parent, children.len());
                }
            }
            ScenarioId::Pool => self.pool()?,
            ScenarioId::ForkPerTask => {
                let parent = self.spawn("parent", "parent: forks one child per task")?;
                let mut task_number = 0;
                for (wave, size) in [3, 3, 3, 1].into_iter().enumerate() {
                    let mut children = Vec::new();
                    for _ in 0..size {
                        task_number += 1;
                        let label = format!("task {task_number} (wave {})", wave + 1);
                        children.push(self.fork(parent, "task", &label)?);
                    }
                    for &child in &children {
                        self.task(
                            child,
                            Task::Work {
                                ms: 800,
                                busy: true,
                                code: 0,
                            },
                        )?;
                    }
                    self.wait_any(parent, children.len())
                        .join()
                        .map_err(|_| "a wait thread panicked")?;
                    if !self.pause(1000) {
                        return Ok(());
                    }
                }
            }
            ScenarioId::Semaphore => {
                let parent = self.spawn("parent", "parent: semaphore with 3 permits")?;
                self.task(parent, Task::Share { permits: 3 })?;
                let mut children = Vec::new();
                for n in 1..=10 {
                    let label = format!("child {n}: sem_wait, 1.5 s inside, sem_post");
                    children.push(self.fork(parent, "child", &label)?);
                }
                for &child in &children {
                    self.task(child, Task::Enter { work_ms: 1500 })?;
                }
                self.wait_any(parent, children.len());
            }
            ScenarioId::DeadlockFlock => {
                let parent = self.spawn("parent", "parent: waits for both")?;
                let a = self.fork(parent, "a", "A: lock 0, then lock 1")?;
                let b = self.fork(parent, "b", "B: lock 1, then lock 0")?;
                for (pid, first, second) in [(a, 0, 1), (b, 1, 0)] {
                    self.task(
                        pid,
                        Task::LockPair {
                            first,
                            second,
                            hold_ms: 500,
                        },
                    )?;
                }
                self.wait_any(parent, 2);
            }
            ScenarioId::DeadlockPipe => {
                let parent = self.spawn("parent", "parent: made two pipes, waits for both")?;
                self.task(parent, Task::Pipe)?;
                self.task(parent, Task::Pipe)?;
                let a = self.fork(parent, "a", "A: reads pipe 0, then writes pipe 1")?;
                let b = self.fork(parent, "b", "B: reads pipe 1, then writes pipe 0")?;
                self.task(parent, Task::ClosePipes)?;
                self.task(a, Task::ReadThenWrite { read: 0, write: 1 })?;
                self.task(b, Task::ReadThenWrite { read: 1, write: 0 })?;
                self.wait_any(parent, 2);
            }
            ScenarioId::StopContinue => {
                let parent = self.spawn("parent", "parent: waitpid(WUNTRACED | WCONTINUED)")?;
                let child = self.fork(parent, "child", "child: counts twice a second")?;
                self.task(
                    child,
                    Task::Tick {
                        every_ms: 500,
                        ticks: 600,
                    },
                )?;
                self.wait_any(parent, 1);
            }
            ScenarioId::Signals => self.signals()?,
        }
        Ok(())
    }

    fn orphan(&self) -> Result<()> {
        let parent = self.spawn("parent", "parent: exits after 1 s")?;
        let child = self.fork(parent, "child", "child: lives on")?;
        self.task(
            parent,
            Task::Work {
                ms: 1000,
                busy: false,
                code: 0,
            },
        )?;
        // The parent is brood's own child: brood reaps it, without blocking the UI.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && !self.stopped() {
            match crate::lab::reap_own(Some(parent.pid)) {
                Ok(Some(outcome)) => {
                    (self.report)(Step::Waited {
                        waiter: std::process::id() as Pid,
                        outcome,
                    });
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                // Someone else (auto-reap) collected it.
                Err(_) => break,
            }
        }
        while Instant::now() < deadline && !self.stopped() {
            match crate::proc::lookup::read_parent(child.pid) {
                Some((adopter, name)) if adopter != parent.pid => {
                    self.note(format!(
                        "{child}'s parent {parent} is gone: the kernel made {adopter} ({name}) its parent (PPID read from /proc/{child}/stat)"
                    ));
                    break;
                }
                Some(_) => std::thread::sleep(Duration::from_millis(50)),
                None => break,
            }
        }
        Ok(())
    }

    /// A parent with one pipe, a producer and a consumer; the parent closes its ends.
    fn pipe(&self, producer: Task, consumer: Task, labels: (&str, &str)) -> Result<()> {
        let parent = self.spawn("parent", "parent: made the pipe, closed its ends")?;
        self.task(parent, Task::Pipe)?;
        let writer = self.fork(parent, "producer", labels.0)?;
        let reader = self.fork(parent, "consumer", labels.1)?;
        // Without this the consumer would never see end of file: the parent holds a write end.
        self.task(parent, Task::ClosePipes)?;
        self.task(reader, consumer)?;
        self.task(writer, producer)?;
        self.wait_any(parent, 2);
        Ok(())
    }

    fn pool(&self) -> Result<()> {
        let parent = self.spawn("parent", "parent: feeds tasks through a pipe")?;
        self.task(parent, Task::Pipe)?;
        let mut workers = Vec::new();
        for n in 1..=3 {
            workers.push(self.fork(parent, "worker", &format!("pool worker {n}"))?);
        }
        for &worker in &workers {
            self.task(
                worker,
                Task::PoolWorker {
                    pipe: 0,
                    work_ms: 800,
                },
            )?;
        }
        for (wave, count) in [4, 3, 3].into_iter().enumerate() {
            if wave > 0 && !self.pause(3500) {
                return Ok(());
            }
            self.task(parent, Task::Feed { pipe: 0, count })?;
            self.note(format!(
                "{parent} put {count} tasks into the pool's pipe (wave {})",
                wave + 1
            ));
        }
        if !self.pause(3000) {
            return Ok(());
        }
        self.task(parent, Task::ClosePipes)?;
        self.note(format!(
            "{parent} closed the pipe: the workers read end of file when it is empty, and exit"
        ));
        self.wait_any(parent, workers.len());
        Ok(())
    }

    fn signals(&self) -> Result<()> {
        let parent = self.spawn("parent", "parent: waits for both")?;
        let gentle = self.fork(parent, "handles", "child 1: will get SIGTERM")?;
        let hard = self.fork(parent, "killed", "child 2: will get SIGKILL")?;
        for child in [gentle, hard] {
            self.task(child, Task::HandleTerm { ms: 120_000 })?;
        }
        self.wait_any(parent, 2);
        if !self.pause(4000) {
            return Ok(());
        }
        // By identity: a signal must not land on a PID reused in between.
        for (child, signal) in [gentle, hard]
            .into_iter()
            .zip([Signal::SIGTERM, Signal::SIGKILL])
        {
            let sent = crate::proc::signal::send_signal(child, signal).map_err(|e| e.to_string());
            match sent {
                Ok(()) => self.note(format!("brood sent {} to {child}", signal.as_str())),
                Err(why) => self.note(format!("{} to {child} not sent: {why}", signal.as_str())),
            }
        }
        Ok(())
    }

    fn spawn(&self, key: &str, label: &str) -> Result<Identity> {
        let id = self.lab.spawn().map_err(|e| e.to_string())?;
        (self.report)(Step::Spawned {
            id,
            guard: self.lab.live_guard(),
        });
        self.role(id, key, label);
        Ok(id)
    }

    fn fork(&self, parent: Identity, key: &str, label: &str) -> Result<Identity> {
        match self.lab.request(parent, Request::Fork, Some(REPLY_TIMEOUT)) {
            Ok(Reply::Forked(child)) => {
                (self.report)(Step::Forked { parent, child });
                self.role(child, key, label);
                Ok(child)
            }
            Ok(other) => Err(format!("fork in {parent}: unexpected reply {other}")),
            Err(err) => Err(err.to_string()),
        }
    }

    fn task(&self, pid: Identity, task: Task) -> Result<()> {
        match self
            .lab
            .request(pid, Request::Task(task), Some(REPLY_TIMEOUT))
        {
            Ok(Reply::Ok(_)) => Ok(()),
            Ok(other) => Err(format!("task {task} in {pid}: unexpected reply {other}")),
            Err(err) => Err(format!("task {task} in {pid}: {err}")),
        }
    }

    fn role(&self, id: Identity, key: &str, label: &str) {
        if let Ok(mut roles) = self.roles.lock() {
            roles.push(Role {
                pid: id.pid,
                identity: id,
                key: key.to_string(),
                label: label.to_string(),
            });
        }
        (self.report)(Step::Role {
            pid: id.pid,
            key: key.to_string(),
            label: label.to_string(),
        });
    }

    fn note(&self, text: String) {
        (self.report)(Step::Note(text));
    }

    fn stopped(&self) -> bool {
        self.control.stopped()
    }

    /// Sleeps `ms` unless told to stop; false when stopped.
    fn pause(&self, ms: u64) -> bool {
        let deadline = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < deadline {
            if self.stopped() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        !self.stopped()
    }

    /// `parent` calls waitpid(-1) until `count` children are reaped, on a thread of its own;
    /// stops and continues seen on the way are reported too.
    fn wait_any(&self, parent: Identity, count: usize) -> JoinHandle<()> {
        let (lab, report) = (self.lab.clone(), self.report.clone());
        std::thread::spawn(move || {
            let mut reaped = 0;
            while reaped < count {
                match lab.request(parent, Request::Wait, None) {
                    Ok(Reply::Waited(outcome)) => {
                        reaped += usize::from(outcome.reaped());
                        report_wait(&lab, &report, parent.pid, outcome);
                    }
                    // The children were reaped by someone else (w): say so rather than go quiet.
                    Err(LabError::Refused { reason, .. }) => {
                        report(Step::Note(format!("{parent} stops waiting: {reason}")));
                        return;
                    }
                    // The scenario was ended: its processes are gone.
                    _ => return,
                }
            }
        })
    }

    /// `parent` calls waitpid(pid) for each child in turn, on a thread of its own.
    fn wait_in_order(&self, parent: Identity, children: Vec<Pid>) {
        let (lab, report) = (self.lab.clone(), self.report.clone());
        std::thread::spawn(move || {
            for child in children {
                match lab.request(parent, Request::WaitPid(child), None) {
                    Ok(Reply::Waited(outcome)) => report_wait(&lab, &report, parent.pid, outcome),
                    // Already reaped by someone else (w on the zombie): go on with the next.
                    Err(LabError::Refused { reason, .. }) => {
                        report(Step::Note(format!(
                            "{parent} cannot wait for {child}: {reason}"
                        )));
                    }
                    _ => return,
                }
            }
        });
    }
}

/// Reports a wait, and what the child's task said about how it ended when that explains it.
fn report_wait(lab: &Lab, report: &Reporter, waiter: Pid, outcome: WaitOutcome) {
    report(Step::Waited { waiter, outcome });
    if let WaitOutcome::Exited { pid, code } = outcome {
        let status = tasks::read_status(lab.dir(), pid);
        if status.iter().any(|(k, v)| k == "handled" && v == "SIGTERM") {
            report(Step::Note(format!(
                "{pid} exited {code} after handling SIGTERM: its handler set a flag, its main loop cleaned up and exited"
            )));
        }
    }
}
