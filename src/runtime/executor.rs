//! Carries out the app's effects: signals (through a pidfd, after an identity check), lab
//! requests, reaping, the subreaper flag, scenarios. Blocking work runs off the main loop and its
//! result comes back as an [`Event::Done`]; errors are outcomes, never panics. It decides nothing:
//! whom to signal, when to rescan and what to tell the user are the app's.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use nix::sys::signal::Signal;

use crate::lab::protocol::{Reply, Request};
use crate::lab::{Lab, LabError, REPLY_TIMEOUT};
use crate::message::{CollectorCommand, Effect, Event, Outcome, SignalScope, Target};
use crate::proc::scan::{ScanOptions, Scanner, read_identity};
use crate::proc::signal::{SignalError, send_signal};
use crate::proc::{Identity, Pid, Snapshot};
use crate::signals::Dispositions;

/// Runs effects for the main loop.
pub struct Executor {
    lab: Option<Arc<Lab>>,
    lab_error: Option<String>,
    events: Sender<Event>,
    collector: Sender<CollectorCommand>,
    /// Tells the running scenario's driver to stop when another starts or brood ends.
    scenario_stop: Mutex<Option<Arc<crate::lab::scenarios::Control>>>,
}

impl Executor {
    pub fn new(
        lab: Result<Lab, LabError>,
        events: Sender<Event>,
        collector: Sender<CollectorCommand>,
    ) -> Executor {
        let (lab, lab_error) = match lab {
            Ok(lab) => (Some(Arc::new(lab)), None),
            Err(err) => (None, Some(err.to_string())),
        };
        Executor {
            lab,
            lab_error,
            events,
            collector,
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
            Effect::Spawn => self.with_lab("start a lab process", |lab| match lab.spawn() {
                Ok(pid) => Outcome::Spawned {
                    pid,
                    group: lab.group(),
                },
                Err(err) => failed("start a lab process", err),
            }),
            Effect::Lab { target, request } => {
                // `wait` blocks in the worker until a child changes state: no deadline for it.
                let blocks = matches!(request, Request::Wait | Request::WaitPid(_));
                let timeout = (!blocks).then_some(REPLY_TIMEOUT);
                self.with_lab("talk to the lab", move |lab| {
                    lab_outcome(target, request, lab.request(target, request, timeout))
                })
            }
            Effect::ReapOwn(child) => {
                let own = std::process::id() as Pid;
                let outcome = match crate::lab::reap_own(child) {
                    Ok(Some(outcome)) => Outcome::Waited {
                        waiter: own,
                        outcome,
                    },
                    Ok(None) => Outcome::NothingToReap { waiter: own, child },
                    Err(errno) => Outcome::Failed {
                        what: "reap".into(),
                        why: errno.desc().into(),
                    },
                };
                self.report(outcome);
            }
            Effect::Signal {
                targets,
                signal,
                scope,
            } => {
                let events = self.events.clone();
                std::thread::spawn(move || {
                    let results = match scope {
                        SignalScope::Process => targets
                            .into_iter()
                            .map(|t| (t.clone(), send_signal(t.id, signal)))
                            .collect(),
                        SignalScope::Subtree | SignalScope::Group => {
                            signal_set(&targets, scope, signal)
                        }
                    };
                    let _ = events.send(Event::Done(Outcome::Signalled {
                        signal,
                        scope,
                        results,
                    }));
                });
            }
            // The main loop suspends; it owns the terminal.
            Effect::Suspend => {}
            Effect::ReadDispositions(target) => {
                // A /proc read: off the UI thread, like every other blocking effect.
                let events = self.events.clone();
                std::thread::spawn(move || {
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

    /// Runs a scenario's driver; it reports its steps as events.
    fn start_scenario(&self, id: crate::lab::scenarios::ScenarioId, run: u64) {
        let Some(lab) = self.lab.clone() else {
            let why = self.lab_error.clone().unwrap_or_default();
            self.report(failed(&format!("start the scenario {id}"), why));
            return;
        };
        let control = Arc::new(crate::lab::scenarios::Control::default());
        if let Ok(mut current) = self.scenario_stop.lock()
            && let Some(previous) = current.replace(control.clone())
        {
            previous.end();
        }
        let events = self.events.clone();
        let report = move |step: crate::lab::scenarios::Step| {
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

    /// Runs `work` with the lab on its own thread (lab calls block), then reports its outcome.
    fn with_lab(&self, what: &str, work: impl FnOnce(&Lab) -> Outcome + Send + 'static) {
        let Some(lab) = self.lab.clone() else {
            let why = self.lab_error.clone().unwrap_or_default();
            self.report(Outcome::Failed {
                what: what.to_string(),
                why,
            });
            return;
        };
        let events = self.events.clone();
        std::thread::spawn(move || {
            let _ = events.send(Event::Done(work(&lab)));
        });
    }
}

fn failed(what: &str, err: impl std::fmt::Display) -> Outcome {
    Outcome::Failed {
        what: what.to_string(),
        why: err.to_string(),
    }
}

fn lab_outcome(target: Pid, request: Request, reply: Result<Reply, LabError>) -> Outcome {
    match (request, reply) {
        (Request::Fork, Ok(Reply::Ok(child))) => Outcome::Forked {
            parent: target,
            child,
        },
        (Request::Exit(code), Ok(_)) => Outcome::ExitRequested { pid: target, code },
        (Request::Wait | Request::Reap(_), Ok(Reply::Waited(outcome))) => Outcome::Waited {
            waiter: target,
            outcome,
        },
        (Request::Reap(child), Ok(Reply::NotYet)) => Outcome::NothingToReap {
            waiter: target,
            child: Some(child),
        },
        (_, Ok(reply)) => failed(
            &format!("{request} on {target}"),
            format!("unexpected reply {reply}"),
        ),
        (_, Err(err)) => failed(&format!("{request} on {target}"), err),
    }
}

/// Signals a whole subtree or process group without missing members that fork or get
/// reparented meanwhile. Unless the signal stops or continues by itself, every member is first
/// stopped (repeating until no new one appears: a stopped process cannot fork), then signalled,
/// then continued — only those this froze, so a process that was already stopped stays so.
/// brood and its ancestors are never members: stopping them would stop the one who resumes.
fn signal_set(
    roots: &[Target],
    scope: SignalScope,
    signal: Signal,
) -> Vec<(Target, Result<(), SignalError>)> {
    const MAX_ROUNDS: usize = 50;
    let stops_by_itself =
        crate::signals::info(signal).default == crate::signals::DefaultAction::Stop;
    let freeze = !stops_by_itself && signal != Signal::SIGCONT;
    let mut scanner = Scanner::new(ScanOptions {
        threads: false,
        max_open_files: Some(0),
    });
    let mut members: Vec<Target> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut frozen = std::collections::HashSet::new();
    let mut results = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let Ok(snapshot) = scanner.scan() else { break };
        let new: Vec<(Target, bool)> =
            members_of(&snapshot, roots, scope, std::process::id() as Pid)
                .into_iter()
                .filter(|(t, _)| seen.insert(t.id))
                .collect();
        if new.is_empty() {
            break;
        }
        for (member, already_stopped) in new {
            if freeze && !already_stopped && send_signal(member.id, Signal::SIGSTOP).is_ok() {
                frozen.insert(member.id);
            }
            if stops_by_itself {
                // The stop signal freezes as it goes: send it now, round by round.
                results.push((member.clone(), send_signal(member.id, signal)));
            }
            members.push(member);
        }
        if !freeze && !stops_by_itself {
            break;
        }
    }
    if !stops_by_itself {
        results = members
            .iter()
            .map(|m| (m.clone(), send_signal(m.id, signal)))
            .collect();
    }
    for member in members.iter().filter(|m| frozen.contains(&m.id)) {
        let _ = send_signal(member.id, Signal::SIGCONT);
    }
    results
}

/// The processes a subtree or group signal reaches in `snapshot`, each with whether it is
/// already stopped; never `me` (brood) nor any of its ancestors.
pub fn members_of(
    snapshot: &Snapshot,
    roots: &[Target],
    scope: SignalScope,
    me: Pid,
) -> Vec<(Target, bool)> {
    let by_pid = snapshot.index_by_pid();
    let mut spared = std::collections::HashSet::new();
    let mut current = by_pid.get(me);
    while let Some(i) = current.filter(|&i| spared.insert(snapshot.procs[i].pid())) {
        current = by_pid.get(snapshot.procs[i].ppid);
    }
    let indexes: Vec<usize> = match scope {
        SignalScope::Process => roots
            .iter()
            .filter_map(|r| {
                by_pid
                    .get(r.id.pid)
                    .filter(|&i| snapshot.procs[i].id == r.id)
            })
            .collect(),
        SignalScope::Group => {
            let groups: Vec<Pid> = roots.iter().map(|r| r.group).collect();
            (0..snapshot.procs.len())
                .filter(|&i| groups.contains(&snapshot.procs[i].pgrp))
                .collect()
        }
        SignalScope::Subtree => {
            let mut all = Vec::new();
            for root in roots {
                if let Some(i) = by_pid
                    .get(root.id.pid)
                    .filter(|&i| snapshot.procs[i].id == root.id)
                {
                    all.extend(crate::proc::tree::subtree(snapshot, i));
                }
            }
            all.sort_unstable();
            all.dedup();
            all
        }
    };
    indexes
        .into_iter()
        .map(|i| &snapshot.procs[i])
        .filter(|p| !spared.contains(&p.pid()) && p.kind != crate::proc::TaskKind::KernelThread)
        .map(|p| (Target::of(p), p.state == crate::proc::State::Stopped))
        .collect()
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
