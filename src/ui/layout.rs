//! Where each part of the screen goes; shared by `draw` and by `App` (paging needs the table height).

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
    pub footer: Rect,
    pub too_small: bool,
}

pub fn areas(screen: Rect, panels: Panels) -> Areas {
    if screen.width < MIN_WIDTH || screen.height < MIN_HEIGHT {
        let empty = Rect::new(screen.x, screen.y, 0, 0);
        return Areas {
            header: empty,
            table_header: empty,
            table: empty,
            ipc: empty,
            log: empty,
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
    let each = budget
        .checked_div(open)
        .map_or(0, |share| share.clamp(2, 12));
    let log_height = if panels.log { each } else { 0 };
    let ipc_height = if panels.ipc { each } else { 0 };
    let table_height = screen.height - HEADER_HEIGHT - 2 - log_height - ipc_height;
    Areas {
        header: row(top, HEADER_HEIGHT),
        table_header: row(top + HEADER_HEIGHT, 1),
        table: row(top + HEADER_HEIGHT + 1, table_height),
        ipc: row(bottom - 1 - log_height - ipc_height, ipc_height),
        log: row(bottom - 1 - log_height, log_height),
        footer: row(bottom - 1, 1),
        too_small: false,
    }
}
