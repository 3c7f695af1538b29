//! App state and `update(Event) → Effects`: every decision, no I/O.
//! The main loop runs the returned effects; `ui::draw` only reads this state.

mod dialogs;
mod explore;
#[cfg(test)]
mod explore_tests;
pub mod filter;
pub mod help;
pub mod keymap;
mod lab;
pub mod layout;
mod mouse;
mod scenario;
mod search;
pub mod settings;
pub mod sort;

use std::collections::{HashSet, VecDeque};
use std::time::SystemTime;

use crossterm::event::KeyEvent;

use crate::message::{CollectorCommand, Effect, Event, SystemStats, Target};
use crate::proc::details::Details;
use crate::proc::groups::{self, StoppedGroup};
use crate::proc::ipc::{Deadlock, IpcState, find_deadlocks};
use crate::proc::lifecycle::{Change, Lifecycle, Marks};
use crate::proc::tree::{Row, TreeOptions, build_rows};
use crate::proc::{Identity, Pid, PidIndex, ProcInfo, Snapshot, State, TaskKind};
use crate::signals::Dispositions;
pub use dialogs::SignalMenu;
pub use explore::{PickKind, Picker};
use filter::{Filter, StateFilter};
use keymap::{Action, Keymap};
pub use lab::LabMembers;
pub use scenario::{ScenarioMenu, ScenarioView, Scenarios};
pub use search::{Prompt, PromptKind};
pub use settings::{Settings, ThemeName};
use sort::{Column, Sort};

/// A popup drawn over the tree; while one is open it gets the keys first.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    ExitCode {
        target: Target,
        input: String,
    },
    SignalMenu(SignalMenu),
    Confirm {
        effect: Effect,
        question: Vec<String>,
    },
    Quit(QuitDialog),
    ScenarioMenu(ScenarioMenu),
    /// A list to choose one item from (a user to filter by, a column to sort by).
    Pick(Picker),
}

/// Asked at quit while lab processes live: how many, and which are stopped (left running, a
/// stopped one brings the kernel's orphaned-group SIGHUP down on the whole lab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuitDialog {
    /// Lab processes alive, zombies included.
    pub processes: usize,
    pub zombies: usize,
    pub stopped: Vec<Target>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Error,
}

/// A line for the status bar that expires after a few scans, so no error stays on screen stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMessage {
    pub text: String,
    pub severity: Severity,
    expires_after_scan: u64,
}

/// How many scans a status message stays up.
const STATUS_SCANS: u64 = 5;
/// Entries the event log keeps.
const LOG_CAPACITY: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub at: SystemTime,
    pub text: String,
    /// About brood or its lab (the lab view shows only these); false for changes seen in /proc
    /// of other processes.
    pub about_lab: bool,
}

/// Counts of processes per state for the header; threads and kernel threads are counted apart, as in htop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub total: usize,
    pub running: usize,
    pub sleeping: usize,
    pub disk: usize,
    pub stopped: usize,
    pub traced: usize,
    pub zombie: usize,
    pub idle: usize,
    pub orphan: usize,
    pub kernel_threads: usize,
    pub threads: usize,
    pub lab: usize,
}

/// Why the main loop ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit { leave_running: bool },
    Signal(i32),
}

pub struct App {
    pub keymap: Keymap,
    pub snapshot: Snapshot,
    /// Orphan and zombie marks, aligned with `snapshot.procs`.
    pub marks: Vec<Marks>,
    pub system: Option<SystemStats>,
    pub counts: StateCounts,
    /// The visible tree, in display order.
    pub rows: Vec<Row>,
    pub lifecycle: Lifecycle,
    pub collapsed: HashSet<Identity>,
    /// The selected process: a process identity, not a row number, so it survives refreshes.
    pub selected: Option<Identity>,
    pub selected_row: usize,
    /// First row on screen.
    pub scroll: usize,
    /// Terminal size, for paging and scrolling.
    pub screen: (u16, u16),
    pub show_kernel_threads: bool,
    pub show_threads: bool,
    pub show_log: bool,
    pub show_ipc: bool,
    pub lab_view: bool,
    pub color: bool,
    pub theme: ThemeName,
    pub overlay: Option<Overlay>,
    pub status: Option<StatusMessage>,
    pub log: VecDeque<LogEntry>,
    pub scan_count: u64,
    /// brood's own PID, marked in the tree.
    pub self_pid: Pid,
    /// PID → index into `snapshot.procs`, rebuilt with each snapshot (look-ups by PID are many).
    pub pid_index: PidIndex,
    /// The latest IPC sweep: wait channels, locks, descriptors.
    pub ipc: IpcState,
    /// Deadlocks found in it.
    pub deadlocks: Vec<Deadlock>,
    /// The processes of brood's lab, by identity.
    pub lab: LabMembers,
    /// Process groups with a stopped member in the last scan, to tell when one is orphaned.
    stopped_groups: Vec<StoppedGroup>,
    pub auto_reap: bool,
    pub subreaper: bool,
    /// The running scenario and whether its explanation panel is shown.
    pub scenarios: Scenarios,
    /// Time source for log entries (fixed in tests).
    pub clock: fn() -> SystemTime,
    pub exit: Option<Exit>,
    /// Columns of the process table, in order; the command is always last.
    pub columns: Vec<Column>,
    pub sort: Sort,
    /// A flat list sorted as a whole instead of the tree.
    pub list_mode: bool,
    pub filter: Filter,
    /// The search or filter box at the bottom, while open.
    pub prompt: Option<Prompt>,
    /// The last search, for F3 with the box closed.
    pub last_search: String,
    /// Tagged processes: signals go to all of them.
    pub tagged: HashSet<Identity>,
    pub show_details: bool,
    /// The latest details the collector read; shown only while they are the selected process's.
    pub details: Option<Box<Details>>,
    pub details_scroll: u16,
    /// Which process the collector was last asked to inspect.
    inspecting: Option<Identity>,
    /// Keep the selected process in the middle of the view.
    pub follow: bool,
    /// Refresh paused: snapshots are kept aside, not shown.
    pub paused: bool,
    pending: Option<(Box<Snapshot>, SystemStats)>,
    /// What changed in the scans that came while paused, for the log when it resumes.
    held_log: Vec<LogEntry>,
    /// A lab process just started: selected once a scan shows it, so `f` forks it at once.
    select_when_seen: Option<Pid>,
    /// Show only this process and its descendants (`--pid`).
    pub root: Option<Pid>,
    /// brood's effective user, for "only my processes".
    pub my_uid: u32,
    /// Whether Ctrl-Z may suspend brood: only a job-control shell could resume it.
    job_control: bool,
    /// Local time minus UTC, for the clocks drawn (from the latest system figures).
    pub utc_offset_secs: i32,
    /// What to do once the app runs: problems to show, a subreaper to become, a scenario.
    start: Option<Settings>,
    /// Quit, leaving the lab running, once the stopped lab processes have been continued.
    leave_when_continued: bool,
}

impl App {
    pub fn new(settings: Settings) -> App {
        let mut filter = Filter {
            user: settings.user.clone(),
            ..Filter::default()
        };
        filter.text = settings.filter.clone().unwrap_or_default();
        App {
            keymap: settings.keymap.clone(),
            snapshot: Snapshot::default(),
            marks: Vec::new(),
            system: None,
            counts: StateCounts::default(),
            rows: Vec::new(),
            lifecycle: Lifecycle::default(),
            collapsed: HashSet::new(),
            selected: None,
            selected_row: 0,
            scroll: 0,
            screen: (80, 24),
            show_kernel_threads: false,
            show_threads: false,
            show_log: false,
            show_ipc: false,
            lab_view: false,
            color: settings.color,
            theme: settings.theme,
            overlay: None,
            status: None,
            log: VecDeque::new(),
            scan_count: 0,
            self_pid: settings.self_pid,
            pid_index: PidIndex::default(),
            ipc: IpcState::default(),
            deadlocks: Vec::new(),
            lab: LabMembers::default(),
            stopped_groups: Vec::new(),
            auto_reap: settings.auto_reap,
            subreaper: false,
            scenarios: Scenarios::default(),
            clock: SystemTime::now,
            exit: None,
            columns: settings.columns.clone(),
            sort: Sort::default(),
            list_mode: false,
            filter,
            prompt: None,
            last_search: String::new(),
            tagged: HashSet::new(),
            show_details: false,
            details: None,
            details_scroll: 0,
            inspecting: None,
            follow: false,
            paused: false,
            pending: None,
            held_log: Vec::new(),
            select_when_seen: None,
            root: settings.root,
            my_uid: settings.my_uid,
            job_control: settings.job_control,
            utc_offset_secs: settings.utc_offset_secs,
            start: Some(settings),
            leave_when_continued: false,
        }
    }

    /// What the app asks for once it runs: the configuration's problems are shown, the
    /// subreaper flag set and the scenario of `--scenario` started.
    pub fn start(&mut self) -> Vec<Effect> {
        let Some(settings) = self.start.take() else {
            return Vec::new();
        };
        for warning in settings.warnings {
            self.warn(warning);
        }
        let mut effects = Vec::new();
        if settings.subreaper {
            effects.push(Effect::SetSubreaper(true));
        }
        if let Some(id) = settings.scenario {
            effects.extend(self.start_scenario(id));
        }
        effects
    }

    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = self.handle(event);
        // The details pane shows the selected process: the collector reads whichever that is.
        let wanted = self.selected.filter(|_| self.show_details);
        if wanted != self.inspecting && self.exit.is_none() {
            self.inspecting = wanted;
            self.details_scroll = 0;
            effects.push(Effect::Collector(CollectorCommand::Inspect(wanted)));
        }
        effects
    }

    fn handle(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => return self.on_key(key),
            Event::Mouse(mouse) => return self.on_mouse(mouse),
            Event::Resize { width, height } => {
                self.screen = (width, height);
                self.keep_selection_visible();
            }
            Event::Snapshot(snapshot, system) if self.paused => {
                // The screen stays as it is, but nothing that happens meanwhile is lost: every
                // scan is still compared with the one before, and the log gets it on resume.
                let now_index = snapshot.index_by_pid();
                let (changes, groups) = self.observe_scan(&snapshot, &now_index);
                if !changes.is_empty() || !groups.is_empty() {
                    let before = self.pending.as_ref().map_or(&self.snapshot, |(s, _)| s);
                    let indexes = [now_index, before.index_by_pid()];
                    let mut lines = self.describe_changes(
                        &changes,
                        (&snapshot, &indexes[0]),
                        (before, &indexes[1]),
                    );
                    lines.extend(groups);
                    let at = (self.clock)();
                    self.held_log
                        .extend(lines.into_iter().map(|(text, about_lab)| LogEntry {
                            at,
                            text,
                            about_lab,
                        }));
                    let over = self.held_log.len().saturating_sub(LOG_CAPACITY);
                    self.held_log.drain(..over);
                }
                self.pending = Some((snapshot, system));
            }
            Event::Snapshot(snapshot, system) => {
                self.take_system(system);
                return self.take_snapshot(*snapshot);
            }
            Event::Details(details) => {
                // Paused, the pane stays as it is, unless it still waits for a new selection's.
                let frozen =
                    self.paused && self.details.as_ref().is_some_and(|d| d.id == details.id);
                if self.show_details && Some(details.id) == self.selected && !frozen {
                    self.details = Some(details);
                }
            }
            Event::ScanFailed(reason) => self.set_status(Severity::Error, reason),
            Event::Terminate(signal) => self.exit = Some(Exit::Signal(signal)),
            Event::Done(outcome) => {
                // What a lab process or a signal did shows in /proc at once: scan now rather
                // than at the next tick, unless the outcome changes nothing there.
                let rescan = changes_the_tree(&outcome);
                self.on_outcome(outcome);
                if rescan {
                    return vec![Effect::Collector(CollectorCommand::ScanNow)];
                }
            }
            Event::Ipc(state) => self.take_ipc(*state),
        }
        Vec::new()
    }

    fn take_snapshot(&mut self, snapshot: Snapshot) -> Vec<Effect> {
        self.scan_count += 1;
        if self
            .status
            .as_ref()
            .is_some_and(|s| s.expires_after_scan < self.scan_count)
        {
            self.status = None;
        }
        let now_index = snapshot.index_by_pid();
        let (changes, groups) = self.observe_scan(&snapshot, &now_index);
        // Old before new: what a refresh holds at its peak is brood's peak memory.
        self.marks = Vec::new();
        self.marks = self.lifecycle.marks(&snapshot, &now_index);
        let previous = std::mem::replace(&mut self.snapshot, snapshot);
        let indexes = [now_index, std::mem::take(&mut self.pid_index)];
        for entry in std::mem::take(&mut self.held_log) {
            self.push_entry(entry);
        }
        let lines = self.describe_changes(
            &changes,
            (&self.snapshot, &indexes[0]),
            (&previous, &indexes[1]),
        );
        for (text, about_lab) in lines.into_iter().chain(groups) {
            self.push_log(text, about_lab);
        }
        // Deadlocks come from a slower sweep: drop those whose members are gone since, so no
        // badge stays on a process that ended (or lands on one that reused the PID).
        let [now_index, _] = indexes;
        self.deadlocks
            .retain(|d| d.members().all(|pid| now_index.contains(pid)));
        self.pid_index = now_index;
        self.counts = count_states(&self.snapshot, &self.marks, &self.lab);
        if !self.tagged.is_empty() {
            let alive: HashSet<Identity> = self.snapshot.procs.iter().map(|p| p.id).collect();
            self.tagged.retain(|id| alive.contains(id));
        }
        self.rebuild_rows(Some(&previous));
        if let Some(pid) = self.select_when_seen
            && self.pid_index.contains(pid)
        {
            // Once it is there, shown or filtered out: the selection never jumps to it later.
            self.select_when_seen = None;
            let row = self
                .rows
                .iter()
                .position(|r| self.snapshot.procs[r.proc_index].pid() == pid);
            if let Some(row) = row {
                self.select_row(row);
            }
        }
        self.auto_reap_effects()
    }

    /// Takes in a scan, whether shown now or held while paused: what changed since the last one,
    /// who is of the lab now, and what the kernel did to process groups (log lines, each with
    /// whether it is about the lab).
    fn observe_scan(
        &mut self,
        snapshot: &Snapshot,
        index: &PidIndex,
    ) -> (Vec<Change>, Vec<(String, bool)>) {
        let changes = self.lifecycle.observe(snapshot);
        // Before the lab forgets the members that died.
        let groups = self.observe_groups(snapshot, index);
        self.lab.observe(&changes, (snapshot, index));
        (changes, groups)
    }

    /// Says so when a process group with a stopped member was just orphaned: the kernel then sends
    /// the whole group SIGHUP and SIGCONT, which ends every member that does not handle SIGHUP.
    fn observe_groups(&mut self, snapshot: &Snapshot, index: &PidIndex) -> Vec<(String, bool)> {
        let mut lines = Vec::new();
        for before in &self.stopped_groups {
            if !groups::was_orphaned(before, snapshot, index) {
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
            lines.push((
                format!(
                    "the kernel sent SIGHUP and SIGCONT to group {}: it became orphaned with a stopped member (no process outside the group in its session is left to resume it){ended}",
                    before.group
                ),
                about_lab,
            ));
        }
        self.stopped_groups = groups::stopped_groups(snapshot, index);
        lines
    }

    /// Log lines for `changes` (text, and whether it is about the lab), naming processes from the
    /// scan `now` and the one `before` it.
    fn describe_changes(
        &self,
        changes: &[Change],
        now: (&Snapshot, &PidIndex),
        before: (&Snapshot, &PidIndex),
    ) -> Vec<(String, bool)> {
        changes
            .iter()
            .filter_map(|change| {
                let seen: Vec<&ProcInfo> = [now, before]
                    .iter()
                    .filter_map(|(snapshot, index)| {
                        index.get(change.id().pid).map(|i| &snapshot.procs[i])
                    })
                    .filter(|p| p.id == change.id())
                    .collect();
                // Kernel threads come, go and rename themselves all the time: logged only when
                // shown.
                let kernel = seen.iter().any(|p| p.kind == TaskKind::KernelThread);
                if kernel && !self.show_kernel_threads {
                    return None;
                }
                let about_lab = seen
                    .iter()
                    .any(|p| self.is_brood_or_lab(p) || p.ppid == self.self_pid);
                let text = lab::describe_change(change, &lab::Names { now, before });
                Some((text, about_lab))
            })
            .collect()
    }

    /// Whether `proc` belongs to brood's lab.
    pub fn is_lab(&self, proc: &ProcInfo) -> bool {
        self.lab.contains(proc.id) && proc.pid() != self.self_pid
    }

    /// Whether `proc` is brood, a lab process or the lab's guard: what the lab view shows.
    pub fn is_brood_or_lab(&self, proc: &ProcInfo) -> bool {
        proc.pid() == self.self_pid || self.is_lab(proc) || self.lab.guard == Some(proc.id)
    }

    /// Rebuilds the visible rows and finds the selected process again; if it is gone (dead, or
    /// folded away) the selection moves to its nearest ancestor that is still shown.
    fn rebuild_rows(&mut self, previous: Option<&Snapshot>) {
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
        let sort = self.sort;
        self.rows = build_rows(&self.snapshot, &options, |a, b| sort.compare(a, b));
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

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let action = self.keymap.main.action_for(key);
        // The one key every popup and prompt obeys too.
        if action == Some(Action::ForceQuit) {
            self.exit = Some(Exit::Quit {
                leave_running: false,
            });
            return Vec::new();
        }
        if let Some(overlay) = self.overlay.take() {
            return self.on_overlay_key(overlay, key);
        }
        if let Some(prompt) = self.prompt.take() {
            return self.on_prompt_key(prompt, key);
        }
        match action {
            Some(action) => self.perform(action),
            None => Vec::new(),
        }
    }

    fn perform(&mut self, action: Action) -> Vec<Effect> {
        let page = usize::from(self.table_height()).max(1);
        match action {
            Action::Quit => self.ask_to_quit(),
            Action::ForceQuit => {
                self.exit = Some(Exit::Quit {
                    leave_running: false,
                })
            }
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Close => return self.close_last(),
            Action::Up => self.select_row(self.selected_row.saturating_sub(1)),
            Action::Down => self.select_row(self.selected_row + 1),
            Action::PageUp => self.select_row(self.selected_row.saturating_sub(page)),
            Action::PageDown => self.select_row(self.selected_row + page),
            Action::First => self.select_row(0),
            Action::Last => self.select_row(usize::MAX),
            Action::Collapse => self.collapse_or_go_up(),
            Action::Expand => {
                if let Some(id) = self.selected {
                    self.collapsed.remove(&id);
                    self.rebuild_rows(None);
                }
            }
            Action::FoldAll => self.toggle_fold_all(),
            Action::KernelThreads => {
                self.show_kernel_threads = !self.show_kernel_threads;
                self.rebuild_rows(None);
                self.say_toggle(
                    "kernel threads",
                    self.show_kernel_threads,
                    "shown",
                    "hidden",
                );
            }
            Action::Threads => {
                self.show_threads = !self.show_threads;
                self.say_toggle("userland threads", self.show_threads, "shown", "hidden");
                return vec![Effect::Collector(CollectorCommand::ScanThreads(
                    self.show_threads,
                ))];
            }
            Action::EventLog => {
                self.show_log = !self.show_log;
                self.keep_selection_visible();
            }
            Action::IpcView => {
                self.show_ipc = !self.show_ipc;
                self.keep_selection_visible();
                return vec![Effect::Collector(CollectorCommand::IpcLinks(self.show_ipc))];
            }
            Action::LabView => {
                self.lab_view = !self.lab_view;
                self.rebuild_rows(None);
                self.say_toggle(
                    "lab view",
                    self.lab_view,
                    "on: brood and its lab processes only",
                    "off",
                );
            }
            Action::Spawn
            | Action::Fork
            | Action::Exit
            | Action::Wait
            | Action::SignalMenu
            | Action::Stop
            | Action::Continue
            | Action::Kill
            | Action::AutoReap
            | Action::Subreaper => return self.perform_lab(action),
            Action::Scenarios | Action::Explain => return self.perform_scenario(action),
            Action::Search
            | Action::SearchPrev
            | Action::Filter
            | Action::FilterDescendants
            | Action::FilterUser
            | Action::FilterState
            | Action::FilterMine
            | Action::ClearFilters
            | Action::TreeMode
            | Action::SortMenu
            | Action::ReverseSort
            | Action::Tag
            | Action::TagSubtree
            | Action::UntagAll
            | Action::Details
            | Action::DetailsUp
            | Action::DetailsDown
            | Action::Follow
            | Action::Pause
            | Action::Suspend => return self.perform_explore(action),
        }
        Vec::new()
    }

    /// Esc: closes what was opened last, as htop users expect; it never quits.
    fn close_last(&mut self) -> Vec<Effect> {
        if self.show_details {
            self.show_details = false;
            self.details = None;
        } else if self.show_ipc {
            self.show_ipc = false;
            self.keep_selection_visible();
            return vec![Effect::Collector(CollectorCommand::IpcLinks(false))];
        } else if self.show_log {
            self.show_log = false;
        } else if self.scenarios.panel {
            self.scenarios.panel = false;
        } else {
            let quit = self.keymap.main.label(Action::Quit);
            self.set_status(Severity::Info, format!("nothing to close; {quit} quits"));
        }
        self.keep_selection_visible();
        Vec::new()
    }

    fn ask_to_quit(&mut self) {
        if self.counts.lab > 0 {
            let lab: Vec<&ProcInfo> = self
                .snapshot
                .procs
                .iter()
                .filter(|p| p.kind == TaskKind::Process && self.is_lab(p))
                .collect();
            let in_state = |state: State| lab.iter().filter(move |p| p.state == state);
            self.overlay = Some(Overlay::Quit(QuitDialog {
                processes: lab.len(),
                zombies: in_state(State::Zombie).count(),
                stopped: in_state(State::Stopped).map(|p| Target::of(p)).collect(),
            }));
        } else {
            self.exit = Some(Exit::Quit {
                leave_running: false,
            });
        }
    }

    fn collapse_or_go_up(&mut self) {
        let Some(row) = self.rows.get(self.selected_row) else {
            return;
        };
        if row.child_count > 0 && !row.collapsed {
            self.collapsed
                .insert(self.snapshot.procs[row.proc_index].id);
            self.rebuild_rows(None);
        } else if let Some(parent) = row.parent_row {
            self.select_row(parent);
        }
    }

    fn toggle_fold_all(&mut self) {
        if self.collapsed.is_empty() {
            // Fold everything below the roots' children, so the top of the tree stays readable.
            self.collapsed = self
                .rows
                .iter()
                .filter(|r| r.depth >= 1 && r.child_count > 0)
                .map(|r| self.snapshot.procs[r.proc_index].id)
                .collect();
        } else {
            self.collapsed.clear();
        }
        self.rebuild_rows(None);
    }

    /// Selects the row of `pid` (tests drive the app by PID rather than by row number).
    #[cfg(test)]
    pub(crate) fn select_pid(&mut self, pid: Pid) {
        let row = self
            .rows
            .iter()
            .position(|r| self.snapshot.procs[r.proc_index].pid() == pid);
        self.select_row(row.unwrap_or_else(|| panic!("no row for PID {pid}")));
    }

    fn select_row(&mut self, row: usize) {
        if self.rows.is_empty() {
            return;
        }
        self.selected_row = row.min(self.rows.len() - 1);
        self.selected = Some(self.snapshot.procs[self.rows[self.selected_row].proc_index].id);
        self.keep_selection_visible();
    }

    fn keep_selection_visible(&mut self) {
        let height = usize::from(self.table_height()).max(1);
        if self.follow {
            self.scroll = self.selected_row.saturating_sub(height / 2);
        } else if self.selected_row < self.scroll {
            self.scroll = self.selected_row;
        } else if self.selected_row >= self.scroll + height {
            self.scroll = self.selected_row + 1 - height;
        }
        self.scroll = self.scroll.min(self.rows.len().saturating_sub(height));
    }

    /// The selected process as the latest snapshot has it.
    pub fn selected_proc(&self) -> Option<&ProcInfo> {
        let row = self.rows.get(self.selected_row)?;
        self.snapshot.procs.get(row.proc_index)
    }

    /// The process with this PID in the latest snapshot.
    pub fn proc_by_pid(&self, pid: Pid) -> Option<&ProcInfo> {
        self.pid_index
            .get(pid)
            .and_then(|i| self.snapshot.procs.get(i))
    }

    /// Rows of the process table on the current screen.
    pub fn table_height(&self) -> u16 {
        self.areas().table.height
    }

    /// Where each part of the screen is now (`draw` paints into these same areas).
    pub fn areas(&self) -> layout::Areas {
        let screen = ratatui::layout::Rect::new(0, 0, self.screen.0, self.screen.1);
        layout::areas(screen, self.panels())
    }

    /// The panels open beside or below the tree.
    pub fn panels(&self) -> layout::Panels {
        layout::Panels {
            log: self.show_log,
            ipc: self.show_ipc,
            details: self.show_details,
            scenario: self.scenarios.panel,
        }
    }

    /// Takes the system figures read with a scan.
    fn take_system(&mut self, system: SystemStats) {
        self.utc_offset_secs = system.utc_offset_secs;
        self.system = Some(system);
    }

    /// Takes a new IPC sweep; a deadlock seen for the first time goes to the log.
    fn take_ipc(&mut self, state: IpcState) {
        let deadlocks = find_deadlocks(&state.waits());
        for deadlock in &deadlocks {
            if !self.deadlocks.contains(deadlock) {
                let steps: Vec<String> = deadlock
                    .cycle
                    .iter()
                    .map(|(pid, reason, on)| reason.step(&pid.to_string(), &on.to_string()))
                    .collect();
                self.log_line(format!("deadlock: {}", steps.join("; ")));
            }
        }
        self.deadlocks = deadlocks;
        self.ipc = state;
    }

    /// Whether `pid` is on a deadlock cycle.
    pub fn in_deadlock(&self, pid: Pid) -> bool {
        self.deadlocks.iter().any(|d| d.members().any(|m| m == pid))
    }

    pub fn set_status(&mut self, severity: Severity, text: impl Into<String>) {
        self.status = Some(StatusMessage {
            text: text.into(),
            severity,
            expires_after_scan: self.scan_count + STATUS_SCANS,
        });
    }

    fn say_toggle(&mut self, what: &str, on: bool, on_text: &str, off_text: &str) {
        self.set_status(
            Severity::Info,
            format!("{what} {}", if on { on_text } else { off_text }),
        );
    }

    /// Logs something brood did or found about its lab.
    pub fn log_line(&mut self, text: String) {
        self.push_log(text, true);
    }

    fn push_log(&mut self, text: String, about_lab: bool) {
        self.push_entry(LogEntry {
            at: (self.clock)(),
            text,
            about_lab,
        });
    }

    fn push_entry(&mut self, entry: LogEntry) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }

    /// Sets the status line and writes the same sentence to the log.
    fn tell(&mut self, severity: Severity, text: String) {
        self.log_line(text.clone());
        self.set_status(severity, text);
    }

    /// The dispositions shown in an open signal menu arrive after the menu opened.
    fn set_dispositions(&mut self, target: Identity, dispositions: Option<Dispositions>) {
        if let Some(Overlay::SignalMenu(menu)) = &mut self.overlay
            && menu.target.id == target
        {
            menu.dispositions = Some(dispositions);
        }
    }
}

/// Whether `outcome` may have changed what /proc shows (so a scan should follow at once).
fn changes_the_tree(outcome: &crate::message::Outcome) -> bool {
    use crate::lab::scenarios::Step;
    use crate::message::Outcome;
    !matches!(
        outcome,
        Outcome::Dispositions { .. }
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

fn count_states(snapshot: &Snapshot, marks: &[Marks], lab: &LabMembers) -> StateCounts {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::protocol::Request;
    use crate::message::SignalScope;
    use crate::proc::builder::{SnapshotBuilder, id};
    use crossterm::event::{KeyCode, KeyModifiers};
    use nix::sys::signal::Signal;

    fn app_with(snapshot: Snapshot) -> App {
        let mut app = sized_app(1);
        feed(&mut app, snapshot);
        app
    }

    /// An app whose own PID is `self_pid`, on a 100x30 screen, before any scan.
    fn sized_app(self_pid: Pid) -> App {
        let mut app = App::new(Settings::new(self_pid));
        app.update(Event::Resize {
            width: 100,
            height: 30,
        });
        app
    }

    fn feed(app: &mut App, snapshot: Snapshot) {
        app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
    }

    fn press(app: &mut App, c: char) -> Vec<Effect> {
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )))
    }

    fn selected_pid(app: &App) -> Option<Pid> {
        app.selected.map(|id| id.pid)
    }

    fn tree() -> SnapshotBuilder {
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "a")
            .proc(11, 10, "a1")
            .proc(12, 11, "a2")
            .proc(20, 1, "b")
    }

    #[test]
    fn selection_follows_the_process_not_the_row() {
        let mut app = app_with(tree().build());
        press(&mut app, 'j');
        press(&mut app, 'j');
        assert_eq!(selected_pid(&app), Some(11));
        // A new process above it shifts every row down; the selection stays on PID 11.
        feed(&mut app, tree().proc(5, 1, "early").build());
        assert_eq!(selected_pid(&app), Some(11));
        assert_eq!(
            app.rows[app.selected_row].proc_index,
            app.snapshot
                .procs
                .iter()
                .position(|p| p.pid() == 11)
                .unwrap()
        );
    }

    #[test]
    fn selection_moves_to_the_parent_when_the_process_exits() {
        let mut app = app_with(tree().build());
        app.update(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
        press(&mut app, 'j');
        press(&mut app, 'j');
        assert_eq!(selected_pid(&app), Some(12));
        // 12 and its parent 11 both die: the nearest surviving ancestor is 10.
        feed(
            &mut app,
            SnapshotBuilder::default()
                .proc(1, 0, "init")
                .proc(10, 1, "a")
                .proc(20, 1, "b")
                .build(),
        );
        assert_eq!(selected_pid(&app), Some(10));
    }

    #[test]
    fn a_reused_pid_is_not_mistaken_for_the_selected_process() {
        let mut app = app_with(tree().build());
        press(&mut app, 'G');
        assert_eq!(selected_pid(&app), Some(20));
        // PID 20 died and a new process got the same PID: selection goes to the parent, init.
        let reused = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "a")
            .proc(11, 10, "a1")
            .proc(12, 11, "a2")
            .with(20, 10, "impostor", |p| p.id.start_ticks = 999)
            .build();
        feed(&mut app, reused);
        assert_eq!(
            app.selected,
            Some(Identity {
                pid: 1,
                start_ticks: 1
            })
        );
    }

    #[test]
    fn folding_hides_descendants_and_moves_up_when_already_folded() {
        let mut app = app_with(tree().build());
        press(&mut app, 'j');
        assert_eq!(selected_pid(&app), Some(10));
        press(&mut app, 'h');
        assert_eq!(app.rows.len(), 3);
        press(&mut app, 'h');
        assert_eq!(selected_pid(&app), Some(1));
        press(&mut app, 'j');
        press(&mut app, 'l');
        assert_eq!(app.rows.len(), 5);
        press(&mut app, '*');
        assert_eq!(app.rows.len(), 3, "fold all keeps init and its children");
        press(&mut app, '*');
        assert_eq!(app.rows.len(), 5);
    }

    #[test]
    fn help_takes_keys_while_open_and_quit_closes_it_first() {
        let mut app = app_with(tree().build());
        press(&mut app, '?');
        assert!(app.overlay.is_some());
        press(&mut app, 'j');
        assert_eq!(
            selected_pid(&app),
            Some(1),
            "keys scroll the help, not the tree"
        );
        press(&mut app, 'q');
        assert!(app.overlay.is_none());
        assert_eq!(app.exit, None);
        press(&mut app, 'q');
        assert_eq!(
            app.exit,
            Some(Exit::Quit {
                leave_running: false
            })
        );
    }

    #[test]
    fn thread_toggle_asks_the_collector_and_says_so() {
        let mut app = app_with(tree().build());
        assert_eq!(
            press(&mut app, 'H'),
            vec![Effect::Collector(CollectorCommand::ScanThreads(true))]
        );
        assert_eq!(
            app.status.as_ref().map(|s| s.text.as_str()),
            Some("userland threads shown")
        );
        for _ in 0..=STATUS_SCANS {
            feed(&mut app, tree().build());
        }
        assert_eq!(app.status, None, "status messages expire");
    }

    #[test]
    fn paging_stays_in_bounds_and_keeps_the_selection_on_screen() {
        let mut app = app_with(crate::proc::builder::population(500));
        app.update(Event::Key(KeyEvent::new(
            KeyCode::PageDown,
            KeyModifiers::NONE,
        )));
        let page = usize::from(app.table_height());
        assert_eq!(app.selected_row, page);
        assert!(app.scroll <= app.selected_row && app.selected_row < app.scroll + page);
        press(&mut app, 'G');
        assert_eq!(app.selected_row, app.rows.len() - 1);
        assert_eq!(app.scroll, app.rows.len() - page);
    }

    /// brood (PID 100) with one lab worker (200, group 200) whose child 201 is a zombie.
    fn lab_tree() -> SnapshotBuilder {
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(100, 1, "brood")
            .with(200, 100, "brood-lab", |p| p.pgrp = 200)
            .with(201, 200, "brood-lab", |p| {
                p.pgrp = 200;
                p.state = State::Zombie;
            })
    }

    /// The lab tree, with 300, a stranger.
    fn lab_machine() -> App {
        let snapshot = lab_tree().proc(300, 1, "stranger").build();
        let mut app = sized_app(100);
        app.update(Event::Done(crate::message::Outcome::Spawned {
            id: id(200),
            guard: Some(id(150)),
        }));
        app.update(Event::Done(crate::message::Outcome::LabReply {
            target: id(200),
            request: Request::Fork,
            reply: Ok(crate::lab::protocol::Reply::Forked(id(201))),
        }));
        feed(&mut app, snapshot);
        app
    }

    fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
        app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    #[test]
    fn what_happens_while_paused_reaches_the_log_on_resume() {
        let mut app = app_with(tree().build());
        let logged = |app: &App, pid: &str| {
            app.log
                .iter()
                .filter(|e| e.text.starts_with(pid))
                .map(|e| e.text.clone())
                .collect::<Vec<_>>()
        };
        press(&mut app, 'p');
        // Born and gone while paused, both between two scans the screen did not show.
        feed(&mut app, tree().proc(50, 10, "quick").build());
        feed(&mut app, tree().build());
        assert!(logged(&app, "50").is_empty(), "the log waits while paused");
        press(&mut app, 'p');
        let lines = logged(&app, "50");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("appeared, child of 10 (a)"), "{lines:?}");
        // Resumed, the next scan logs as before, and nothing twice.
        feed(&mut app, tree().build());
        assert_eq!(logged(&app, "50").len(), 2);
    }

    #[test]
    fn a_lab_process_just_started_is_selected_once_a_scan_shows_it() {
        let mut app = sized_app(100);
        feed(
            &mut app,
            SnapshotBuilder::default()
                .proc(1, 0, "init")
                .proc(100, 1, "brood")
                .build(),
        );
        assert_eq!(selected_pid(&app), Some(100));
        app.update(Event::Done(crate::message::Outcome::Spawned {
            id: id(200),
            guard: Some(id(150)),
        }));
        assert_eq!(selected_pid(&app), Some(100), "not before a scan shows it");
        feed(&mut app, lab_tree().build());
        assert_eq!(selected_pid(&app), Some(200));
        assert_eq!(
            press(&mut app, 'f'),
            vec![Effect::Lab {
                target: id(200),
                request: Request::Fork
            }]
        );
        // Later scans leave the selection where the user puts it.
        app.select_pid(100);
        feed(&mut app, lab_tree().build());
        assert_eq!(selected_pid(&app), Some(100));
    }

    #[test]
    fn lab_keys_ask_for_lab_effects_and_refuse_strangers() {
        let mut app = lab_machine();
        assert_eq!(press(&mut app, 'n'), vec![Effect::Spawn]);
        app.select_pid(200);
        assert_eq!(
            press(&mut app, 'f'),
            vec![Effect::Lab {
                target: id(200),
                request: Request::Fork
            }]
        );
        assert!(press(&mut app, 'w').is_empty(), "one request at a time");
        assert!(
            app.status
                .as_ref()
                .is_some_and(|s| s.text.contains("has not answered its last request yet")),
            "{:?}",
            app.status
        );
        app.update(Event::Done(crate::message::Outcome::LabReply {
            target: id(200),
            request: Request::Fork,
            reply: Ok(crate::lab::protocol::Reply::Forked(id(202))),
        }));
        assert_eq!(
            press(&mut app, 'w'),
            vec![Effect::Lab {
                target: id(200),
                request: Request::Wait
            }]
        );
        app.select_pid(300);
        assert!(press(&mut app, 'f').is_empty());
        assert!(
            app.status
                .as_ref()
                .unwrap()
                .text
                .contains("not a lab process")
        );
    }

    #[test]
    fn wait_on_a_zombie_asks_its_parent_to_reap_it() {
        let mut app = lab_machine();
        app.select_pid(201);
        assert_eq!(
            press(&mut app, 'w'),
            vec![Effect::Lab {
                target: id(200),
                request: Request::Reap(201)
            }]
        );
        app.select_pid(100);
        assert_eq!(press(&mut app, 'w'), vec![Effect::ReapOwn(None)]);
    }

    #[test]
    fn exit_asks_for_a_code_then_sends_it() {
        let mut app = lab_machine();
        app.select_pid(200);
        assert!(press(&mut app, 'x').is_empty());
        assert!(matches!(app.overlay, Some(Overlay::ExitCode { .. })));
        press(&mut app, '4');
        press(&mut app, '2');
        assert_eq!(
            key(&mut app, KeyCode::Enter),
            vec![Effect::Lab {
                target: id(200),
                request: Request::Exit(42)
            }]
        );
        assert_eq!(app.overlay, None);
    }

    #[test]
    fn signal_menu_preselects_sigterm_and_confirms_only_for_processes_brood_did_not_start() {
        let mut app = lab_machine();
        app.select_pid(200);
        let effects = press(&mut app, 's');
        assert!(matches!(effects.as_slice(), [Effect::ReadDispositions(id)] if id.pid == 200));
        let Some(Overlay::SignalMenu(menu)) = &app.overlay else {
            panic!("no menu")
        };
        assert_eq!(menu.signal().map(|s| s.name()), Some("SIGTERM"));
        let sent = key(&mut app, KeyCode::Enter);
        assert!(
            matches!(
                sent.as_slice(),
                [Effect::Signal {
                    signal: Signal::SIGTERM,
                    ..
                }]
            ),
            "lab: no confirmation"
        );

        app.select_pid(300);
        press(&mut app, 's');
        assert!(key(&mut app, KeyCode::Enter).is_empty());
        let Some(Overlay::Confirm { question, .. }) = &app.overlay else {
            panic!("no confirmation")
        };
        assert!(question.iter().any(|line| line.contains("300 (stranger)")));
        assert!(matches!(
            press(&mut app, 'y').as_slice(),
            [Effect::Signal {
                signal: Signal::SIGTERM,
                ..
            }]
        ));

        // SIGCONT cannot hurt a stranger: no confirmation. PID 1 always asks.
        assert!(matches!(
            press(&mut app, 'C').as_slice(),
            [Effect::Signal {
                signal: Signal::SIGCONT,
                ..
            }]
        ));
        app.select_pid(1);
        assert!(press(&mut app, 'C').is_empty());
        assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
        press(&mut app, 'n');
        assert_eq!(app.overlay, None);
    }

    #[test]
    fn tab_in_the_signal_menu_widens_the_scope_and_always_confirms() {
        let mut app = lab_machine();
        app.select_pid(200);
        press(&mut app, 's');
        key(&mut app, KeyCode::Tab);
        assert!(key(&mut app, KeyCode::Enter).is_empty());
        let Some(Overlay::Confirm { effect, .. }) = &app.overlay else {
            panic!("no confirmation")
        };
        assert!(matches!(
            effect,
            Effect::Signal {
                scope: SignalScope::Subtree,
                ..
            }
        ));
    }

    #[test]
    fn quitting_with_lab_processes_asks_whether_to_leave_them_running() {
        let mut app = lab_machine();
        press(&mut app, 'q');
        assert_eq!(
            app.overlay,
            Some(Overlay::Quit(QuitDialog {
                processes: 2,
                zombies: 1,
                stopped: Vec::new(),
            }))
        );
        key(&mut app, KeyCode::Esc);
        assert_eq!((app.exit, &app.overlay), (None, &None));
        press(&mut app, 'q');
        press(&mut app, 'l');
        assert_eq!(
            app.exit,
            Some(Exit::Quit {
                leave_running: true
            })
        );

        let mut app = lab_machine();
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        )));
        assert_eq!(
            app.exit,
            Some(Exit::Quit {
                leave_running: false
            }),
            "Ctrl-C quits at once"
        );
    }

    #[test]
    fn lab_view_shows_brood_and_its_lab_only() {
        let mut app = lab_machine();
        press(&mut app, 'L');
        let pids: Vec<Pid> = app
            .rows
            .iter()
            .map(|r| app.snapshot.procs[r.proc_index].pid())
            .collect();
        assert_eq!(pids, vec![100, 200, 201]);
    }

    #[test]
    fn log_entries_say_whether_they_are_about_the_lab() {
        let mut app = lab_machine();
        let next = lab_tree()
            .with(202, 200, "brood-lab", |p| p.pgrp = 200)
            .proc(300, 1, "stranger")
            .proc(301, 300, "stranger-child")
            .build();
        feed(&mut app, next);
        let about = |pid: &str| {
            app.log
                .iter()
                .find(|e| e.text.starts_with(pid))
                .map(|e| e.about_lab)
        };
        assert_eq!(about("202 "), Some(true), "a new lab process");
        assert_eq!(about("301 "), Some(false), "a stranger's child");
    }
}

#[cfg(test)]
mod dialog_tests {
    use super::*;
    use crate::lab::protocol::Reply;
    use crate::message::Outcome;
    use crate::proc::builder::{SnapshotBuilder, id};
    use crossterm::event::{KeyCode, KeyModifiers};
    use nix::sys::signal::Signal;

    fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
        app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    fn press(app: &mut App, c: char) -> Vec<Effect> {
        key(app, KeyCode::Char(c))
    }

    fn app() -> App {
        let mut app = App::new(Settings::new(100));
        app.update(Event::Resize {
            width: 100,
            height: 30,
        });
        app
    }

    #[test]
    fn esc_closes_what_was_opened_last_and_never_quits() {
        let mut app = app();
        for c in ['e', 'i', 'd'] {
            press(&mut app, c);
        }
        assert!(app.show_log && app.show_ipc && app.show_details);
        key(&mut app, KeyCode::Esc);
        assert!(!app.show_details && app.show_ipc);
        assert_eq!(
            key(&mut app, KeyCode::Esc),
            vec![Effect::Collector(CollectorCommand::IpcLinks(false))]
        );
        key(&mut app, KeyCode::Esc);
        assert!(!app.show_log);
        key(&mut app, KeyCode::Esc);
        assert_eq!(app.exit, None, "Esc never quits");
        assert!(
            app.status
                .as_ref()
                .is_some_and(|s| s.text == "nothing to close; q quits")
        );
        press(&mut app, 'q');
        assert!(app.exit.is_some(), "q does");
    }

    #[test]
    fn the_help_scrolls_to_its_last_line_and_no_further() {
        let mut app = app();
        press(&mut app, '?');
        key(&mut app, KeyCode::End);
        let Some(Overlay::Help { scroll: last }) = app.overlay else {
            panic!("no help")
        };
        assert!(last > 0);
        key(&mut app, KeyCode::Down);
        assert_eq!(app.overlay, Some(Overlay::Help { scroll: last }));
        key(&mut app, KeyCode::Up);
        assert_eq!(app.overlay, Some(Overlay::Help { scroll: last - 1 }));
        press(&mut app, '?');
        assert_eq!(app.overlay, None, "the key that opened it closes it");
    }

    #[test]
    fn quitting_can_continue_the_stopped_lab_processes_then_leave_them_running() {
        let mut app = app();
        app.update(Event::Done(Outcome::Spawned {
            id: id(200),
            guard: None,
        }));
        app.update(Event::Done(Outcome::LabReply {
            target: id(200),
            request: crate::lab::protocol::Request::Fork,
            reply: Ok(Reply::Forked(id(201))),
        }));
        let snapshot = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(100, 1, "brood")
            .proc(200, 100, "brood-lab")
            .with(201, 200, "brood-lab", |p| p.state = State::Stopped)
            .build();
        app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
        press(&mut app, 'q');
        let Some(Overlay::Quit(dialog)) = &app.overlay else {
            panic!("no quit dialog")
        };
        assert_eq!(dialog.stopped.len(), 1);
        let effects = press(&mut app, 'c');
        assert!(
            matches!(&effects[..], [Effect::Signal { signal: Signal::SIGCONT, targets, .. }] if targets[0].id == id(201)),
            "{effects:?}"
        );
        assert_eq!(app.exit, None, "not before they run again");
        app.update(Event::Done(Outcome::Signalled {
            signal: Signal::SIGCONT,
            scope: crate::message::SignalScope::Process,
            results: vec![(dialog_target(), Ok(()))],
        }));
        assert_eq!(
            app.exit,
            Some(Exit::Quit {
                leave_running: true
            })
        );
    }

    fn dialog_target() -> Target {
        Target {
            id: id(201),
            name: "brood-lab".into(),
            group: 200,
        }
    }

    #[test]
    fn dialog_keys_come_from_the_key_table() {
        let mut names = crate::app::keymap::default_names();
        names
            .layer_mut(Some("confirm"))
            .unwrap()
            .set("yes", vec!["Y".to_string()]);
        let mut app = App::new(Settings {
            keymap: Keymap::build(&names).unwrap(),
            ..Settings::new(100)
        });
        app.update(Event::Snapshot(
            Box::new(
                SnapshotBuilder::default()
                    .proc(1, 0, "init")
                    .proc(100, 1, "brood")
                    .proc(300, 1, "stranger")
                    .build(),
            ),
            SystemStats::default(),
        ));
        app.select_pid(300);
        press(&mut app, 'X');
        assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
        assert!(press(&mut app, 'y').is_empty(), "y is no longer yes");
        assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
        assert!(matches!(
            &press(&mut app, 'Y')[..],
            [Effect::Signal {
                signal: Signal::SIGKILL,
                ..
            }]
        ));
    }
}
