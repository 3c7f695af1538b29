//! A scenario's script: the sequence of lab requests (spawn, fork, task, wait, a signal now and
//! then) that sets it up, run on its own thread, reporting each step. This file holds the steps
//! every script is made of; the scripts live by kind in the files beside it. Blocking waits get
//! helper threads of their own, so the script and the live figures go on meanwhile. It never
//! draws and never touches the app.

mod lifecycle;
mod locks;
mod pipes;
mod sessions;
mod shared;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Reporter, Role};
use crate::lab::protocol::{Reply, Request, WaitOutcome};
use crate::lab::scenarios::{Control, ScenarioId, Step};
use crate::lab::tasks::Task;
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
            ScenarioId::SingleChild => lifecycle::single_child(self),
            ScenarioId::ManyChildrenInOrder => lifecycle::many_children(self, true),
            ScenarioId::ManyChildrenAny => lifecycle::many_children(self, false),
            ScenarioId::Zombie => lifecycle::zombie(self),
            ScenarioId::Sigchld => lifecycle::sigchld(self),
            ScenarioId::Orphan => lifecycle::orphan(self),
            ScenarioId::Daemon => sessions::daemon(self),
            ScenarioId::Exec => lifecycle::exec(self),
            ScenarioId::CopyOnWrite => shared::copy_on_write(self),
            ScenarioId::Pipe | ScenarioId::PipeFull | ScenarioId::Queue => pipes::pipe(self, id),
            ScenarioId::PipeLeak => pipes::leak(self),
            ScenarioId::SharedMemory => shared::counters(self),
            ScenarioId::RobustMutex => shared::robust_mutex(self),
            ScenarioId::Pool => pipes::pool(self),
            ScenarioId::PoolResults => pipes::pool_results(self),
            ScenarioId::ForkPerTask => pipes::fork_per_task(self),
            ScenarioId::Semaphore => shared::semaphore(self),
            ScenarioId::DeadlockFlock => locks::flock(self),
            ScenarioId::DeadlockFcntl => locks::fcntl(self),
            ScenarioId::DeadlockPipe => pipes::deadlock(self),
            ScenarioId::StopContinue => lifecycle::stop_continue(self),
            ScenarioId::JobControl => sessions::job_control(self),
            ScenarioId::Signals => lifecycle::signals(self),
        }
    }

    /// `ms` of the lesson at the pace this run goes.
    fn ms(&self, ms: u32) -> u32 {
        self.control.pace().ms(ms)
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

    /// Gives each of `processes` the same task.
    fn task_all(&self, processes: &[Identity], task: Task) -> Result<()> {
        processes.iter().try_for_each(|&p| self.task(p, task))
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

    /// The identity of the scenario's process `pid`, if it has a role.
    fn member(&self, pid: Pid) -> Option<Identity> {
        let roles = self.roles.lock().ok()?;
        roles.iter().find(|r| r.pid == pid).map(|r| r.identity)
    }

    fn note(&self, text: String) {
        (self.report)(Step::Note(text));
    }

    fn stopped(&self) -> bool {
        self.control.stopped()
    }

    /// Sleeps `ms` of the lesson unless told to stop; false when stopped.
    fn pause(&self, ms: u32) -> bool {
        let deadline = Instant::now() + Duration::from_millis(u64::from(self.ms(ms)));
        while Instant::now() < deadline {
            if self.stopped() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        !self.stopped()
    }

    /// What `pid`'s task last published.
    fn status(&self, pid: Pid) -> String {
        self.lab.statuses().remove(&pid).unwrap_or_default()
    }

    /// Waits until `check` holds (a minute at most); false when stopped or out of time.
    fn until(&self, mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline && !self.stopped() {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Sends `signal` to `target` (by identity) and says so in the log.
    fn send(&self, target: Identity, signal: Signal, why: &str) {
        match crate::proc::signal::send_signal(target, signal) {
            Ok(()) => self.note(format!("brood sent {} to {target}{why}", signal.as_str())),
            Err(err) => self.note(format!("{} to {target} not sent: {err}", signal.as_str())),
        }
    }

    /// SIGKILLs `target` if it is caught doing what `doing` checks: it is stopped first, so it
    /// cannot finish what it was doing between the check and the kill; otherwise it is
    /// continued and left alone. True if it was killed.
    fn kill_while(&self, target: Identity, doing: impl Fn() -> bool) -> bool {
        let stopped = || state_of(target.pid) == Some('T');
        if crate::proc::signal::send_signal(target, Signal::SIGSTOP).is_err()
            || !self.until(stopped)
        {
            return false;
        }
        let signal = if doing() {
            Signal::SIGKILL
        } else {
            Signal::SIGCONT
        };
        crate::proc::signal::send_signal(target, signal).is_ok() && signal == Signal::SIGKILL
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

    /// brood reaps its own child `child` once it exits, on a thread of its own, without
    /// blocking (another part of brood may reap it first: then nothing is reported).
    fn brood_reaps(&self, child: Identity) -> JoinHandle<()> {
        let (report, control) = (self.report.clone(), self.control.clone());
        std::thread::spawn(move || {
            while !control.stopped() {
                match crate::lab::reap_own(Some(child.pid)) {
                    Ok(Some(outcome)) => {
                        report(Step::Waited {
                            waiter: std::process::id() as Pid,
                            outcome,
                        });
                        return;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                    Err(_) => return,
                }
            }
        })
    }

    /// Waits until `child` has a new parent after its parent `parent` is gone, and says who.
    fn note_adoption(&self, child: Identity, parent: Identity) {
        let mut adopter = None;
        self.until(|| match crate::proc::lookup::read_parent(child.pid) {
            Some((new, name)) if new != parent.pid => {
                adopter = Some((new, name));
                true
            }
            Some(_) => false,
            None => true,
        });
        if let Some((new, name)) = adopter {
            self.note(format!(
                "{child}'s parent {parent} is gone: the kernel made {new} ({name}) its parent (PPID read from /proc/{child}/stat)"
            ));
        }
    }
}

/// The state letter of `pid` now.
fn state_of(pid: Pid) -> Option<char> {
    let line = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    crate::proc::stat::parse_stat(&line).map(|s| char::from(s.state))
}

/// Reports a wait, and what the child's task said about how it ended when that explains it.
fn report_wait(lab: &Lab, report: &Reporter, waiter: Pid, outcome: WaitOutcome) {
    report(Step::Waited { waiter, outcome });
    if let WaitOutcome::Exited { pid, code } = outcome {
        let status = lab.statuses().remove(&pid).unwrap_or_default();
        if status.contains("handled=SIGTERM") {
            report(Step::Note(format!(
                "{pid} exited {code} after handling SIGTERM: its handler set a flag, its main loop cleaned up and exited"
            )));
        }
    }
}
