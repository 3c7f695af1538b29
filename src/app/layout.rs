//! Where each part of the screen goes. The app owns it (paging, scrolling and the mouse need it);
//! `draw` paints into the same areas.

use ratatui::layout::Rect;

/// Below this size brood shows a notice instead of the tree.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 8;
const HEADER_HEIGHT: u16 = 2;

/// Which optional panels are open below the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Panels {
    pub log: bool,
    pub ipc: bool,
    /// The details pane (beside the tree on a wide screen, else below it).
    pub details: bool,
    /// The scenario explanation panel (beside the tree on a wide screen, else below it).
    pub scenario: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub table_header: Rect,
    pub table: Rect,
    /// The IPC panel; zero height when hidden.
    pub ipc: Rect,
    /// The event log panel; zero height when hidden.
    pub log: Rect,
    /// The details pane: right of the table on a wide screen, below it otherwise; empty when hidden.
    pub details: Rect,
    /// The scenario panel, cut from the table's area like the details pane; empty when hidden.
    pub scenario: Rect,
    pub footer: Rect,
    pub too_small: bool,
}

/// Screens at least this wide put the details pane beside the table, not below it.
pub const SIDE_DETAILS_WIDTH: u16 = 150;

pub fn areas(screen: Rect, panels: Panels) -> Areas {
    let mut areas = base_areas(screen, panels);
    if areas.too_small {
        return areas;
    }
    let details_beside = panels.details && screen.width >= SIDE_DETAILS_WIDTH;
    if panels.details {
        if details_beside {
            let width = screen.width * 2 / 5;
            let table_width = screen.width - width;
            areas.details = Rect::new(
                screen.x + table_width,
                areas.table_header.y,
                width,
                areas.table.height + 1,
            );
            areas.table_header.width = table_width;
            areas.table.width = table_width;
        } else {
            let table = areas.table;
            let details_height = (table.height / 2).min(table.height.saturating_sub(3));
            areas.table.height -= details_height;
            areas.details = Rect::new(
                table.x,
                table.y + areas.table.height,
                table.width,
                details_height,
            );
        }
    }
    if panels.scenario {
        // The right-hand side is the details pane's when it is there: the panel goes below.
        let (table, panel) = scenario_split(areas.table, !details_beside);
        areas.table = table;
        areas.table_header.width = table.width;
        areas.scenario = panel.unwrap_or(areas.scenario);
    }
    areas
}

fn base_areas(screen: Rect, panels: Panels) -> Areas {
    if screen.width < MIN_WIDTH || screen.height < MIN_HEIGHT {
        let empty = Rect::new(screen.x, screen.y, 0, 0);
        return Areas {
            header: empty,
            table_header: empty,
            table: empty,
            ipc: empty,
            log: empty,
            details: empty,
            scenario: empty,
            footer: empty,
            too_small: true,
        };
    }
    let row = |y: u16, height: u16| Rect::new(screen.x, y, screen.width, height);
    let top = screen.y;
    let bottom = screen.y + screen.height;
    // Panels share at most half of the screen (each with its title line) and leave the tree 3 rows.
    let open = u16::from(panels.log) + u16::from(panels.ipc);
    let budget = (screen.height / 2).min(screen.height - HEADER_HEIGHT - 5);
    let each = budget.checked_div(open).map_or(0, |share| share.min(12));
    let log_height = if panels.log { each } else { 0 };
    let ipc_height = if panels.ipc { each } else { 0 };
    let table_height = screen.height - HEADER_HEIGHT - 2 - log_height - ipc_height;
    Areas {
        header: row(top, HEADER_HEIGHT),
        table_header: row(top + HEADER_HEIGHT, 1),
        table: row(top + HEADER_HEIGHT + 1, table_height),
        ipc: row(bottom - 1 - log_height - ipc_height, ipc_height),
        log: row(bottom - 1 - log_height, log_height),
        details: Rect::new(screen.x, top, 0, 0),
        scenario: Rect::new(screen.x, top, 0, 0),
        footer: row(bottom - 1, 1),
        too_small: false,
    }
}

/// A full page in place of the tree (the log, the timeline): the header stays; a title line,
/// the body, what is under the cursor in full, and the footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullPage {
    pub header: Rect,
    pub title: Rect,
    pub body: Rect,
    pub detail: Rect,
    pub footer: Rect,
}

fn full_page(screen: Rect, detail_height: u16) -> FullPage {
    let row = |y: u16, height: u16| Rect::new(screen.x, y, screen.width, height);
    let top = screen.y;
    let bottom = screen.y + screen.height;
    if screen.width < MIN_WIDTH || screen.height < MIN_HEIGHT {
        let empty = row(top, 0);
        return FullPage {
            header: empty,
            title: empty,
            body: empty,
            detail: empty,
            footer: empty,
        };
    }
    let body_height = screen.height - HEADER_HEIGHT - 1 - detail_height - 1;
    FullPage {
        header: row(top, HEADER_HEIGHT),
        title: row(top + HEADER_HEIGHT, 1),
        body: row(top + HEADER_HEIGHT + 1, body_height),
        detail: row(bottom - 1 - detail_height, detail_height),
        footer: row(bottom - 1, 1),
    }
}

/// The full-screen log: its body is the entries; the entry under the cursor gets three rows.
pub fn log_page(screen: Rect) -> FullPage {
    full_page(screen, 3)
}

/// The timeline page: the time axis, then the rows (names on the left, time to the right); the
/// selected row at the cursor gets two rows in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelinePage {
    pub page: FullPage,
    pub axis: Rect,
    pub rows: Rect,
    /// Cells of each row the names take (the rest is time).
    pub names_width: u16,
}

impl TimelinePage {
    /// Columns of the time axis.
    pub fn axis_columns(&self) -> u16 {
        self.rows.width.saturating_sub(self.names_width + 1)
    }
}

pub fn timeline_page(screen: Rect) -> TimelinePage {
    let page = full_page(screen, 2);
    let body = page.body;
    let axis = Rect {
        height: body.height.min(1),
        ..body
    };
    let rows = Rect {
        y: body.y + axis.height,
        height: body.height - axis.height,
        ..body
    };
    TimelinePage {
        page,
        axis,
        rows,
        names_width: if body.width == 0 {
            0
        } else {
            (screen.width / 4).clamp(12, 32)
        },
    }
}

/// Where each column sits in the table: (column, first cell, width). Columns are one cell apart,
/// the command two (the second cell holds a tagged row's mark); the command takes the rest.
pub fn columns(
    columns: &[super::sort::Column],
    width: u16,
) -> Vec<(super::sort::Column, u16, u16)> {
    use super::sort::Column;
    let mut x = 0;
    let mut placed = Vec::with_capacity(columns.len());
    for &column in columns.iter().filter(|&&c| c != Column::Command) {
        placed.push((column, x, column.width()));
        x += column.width() + 1;
    }
    x += 1;
    placed.push((Column::Command, x, width.saturating_sub(x)));
    placed
}

/// Tree levels drawn before the outer ones are elided as `…`, for a table this wide.
pub fn guide_budget(table_width: u16) -> usize {
    usize::from(table_width).saturating_sub(50).max(8) / 2
}

/// Cells the tree guides of a row at `depth` take before its name (with the space after them).
pub fn guide_cells(depth: u32, budget: usize) -> u16 {
    if depth == 0 {
        return 0;
    }
    let levels = (depth as usize).min(budget);
    let elided = usize::from(depth as usize > levels);
    (levels * 2 + elided + 1) as u16
}

/// Below this width the panel goes under the tree instead of beside it.
const SIDE_BY_SIDE_WIDTH: u16 = 110;

/// Splits the tree's area into the tree and the panel (none when the area is too small): beside
/// the tree when it is wide and `beside` allows, else below it.
fn scenario_split(table: Rect, beside: bool) -> (Rect, Option<Rect>) {
    if table.height < 4 {
        return (table, None);
    }
    if beside && table.width >= SIDE_BY_SIDE_WIDTH {
        let width = (table.width * 2 / 5).clamp(40, 70);
        let tree = Rect {
            width: table.width - width,
            ..table
        };
        let panel = Rect {
            x: table.x + tree.width,
            width,
            ..table
        };
        return (tree, Some(panel));
    }
    let height = (table.height / 2).max(3);
    let tree = Rect {
        height: table.height - height,
        ..table
    };
    let panel = Rect {
        y: table.y + tree.height,
        height,
        ..table
    };
    (tree, Some(panel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_areas_overlap_and_all_stay_on_screen_whatever_is_open() {
        for (width, height) in [
            (40, 8),
            (80, 24),
            (109, 30),
            (110, 30),
            (150, 40),
            (400, 120),
        ] {
            let screen = Rect::new(0, 0, width, height);
            for bits in 0..16u8 {
                let panels = Panels {
                    log: bits & 1 != 0,
                    ipc: bits & 2 != 0,
                    details: bits & 4 != 0,
                    scenario: bits & 8 != 0,
                };
                let a = areas(screen, panels);
                let all = [
                    a.header,
                    a.table_header,
                    a.table,
                    a.ipc,
                    a.log,
                    a.details,
                    a.scenario,
                    a.footer,
                ];
                for (i, one) in all.iter().enumerate() {
                    assert_eq!(
                        one.intersection(screen),
                        *one,
                        "{one:?} leaves the {width}x{height} screen"
                    );
                    for other in &all[i + 1..] {
                        assert!(
                            !one.intersects(*other) || one.is_empty() || other.is_empty(),
                            "{one:?} overlaps {other:?} ({panels:?}, {width}x{height})"
                        );
                    }
                }
                assert!(
                    a.table.height >= 1,
                    "the tree keeps a row ({panels:?}, {width}x{height})"
                );
            }
        }
    }
}
