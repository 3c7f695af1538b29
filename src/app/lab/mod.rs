//! The lab's side of `update`: which processes are the lab's (by identity, never by a bare PID
//! or group number) and what the lab keys ask for; `outcomes` tells what came of it (status
//! line and history).

mod outcomes;

use std::collections::HashMap;

use nix::sys::signal::Signal;

use super::keymap::Action;
use super::reach::members_of;
use super::{App, Overlay, Severity, SignalMenu};
use crate::lab::protocol::Request;
use crate::message::{Effect, SignalScope, Target};
use crate::proc::lifecycle::Change;
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
