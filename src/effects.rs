//! Every side effect brood has on the world: signals (through a pidfd, after an identity check),
//! lab requests, reaping, the subreaper flag. Blocking work runs on short-lived threads and its
//! result comes back to the main loop as an [`Event::Done`]; errors are outcomes, never panics.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::app::{Effect, SignalScope, Target};
use crate::collector::Command;
use crate::event::Event;
use crate::lab::protocol::{Reply, Request, WaitOutcome};
use crate::lab::{Lab, LabError, REPLY_TIMEOUT};
use crate::proc::scan::{ScanOptions, Scanner, read_identity};
use crate::proc::{Identity, Pid, Snapshot};
use crate::signals::Dispositions;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("it has already exited")]
    Gone,
    #[error("its PID now belongs to another process, so nothing was sent")]
    Reused,
    #[error("permission denied")]
    PermissionDenied,
    #[error("{0}")]
    Os(&'static str),
}

/// The result of an effect, reported back to `App::update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Spawned {
        pid: Pid,
        group: Option<Pid>,
    },
    Forked {
        parent: Pid,
        child: Pid,
    },
    ExitRequested {
        pid: Pid,
        code: u8,
    },
    /// `waiter` collected (or saw stop/continue of) a child; `waiter` is brood for its own.
    Waited {
        waiter: Pid,
        outcome: WaitOutcome,
    },
    NothingToReap {
        waiter: Pid,
        child: Option<Pid>,
    },
    Signalled {
        signal: Signal,
        scope: SignalScope,
        results: Vec<(Target, Result<(), SignalError>)>,
    },
    Dispositions {
        target: Identity,
        dispositions: Option<Dispositions>,
    },
    Subreaper(bool),
    /// What a running scenario reported; `run` is the number its start was given.
    Scenario {
        run: u64,
        step: crate::lab::scenarios::Step,
    },
    Failed {
        what: String,
        why: String,
    },
}

/// Sends `signal` to `target` only if the process holding its PID is still that process.
///
/// The pidfd is opened first and the identity checked after: if the check passes, the pidfd
/// refers to the checked process, so a PID reused at any moment is never signalled.
pub fn send_signal(target: Identity, signal: Signal) -> Result<(), SignalError> {
    send_signal_checked(target, signal, read_identity)
}

/// [`send_signal`] with the identity lookup as a parameter, so tests can fake a PID reuse.
pub fn send_signal_checked(
    target: Identity,
    signal: Signal,
    current: impl Fn(Pid) -> Option<Identity>,
) -> Result<(), SignalError> {
    let pidfd = pidfd_open(target.pid)?;
    match current(target.pid) {
        None => return Err(SignalError::Gone),
        Some(now) if now != target => return Err(SignalError::Reused),
        Some(_) => {}
    }
    // SAFETY: a plain syscall on a pidfd we own; a null siginfo means "as kill() would".
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if sent == 0 {
        Ok(())
    } else {
        Err(signal_error(Errno::last()))
    }
}

fn pidfd_open(pid: Pid) -> Result<OwnedFd, SignalError> {
    // SAFETY: pidfd_open takes a PID and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(signal_error(Errno::last()));
    }
    // SAFETY: the kernel just returned this fd to us, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn signal_error(errno: Errno) -> SignalError {
    match errno {
        Errno::ESRCH => SignalError::Gone,
        Errno::EPERM => SignalError::PermissionDenied,
        other => SignalError::Os(other.desc()),
    }
}

/// Runs effects for the main loop.
pub struct Effects {
    lab: Option<Arc<Lab>>,
    lab_error: Option<String>,
    events: Sender<Event>,
    collector: Sender<Command>,
    /// Tells the running scenario's driver to stop when another starts or brood ends.
    scenario_stop: Mutex<Option<Arc<crate::lab::scenarios::Control>>>,
}

impl Effects {
    pub fn new(
        lab: Result<Lab, LabError>,
        events: Sender<Event>,
        collector: Sender<Command>,
    ) -> Effects {
        let (lab, lab_error) = match lab {
            Ok(lab) => (Some(Arc::new(lab)), None),
            Err(err) => (None, Some(err.to_string())),
        };
        Effects {
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
            Effect::ScanThreads(on) => {
                let _ = self.collector.send(Command::ScanThreads(on));
            }
            Effect::IpcLinks(on) => {
                let _ = self.collector.send(Command::IpcLinks(on));
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
                let (events, collector) = (self.events.clone(), self.collector.clone());
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
                    let _ = collector.send(Command::ScanNow);
                });
            }
            Effect::Inspect(id) => {
                let _ = self.collector.send(Command::Inspect(id));
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
                // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag.
                let result = unsafe {
                    libc::prctl(
                        libc::PR_SET_CHILD_SUBREAPER,
                        libc::c_ulong::from(on),
                        0,
                        0,
                        0,
                    )
                };
                self.report(if result == 0 {
                    Outcome::Subreaper(on)
                } else {
                    Outcome::Failed {
                        what: "change the subreaper flag".into(),
                        why: Errno::last().desc().into(),
                    }
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
        let (events, collector) = (self.events.clone(), self.collector.clone());
        let report = move |step: crate::lab::scenarios::Step| {
            let changes_the_tree = !matches!(
                step,
                crate::lab::scenarios::Step::Figures(_) | crate::lab::scenarios::Step::Note(_)
            );
            let _ = events.send(Event::Done(Outcome::Scenario { run, step }));
            if changes_the_tree {
                let _ = collector.send(Command::ScanNow);
            }
        };
        crate::lab::scenarios::start(lab, id, Arc::new(report), control);
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
        let _ = self.collector.send(Command::ScanNow);
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
        let (events, collector) = (self.events.clone(), self.collector.clone());
        std::thread::spawn(move || {
            let _ = events.send(Event::Done(work(&lab)));
            let _ = collector.send(Command::ScanNow);
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
