//! Where each part of the screen goes; shared by `draw` and by `App` (paging needs the table height).

use ratatui::layout::Rect;

/// Below this size brood shows a notice instead of the tree.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 8;
const HEADER_HEIGHT: u16 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub table_header: Rect,
    pub table: Rect,
    /// The event log panel; zero height when hidden.
    pub log: Rect,
    pub footer: Rect,
    pub too_small: bool,
}

pub fn areas(screen: Rect, show_log: bool) -> Areas {
    if screen.width < MIN_WIDTH || screen.height < MIN_HEIGHT {
        let empty = Rect::new(screen.x, screen.y, 0, 0);
        return Areas {
            header: empty,
            table_header: empty,
            table: empty,
            log: empty,
            footer: empty,
            too_small: true,
        };
    }
    let row = |y: u16, height: u16| Rect::new(screen.x, y, screen.width, height);
    let top = screen.y;
    let bottom = screen.y + screen.height;
    // The log takes a third of the screen at most (with its title line) and leaves the tree 3 rows.
    let log_height = if show_log {
        (screen.height / 3)
            .clamp(3, 12)
            .min(screen.height - HEADER_HEIGHT - 5)
    } else {
        0
    };
    Areas {
        header: row(top, HEADER_HEIGHT),
        table_header: row(top + HEADER_HEIGHT, 1),
        table: row(
            top + HEADER_HEIGHT + 1,
            screen.height - HEADER_HEIGHT - 2 - log_height,
        ),
        log: row(bottom - 1 - log_height, log_height),
        footer: row(bottom - 1, 1),
        too_small: false,
    }
}
