//! App state and `update(Event) → Effects`: every decision, no I/O.
//! The main loop runs the returned effects; `ui::draw` only reads this state.

pub mod keymap;

use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent};

use crate::collector::SystemStats;
use crate::event::Event;
use crate::proc::lifecycle::{Change, Lifecycle, Marks};
use crate::proc::tree::{Row, TreeOptions, build_rows, by_pid};
use crate::proc::{Identity, Pid, Snapshot, State, TaskKind};
use keymap::{Action, Keymap};

/// A side effect `update` asks the main loop to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Change what the collector reads and scan again at once.
    ScanThreads(bool),
}

/// A popup drawn over the tree; while one is open it gets the keys first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Help { scroll: u16 },
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
}

/// Why the main loop ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
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
    pub color: bool,
    pub overlay: Option<Overlay>,
    pub status: Option<StatusMessage>,
    pub scan_count: u64,
    /// brood's own PID, marked in the tree.
    pub self_pid: Pid,
    pub exit: Option<Exit>,
}

impl App {
    pub fn new(keymap: Keymap, color: bool, self_pid: Pid) -> App {
        App {
            keymap,
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
            color,
            overlay: None,
            status: None,
            scan_count: 0,
            self_pid,
            exit: None,
        }
    }

    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => return self.on_key(key),
            Event::Mouse(_) => {}
            Event::Resize { width, height } => {
                self.screen = (width, height);
                self.keep_selection_visible();
            }
            Event::Snapshot(snapshot, system) => {
                self.system = Some(system);
                self.take_snapshot(*snapshot);
            }
            Event::ScanFailed(reason) => self.set_status(Severity::Error, reason),
            Event::Terminate(signal) => self.exit = Some(Exit::Signal(signal)),
        }
        Vec::new()
    }

    fn take_snapshot(&mut self, snapshot: Snapshot) {
        self.scan_count += 1;
        if self
            .status
            .as_ref()
            .is_some_and(|s| s.expires_after_scan < self.scan_count)
        {
            self.status = None;
        }
        let _changes: Vec<Change> = self.lifecycle.observe(&snapshot);
        self.marks = self.lifecycle.marks(&snapshot);
        let previous = std::mem::replace(&mut self.snapshot, snapshot);
        self.counts = count_states(&self.snapshot, &self.marks);
        self.rebuild_rows(Some(&previous));
    }

    /// Rebuilds the visible rows and finds the selected process again; if it is gone (dead, or
    /// folded away) the selection moves to its nearest ancestor that is still shown.
    fn rebuild_rows(&mut self, previous: Option<&Snapshot>) {
        let options = TreeOptions {
            show_kernel_threads: self.show_kernel_threads,
            collapsed: &self.collapsed,
        };
        self.rows = build_rows(&self.snapshot, &options, by_pid);
        if self.rows.is_empty() {
            self.selected = None;
            self.selected_row = 0;
            return;
        }
        let Some(wanted) = self.selected else {
            self.select_row(
                self.rows
                    .iter()
                    .position(|r| self.snapshot.procs[r.proc_index].pid() == self.self_pid)
                    .unwrap_or(0),
            );
            return;
        };
        let row_of = |id: Identity| {
            self.rows
                .iter()
                .position(|r| self.snapshot.procs[r.proc_index].id == id)
        };
        let found = row_of(wanted).or_else(|| {
            self.ancestors_in(&self.snapshot, wanted)
                .chain(
                    previous
                        .into_iter()
                        .flat_map(|prev| self.ancestors_in(prev, wanted)),
                )
                .find_map(row_of)
        });
        self.select_row(found.unwrap_or(self.selected_row.min(self.rows.len() - 1)));
    }

    /// The ancestors of `id` as `snapshot` records them, nearest first.
    fn ancestors_in<'a>(
        &self,
        snapshot: &'a Snapshot,
        id: Identity,
    ) -> impl Iterator<Item = Identity> + 'a {
        let by_pid = snapshot.index_by_pid();
        let mut current = by_pid
            .get(&id.pid)
            .map(|&i| &snapshot.procs[i])
            .filter(|p| p.id == id);
        let mut steps = 0;
        std::iter::from_fn(move || {
            let proc = current?;
            steps += 1;
            let parent = by_pid
                .get(&proc.ppid)
                .map(|&i| &snapshot.procs[i])
                .filter(|p| p.pid() != proc.pid());
            current = parent.filter(|_| steps <= snapshot.procs.len());
            current.map(|p| p.id)
        })
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let action = self.keymap.action_for(key);
        if let Some(Overlay::Help { scroll }) = self.overlay {
            match (action, key.code) {
                (Some(Action::Up), _) => {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll.saturating_sub(1),
                    })
                }
                (Some(Action::Down), _) => {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll.saturating_add(1),
                    })
                }
                (Some(Action::PageUp), _) => {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll.saturating_sub(10),
                    })
                }
                (Some(Action::PageDown), _) => {
                    self.overlay = Some(Overlay::Help {
                        scroll: scroll.saturating_add(10),
                    })
                }
                // Ctrl-C always quits; any other quit key just closes the popup.
                (Some(Action::Quit), KeyCode::Char('c')) => self.exit = Some(Exit::Quit),
                (Some(Action::Quit | Action::Help), _) => self.overlay = None,
                _ => {}
            }
            return Vec::new();
        }
        match action {
            Some(action) => self.perform(action),
            None => Vec::new(),
        }
    }

    fn perform(&mut self, action: Action) -> Vec<Effect> {
        let page = usize::from(self.table_height()).max(1);
        match action {
            Action::Quit => self.exit = Some(Exit::Quit),
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
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
                let shown = if self.show_kernel_threads {
                    "shown"
                } else {
                    "hidden"
                };
                self.set_status(Severity::Info, format!("kernel threads {shown}"));
            }
            Action::Threads => {
                self.show_threads = !self.show_threads;
                let shown = if self.show_threads { "shown" } else { "hidden" };
                self.set_status(Severity::Info, format!("userland threads {shown}"));
                return vec![Effect::ScanThreads(self.show_threads)];
            }
        }
        Vec::new()
    }

    fn collapse_or_go_up(&mut self) {
        let Some(row) = self.rows.get(self.selected_row).copied() else {
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
        if self.selected_row < self.scroll {
            self.scroll = self.selected_row;
        } else if self.selected_row >= self.scroll + height {
            self.scroll = self.selected_row + 1 - height;
        }
        self.scroll = self.scroll.min(self.rows.len().saturating_sub(height));
    }

    /// Rows of the process table on the current screen.
    pub fn table_height(&self) -> u16 {
        crate::ui::layout::areas(ratatui::layout::Rect::new(
            0,
            0,
            self.screen.0,
            self.screen.1,
        ))
        .table
        .height
    }

    pub fn set_status(&mut self, severity: Severity, text: impl Into<String>) {
        self.status = Some(StatusMessage {
            text: text.into(),
            severity,
            expires_after_scan: self.scan_count + STATUS_SCANS,
        });
    }
}

fn count_states(snapshot: &Snapshot, marks: &[Marks]) -> StateCounts {
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
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::SnapshotBuilder;
    use crossterm::event::KeyModifiers;

    fn app_with(snapshot: Snapshot) -> App {
        let mut app = App::new(Keymap::default(), true, 1);
        app.update(Event::Resize {
            width: 100,
            height: 30,
        });
        feed(&mut app, snapshot);
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
        assert_eq!(app.exit, Some(Exit::Quit));
    }

    #[test]
    fn thread_toggle_asks_the_collector_and_says_so() {
        let mut app = app_with(tree().build());
        assert_eq!(press(&mut app, 'H'), vec![Effect::ScanThreads(true)]);
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
}
