//! Taking in what the collector reads: each scan (what changed, who is of the lab, orphaned
//! groups, the log lines), the IPC sweep and the system figures; then the rows to show.

use std::collections::HashSet;

use super::filter::StateFilter;
use super::sort::Column;
use super::{App, LabMembers, Overlay, StateCounts};
use crate::history::{Entry, Kinds, Origin, Pair, tell};
use crate::message::{Effect, SystemStats};
use crate::proc::groups;
use crate::proc::ipc::{Deadlock, IpcState, find_deadlocks};
use crate::proc::lifecycle::{Change, Marks};
use crate::proc::tree::{TreeOptions, build_rows};
use crate::proc::{Identity, PidIndex, ProcInfo, Snapshot, State, TaskKind};

impl App {
    pub(super) fn take_snapshot(&mut self, snapshot: Snapshot) -> Vec<Effect> {
        self.scan_count += 1;
        if self
            .status
            .as_ref()
            .is_some_and(|s| s.expires_after_scan < self.scan_count)
        {
            self.status = None;
        }
        if snapshot.descriptors_short && !self.told_descriptors_short {
            self.told_descriptors_short = true;
            self.warn(
                "file descriptors ran short: brood gave back the /proc files it keeps open and scans more slowly from now on (ulimit -n)"
                    .into(),
            );
        }
        let now_index = snapshot.index_by_pid();
        let changes = self.observe_scan(&snapshot, &now_index);
        self.timeline.observe_snapshot(self.now_ns(), &snapshot);
        // Old before new: what a refresh holds at its peak is brood's peak memory.
        self.marks = Vec::new();
        self.marks = self.lifecycle.marks(&snapshot, &now_index);
        let entries = self.change_entries(
            &changes,
            (&snapshot, &now_index),
            (&self.snapshot, &self.pid_index),
        );
        self.record_all(entries);
        self.log.frozen_after = None;
        let previous = std::mem::replace(&mut self.snapshot, snapshot);
        let indexes = [now_index, std::mem::take(&mut self.pid_index)];
        let [now_index, _] = indexes;
        self.pid_index = now_index;
        // Deadlocks come from a slower sweep: one whose member ended or woke up since is broken.
        self.break_deadlocks(|deadlock, still| !still(deadlock));
        self.counts = count_states(&self.snapshot, &self.marks, &self.lab);
        if !self.tagged.is_empty() {
            let alive: HashSet<Identity> = self.snapshot.procs.iter().map(|p| p.id).collect();
            self.tagged.retain(|id| alive.contains(id));
        }
        self.rebuild_rows(Some(&previous));
        if let Some(Overlay::Quit(_)) = self.overlay {
            // The lab changes while the question is open: the dialog says what is true now.
            let dialog = self.quit_dialog();
            if dialog.processes == 0 {
                self.overlay = None;
                let quit = self.keymap.main.label(super::keymap::Action::Quit);
                self.set_status(
                    super::Severity::Info,
                    format!("the lab has ended meanwhile; {quit} quits"),
                );
            } else {
                self.overlay = Some(Overlay::Quit(dialog));
            }
        }
        self.auto_reap_effects()
    }

    /// Takes in a scan, whether shown now or held while paused: what changed since the last one,
    /// who is of the lab now, and what the kernel did to process groups (into the history).
    pub(super) fn observe_scan(&mut self, snapshot: &Snapshot, index: &PidIndex) -> Vec<Change> {
        let changes = self.lifecycle.observe(snapshot);
        // Before the lab forgets the members that died.
        self.observe_groups(snapshot, index);
        self.lab.observe(&changes, (snapshot, index));
        changes
    }

    /// Says so when a process group with a stopped member was just orphaned: the kernel then sends
    /// the whole group SIGHUP and SIGCONT, which ends every member that does not handle SIGHUP.
    /// Every member that ends by that SIGHUP has its exit line say who sent it.
    pub(super) fn observe_groups(&mut self, snapshot: &Snapshot, index: &PidIndex) {
        let at = self.now_ns();
        for before in std::mem::take(&mut self.stopped_groups) {
            if !groups::was_orphaned(&before, snapshot, index) {
                continue;
            }
            let alive = |id: Identity| {
                index
                    .get(id.pid)
                    .is_some_and(|i| snapshot.procs[i].id == id)
            };
            let ended = before.members.iter().filter(|(id, _)| !alive(*id)).count();
            let ended = match ended {
                0 => String::new(),
                n => format!("; {n} of its {} processes ended", before.members.len()),
            };
            let about_lab = before
                .members
                .iter()
                .any(|(id, _)| self.lab.contains(*id) || self.lab.guard == Some(*id));
            let text = format!(
                "the kernel sent SIGHUP and SIGCONT to group {}: it became orphaned with a stopped member (no process outside the group in its session is left to resume it){ended}",
                before.group
            );
            self.record(Entry::new(at, Kinds::SIGNAL, Origin::Scan, text).lab(about_lab));
            let sender = format!(
                "the kernel's SIGHUP to orphaned group {} (it had a stopped member)",
                before.group
            );
            for (member, _) in &before.members {
                self.history.annotate(*member, Pair::Exit, &sender, at);
            }
        }
        self.stopped_groups = groups::stopped_groups(snapshot, index);
    }

    /// The history's entries for `changes`, seen between the scan `before` and the one `now`.
    pub(super) fn change_entries(
        &self,
        changes: &[Change],
        now: (&Snapshot, &PidIndex),
        before: (&Snapshot, &PidIndex),
    ) -> Vec<Entry> {
        let scans = tell::Scans { now, before };
        let at = self.now_ns();
        let mut entries = Vec::with_capacity(changes.len());
        for change in changes {
            let seen = scans.seen(change.id());
            // Kernel threads come, go and rename themselves all the time: logged only when
            // shown.
            if seen.is_some_and(|p| p.kind == TaskKind::KernelThread) && !self.show_kernel_threads {
                continue;
            }
            let about_lab = [now, before].iter().any(|(snapshot, index)| {
                index
                    .get(change.id().pid)
                    .map(|i| &snapshot.procs[i])
                    .filter(|p| p.id == change.id())
                    .is_some_and(|p| self.is_brood_or_lab(p) || p.ppid == self.self_pid)
            });
            entries.push(tell::change(change, scans, at).lab(about_lab));
        }
        entries
    }

    /// Rebuilds the visible rows and finds the selected process again; if it is gone (dead, or
    /// folded away) the selection moves to its nearest ancestor that is still shown. A lab
    /// process just started is selected as soon as it is there (a scan or its fork event).
    pub(super) fn rebuild_rows(&mut self, previous: Option<&Snapshot>) {
        self.rebuild_rows_keeping_selection(previous);
        if let Some(id) = self.select_when_seen
            && self.proc_by_pid(id.pid).is_some_and(|p| p.id == id)
        {
            // Once it is there, shown or filtered out: the selection never jumps to it later.
            self.select_when_seen = None;
            self.select_identity(id);
        }
    }

    /// The rows again, the selection kept on its process.
    fn rebuild_rows_keeping_selection(&mut self, previous: Option<&Snapshot>) {
        // Old before new: what a refresh holds at its peak is brood's peak memory.
        self.rows = Vec::new();
        let subtree: Option<HashSet<Identity>> = self.root.map(|root| {
            let index = self.snapshot.procs.iter().position(|p| p.pid() == root);
            index
                .map(|i| crate::proc::tree::subtree(&self.snapshot, i))
                .unwrap_or_default()
                .into_iter()
                .map(|i| self.snapshot.procs[i].id)
                .collect()
        });
        let keep = |p: &ProcInfo| {
            (!self.lab_view || self.is_brood_or_lab(p))
                && subtree.as_ref().is_none_or(|s| s.contains(&p.id))
        };
        let orphans: HashSet<Identity> = if self.filter.state == StateFilter::Orphans {
            self.snapshot
                .procs
                .iter()
                .zip(&self.marks)
                .filter(|(_, m)| m.orphan.is_some())
                .map(|(p, _)| p.id)
                .collect()
        } else {
            HashSet::new()
        };
        let matches = |p: &ProcInfo| self.filter.accepts(p, orphans.contains(&p.id), self.my_uid);
        let options = TreeOptions {
            show_kernel_threads: self.show_kernel_threads,
            collapsed: &self.collapsed,
            keep: (self.lab_view || subtree.is_some()).then_some(&keep as _),
            matches: self.filter.is_active().then_some(&matches as _),
            with_descendants: self.filter.descendants,
            flat: self.list_mode,
        };
        let (sort, ipc) = (self.sort, &self.ipc);
        self.rows = build_rows(&self.snapshot, &options, |a, b| sort.compare(a, b, ipc));
        if self.rows.is_empty() {
            self.selected = None;
            self.selected_row = 0;
            return;
        }
        let Some(wanted) = self.selected else {
            let own_row = self
                .rows
                .iter()
                .position(|r| self.snapshot.procs[r.proc_index].pid() == self.self_pid);
            self.select_row(own_row.unwrap_or(0));
            return;
        };
        let row_of = |id: Identity| {
            self.rows
                .iter()
                .position(|r| self.snapshot.procs[r.proc_index].id == id)
        };
        let found = row_of(wanted).or_else(|| {
            ancestors_in(&self.snapshot, wanted)
                .chain(
                    previous
                        .into_iter()
                        .flat_map(|prev| ancestors_in(prev, wanted)),
                )
                .find_map(row_of)
        });
        self.select_row(found.unwrap_or(self.selected_row.min(self.rows.len() - 1)));
    }

    /// Takes the system figures read with a scan.
    pub(super) fn take_system(&mut self, system: SystemStats) {
        self.utc_offset_secs = system.utc_offset_secs;
        self.system = Some(system);
    }

    /// Takes a new IPC sweep. A deadlock is told once when it forms and once when it breaks:
    /// one the sweep no longer finds while every member still sleeps where it did is kept (a
    /// sweep can miss a process whose descriptors it could not read that time).
    pub(super) fn take_ipc(&mut self, state: IpcState) {
        let waits = state.waits_in.iter();
        self.timeline.observe_waits(
            waits.filter_map(|(pid, channel)| Some((*state.ids.get(pid)?, channel.kind?))),
        );
        let found = find_deadlocks(&state.waits());
        self.break_deadlocks(|deadlock, still| {
            !found.iter().any(|f| same_members(f, deadlock)) && !still(deadlock)
        });
        for deadlock in found {
            if self.deadlocks.iter().any(|d| same_members(d, &deadlock)) {
                continue;
            }
            let about_lab = deadlock.members().any(|id| self.lab.contains(id));
            let text = format!("deadlock: {}", cycle_text(&deadlock));
            let at = self.now_ns();
            self.record(Entry::new(at, Kinds::DEADLOCK, Origin::Scan, text).lab(about_lab));
            self.deadlocks.push(deadlock);
        }
        self.ipc = state;
        self.ipc_sweeps += 1;
        if self.sort.column == Column::Wchan {
            self.rebuild_rows(None);
        }
    }

    /// Drops (and logs as broken) each deadlock `broken` says is; it is given a check of whether
    /// every member of a deadlock is still there and still asleep.
    fn break_deadlocks(&mut self, broken: impl Fn(&Deadlock, &dyn Fn(&Deadlock) -> bool) -> bool) {
        let deadlocks = std::mem::take(&mut self.deadlocks);
        let still = |deadlock: &Deadlock| {
            deadlock.members().all(|id| {
                self.live_proc(id)
                    .is_some_and(|p| matches!(p.state, State::Sleeping | State::DiskSleep))
            })
        };
        let (gone, kept): (Vec<Deadlock>, Vec<Deadlock>) =
            deadlocks.into_iter().partition(|d| broken(d, &still));
        self.deadlocks = kept;
        for deadlock in gone {
            let about_lab = deadlock.members().any(|id| self.lab.contains(id));
            let text = format!("deadlock broken: {}", members_text(&deadlock));
            let at = self.now_ns();
            self.record(Entry::new(at, Kinds::DEADLOCK, Origin::Scan, text).lab(about_lab));
        }
    }

    /// `id` as the newest live scan shows it (the screen may show an older one, or the past).
    fn live_proc(&self, id: Identity) -> Option<&ProcInfo> {
        let (live, _) = self.latest_scan();
        let found = if std::ptr::eq(live, &self.snapshot) {
            self.proc_by_pid(id.pid)
        } else {
            live.procs.iter().find(|p| p.pid() == id.pid)
        };
        found.filter(|p| p.id == id)
    }

    /// Whether `id` is on a deadlock cycle.
    pub fn in_deadlock(&self, id: Identity) -> bool {
        self.deadlocks.iter().any(|d| d.members().any(|m| m == id))
    }

    /// Whether `proc` belongs to brood's lab.
    pub fn is_lab(&self, proc: &ProcInfo) -> bool {
        self.lab.contains(proc.id) && proc.pid() != self.self_pid
    }

    /// Whether `proc` is brood, a lab process or the lab's guard: what the lab view shows.
    pub fn is_brood_or_lab(&self, proc: &ProcInfo) -> bool {
        proc.pid() == self.self_pid || self.is_lab(proc) || self.lab.guard == Some(proc.id)
    }
}

/// Whether `outcome` may have changed what /proc shows (so a scan should follow at once).
pub(super) fn changes_the_tree(outcome: &crate::message::Outcome) -> bool {
    use crate::lab::scenarios::Step;
    use crate::message::Outcome;
    !matches!(
        outcome,
        Outcome::Dispositions { .. }
            | Outcome::Recording { .. }
            | Outcome::Scenario {
                step: Step::Figures(_) | Step::Note(_) | Step::Role { .. },
                ..
            }
    )
}

/// The ancestors of `id` as `snapshot` records them, nearest first.
fn ancestors_in(snapshot: &Snapshot, id: Identity) -> impl Iterator<Item = Identity> + '_ {
    let by_pid = snapshot.index_by_pid();
    let mut current = by_pid
        .get(id.pid)
        .map(|i| &snapshot.procs[i])
        .filter(|p| p.id == id);
    let mut steps = 0;
    std::iter::from_fn(move || {
        let proc = current?;
        steps += 1;
        let parent = by_pid
            .get(proc.ppid)
            .map(|i| &snapshot.procs[i])
            .filter(|p| p.pid() != proc.pid());
        current = parent.filter(|_| steps <= snapshot.procs.len());
        current.map(|p| p.id)
    })
}

pub(super) fn count_states(snapshot: &Snapshot, marks: &[Marks], lab: &LabMembers) -> StateCounts {
    let mut counts = StateCounts::default();
    for (proc, mark) in snapshot.procs.iter().zip(marks) {
        match proc.kind {
            TaskKind::Thread => {
                counts.threads += 1;
                continue;
            }
            TaskKind::KernelThread => {
                counts.kernel_threads += 1;
                continue;
            }
            TaskKind::Process => {}
        }
        counts.total += 1;
        match proc.state {
            State::Running => counts.running += 1,
            State::Sleeping => counts.sleeping += 1,
            State::DiskSleep => counts.disk += 1,
            State::Stopped => counts.stopped += 1,
            State::Traced => counts.traced += 1,
            State::Zombie => counts.zombie += 1,
            State::Idle => counts.idle += 1,
            State::Dead | State::Other(_) => {}
        }
        if mark.orphan.is_some() {
            counts.orphan += 1;
        }
        if lab.contains(proc.id) {
            counts.lab += 1;
        }
    }
    counts
}

/// Whether two deadlocks are the same set of processes (whatever the sweep spelled first).
fn same_members(a: &Deadlock, b: &Deadlock) -> bool {
    let sorted = |d: &Deadlock| {
        let mut members: Vec<Identity> = d.members().collect();
        members.sort_unstable();
        members
    };
    sorted(a) == sorted(b)
}

fn cycle_text(deadlock: &Deadlock) -> String {
    let steps: Vec<String> = deadlock
        .cycle
        .iter()
        .map(|(id, reason, on)| reason.step(&id.to_string(), &on.to_string()))
        .collect();
    steps.join("; ")
}

fn members_text(deadlock: &Deadlock) -> String {
    let members: Vec<String> = deadlock.members().map(|id| id.to_string()).collect();
    members.join(", ")
}
