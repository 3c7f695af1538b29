//! App state and `update(Event) → Effects`: every decision, no I/O. The runtime runs the
//! returned effects; `ui::draw` only reads this state. This file holds the state and the
//! dispatch; `refresh` takes in scans, `keys` the main screen's keys, `dialogs` the popups',
//! `selection` the selection and layout, `status` the status line and log, `lab`, `explore`,
//! `search` and `scenario` their parts of the screen.

#[cfg(test)]
mod dialog_tests;
mod dialogs;
mod events;
#[cfg(test)]
mod events_tests;
mod explore;
#[cfg(test)]
mod explore_tests;
pub mod filter;
pub mod help;
pub mod keymap;
mod keys;
mod lab;
#[cfg(test)]
mod lab_tests;
pub mod layout;
pub mod log;
mod mouse;
pub mod reach;
mod refresh;
pub mod replay;
mod scenario;
mod search;
mod selection;
pub mod settings;
pub mod sort;
mod status;
#[cfg(test)]
mod tests;
pub mod timeline;

use std::collections::HashSet;
use std::time::SystemTime;

use crate::history::History;
use crate::history::timeline::Timeline;
use crate::message::{CollectorCommand, Effect, Event, SystemStats, Target};
use crate::proc::details::Details;
use crate::proc::groups::StoppedGroup;
use crate::proc::ipc::{Deadlock, IpcState, Link};
use crate::proc::lifecycle::{Lifecycle, Marks};
use crate::proc::tree::Row;
use crate::proc::{Identity, Pid, PidIndex, Snapshot};
pub use dialogs::SignalMenu;
pub use events::EventFeed;
pub use explore::{PickKind, Picker};
use filter::Filter;
use keymap::Keymap;
pub use lab::LabMembers;
use log::LogView;
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

/// What fills the screen below the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Page {
    #[default]
    Tree,
    /// The event log, full screen.
    Log,
    /// Processes' states over time.
    Timeline,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Quit {
        leave_running: bool,
    },
    /// A signal that ends brood reached it; it exits as the signal would have it (128 + N).
    Signal(i32),
    /// The user sent brood itself a signal that ends it: the terminal is given back and the lab
    /// ended first, then the signal is raised for real.
    Raise(i32),
    /// brood cannot go on (why).
    Failed(String),
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
    pub page: Page,
    /// Everything that happened, for the log (and the timeline, and recordings).
    pub history: History,
    /// Where the user is in the log, and its filters.
    pub log: LogView,
    /// Where process events come from, and how many were lost.
    pub events: EventFeed,
    /// Every process's states over time, fed by the scans and the history.
    pub timeline: Timeline,
    /// The next entry, and the next amendment of the history's journal, the timeline takes in.
    timeline_next_seq: u64,
    timeline_amendments: u64,
    /// What the timeline page shows.
    pub timeline_view: timeline::TimelineView,
    /// The file the session is being recorded to, and since when (nanoseconds since the epoch).
    pub recording: Option<(String, u64)>,
    /// The recording being replayed, in place of a live session.
    pub replay: Option<replay::Replay>,
    pub scan_count: u64,
    /// Scans received, shown or held back (paused, or while the screen shows the past).
    pub scans_seen: u64,
    /// `b` was pressed this many times and the session's past has not come yet.
    stepping_back: usize,
    /// brood's own PID, marked in the tree.
    pub self_pid: Pid,
    /// PID → index into `snapshot.procs`, rebuilt with each snapshot (look-ups by PID are many).
    pub pid_index: PidIndex,
    /// The latest IPC sweep: wait channels, locks, descriptors.
    pub ipc: IpcState,
    /// Deadlocks found in it.
    pub deadlocks: Vec<Deadlock>,
    /// The selected process's links while the IPC panel shows them, and for which process and
    /// sweep they were worked out (once, not at every frame).
    pub links: Vec<Link>,
    links_for: (Option<Identity>, u64),
    /// IPC sweeps taken, so links are worked out again after each.
    ipc_sweeps: u64,
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
    /// Whether the collector was asked for wait channels at every scan (the WCHAN column).
    sweeping_waits: bool,
    /// Keep the selected process in the middle of the view.
    pub follow: bool,
    /// Refresh paused: snapshots are kept aside, not shown.
    pub paused: bool,
    pending: Option<(Box<Snapshot>, SystemStats)>,
    /// A lab process just started: selected once a scan shows it, so `f` forks it at once.
    select_when_seen: Option<Identity>,
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
    /// The user was told that descriptors ran short (once is enough).
    told_descriptors_short: bool,
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
            page: Page::Tree,
            history: History::default(),
            log: LogView::default(),
            events: EventFeed::default(),
            timeline: Timeline::default(),
            timeline_next_seq: 1,
            timeline_amendments: 0,
            timeline_view: timeline::TimelineView::default(),
            recording: None,
            replay: None,
            scan_count: 0,
            scans_seen: 0,
            stepping_back: 0,
            self_pid: settings.self_pid,
            pid_index: PidIndex::default(),
            ipc: IpcState::default(),
            deadlocks: Vec::new(),
            links: Vec::new(),
            links_for: (None, 0),
            ipc_sweeps: 0,
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
            sweeping_waits: false,
            follow: false,
            paused: false,
            pending: None,
            select_when_seen: None,
            root: settings.root,
            my_uid: settings.my_uid,
            job_control: settings.job_control,
            utc_offset_secs: settings.utc_offset_secs,
            start: Some(settings),
            leave_when_continued: false,
            told_descriptors_short: false,
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
        self.feed_timeline();
        // The details pane shows the selected process: the collector reads whichever that is,
        // live; a replay shows what was recorded.
        let wanted = self
            .selected
            .filter(|_| self.show_details && self.replay.is_none());
        if wanted != self.inspecting && self.exit.is_none() {
            self.inspecting = wanted;
            self.details_scroll = 0;
            effects.push(Effect::Collector(CollectorCommand::Inspect(wanted)));
        }
        // The WCHAN column, shown or sorted by, needs every scan's wait channels.
        let waits = self.columns.contains(&Column::Wchan) || self.sort.column == Column::Wchan;
        if waits != self.sweeping_waits && self.exit.is_none() {
            self.sweeping_waits = waits;
            effects.push(Effect::Collector(CollectorCommand::WaitChannels(waits)));
        }
        // The IPC panel and the [linked] badges show the selected process's links.
        let linked = (self.selected.filter(|_| self.show_ipc), self.ipc_sweeps);
        if linked != self.links_for {
            self.links = linked.0.map_or_else(Vec::new, |id| self.ipc.links_of(id));
            self.links_for = linked;
        }
        effects
    }

    fn handle(&mut self, event: Event) -> Vec<Effect> {
        if let Event::Snapshot(..) = event {
            self.scans_seen += 1;
        }
        match event {
            Event::Key(key) => return self.on_key(key),
            Event::Mouse(mouse) => return self.on_mouse(mouse),
            Event::Resize { width, height } => {
                self.screen = (width, height);
                self.keep_selection_visible();
            }
            Event::Snapshot(snapshot, system) if self.holds_scans() => {
                // The screen stays as it is, but nothing that happens meanwhile is lost: every
                // scan is still compared with the one before and the history takes it in; the
                // log shows it on resume.
                let now_index = snapshot.index_by_pid();
                let changes = self.observe_scan(&snapshot, &now_index);
                self.timeline.observe_snapshot(self.now_ns(), &snapshot);
                // Compared with the newest live scan, never with the past on screen.
                let before = Box::new(self.latest_scan().0.clone());
                let before_index = before.index_by_pid();
                let entries = self.change_entries(
                    &changes,
                    (&snapshot, &now_index),
                    (&before, &before_index),
                );
                self.record_all(entries);
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
            Event::Stopping => return self.suspend(),
            Event::Continued => return vec![Effect::RetakeTerminal],
            Event::InputLost(why) => {
                self.exit = Some(Exit::Failed(format!(
                    "the terminal's input cannot be read ({why}); brood ends rather than run with no way to quit it"
                )));
            }
            Event::Done(outcome) => {
                // What a lab process or a signal did shows in /proc at once: scan now rather
                // than at the next tick, unless the outcome changes nothing there.
                let rescan = refresh::changes_the_tree(&outcome);
                self.on_outcome(outcome);
                if rescan {
                    return vec![Effect::Collector(CollectorCommand::ScanNow)];
                }
            }
            Event::Ipc(state) => self.take_ipc(*state),
            Event::ProcEvents(batch) => self.take_proc_events(batch),
            Event::Replay(news) => return self.on_replay(news),
            Event::Tick => return self.on_tick(),
            Event::OomKilled(victims) => {
                let at = self.now_ns();
                for victim in victims {
                    let sender = "the kernel's OOM killer ended it (out of memory)";
                    self.history
                        .annotate(victim, crate::history::Pair::Exit, sender, at);
                }
            }
        }
        Vec::new()
    }
}
