//! Mouse input (crossterm mouse capture): click selects, the wheel scrolls, a click on a row's
//! tree guide or fold marker folds it, a click on a column header sorts by that column. Where
//! things are comes from `ui::layout`, the same functions `draw` uses.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::sort::Column;
use super::{App, layout};
use crate::message::Effect;

/// Rows one wheel notch moves.
const WHEEL_ROWS: usize = 3;

impl App {
    fn scroll_log_panel(&mut self, by: isize, panel: Rect) {
        // The panel's first row is its title.
        let height = usize::from(panel.height.saturating_sub(1));
        self.log.step(&self.history, self.lab_view, by, height);
    }

    pub(super) fn on_mouse(&mut self, mouse: MouseEvent) -> Vec<Effect> {
        if self.overlay.is_some() {
            return Vec::new();
        }
        let areas = self.areas();
        let at = Position::new(mouse.column, mouse.row);
        let inside = |area: Rect| area.contains(at);
        match mouse.kind {
            MouseEventKind::ScrollDown if inside(areas.details) => {
                self.details_scroll = self.details_scroll.saturating_add(WHEEL_ROWS as u16);
            }
            MouseEventKind::ScrollUp if inside(areas.details) => {
                self.details_scroll = self.details_scroll.saturating_sub(WHEEL_ROWS as u16);
            }
            // The log panel scrolls its lines; down past the newest, it follows them again.
            MouseEventKind::ScrollDown if inside(areas.log) => {
                self.scroll_log_panel(WHEEL_ROWS as isize, areas.log);
            }
            MouseEventKind::ScrollUp if inside(areas.log) => {
                self.scroll_log_panel(-(WHEEL_ROWS as isize), areas.log);
            }
            MouseEventKind::ScrollDown => self.select_row(self.selected_row + WHEEL_ROWS),
            MouseEventKind::ScrollUp => {
                self.select_row(self.selected_row.saturating_sub(WHEEL_ROWS))
            }
            MouseEventKind::Down(MouseButton::Left) if inside(areas.table_header) => {
                let column = layout::columns(&self.columns, areas.table_header.width)
                    .into_iter()
                    .find(|&(_, x, width)| {
                        let x = areas.table_header.x + x;
                        // The width-1 state column's arrow spills into the gap after it.
                        at.x >= x && at.x < x + width.max(2)
                    })
                    .map(|(column, _, _)| column);
                if let Some(column) = column {
                    self.sort_by(column);
                }
            }
            MouseEventKind::Down(MouseButton::Left) if inside(areas.table) => {
                let row = self.scroll + usize::from(at.y - areas.table.y);
                if row < self.rows.len() {
                    self.select_row(row);
                    if self.on_fold_marker(row, at.x - areas.table.x, areas.table.width) {
                        self.toggle_fold(row);
                    }
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// Whether cell `x` of table row `row` is its tree guide, the start of its name, or its
    /// `[+N]` fold marker.
    fn on_fold_marker(&self, row: usize, x: u16, width: u16) -> bool {
        let Some(&r) = self.rows.get(row) else {
            return false;
        };
        if r.child_count == 0 || self.list_mode {
            return false;
        }
        let Some(&(_, command_x, _)) = layout::columns(&self.columns, width)
            .iter()
            .find(|(c, _, _)| *c == Column::Command)
        else {
            return false;
        };
        let guides = layout::guide_cells(r.depth, layout::guide_budget(width));
        let name_x = command_x + guides;
        if x >= command_x && x <= name_x {
            return true;
        }
        let name_width = crate::proc::text::width(&self.snapshot.procs[r.proc_index].name) as u16;
        let marker_x = name_x + name_width + 1;
        let marker_width = format!("[+{}]", r.child_count).len() as u16;
        r.collapsed && x >= marker_x && x < marker_x + marker_width
    }

    fn toggle_fold(&mut self, row: usize) {
        let id = self.snapshot.procs[self.rows[row].proc_index].id;
        if !self.collapsed.remove(&id) {
            self.collapsed.insert(id);
        }
        self.rebuild_rows(None);
    }
}
