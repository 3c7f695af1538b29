//! The explorer's side of `update`: filters, sort, list mode, tags, the details pane, follow,
//! pause and suspend, and the pickers (user, sort column) they open.

use strum::VariantArray;

use super::dialogs::moved;
use super::keymap::{Action, MenuAction};
use super::sort::Column;
use super::{App, Overlay, Severity};
use crate::message::{Effect, Target};
use crate::proc::{TaskKind, tree};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickKind {
    /// Filter by user: the first item is "every user".
    User,
    Sort,
    /// The log's kind filter: the first item is "every kind".
    LogKind,
}

/// A popup list: which item is highlighted among which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub kind: PickKind,
    pub items: Vec<String>,
    pub selected: usize,
}

/// The user picker's first item.
pub const EVERY_USER: &str = "(every user)";

impl App {
    pub(super) fn perform_explore(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Search => self.open_search(),
            Action::SearchPrev => self.search_step(false),
            Action::Filter => self.open_filter(),
            Action::FilterDescendants => {
                self.filter.descendants = !self.filter.descendants;
                self.rebuild_rows(None);
                self.say_toggle(
                    "filter",
                    self.filter.descendants,
                    "shows the descendants of each match too",
                    "shows matches and their ancestors only",
                );
            }
            Action::FilterUser => self.open_user_picker(),
            Action::FilterState => {
                self.filter.state = self.filter.state.next();
                self.rebuild_rows(None);
                let text = self.filter.state.describe();
                self.set_status(Severity::Info, format!("showing {text}"));
            }
            Action::FilterMine => {
                self.filter.mine = !self.filter.mine;
                self.rebuild_rows(None);
                self.say_toggle("processes:", self.filter.mine, "only mine", "everyone's");
            }
            Action::ClearFilters => {
                self.filter = Default::default();
                self.rebuild_rows(None);
                self.set_status(Severity::Info, "filters cleared");
            }
            Action::TreeMode => {
                self.list_mode = !self.list_mode;
                self.rebuild_rows(None);
                self.say_toggle(
                    "view:",
                    self.list_mode,
                    "flat list, sorted as a whole",
                    "tree, siblings sorted",
                );
            }
            Action::SortMenu => {
                let selected = Column::VARIANTS
                    .iter()
                    .position(|&c| c == self.sort.column)
                    .unwrap_or(0);
                self.overlay = Some(Overlay::Pick(Picker {
                    kind: PickKind::Sort,
                    items: Column::VARIANTS
                        .iter()
                        .map(|c| format!("{:<8} {}", c.label(), c.name()))
                        .collect(),
                    selected,
                }));
            }
            Action::ReverseSort => {
                self.sort.descending = !self.sort.descending;
                self.rebuild_rows(None);
            }
            Action::Tag => {
                if let Some(id) = self.selected {
                    if !self.tagged.remove(&id) {
                        self.tagged.insert(id);
                    }
                    self.select_row(self.selected_row + 1);
                }
            }
            Action::TagSubtree => {
                if let Some(row) = self.rows.get(self.selected_row) {
                    let found = tree::subtree(&self.snapshot, row.proc_index);
                    let count = found.len();
                    self.tagged
                        .extend(found.into_iter().map(|i| self.snapshot.procs[i].id));
                    self.set_status(
                        Severity::Info,
                        format!("tagged {count} processes; {} in all", self.tagged.len()),
                    );
                }
            }
            Action::UntagAll => {
                self.tagged.clear();
                self.set_status(Severity::Info, "tags cleared");
            }
            Action::Details => {
                self.show_details = !self.show_details;
                self.details = None;
                self.keep_selection_visible();
            }
            Action::DetailsUp => self.details_scroll = self.details_scroll.saturating_sub(3),
            Action::DetailsDown => self.details_scroll = self.details_scroll.saturating_add(3),
            Action::Follow => {
                self.follow = !self.follow;
                self.keep_selection_visible();
                self.say_toggle(
                    "follow",
                    self.follow,
                    "on: the selected process stays in the middle of the view",
                    "off",
                );
            }
            Action::Pause => {
                self.paused = !self.paused;
                self.log.frozen_after = self
                    .paused
                    .then(|| self.history.next_seq().saturating_sub(1));
                if !self.paused
                    && let Some((snapshot, system)) = self.pending.take()
                {
                    self.take_system(system);
                    return self.take_snapshot(*snapshot);
                }
            }
            Action::Suspend => return self.suspend(),
            _ => {}
        }
        Vec::new()
    }

    fn open_user_picker(&mut self) {
        let mut users: Vec<String> = self
            .snapshot
            .procs
            .iter()
            .filter(|p| p.kind == TaskKind::Process)
            .map(|p| p.user.to_string())
            .collect();
        users.sort();
        users.dedup();
        let mut items = vec![EVERY_USER.to_string()];
        items.extend(users);
        let selected = self
            .filter
            .user
            .as_ref()
            .and_then(|u| items.iter().position(|i| i == u))
            .unwrap_or(0);
        self.overlay = Some(Overlay::Pick(Picker {
            kind: PickKind::User,
            items,
            selected,
        }));
    }

    pub(super) fn on_picker_key(
        &mut self,
        mut picker: Picker,
        action: Option<MenuAction>,
    ) -> Vec<Effect> {
        match action {
            Some(MenuAction::Choose) => {
                self.pick(&picker);
                return Vec::new();
            }
            Some(MenuAction::Cancel) => return Vec::new(),
            Some(action) => {
                let count = picker.items.len();
                picker.selected = moved(picker.selected, count, action, self.menu_page());
            }
            None => {}
        }
        self.overlay = Some(Overlay::Pick(picker));
        Vec::new()
    }

    fn pick(&mut self, picker: &Picker) {
        let Some(item) = picker.items.get(picker.selected) else {
            return;
        };
        match picker.kind {
            PickKind::User => {
                self.filter.user = (picker.selected > 0).then(|| item.clone());
            }
            PickKind::Sort => {
                if let Some(&column) = Column::VARIANTS.get(picker.selected) {
                    self.sort_by(column);
                }
            }
            PickKind::LogKind => {
                self.pick_log_kind(picker.selected);
                return;
            }
        }
        self.rebuild_rows(None);
    }

    pub(super) fn sort_by(&mut self, column: Column) {
        self.sort = self.sort.by(column);
        self.rebuild_rows(None);
    }

    /// Who a signal key aims at: every tagged process when there are tags, else the selected one.
    pub(super) fn signal_targets(&self, selected: Target) -> Vec<Target> {
        if self.tagged.is_empty() {
            return vec![selected];
        }
        let mut targets: Vec<Target> = self
            .snapshot
            .procs
            .iter()
            .filter(|p| self.tagged.contains(&p.id))
            .map(Target::of)
            .collect();
        targets.sort_by_key(|t| t.id.pid);
        targets
    }

    /// Ctrl-Z (or a stop signal to brood): the terminal goes back to the shell, then brood stops;
    /// only if a job-control shell could bring it back.
    pub(super) fn suspend(&mut self) -> Vec<Effect> {
        if self.job_control {
            return vec![Effect::Suspend];
        }
        self.set_status(
            Severity::Error,
            "brood was not started by a job-control shell, so nothing could bring it back; not suspended",
        );
        Vec::new()
    }

    /// A problem found at start (a bad config file): in the status line for longer than usual,
    /// and in the event log.
    pub fn warn(&mut self, text: String) {
        self.tell(Severity::Error, text);
        if let Some(status) = &mut self.status {
            status.expires_after_scan = self.scan_count + 30;
        }
    }
}
