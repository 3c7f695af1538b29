//! Keys on the main screen: each action of the key table's main layer, and Esc and quit.

use crossterm::event::KeyEvent;

use super::keymap::Action;
use super::{App, Exit, Overlay, QuitDialog, Severity};
use crate::message::{CollectorCommand, Effect, Target};
use crate::proc::{ProcInfo, State, TaskKind};

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
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
        if self.replay.is_some()
            && let Some(action) = self.keymap.replay.action_for(key)
        {
            return self.on_replay_key(action);
        }
        match self.page {
            super::Page::Log => {
                return match self.keymap.log.action_for(key) {
                    Some(action) => self.perform_log(action),
                    None => Vec::new(),
                };
            }
            super::Page::Timeline => {
                return match self.keymap.timeline.action_for(key) {
                    Some(action) => self.perform_timeline(action),
                    None => Vec::new(),
                };
            }
            super::Page::Tree => {}
        }
        match action {
            Some(action) => self.perform(action),
            None => Vec::new(),
        }
    }

    pub(super) fn perform(&mut self, action: Action) -> Vec<Effect> {
        if self.refused_in_replay(action) {
            return Vec::new();
        }
        let page = usize::from(self.table_height()).max(1);
        match action {
            Action::Quit => return self.ask_to_quit(),
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
            Action::FullLog => self.page = super::Page::Log,
            Action::TimelineView => self.open_timeline(),
            Action::Record => return vec![Effect::Record(self.recording.is_none())],
            Action::StepBack => return self.step_back(),
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
    pub(super) fn close_last(&mut self) -> Vec<Effect> {
        if self.in_the_past() || self.stepping_back > 0 {
            return self.back_to_live();
        }
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

    /// `q`: quits, or asks what to do with the lab first. From the session's past, the
    /// question is asked on the live tree.
    pub(super) fn ask_to_quit(&mut self) -> Vec<Effect> {
        let effects = if self.in_the_past() || self.stepping_back > 0 {
            self.back_to_live()
        } else {
            Vec::new()
        };
        // A replayed file's lab processes are a recording's, not brood's to end or leave.
        if self.counts.lab > 0 && self.replay.is_none() {
            self.overlay = Some(Overlay::Quit(self.quit_dialog()));
        } else {
            self.exit = Some(Exit::Quit {
                leave_running: false,
            });
        }
        effects
    }

    /// What the quit dialog says of the lab now (it is told again after every scan while open).
    pub(super) fn quit_dialog(&self) -> QuitDialog {
        let lab: Vec<&ProcInfo> = self
            .snapshot
            .procs
            .iter()
            .filter(|p| p.kind == TaskKind::Process && self.is_lab(p))
            .collect();
        QuitDialog {
            processes: lab.len(),
            zombies: lab.iter().filter(|p| p.state.has_exited()).count(),
            stopped: lab
                .iter()
                .filter(|p| p.state == State::Stopped)
                .map(|p| Target::of(p))
                .collect(),
        }
    }
}
