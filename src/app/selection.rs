//! The selection (a process, not a row), folding, scrolling, and where things are on screen.

use super::{App, layout};
use crate::proc::{Pid, ProcInfo};

impl App {
    pub(super) fn collapse_or_go_up(&mut self) {
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

    pub(super) fn toggle_fold_all(&mut self) {
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

    /// Selects `id`'s row; false when the tree does not show it (folded away or filtered out).
    pub(super) fn select_identity(&mut self, id: crate::proc::Identity) -> bool {
        let row = self
            .rows
            .iter()
            .position(|r| self.snapshot.procs[r.proc_index].id == id);
        if let Some(row) = row {
            self.select_row(row);
        }
        row.is_some()
    }

    pub(super) fn select_row(&mut self, row: usize) {
        if self.rows.is_empty() {
            return;
        }
        self.selected_row = row.min(self.rows.len() - 1);
        self.selected = Some(self.snapshot.procs[self.rows[self.selected_row].proc_index].id);
        self.keep_selection_visible();
    }

    pub(super) fn keep_selection_visible(&mut self) {
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
        layout::areas(self.screen_rect(), self.panels())
    }

    pub fn screen_rect(&self) -> ratatui::layout::Rect {
        ratatui::layout::Rect::new(0, 0, self.screen.0, self.screen.1)
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
}
