//! Keys on the full-screen event log: moving, searching, filtering, and back to the tree.

use super::Subtree;
use crate::app::keymap::{Bindable, LogAction};
use crate::app::{App, Overlay, Page, PickKind, Picker, Prompt, PromptKind, Severity};
use crate::history::Kinds;
use crate::message::Effect;
use crate::proc::tree;

/// The kind picker's first item.
pub const EVERY_KIND: &str = "(every kind)";

impl App {
    pub(crate) fn perform_log(&mut self, action: LogAction) -> Vec<Effect> {
        let height = self.log_page_height();
        let page = height.saturating_sub(1).max(1) as isize;
        let lab_view = self.lab_view;
        match action {
            LogAction::Close => self.page = Page::Tree,
            LogAction::Quit => return self.ask_to_quit(),
            LogAction::Help => self.open_help_at(LogAction::TITLE),
            LogAction::Up => self.log.step(&self.history, lab_view, -1, height),
            LogAction::Down => self.log.step(&self.history, lab_view, 1, height),
            LogAction::PageUp => self.log.step(&self.history, lab_view, -page, height),
            LogAction::PageDown => self.log.step(&self.history, lab_view, page, height),
            LogAction::First => self.log.first(&self.history, lab_view),
            LogAction::Last => self.log.follow(height),
            LogAction::Search => self.open_log_prompt(PromptKind::LogSearch),
            LogAction::SearchNext => self.log_search_step(true),
            LogAction::SearchPrevious => self.log_search_step(false),
            LogAction::Filter => self.open_log_prompt(PromptKind::LogFilter),
            LogAction::FilterKind => {
                let mut items = vec![EVERY_KIND.to_string()];
                items.extend(Kinds::NAMED.iter().map(|(_, name)| name.to_string()));
                let selected = Kinds::NAMED
                    .iter()
                    .position(|(k, _)| *k == self.log.filter.kinds)
                    .map_or(0, |i| i + 1);
                self.overlay = Some(Overlay::Pick(Picker {
                    kind: PickKind::LogKind,
                    items,
                    selected,
                }));
            }
            LogAction::FilterSubtree => self.toggle_log_subtree(),
            LogAction::FilterUser => self.toggle_log_user(),
            LogAction::FilterLab => {
                self.log.filter.lab_only = !self.log.filter.lab_only;
                self.say_toggle(
                    "log:",
                    self.log.filter.lab_only,
                    "only the lab",
                    "everything",
                );
            }
            LogAction::ClearFilters => {
                self.log.filter = Default::default();
                self.set_status(Severity::Info, "log filters cleared");
            }
            LogAction::Show => self.show_in_tree(),
        }
        Vec::new()
    }

    /// Rows of entries the full-screen log shows.
    pub fn log_page_height(&self) -> usize {
        usize::from(crate::app::layout::log_page(self.screen_rect()).body.height)
    }

    fn open_log_prompt(&mut self, kind: PromptKind) {
        let input = match kind {
            PromptKind::LogFilter => self.log.filter.text.clone(),
            _ => String::new(),
        };
        self.prompt = Some(Prompt::new(kind, input));
    }

    /// `n` and `N`: the next older or newer match of the last search.
    pub(crate) fn log_search_step(&mut self, older: bool) {
        if self.log.search.is_empty() {
            self.log.search = self.last_search.to_lowercase();
        }
        let found = self.log.find(&self.history, self.lab_view, older, false);
        if !found && !self.log.search.is_empty() {
            let text = format!("no entry holds \"{}\"", self.log.search);
            self.set_status(Severity::Info, text);
        }
    }

    fn toggle_log_subtree(&mut self) {
        if self.log.filter.subtree.take().is_some() {
            self.set_status(Severity::Info, "log: every process");
            return;
        }
        let Some(entry) = self.log.current(&self.history, self.lab_view) else {
            return;
        };
        let Some(root) = entry.subject else {
            self.set_status(Severity::Info, "this entry is about no process");
            return;
        };
        let name = self
            .proc_by_pid(root.pid)
            .filter(|p| p.id == root)
            .map_or_else(
                || root.pid.to_string(),
                |p| format!("{} ({})", root.pid, p.name),
            );
        let known: Vec<_> = self
            .snapshot
            .procs
            .iter()
            .position(|p| p.id == root)
            .map(|i| tree::subtree(&self.snapshot, i))
            .unwrap_or_default()
            .into_iter()
            .map(|i| self.snapshot.procs[i].id)
            .collect();
        let subtree = Subtree::new(root, name, known, &self.history);
        self.set_status(
            Severity::Info,
            format!("log: only {} and its descendants", subtree.name),
        );
        self.log.filter.subtree = Some(subtree);
    }

    fn toggle_log_user(&mut self) {
        if self.log.filter.user.take().is_some() {
            self.set_status(Severity::Info, "log: every user");
            return;
        }
        let Some(uid) = self
            .log
            .current(&self.history, self.lab_view)
            .and_then(|e| e.uid)
        else {
            self.set_status(Severity::Info, "this entry's user is not known");
            return;
        };
        let name = self
            .snapshot
            .procs
            .iter()
            .find(|p| p.uid == Some(uid))
            .map_or_else(|| uid.to_string(), |p| p.user.to_string());
        self.set_status(Severity::Info, format!("log: only user {name}"));
        self.log.filter.user = Some((uid, name));
    }

    /// Enter: back to the tree with the entry's process selected, if it still runs.
    fn show_in_tree(&mut self) {
        let Some(subject) = self
            .log
            .current(&self.history, self.lab_view)
            .and_then(|e| e.subject)
        else {
            return;
        };
        if self
            .proc_by_pid(subject.pid)
            .is_none_or(|p| p.id != subject)
        {
            self.set_status(Severity::Info, format!("{} has ended", subject.pid));
        } else if self.select_identity(subject) {
            self.page = Page::Tree;
        } else {
            let text = format!("{} is folded away or filtered out of the tree", subject.pid);
            self.set_status(Severity::Info, text);
        }
    }

    /// The kind picker chose: `selected` 0 is every kind.
    pub(crate) fn pick_log_kind(&mut self, selected: usize) {
        self.log.filter.kinds = selected
            .checked_sub(1)
            .and_then(|i| Kinds::NAMED.get(i))
            .map_or(Kinds::empty(), |(k, _)| *k);
    }
}
