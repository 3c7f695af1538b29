//! The lab's side of `update`: which processes are the lab's (by identity, never by a bare PID
//! or group number), what the lab keys ask for, and how their outcomes and the changes seen in
//! /proc are told to the user (status line and event log).

use std::collections::HashMap;

use nix::sys::signal::Signal;

use super::keymap::Action;
use super::reach::members_of;
use super::{App, Overlay, Severity, SignalMenu};
use crate::history::{Entry, Kinds, Origin, Pair};
use crate::lab::protocol::{Reply, Request, WaitOutcome};
use crate::message::{Effect, Outcome, SignalScope, Target};
use crate::proc::lifecycle::Change;
use crate::proc::signal::SignalError;
use crate::proc::{Identity, Pid, PidIndex, ProcInfo, Snapshot, State};
use crate::signals::{self, DefaultAction};

/// The processes of brood's lab: those brood started, those a lab process forked on request,
/// and those seen born to a lab process. Each by identity, so a process that reuses the PID (or
/// the process group number) of a lab process that is gone is never taken for it.
#[derive(Debug, Clone, Default)]
pub struct LabMembers {
    /// Each member, and whether a scan has shown it yet (one not shown yet is not forgotten).
    known: HashMap<Identity, bool>,
    /// Members with a request on its way, and which: a worker answers one at a time.
    busy: HashMap<Identity, Request>,
    /// The lab's guard: it leads the lab's process group and takes no requests.
    pub guard: Option<Identity>,
}

impl LabMembers {
    pub fn contains(&self, id: Identity) -> bool {
        self.known.contains_key(&id)
    }

    pub fn add(&mut self, id: Identity) {
        self.known.entry(id).or_insert(false);
    }

    /// Takes in a scan: children born to members join, members seen before and gone now are
    /// forgotten (their PIDs may be anyone's from now on).
    pub(super) fn observe(&mut self, changes: &[Change], now: (&Snapshot, &PidIndex)) {
        let (snapshot, index) = now;
        let identity = |pid: Pid| index.get(pid).map(|i| snapshot.procs[i].id);
        for change in changes {
            if let Change::Spawned { id, parent, .. } = change
                && identity(*parent).is_some_and(|parent| self.contains(parent))
            {
                self.add(*id);
            }
        }
        self.known
            .retain(|id, seen| match identity(id.pid).filter(|now| now == id) {
                Some(_) => {
                    *seen = true;
                    true
                }
                None => !*seen,
            });
        self.busy.retain(|id, _| self.known.contains_key(id));
    }
}

impl App {
    /// Asks lab process `target` for `request`, unless it is still busy with the last one.
    pub(super) fn lab_request(&mut self, target: Identity, request: Request) -> Vec<Effect> {
        if let Some(pending) = self.lab.busy.get(&target) {
            let why = match pending {
                Request::Wait | Request::WaitPid(_) => {
                    "is blocked in waitpid() until a child changes state"
                }
                _ => "has not answered its last request yet",
            };
            self.set_status(
                Severity::Error,
                format!("{target} {why}; a lab process takes one request at a time"),
            );
            return Vec::new();
        }
        self.lab.busy.insert(target, request);
        vec![Effect::Lab { target, request }]
    }

    pub(super) fn perform_lab(&mut self, action: Action) -> Vec<Effect> {
        if let Action::Spawn = action {
            self.set_status(Severity::Info, "starting a lab process…");
            return vec![Effect::Spawn];
        }
        if let Action::AutoReap = action {
            self.auto_reap = !self.auto_reap;
            let text = if self.auto_reap {
                "auto-reap on: brood collects its exited children at once, so they never linger as zombies"
            } else {
                "auto-reap off: brood's exited children stay zombies until you wait (w)"
            };
            self.tell(Severity::Info, text.to_string());
            return self.auto_reap_effects();
        }
        if let Action::Subreaper = action {
            return vec![Effect::SetSubreaper(!self.subreaper)];
        }
        let Some(proc) = self.selected_proc().cloned() else {
            return Vec::new();
        };
        let target = Target::of(&proc);
        let is_lab = self.is_lab(&proc);
        match action {
            Action::Fork | Action::Exit if !is_lab || proc.state.has_exited() => {
                let what = if proc.state.has_exited() {
                    "a zombie cannot run anything"
                } else if self.lab.guard == Some(proc.id) {
                    "the lab's guard only holds the lab's process group (and ends it if brood is killed); it takes no requests"
                } else {
                    "it is not a lab process"
                };
                self.set_status(
                    Severity::Error,
                    format!("{target}: {what}; select a lab process (n starts one)"),
                );
                Vec::new()
            }
            Action::Fork => self.lab_request(proc.id, Request::Fork),
            Action::Exit => {
                self.overlay = Some(Overlay::ExitCode {
                    target,
                    input: String::new(),
                });
                Vec::new()
            }
            Action::Wait => self.wait_on(&proc),
            Action::SignalMenu => {
                let targets = self.signal_targets(target.clone());
                let first = targets.first().cloned().unwrap_or(target);
                let id = first.id;
                let mut menu = SignalMenu::new(first);
                menu.targets = targets;
                self.overlay = Some(Overlay::SignalMenu(menu));
                vec![Effect::ReadDispositions(id)]
            }
            Action::Stop => {
                let targets = self.signal_targets(target);
                self.request_signal(targets, Signal::SIGSTOP, SignalScope::Process)
            }
            Action::Continue => {
                let targets = self.signal_targets(target);
                self.request_signal(targets, Signal::SIGCONT, SignalScope::Process)
            }
            Action::Kill => {
                let targets = self.signal_targets(target);
                self.request_signal(targets, Signal::SIGKILL, SignalScope::Process)
            }
            _ => Vec::new(),
        }
    }

    /// `w`: a zombie is reaped by its parent; a lab process blocks in waitpid(); brood, asked to
    /// wait, collects an exited child of its own without blocking.
    fn wait_on(&mut self, proc: &crate::proc::ProcInfo) -> Vec<Effect> {
        let parent = self.proc_by_pid(proc.ppid).cloned();
        if proc.state.has_exited() {
            if proc.ppid == self.self_pid {
                return vec![Effect::ReapOwn(Some(proc.pid()))];
            }
            if let Some(parent) = parent.as_ref().filter(|p| self.is_lab(p)) {
                return self.lab_request(parent.id, Request::Reap(proc.pid()));
            }
            // Told in the log too: the whole advice, which a narrow status line cuts.
            let advice = self.who_reaps(proc);
            self.tell(Severity::Error, format!("zombie {}: {advice}", proc.pid()));
            return Vec::new();
        }
        if proc.pid() == self.self_pid {
            return vec![Effect::ReapOwn(None)];
        }
        if self.is_lab(proc) {
            self.set_status(
                Severity::Info,
                format!(
                    "{} waits in waitpid() for a child to change state",
                    proc.pid()
                ),
            );
            return self.lab_request(proc.id, Request::Wait);
        }
        self.set_status(
            Severity::Error,
            format!(
                "{}: not a lab process or a zombie; w waits only on those",
                Target::of(proc)
            ),
        );
        Vec::new()
    }

    /// Who can reap `zombie` and what the user can do about it. brood can make itself and its
    /// lab processes wait, nobody else: for any other parent the user can only wait, or end the
    /// parent where allowed, so that the adopter reaps it.
    pub(super) fn who_reaps(&self, zombie: &ProcInfo) -> String {
        let wait_key = self.keymap.main.first(Action::Wait);
        let Some(parent) = self.proc_by_pid(zombie.ppid) else {
            return format!(
                "its parent {} was not in the last scan; look again after the next",
                zombie.ppid
            );
        };
        let named = Target::of(parent);
        if parent.pid() == self.self_pid {
            let auto = self.keymap.main.first(Action::AutoReap);
            return format!("brood is its parent: {wait_key} reaps it ({auto}: every one at once)");
        }
        if self.is_lab(parent) {
            return format!("its parent {named} is a lab process: {wait_key} makes it reap it");
        }
        if parent.pid() == 1 {
            return format!(
                "its parent is PID 1 ({}), which reaps adopted zombies itself: a full init at once, a container's or sandbox's PID 1 when it gets round to it (seconds, or never). Nothing to do but wait",
                parent.name
            );
        }
        let may_signal = self.my_uid == 0 || parent.uid == Some(self.my_uid);
        if may_signal {
            let signal_key = self.keymap.main.first(Action::SignalMenu);
            format!(
                "only its parent {named} can reap it; brood cannot make it wait. Wait, or end the parent ({signal_key} on its row) and its adopter reaps it"
            )
        } else {
            format!(
                "only its parent {named} can reap it; the parent belongs to {} and you may not signal it: nothing to do but wait",
                parent.user
            )
        }
    }

    /// A signal, after a confirmation where it could hurt: a process brood did not start that the
    /// signal would end or stop, PID 1 and brood itself always, and any subtree or group.
    pub(super) fn request_signal(
        &mut self,
        targets: Vec<Target>,
        signal: Signal,
        scope: SignalScope,
    ) -> Vec<Effect> {
        let info = signals::info(signal);
        // A stop aimed at brood alone is Ctrl-Z: the terminal must go back to the shell first,
        // and only a job-control shell can bring brood back.
        let only_brood = matches!(&targets[..], [t] if t.id.pid == self.self_pid);
        if only_brood && scope == SignalScope::Process && info.default == DefaultAction::Stop {
            return self.suspend();
        }
        let risky = |t: &Target| {
            let outside_lab = self.proc_by_pid(t.id.pid).is_none_or(|p| !self.is_lab(p));
            t.id.pid == 1 || t.id.pid == self.self_pid || (outside_lab && info.default.disrupts())
        };
        let effect = Effect::Signal {
            targets: targets.clone(),
            signal,
            scope,
        };
        // Several tagged processes always ask once, listing them all.
        if scope == SignalScope::Process && targets.len() == 1 && !targets.iter().any(risky) {
            return vec![effect];
        }
        // Who it reaches now, by the rule the runtime applies again when it sends.
        let members: Vec<Target> = match scope {
            SignalScope::Process => targets.clone(),
            _ => members_of(
                &self.snapshot,
                &targets,
                scope,
                self.self_pid,
                self.lab.guard,
            )
            .into_iter()
            .map(|(member, _)| member)
            .collect(),
        };
        let mut question = vec![format!(
            "Send {} ({}) to {}",
            info.name(),
            info.number(),
            reach(&targets, scope, &members)
        )];
        const LISTED: usize = 20;
        if members.len() > 1 || scope != SignalScope::Process {
            question.extend(members.iter().take(LISTED).map(|t| format!("  {t}")));
            if members.len() > LISTED {
                question.push(format!("  … and {} more", members.len() - LISTED));
            }
        }
        if scope != SignalScope::Process {
            let all = members_of(&self.snapshot, &targets, scope, 0, None);
            if all.len() > members.len() {
                question.push(
                    "Left out: brood and its ancestors (stopped, nobody would resume them) and the lab's guard."
                        .into(),
                );
            }
        }
        if members.iter().any(|t| t.id.pid == self.self_pid) {
            question.push("This is brood itself.".into());
        }
        if members.iter().any(|t| t.id.pid == 1) {
            question.push("PID 1 is init: ending it ends the machine or the container.".into());
        }
        self.overlay = Some(Overlay::Confirm { effect, question });
        Vec::new()
    }

    /// What a confirmed effect becomes: a signal that ends brood, sent to brood alone, is raised
    /// only after the terminal was given back and the lab ended (sent as is, it would leave the
    /// terminal in raw mode); everything else goes as asked.
    pub(super) fn confirmed(&mut self, effect: Effect) -> Vec<Effect> {
        if let Effect::Signal {
            targets,
            signal,
            scope: SignalScope::Process,
        } = &effect
            && matches!(&targets[..], [t] if t.id.pid == self.self_pid)
            && matches!(
                signals::info(*signal).default,
                DefaultAction::Terminate | DefaultAction::CoreDump
            )
        {
            self.exit = Some(super::Exit::Raise(*signal as i32));
            return Vec::new();
        }
        vec![effect]
    }

    /// With auto-reap on, brood collects each of its own zombie children as soon as it sees one.
    pub(super) fn auto_reap_effects(&self) -> Vec<Effect> {
        if !self.auto_reap {
            return Vec::new();
        }
        self.snapshot
            .procs
            .iter()
            .filter(|p| p.ppid == self.self_pid && p.state == State::Zombie)
            .map(|p| Effect::ReapOwn(Some(p.pid())))
            .collect()
    }

    pub(super) fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Spawned { id, guard } => {
                self.lab.add(id);
                self.lab.guard = guard.or(self.lab.guard);
                self.select_when_seen = Some(id.pid);
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
                    self.exit = Some(super::Exit::Quit {
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
    pub(super) fn forked(&mut self, parent: Pid, child: Identity) {
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
                    .asked(asked.as_str());
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

/// Whom a signal reaches, for the confirmation: `1312 (python3)`, `3 tagged processes:`,
/// `4 processes: 1312 (python3) and its 3 descendants:`, `group 1310 (3 processes):`.
fn reach(targets: &[Target], scope: SignalScope, members: &[Target]) -> String {
    let processes = |n: usize| plural(n, "process", "processes");
    match (scope, targets) {
        (SignalScope::Process, [one]) => format!("{one}?"),
        (SignalScope::Process, many) => format!("{} tagged processes:", many.len()),
        (SignalScope::Subtree, [root]) => {
            let below = members.iter().filter(|m| m.id != root.id).count();
            let descendants = plural(below, "descendant", "descendants");
            if members.iter().any(|m| m.id == root.id) {
                format!(
                    "{}: {root} and its {descendants}:",
                    processes(members.len())
                )
            } else {
                format!("{}: {descendants} of {root}:", processes(members.len()))
            }
        }
        (SignalScope::Subtree, roots) => format!(
            "{}: {} tagged processes and their descendants:",
            processes(members.len()),
            roots.len()
        ),
        (SignalScope::Group, _) => {
            let mut groups: Vec<Pid> = targets.iter().map(|t| t.group).collect();
            groups.sort_unstable();
            groups.dedup();
            match groups.as_slice() {
                [group] => format!("group {group} ({}):", processes(members.len())),
                many => format!("{} groups ({}):", many.len(), processes(members.len())),
            }
        }
    }
}

/// `1 process`, `3 processes`.
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
