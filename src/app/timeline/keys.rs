//! Keys on the timeline page: rows, the time cursor, zoom, which processes, back to the tree.

use super::{RowSet, TimelineView};
use crate::app::keymap::{Bindable, TimelineAction};
use crate::app::{App, Page, Severity};

impl App {
    /// Opens the timeline on the processes the tree points at: the lab in the lab view, else the
    /// tagged processes, else the selected process's subtree, else every process.
    pub(crate) fn open_timeline(&mut self) {
        let set = if self.lab_view {
            RowSet::Lab
        } else if !self.tagged.is_empty() {
            RowSet::Tagged(self.tagged.clone())
        } else if let Some(proc) = self.selected_proc() {
            RowSet::Subtree {
                root: proc.id,
                name: format!("{} ({})", proc.pid(), proc.name),
            }
        } else {
            RowSet::All
        };
        let mut view = TimelineView::new(set);
        view.selected = self.selected;
        if let Some(replay) = &self.replay {
            // At the moment replayed, not at the recording's end.
            let columns = crate::app::layout::timeline_page(self.screen_rect()).axis_columns();
            view.put_cursor(&self.timeline, replay.cursor_ns, columns);
        }
        self.timeline_view = view;
        self.page = Page::Timeline;
    }

    pub(crate) fn perform_timeline(
        &mut self,
        action: TimelineAction,
    ) -> Vec<crate::message::Effect> {
        let page = crate::app::layout::timeline_page(self.screen_rect());
        let (columns, height) = (page.axis_columns(), usize::from(page.rows.height));
        let view = &mut self.timeline_view;
        let timeline = &self.timeline;
        match action {
            TimelineAction::Close => self.page = Page::Tree,
            TimelineAction::Quit => return self.ask_to_quit(),
            TimelineAction::Help => self.open_help_at(TimelineAction::TITLE),
            TimelineAction::Up => view.select(timeline, -1, height),
            TimelineAction::Down => view.select(timeline, 1, height),
            TimelineAction::PageUp => view.select(timeline, -(height.max(2) as isize - 1), height),
            TimelineAction::PageDown => view.select(timeline, height.max(2) as isize - 1, height),
            TimelineAction::Earlier => view.move_cursor(timeline, -1, columns),
            TimelineAction::Later => view.move_cursor(timeline, 1, columns),
            TimelineAction::EarlierPage => {
                view.move_cursor(timeline, -i64::from(columns.max(2) - 1), columns)
            }
            TimelineAction::LaterPage => {
                view.move_cursor(timeline, i64::from(columns.max(2) - 1), columns)
            }
            TimelineAction::First => view.first(timeline, columns),
            TimelineAction::Last => view.follow(),
            TimelineAction::ZoomIn => view.zoom(true),
            TimelineAction::ZoomOut => view.zoom(false),
            TimelineAction::Fit => view.fit(timeline, columns),
            TimelineAction::Subtree => self.timeline_subtree(),
            TimelineAction::All => self.timeline_set(RowSet::All),
            TimelineAction::Lab => self.timeline_set(RowSet::Lab),
            TimelineAction::Child => self.timeline_to_child(columns, height),
            TimelineAction::Parent => self.timeline_to_parent(height),
            TimelineAction::Show => self.show_timeline_row(),
        }
        Vec::new()
    }

    /// Follows the fork at the cursor to the child's row.
    fn timeline_to_child(&mut self, columns: u16, height: usize) {
        let child = self.timeline_view.forked_at_cursor(&self.timeline, columns);
        let Some(child) = child else {
            let text = "no fork of this row at the cursor: move the cursor onto a + mark";
            self.set_status(Severity::Info, text);
            return;
        };
        self.timeline_to(child, "its child", height);
    }

    /// To the row of the process that forked the selected one.
    fn timeline_to_parent(&mut self, height: usize) {
        let parent = self
            .timeline_view
            .selected
            .and_then(|id| self.timeline.row(id)?.parent);
        match parent {
            Some(parent) => self.timeline_to(parent, "its parent", height),
            None => self.set_status(Severity::Info, "brood does not know who forked it"),
        }
    }

    fn timeline_to(&mut self, id: crate::proc::Identity, who: &str, height: usize) {
        if !self.timeline_view.select_id(&self.timeline, id, height) {
            let all = self.keymap.timeline.first(TimelineAction::All);
            let text = format!("{who} {} is not in this set ({all}: every process)", id.pid);
            self.set_status(Severity::Info, text);
        }
    }

    fn timeline_set(&mut self, set: RowSet) {
        self.timeline_view.set = set;
        self.timeline_view.scroll = 0;
    }

    /// Only the selected row's process and what it begot.
    fn timeline_subtree(&mut self) {
        let Some(root) = self.timeline_view.selected else {
            return;
        };
        let name = self.timeline.row(root).map_or_else(
            || root.pid.to_string(),
            |r| format!("{} ({})", root.pid, r.name),
        );
        self.timeline_set(RowSet::Subtree { root, name });
    }

    /// Enter: back to the tree with the row's process selected, if it still runs.
    fn show_timeline_row(&mut self) {
        let Some(id) = self.timeline_view.selected else {
            return;
        };
        if self.proc_by_pid(id.pid).is_none_or(|p| p.id != id) {
            self.set_status(Severity::Info, format!("{} has ended", id.pid));
        } else if self.select_identity(id) {
            self.page = Page::Tree;
        } else {
            let text = format!("{} is folded away or filtered out of the tree", id.pid);
            self.set_status(Severity::Info, text);
        }
    }
}
