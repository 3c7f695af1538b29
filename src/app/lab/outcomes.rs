//! What came of the lab's requests and of signals brood sent, told on the status line and kept
//! in the history, each paired with what was then seen happen.

use nix::sys::signal::Signal;

use super::super::{App, Severity};
use crate::history::{Entry, Fact, Kinds, Origin, Pair};
use crate::lab::protocol::{Reply, Request, WaitOutcome};
use crate::message::{Outcome, RecordingNews, SignalScope, Target};
use crate::proc::events::ExitStatus;
use crate::proc::signal::SignalError;
use crate::proc::{Identity, Pid};
use crate::signals::{self, DefaultAction};

impl App {
    pub(crate) fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Spawned { id, guard } => {
                self.lab.add(id);
                self.lab.guard = guard.or(self.lab.guard);
                self.select_when_seen = Some(id);
                let text = format!(
                    "brood started lab process {} (f forks it, x makes it exit)",
                    id.pid
                );
                let entry = self
                    .lab_entry(Kinds::FORK, Origin::Brood, text.clone())
                    .about(id, Some(Pair::Fork));
                self.tell_entry(Severity::Info, text, entry);
            }
            Outcome::LabReply {
                target,
                request,
                reply,
            } => self.on_lab_reply(target, request, reply),
            Outcome::Waited { waiter, outcome } => self.waited(waiter, outcome),
            Outcome::NothingToReap { waiter, child } => {
                let who = if waiter == self.self_pid {
                    "brood".to_string()
                } else {
                    waiter.to_string()
                };
                let text = match child {
                    Some(child) => format!("{child} has not exited yet: {who} has nothing to reap"),
                    None => format!("{who} has no exited child to reap"),
                };
                self.set_status(Severity::Info, text);
            }
            Outcome::Signalled {
                signal,
                scope,
                results,
            } => {
                self.report_signals(signal, scope, &results);
                if signal == Signal::SIGCONT && std::mem::take(&mut self.leave_when_continued) {
                    self.exit = Some(super::super::Exit::Quit {
                        leave_running: true,
                    });
                }
            }
            Outcome::Dispositions {
                target,
                dispositions,
            } => self.set_dispositions(target, dispositions),
            Outcome::Subreaper(on) => {
                self.subreaper = on;
                let text = if on {
                    "brood is now the child subreaper: orphans of its lab are adopted by brood, not by PID 1"
                } else {
                    "brood is no longer a subreaper: orphans go to the nearest subreaper or PID 1"
                };
                self.tell(Severity::Info, text.to_string());
            }
            Outcome::Scenario { run, step } => self.on_scenario_step(run, step),
            Outcome::Recording { path, news } => self.recording_news(path, news),
            Outcome::Failed { what, why } => {
                self.tell(Severity::Error, format!("could not {what}: {why}"))
            }
        }
    }

    /// What a lab process answered, told as what happened to it.
    fn on_lab_reply(&mut self, target: Identity, request: Request, reply: Result<Reply, String>) {
        self.lab.busy.remove(&target);
        let pid = target.pid;
        match (request, reply) {
            (Request::Fork, Ok(Reply::Forked(child))) => self.forked(pid, child),
            (Request::Exit(code), Ok(_)) => {
                let parent = self.proc_by_pid(pid).map(|p| p.ppid);
                let text = match parent {
                    Some(parent) => format!(
                        "{pid} exits with code {code}; it is a zombie until its parent {parent} waits for it"
                    ),
                    None => format!("{pid} exits with code {code}"),
                };
                let entry = self
                    .lab_entry(
                        Kinds::EXIT,
                        Origin::Asked,
                        format!("brood asked {pid} to exit with code {code}"),
                    )
                    .about(target, Some(Pair::Exit))
                    .asked("brood asked it to");
                self.tell_entry(Severity::Info, text, entry);
            }
            (
                Request::Wait | Request::WaitPid(_) | Request::Reap(_),
                Ok(Reply::Waited(outcome)),
            ) => self.waited(pid, outcome),
            (Request::Reap(child), Ok(Reply::NotYet)) => self.set_status(
                Severity::Info,
                format!("{child} has not exited yet: {pid} has nothing to reap"),
            ),
            (_, Ok(reply)) => self.tell(
                Severity::Error,
                format!("could not {request} on {pid}: unexpected reply {reply}"),
            ),
            (_, Err(why)) => self.tell(
                Severity::Error,
                format!("could not {request} on {pid}: {why}"),
            ),
        }
    }

    /// `parent` forked `child`, a lab process from now on.
    pub(crate) fn forked(&mut self, parent: Pid, child: Identity) {
        self.lab.add(child);
        let text = format!("{parent} called fork(): child {}", child.pid);
        let parent = self.proc_by_pid(parent).map(|p| p.id);
        let entry = self
            .lab_entry(Kinds::FORK, Origin::Brood, text.clone())
            .about(child, Some(Pair::Fork))
            .parent(parent);
        self.tell_entry(Severity::Info, text, entry);
    }

    /// A `waitpid()` in `waiter` (brood or a lab process) returned `outcome`: a child reaped, or
    /// seen stop or continue.
    fn waited(&mut self, waiter: Pid, outcome: WaitOutcome) {
        let text = describe_wait(waiter, outcome, self.self_pid);
        let (child, kinds, pair) = match outcome {
            WaitOutcome::Exited { pid, .. } => (pid, Kinds::EXIT, Pair::Reap),
            WaitOutcome::Killed { pid, .. } => (pid, Kinds::EXIT | Kinds::SIGNAL, Pair::Reap),
            WaitOutcome::Stopped { pid, .. } => (pid, Kinds::STATE, Pair::Stop),
            WaitOutcome::Continued { pid } => (pid, Kinds::STATE, Pair::Continue),
        };
        let mut entry = self.lab_entry(kinds, Origin::Brood, text.clone());
        let ended = match outcome {
            WaitOutcome::Exited { code, .. } => Some(ExitStatus::Code(code)),
            WaitOutcome::Killed {
                signal,
                core_dumped,
                ..
            } => Some(ExitStatus::Signal {
                number: signal,
                core_dumped,
            }),
            WaitOutcome::Stopped { .. } | WaitOutcome::Continued { .. } => None,
        };
        entry.fact = ended.map(Fact::Ended);
        if let Some(child) = self.proc_by_pid(child).filter(|p| p.ppid == waiter) {
            entry = entry.about(child.id, Some(pair)).uid(child.uid);
        }
        entry.parent = self.proc_by_pid(waiter).map(|p| p.id);
        self.tell_entry(Severity::Info, text, entry);
    }

    /// An entry about brood's lab, stamped now.
    fn lab_entry(&self, kinds: Kinds, origin: Origin, text: String) -> Entry {
        Entry::new(self.now_ns(), kinds, origin, text).lab(true)
    }

    /// Puts `status` on the status line and `entry` in the history.
    fn tell_entry(&mut self, severity: Severity, status: String, entry: Entry) {
        self.record(entry);
        self.set_status(severity, status);
    }

    fn report_signals(
        &mut self,
        signal: Signal,
        scope: SignalScope,
        results: &[(Target, Result<(), SignalError>)],
    ) {
        let name = signal.as_str();
        // What the signal is seen to do, to pair what brood sent with what then happened.
        let pair = match signals::info(signal).default {
            DefaultAction::Terminate | DefaultAction::CoreDump => Some(Pair::Exit),
            DefaultAction::Stop => Some(Pair::Stop),
            DefaultAction::Continue => Some(Pair::Continue),
            DefaultAction::Ignore => None,
        };
        let asked = format!("brood sent {name}");
        let about_lab = results.iter().any(|(t, _)| {
            self.lab.contains(t.id) || t.id.pid == self.self_pid || self.lab.guard == Some(t.id)
        });
        let entry = |app: &App, kinds: Kinds, origin: Origin, text: &str| {
            Entry::new(app.now_ns(), kinds, origin, text).lab(about_lab)
        };
        if let [(target, result)] = results
            && scope == SignalScope::Process
        {
            let zombie = self
                .proc_by_pid(target.id.pid)
                .filter(|p| p.id == target.id && p.state.has_exited());
            let uid = self
                .proc_by_pid(target.id.pid)
                .filter(|p| p.id == target.id)
                .and_then(|p| p.uid);
            let (severity, text, logged) = match (result, zombie) {
                (Ok(()), Some(zombie)) => {
                    let text = format!(
                        "sent {name} to {target}, which changes nothing: a zombie is already dead; {}",
                        self.who_reaps(zombie)
                    );
                    let logged =
                        entry(self, Kinds::SIGNAL, Origin::Brood, &text).about(target.id, None);
                    (Severity::Info, text, logged)
                }
                (Ok(()), None) => {
                    let text = format!("sent {name} to {target}");
                    let logged = entry(
                        self,
                        Kinds::SIGNAL,
                        Origin::Asked,
                        &format!("brood sent {name} to {target}"),
                    )
                    .about(target.id, pair)
                    .asked(asked.as_str())
                    .fact(Fact::Signal(signal as i32));
                    (Severity::Info, text, logged)
                }
                (Err(SignalError::PermissionDenied), _) => {
                    let owner = self
                        .proc_by_pid(target.id.pid)
                        .map(|p| p.user.to_string())
                        .unwrap_or_default();
                    let text =
                        format!("{name} to {target}: permission denied — it belongs to {owner}");
                    let logged = entry(self, Kinds::SIGNAL | Kinds::BROOD, Origin::Brood, &text)
                        .about(target.id, None);
                    (Severity::Error, text, logged)
                }
                (Err(err), _) => {
                    let text = format!("{name} to {target} not sent: {err}");
                    let logged = entry(self, Kinds::SIGNAL | Kinds::BROOD, Origin::Brood, &text)
                        .about(target.id, None);
                    (Severity::Error, text, logged)
                }
            };
            self.tell_entry(severity, text, logged.uid(uid));
            return;
        }
        let sent = results.iter().filter(|(_, r)| r.is_ok()).count();
        let mut text = format!(
            "sent {name} to {sent} of {} processes ({})",
            results.len(),
            scope.describe()
        );
        if let Some((target, Err(err))) = results.iter().find(|(_, r)| r.is_err()) {
            text.push_str(&format!("; {target}: {err}"));
        }
        let severity = if sent == results.len() && sent > 0 {
            Severity::Info
        } else {
            Severity::Error
        };
        let logged = entry(self, Kinds::SIGNAL, Origin::Brood, &text);
        self.tell_entry(severity, text, logged);
        // Each process's own line (its exit, its stop) says who sent the signal.
        if let Some(pair) = pair {
            let at = self.now_ns();
            for (target, _) in results.iter().filter(|(_, r)| r.is_ok()) {
                self.history.annotate(target.id, pair, &asked, at);
            }
        }
    }

    /// A recording started, ended or failed: said on the status line and in the log.
    fn recording_news(&mut self, path: String, news: RecordingNews) {
        let key = self.keymap.main.first(crate::app::keymap::Action::Record);
        let (severity, text) = match news {
            RecordingNews::Started => {
                self.recording = Some((path.clone(), self.now_ns()));
                (
                    Severity::Info,
                    format!(
                        "recording the session to {path} ({key} stops; brood replay {path} plays it back)"
                    ),
                )
            }
            RecordingNews::Ended {
                scans,
                entries,
                bytes,
            } => {
                self.recording = None;
                (
                    Severity::Info,
                    format!(
                        "recorded {scans} scans and {entries} entries to {path} ({bytes} bytes); brood replay {path} plays it back"
                    ),
                )
            }
            RecordingNews::Failed(why) => {
                self.recording = None;
                (Severity::Error, format!("cannot record to {path}: {why}"))
            }
        };
        self.tell(severity, text);
    }
}

fn describe_wait(waiter: Pid, outcome: WaitOutcome, self_pid: Pid) -> String {
    let who = if waiter == self_pid {
        format!("brood ({waiter})")
    } else {
        waiter.to_string()
    };
    match outcome {
        WaitOutcome::Exited { pid, code } => format!("{who} reaped {pid}: exited with code {code}"),
        WaitOutcome::Killed {
            pid,
            signal,
            core_dumped,
        } => {
            let name = Signal::try_from(signal).map_or("?", |s| s.as_str());
            let core = if core_dumped { ", core dumped" } else { "" };
            format!(
                "{who} reaped {pid}: killed by {name} ({signal}){core}; a shell would report {}",
                128 + signal
            )
        }
        WaitOutcome::Stopped { pid, signal } => {
            let name = Signal::try_from(signal).map_or("?", |s| s.as_str());
            format!("{who} saw {pid} stop ({name})")
        }
        WaitOutcome::Continued { pid } => format!("{who} saw {pid} continue"),
    }
}
