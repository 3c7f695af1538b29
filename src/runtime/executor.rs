//! Carries out the app's effects: signals (through a pidfd, after an identity check), lab
//! requests, reaping, the subreaper flag, scenarios. It decides nothing — whom to signal, when to
//! rescan and what to tell the user are the app's — and its threads are bounded: a fixed pool
//! for work that takes a while, one poller for every pending lab reply however long it waits.
//! Results come back as [`Event::Done`]; errors are outcomes, never panics.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

use super::replies::Replies;
use super::signal_set::signal_set;
use crate::lab::protocol::Request;
use crate::lab::scenarios::{Control, ScenarioId, Step};
use crate::lab::{Lab, LabError, REPLY_TIMEOUT};
use crate::message::{CollectorCommand, Effect, Event, Outcome, SignalScope};
use crate::proc::lookup::read_identity;
use crate::proc::signal::send_signal;
use crate::proc::{Identity, Pid};
use crate::signals::Dispositions;

pub use crate::app::reach::members_of;

/// Threads that run effects which take a while (starting a worker, signalling a subtree).
const POOL_THREADS: usize = 3;

type Job = Box<dyn FnOnce() + Send>;

/// Runs effects for the main loop.
pub struct Executor {
    lab: Option<Arc<Lab>>,
    lab_error: Option<String>,
    replies: Option<Arc<Replies>>,
    events: Sender<Event>,
    collector: Sender<CollectorCommand>,
    jobs: Option<Sender<Job>>,
    /// Tells the running scenario's driver to stop when another starts or brood ends.
    scenario_stop: Mutex<Option<Arc<Control>>>,
}

impl Executor {
    pub fn new(
        lab: Result<Lab, LabError>,
        events: Sender<Event>,
        collector: Sender<CollectorCommand>,
    ) -> Executor {
        let (lab, mut lab_error) = match lab {
            Ok(lab) => (Some(Arc::new(lab)), None),
            Err(err) => (None, Some(err.to_string())),
        };
        let replies = lab.as_ref().and_then(|lab| {
            Replies::start(lab.clone(), events.clone())
                .map(Arc::new)
                .map_err(|err| lab_error = Some(format!("cannot watch the lab's replies: {err}")))
                .ok()
        });
        Executor {
            lab: lab.filter(|_| replies.is_some()),
            lab_error,
            replies,
            events,
            collector,
            jobs: start_pool(),
            scenario_stop: Mutex::new(None),
        }
    }

    pub fn lab(&self) -> Option<&Arc<Lab>> {
        self.lab.as_ref()
    }

    pub fn run(&self, effect: Effect) {
        match effect {
            Effect::Collector(command) => {
                let _ = self.collector.send(command);
            }
            Effect::Spawn => self.with_lab("start a lab process", |lab, events| {
                let outcome = match lab.spawn() {
                    Ok(id) => Outcome::Spawned {
                        id,
                        guard: lab.live_guard(),
                    },
                    Err(err) => failed("start a lab process", err),
                };
                let _ = events.send(Event::Done(outcome));
            }),
            Effect::Lab { target, request } => self.lab_request(target, request),
            Effect::ReapOwn(child) => {
                let own = std::process::id() as Pid;
                self.report(match crate::lab::reap_own(child) {
                    Ok(Some(outcome)) => Outcome::Waited {
                        waiter: own,
                        outcome,
                    },
                    Ok(None) => Outcome::NothingToReap { waiter: own, child },
                    Err(errno) => failed("reap", errno.desc()),
                });
            }
            Effect::Signal {
                targets,
                signal,
                scope,
            } => {
                let events = self.events.clone();
                let guard = self.lab.as_ref().and_then(|lab| lab.live_guard());
                self.submit(move || {
                    let results = match scope {
                        SignalScope::Process => targets
                            .into_iter()
                            .map(|t| {
                                let result = send_signal(t.id, signal);
                                (t, result)
                            })
                            .collect(),
                        SignalScope::Subtree | SignalScope::Group => {
                            signal_set(&targets, scope, signal, guard)
                        }
                    };
                    let _ = events.send(Event::Done(Outcome::Signalled {
                        signal,
                        scope,
                        results,
                    }));
                });
            }
            // The main loop's own: it holds the terminal, the recording and the replay.
            Effect::Suspend
            | Effect::RetakeTerminal
            | Effect::Record(_)
            | Effect::Seek(_)
            | Effect::Travel(_) => {}
            Effect::ReadDispositions(target) => {
                let events = self.events.clone();
                self.submit(move || {
                    let dispositions = read_dispositions(target);
                    let _ = events.send(Event::Done(Outcome::Dispositions {
                        target,
                        dispositions,
                    }));
                });
            }
            Effect::SetSubreaper(on) => {
                self.report(match nix::sys::prctl::set_child_subreaper(on) {
                    Ok(()) => Outcome::Subreaper(on),
                    Err(errno) => failed("change the subreaper flag", errno.desc()),
                });
            }
            Effect::Scenario { id, run } => self.start_scenario(id, run),
        }
    }

    /// Sends a lab request from the pool (connecting may block while the worker is busy) and
    /// hands it to the reply poller, so no thread waits for the reply. `wait` may block in the
    /// worker for ever: no deadline then.
    fn lab_request(&self, target: Identity, request: Request) {
        let Some(replies) = self.replies.clone() else {
            self.lab_unavailable("talk to the lab");
            return;
        };
        let blocks = matches!(request, Request::Wait | Request::WaitPid(_));
        let timeout = (!blocks).then_some(REPLY_TIMEOUT);
        self.with_lab("talk to the lab", move |lab, events| {
            match lab.send(target, request) {
                Ok(pending) => replies.watch(pending, timeout),
                Err(err) => {
                    let _ = events.send(Event::Done(Outcome::LabReply {
                        target,
                        request,
                        reply: Err(err.to_string()),
                    }));
                }
            }
        });
    }

    /// Runs a scenario's driver; it reports its steps as events.
    fn start_scenario(&self, id: ScenarioId, run: u64) {
        let Some(lab) = self.lab.clone() else {
            self.lab_unavailable(&format!("start the scenario {id}"));
            return;
        };
        let control = Arc::new(Control::default());
        if let Ok(mut current) = self.scenario_stop.lock()
            && let Some(previous) = current.replace(control.clone())
        {
            previous.end();
        }
        let events = self.events.clone();
        let report = move |step: Step| {
            let _ = events.send(Event::Done(Outcome::Scenario { run, step }));
        };
        super::scenario::start(lab, id, Arc::new(report), control);
    }

    /// Ends the lab (unless `leave_running`) before brood exits.
    pub fn shutdown(&self, leave_running: bool) {
        if let Some(control) = self.scenario_stop.lock().ok().and_then(|s| s.clone()) {
            control.stop();
        }
        if let Some(lab) = &self.lab {
            lab.shutdown(leave_running);
        }
    }

    fn report(&self, outcome: Outcome) {
        let _ = self.events.send(Event::Done(outcome));
    }

    fn lab_unavailable(&self, what: &str) {
        let why = self.lab_error.clone().unwrap_or_default();
        self.report(failed(what, why));
    }

    /// Runs `work` with the lab on the pool (lab calls block), or says why there is no lab.
    fn with_lab(&self, what: &str, work: impl FnOnce(&Lab, &Sender<Event>) + Send + 'static) {
        let Some(lab) = self.lab.clone() else {
            self.lab_unavailable(what);
            return;
        };
        let events = self.events.clone();
        self.submit(move || work(&lab, &events));
    }

    /// Queues `job` for the pool; with no pool (no thread could be started), runs it here.
    fn submit(&self, job: impl FnOnce() + Send + 'static) {
        match &self.jobs {
            Some(jobs) => {
                if let Err(mpsc::SendError(job)) = jobs.send(Box::new(job)) {
                    job();
                }
            }
            None => job(),
        }
    }
}

/// Starts the pool; `None` if not one thread could be had (at a process limit, say).
fn start_pool() -> Option<Sender<Job>> {
    let (jobs, inbox) = mpsc::channel::<Job>();
    let inbox = Arc::new(Mutex::new(inbox));
    let started = (0..POOL_THREADS)
        .filter(|i| {
            let inbox = inbox.clone();
            std::thread::Builder::new()
                .name(format!("executor-{i}"))
                .spawn(move || {
                    loop {
                        let job = match inbox.lock() {
                            Ok(inbox) => inbox.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .is_ok()
        })
        .count();
    (started > 0).then_some(jobs)
}

fn failed(what: &str, err: impl std::fmt::Display) -> Outcome {
    Outcome::Failed {
        what: what.to_string(),
        why: err.to_string(),
    }
}

fn read_dispositions(target: Identity) -> Option<Dispositions> {
    let status = procfs::process::Process::new(target.pid)
        .ok()?
        .status()
        .ok()?;
    (read_identity(target.pid) == Some(target)).then_some(Dispositions {
        ignored: status.sigign,
        caught: status.sigcgt,
        blocked: status.sigblk,
    })
}
