//! The timeline page: which processes it draws (the lab, the tagged ones, a subtree, all), the
//! stretch of time it shows and how fine, the time cursor and the selected row. Pure functions
//! of the app's `Timeline`; `keys` moves through it, `ui::timeline` draws what `frame` gives.

mod keys;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::ops::Range;

use crate::history::timeline::{Line, MarkKind, Timeline, Which};
use crate::proc::Identity;

/// Which processes the timeline draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowSet {
    /// brood's lab.
    Lab,
    /// The processes tagged when the page opened.
    Tagged(HashSet<Identity>),
    /// A process and every process it begot, as far as the timeline knows ("3495 (sh)").
    Subtree {
        root: Identity,
        name: String,
    },
    All,
}

/// The time scales a column can stand for, finest first.
const SCALES_NS: [u64; 12] = [
    1_000_000,
    5_000_000,
    20_000_000,
    100_000_000,
    250_000_000,
    1_000_000_000,
    5_000_000_000,
    15_000_000_000,
    60_000_000_000,
    300_000_000_000,
    900_000_000_000,
    3_600_000_000_000,
];

/// A column stands for this long when the page opens: a minute on a 60-column axis.
const START_SCALE: usize = 5;

/// Where the user is in time, and in the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineView {
    pub set: RowSet,
    /// An index into the scales: how long one column stands for.
    scale: usize,
    /// The time under the cursor; `None` follows the latest moment the timeline knows.
    pub cursor_ns: Option<u64>,
    /// The right edge of the time shown; `None` follows the latest moment.
    end_ns: Option<u64>,
    /// The selected row, by process.
    pub selected: Option<Identity>,
    /// The first row on screen.
    pub scroll: usize,
}

/// What one screenful of the timeline shows.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    pub lines: Vec<Line<'a>>,
    /// The time each column starts at is `window.start + column * scale_ns`.
    pub window: Range<u64>,
    pub scale_ns: u64,
    pub cursor_ns: u64,
    /// The selected row's place in `lines`.
    pub selected: Option<usize>,
}

impl Frame<'_> {
    /// The cursor's column: its place on the axis, and the time it stands for.
    pub fn cursor_column(&self) -> Option<(u64, Range<u64>)> {
        let column = self.cursor_ns.checked_sub(self.window.start)? / self.scale_ns.max(1);
        let from = self.window.start + column * self.scale_ns;
        Some((column, from..from + self.scale_ns))
    }
}

impl Default for TimelineView {
    fn default() -> Self {
        TimelineView::new(RowSet::All)
    }
}

impl TimelineView {
    pub fn new(set: RowSet) -> TimelineView {
        TimelineView {
            set,
            scale: START_SCALE,
            cursor_ns: None,
            end_ns: None,
            selected: None,
            scroll: 0,
        }
    }

    pub fn scale_ns(&self) -> u64 {
        SCALES_NS[self.scale]
    }

    pub fn following(&self) -> bool {
        self.cursor_ns.is_none()
    }

    /// The rows of the set over all the time kept, in tree order.
    pub fn lines<'a>(&self, timeline: &'a Timeline) -> Vec<Line<'a>> {
        let all = 0..u64::MAX;
        match &self.set {
            RowSet::Lab => timeline.rows(Which::Lab, all),
            RowSet::Tagged(ids) => timeline.rows(Which::These(ids), all),
            RowSet::All => timeline.rows(Which::All, all),
            RowSet::Subtree { root, .. } => subtree(timeline.rows(Which::All, all), *root),
        }
    }

    /// The screenful for a time axis `columns` wide and `height` rows.
    pub fn frame<'a>(&self, timeline: &'a Timeline, columns: u16, height: usize) -> Frame<'a> {
        let scale_ns = self.scale_ns();
        let latest = timeline.span().map_or(0, |(_, latest)| latest);
        let width = u64::from(columns.max(1)) * scale_ns;
        let cursor_ns = self.cursor_ns.unwrap_or(latest);
        let end = self.end_ns.unwrap_or(latest.saturating_add(scale_ns));
        let window = end.saturating_sub(width)..end;
        let lines = self.lines(timeline);
        let selected = self
            .selected
            .and_then(|id| lines.iter().position(|l| l.row.id == id));
        let first = self.scroll.min(lines.len().saturating_sub(height.max(1)));
        let shown: Vec<Line<'a>> = lines.into_iter().skip(first).take(height).collect();
        Frame {
            lines: shown,
            window,
            scale_ns,
            cursor_ns,
            selected: selected.and_then(|s| s.checked_sub(first)),
        }
    }

    /// Moves the cursor `by` columns (back when negative), the window with it when it leaves;
    /// forward past the latest moment it follows again.
    pub fn move_cursor(&mut self, timeline: &Timeline, by: i64, columns: u16) {
        let (earliest, latest) = self.kept(timeline).unwrap_or_default();
        let scale_ns = self.scale_ns();
        let now = self.cursor_ns.unwrap_or(latest);
        let step = by.unsigned_abs().saturating_mul(scale_ns);
        let moved = if by < 0 {
            now.saturating_sub(step).max(earliest)
        } else {
            now.saturating_add(step)
        };
        if moved >= latest {
            self.follow();
            return;
        }
        self.cursor_ns = Some(moved);
        let width = u64::from(columns.max(1)) * scale_ns;
        let end = self.end_ns.unwrap_or(latest.saturating_add(scale_ns));
        if moved < end.saturating_sub(width) {
            self.end_ns = Some(moved.saturating_add(width / 4 * 3));
        } else if moved >= end {
            self.end_ns = Some(moved.saturating_add(width / 4));
        } else {
            self.end_ns = Some(end);
        }
    }

    /// Puts the cursor at `at_ns`, the window with it when it falls outside.
    pub fn put_cursor(&mut self, timeline: &Timeline, at_ns: u64, columns: u16) {
        let now = self
            .cursor_ns
            .unwrap_or_else(|| timeline.span().map_or(0, |(_, l)| l));
        let columns_away = (i128::from(at_ns) - i128::from(now)) / i128::from(self.scale_ns());
        self.move_cursor(timeline, columns_away as i64, columns);
        if !self.following() {
            self.cursor_ns = Some(at_ns);
        }
    }

    /// Back to the latest moment, following it.
    pub fn follow(&mut self) {
        self.cursor_ns = None;
        self.end_ns = None;
    }

    /// From the first moment brood knows of the rows listed to the latest moment observed.
    fn kept(&self, timeline: &Timeline) -> Option<(u64, u64)> {
        let (earliest, latest) = timeline.span()?;
        // With no row listed, the cursor still moves over the whole time kept.
        let first = self
            .lines(timeline)
            .iter()
            .map(|l| l.row.first_known())
            .min()
            .unwrap_or(earliest);
        Some((first.min(latest), latest))
    }

    /// The cursor to the earliest moment kept of the rows listed, at the left edge.
    pub fn first(&mut self, timeline: &Timeline, columns: u16) {
        let Some((earliest, _)) = self.kept(timeline) else {
            return;
        };
        self.cursor_ns = Some(earliest);
        self.end_ns = Some(earliest + u64::from(columns.max(1)) * self.scale_ns());
    }

    /// A finer (`finer`) or coarser scale, keeping the cursor where it is on the axis.
    pub fn zoom(&mut self, finer: bool) {
        self.scale = if finer {
            self.scale.saturating_sub(1)
        } else {
            (self.scale + 1).min(SCALES_NS.len() - 1)
        };
        if let Some(cursor) = self.cursor_ns {
            // Re-centred on the cursor: the old edges mean nothing at a new scale.
            self.end_ns = Some(cursor.saturating_add(self.scale_ns()));
        }
    }

    /// The finest scale at which the time kept of the rows listed fits in `columns` (the
    /// coarsest there is when nothing does).
    pub fn fit(&mut self, timeline: &Timeline, columns: u16) {
        let Some((earliest, latest)) = self.kept(timeline) else {
            return;
        };
        let span = latest.saturating_sub(earliest).max(1);
        // Following, the last column is the latest moment's: the rest hold what came before.
        let columns = u64::from(columns.max(2) - 1);
        self.scale = SCALES_NS
            .iter()
            .position(|&scale| scale * columns >= span)
            .unwrap_or(SCALES_NS.len() - 1);
        self.follow();
    }

    /// Selects the row `by` rows from the selected one, keeping it on screen.
    pub fn select(&mut self, timeline: &Timeline, by: isize, height: usize) {
        let lines = self.lines(timeline);
        if lines.is_empty() {
            return;
        }
        let at = self
            .selected
            .and_then(|id| lines.iter().position(|l| l.row.id == id))
            .unwrap_or(0);
        let to = at.saturating_add_signed(by).min(lines.len() - 1);
        self.select_line(lines[to].row.id, to, height);
    }

    /// Selects `id`'s row, keeping it on screen; false when it is not listed.
    pub fn select_id(&mut self, timeline: &Timeline, id: Identity, height: usize) -> bool {
        let Some(to) = self.lines(timeline).iter().position(|l| l.row.id == id) else {
            return false;
        };
        self.select_line(id, to, height);
        true
    }

    /// The child the selected row forked in the cursor's column (as drawn on an axis of
    /// `columns`), where it has a fork mark.
    pub fn forked_at_cursor(&self, timeline: &Timeline, columns: u16) -> Option<Identity> {
        let row = timeline.row(self.selected?)?;
        let (_, column) = self.frame(timeline, columns, 0).cursor_column()?;
        row.marks().find_map(|mark| match mark.kind {
            MarkKind::Fork { child } if column.contains(&mark.at_ns) => Some(child),
            _ => None,
        })
    }

    fn select_line(&mut self, id: Identity, to: usize, height: usize) {
        self.selected = Some(id);
        let height = height.max(1);
        if to < self.scroll {
            self.scroll = to;
        } else if to >= self.scroll + height {
            self.scroll = to + 1 - height;
        }
    }
}

/// `root`'s line and the lines below it deeper than it (its descendants, as the tree order
/// lists them).
fn subtree(lines: Vec<Line<'_>>, root: Identity) -> Vec<Line<'_>> {
    let Some(at) = lines.iter().position(|l| l.row.id == root) else {
        return Vec::new();
    };
    let depth = lines[at].depth;
    let mut kept: Vec<Line<'_>> = lines
        .into_iter()
        .skip(at)
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.depth > depth)
        .map(|(_, l)| l)
        .collect();
    for line in &mut kept {
        line.depth -= depth;
    }
    kept
}
