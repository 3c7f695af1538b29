//! The timeline page: one row per process against a time axis. Each cell holds the state the
//! process was in at that moment, as its letter (so it reads without colour) in its colour; a
//! `~` where a scan saw the state change (it happened up to a refresh before), and marks where
//! something happened: `+` fork, `*` exec, `!` a signal, `x` exit, `.` reaped. The cursor is a
//! column; the selected process at the cursor is told in full below.

use ratatui::Frame as Screen;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{footer, format, header};
use crate::app::App;
use crate::app::keymap::TimelineAction;
use crate::app::layout::{self, TimelinePage};
use crate::app::timeline::{Frame, RowSet};
use crate::history::timeline::{MarkKind, Row};
use crate::proc::State;

/// Columns between two labels of the time axis (a label and its gap).
const LABEL_EVERY: u16 = 16;

pub fn draw(frame: &mut Screen<'_>, screen: Rect, app: &App, theme: Theme) {
    let page = layout::timeline_page(screen);
    let full = page.page;
    header::draw(frame, full.header, app, theme);
    let view = &app.timeline_view;
    let shown = view.frame(
        &app.timeline,
        page.axis_columns(),
        usize::from(page.rows.height),
    );
    frame.render_widget(
        Paragraph::new(Line::styled(title(app, &shown), theme.title())),
        full.title,
    );
    frame.render_widget(Paragraph::new(axis(app, &page, &shown, theme)), page.axis);
    let lines: Vec<Line<'_>> = shown
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let selected = shown.selected == Some(i);
            row_line(&page, &shown, line.row, line.depth, selected, theme)
        })
        .collect();
    if lines.is_empty() {
        let empty = " no process of this set in the time kept (a: every process)";
        frame.render_widget(Paragraph::new(Line::styled(empty, theme.dim())), page.rows);
    } else {
        frame.render_widget(Paragraph::new(lines), page.rows);
    }
    let selected = shown
        .selected
        .and_then(|i| shown.lines.get(i))
        .map(|l| l.row);
    frame.render_widget(
        Paragraph::new(detail(app, &shown, selected, theme)),
        full.detail,
    );
    if app.prompt.is_some() || app.status.is_some() {
        footer::draw(frame, full.footer, app, theme);
    } else {
        frame.render_widget(Paragraph::new(hints(app, theme)), full.footer);
    }
}

/// " timeline · the lab · 6 processes · a column is 1 s · following".
fn title(app: &App, shown: &Frame<'_>) -> String {
    let view = &app.timeline_view;
    let set = match &view.set {
        RowSet::Lab => "the lab".to_string(),
        RowSet::Tagged(ids) if ids.len() == 1 => "1 tagged process".to_string(),
        RowSet::Tagged(ids) => format!("{} tagged processes", ids.len()),
        RowSet::Subtree { name, .. } => format!("{name} and its descendants"),
        RowSet::All => "every process".to_string(),
    };
    let rows = view.lines(&app.timeline).len();
    let at = if view.following() {
        "following".to_string()
    } else {
        let end = app.keymap.timeline.first(TimelineAction::Last);
        format!(
            "cursor {} ({end} follows)",
            format::clock(shown.cursor_ns, app.utc_offset_secs, true)
        )
    };
    format!(
        " timeline · {set} · {rows} {} · a column is {} · {at} ",
        if rows == 1 { "process" } else { "processes" },
        span_words(shown.scale_ns)
    )
}

/// "1 ms", "250 ms", "1 s", "15 s", "1 min", "1 h".
fn span_words(ns: u64) -> String {
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;
    match ns {
        ..S => format!("{} ms", ns / MS),
        S..60_000_000_000 => format!("{} s", ns / S),
        60_000_000_000..3_600_000_000_000 => format!("{} min", ns / (60 * S)),
        _ => format!("{} h", ns / (3_600 * S)),
    }
}

/// Times of day under the axis, one every `LABEL_EVERY` columns, with milliseconds when a
/// column stands for less than a second.
fn axis<'a>(app: &App, page: &TimelinePage, shown: &Frame<'_>, theme: Theme) -> Line<'a> {
    let millis = shown.scale_ns < 1_000_000_000;
    let mut text = " ".repeat(usize::from(page.names_width) + 1);
    let mut column = 0;
    while column < page.axis_columns() {
        let at = shown.window.start + u64::from(column) * shown.scale_ns;
        let label = format!("|{}", format::clock(at, app.utc_offset_secs, millis));
        let room = usize::from(page.axis_columns() - column);
        let gap = usize::from(LABEL_EVERY).max(label.len() + 1);
        if label.len() > room {
            break;
        }
        text.push_str(&format!("{label:<width$}", width = gap.min(room)));
        column += gap as u16;
    }
    Line::styled(text, theme.dim())
}

fn row_line<'a>(
    page: &TimelinePage,
    shown: &Frame<'_>,
    row: &Row,
    depth: usize,
    selected: bool,
    theme: Theme,
) -> Line<'a> {
    let indent = "  ".repeat(depth.min(6));
    let name = format!("{indent}{} {}", row.id.pid, row.name);
    let width = usize::from(page.names_width);
    let name: String = if name.chars().count() > width {
        let cut: String = name.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        format!("{name:<width$}")
    };
    let name_style = if selected {
        theme.selected()
    } else if row.lab {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    let mut spans = vec![Span::styled(name, name_style), Span::raw(" ")];
    let cursor_column = shown.cursor_column().map(|(column, _)| column);
    for column in 0..page.axis_columns() {
        let from = shown.window.start + u64::from(column) * shown.scale_ns;
        let (glyph, style) = cell(row, from, from + shown.scale_ns, theme);
        let style = if cursor_column == Some(u64::from(column)) {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        };
        spans.push(Span::styled(glyph.to_string(), style));
    }
    Line::from(spans)
}

/// What one cell shows of `row` over `from..to`: a mark, else `~` where a scan saw a change,
/// else the state's letter; blank outside its life.
fn cell(row: &Row, from: u64, to: u64, theme: Theme) -> (char, Style) {
    let (born, end) = row.life();
    let mark = row
        .marks()
        .filter(|m| (from..to).contains(&m.at_ns))
        .map(|m| match m.kind {
            MarkKind::Exit { .. } => (0, 'x'),
            MarkKind::Reap { .. } => (1, '.'),
            MarkKind::Signal { .. } => (2, '!'),
            MarkKind::Fork { .. } => (3, '+'),
            MarkKind::Exec { .. } => (4, '*'),
        })
        .min();
    // The cell its end falls in still shows the mark that ended it (a reap).
    let after_end = end.is_some_and(|end| from >= end) && mark.is_none();
    if to <= born || after_end {
        return (' ', Style::default());
    }
    let middle = from + (to - from) / 2;
    let state = row
        .state_at(middle.max(born))
        .or_else(|| row.state_at(from.max(born)));
    let style = state.map_or(theme.dim(), |c| theme.state(c.state));
    if let Some((_, glyph)) = mark {
        return (glyph, style.add_modifier(Modifier::BOLD));
    }
    let sampled = row
        .segments_in(from..to)
        .any(|s| !s.exact && (from..to).contains(&s.from_ns) && s.from_ns > born);
    match state {
        Some(_) if sampled => ('~', style),
        Some(change) => (change.state.letter(), style),
        None => ('·', theme.dim()),
    }
}

/// The selected process at the cursor: its state then and since when, and what happened to it
/// in the cursor's column; else the legend.
fn detail<'a>(app: &App, shown: &Frame<'_>, row: Option<&Row>, theme: Theme) -> Vec<Line<'a>> {
    let clock = |ns| format::clock(ns, app.utc_offset_secs, true);
    let legend = Line::styled(
        " + fork   * exec   ! signal   x exit   . reaped   ~ changed between two scans (up to a refresh earlier)",
        theme.dim(),
    );
    let Some(row) = row else {
        return vec![Line::raw(format!(" {}", clock(shown.cursor_ns))), legend];
    };
    let mut head = format!(
        " {} · {} ({})",
        clock(shown.cursor_ns),
        row.id.pid,
        row.name
    );
    match row.state_at(shown.cursor_ns) {
        Some(change) => {
            let how = if change.exact {
                "exactly"
            } else {
                "seen by a scan"
            };
            let wait = change
                .wait
                .map(|wait| format!(", {}", wait.describe()))
                .unwrap_or_default();
            head.push_str(&format!(
                " · {} {}{wait} since {} ({how})",
                change.state.letter(),
                state_word(change.state),
                clock(change.at_ns)
            ));
        }
        // Born (a fork told exactly) before its first state was seen.
        None => match row.born.filter(|born| born.at_ns <= shown.cursor_ns) {
            Some(born) if row.end.is_none_or(|end| shown.cursor_ns < end.at_ns) => head.push_str(
                &format!(" · born at {}, its state not seen yet", clock(born.at_ns)),
            ),
            _ => head.push_str(" · not alive then"),
        },
    }
    let column = shown.cursor_column().map_or(0..0, |(_, time)| time);
    let happened: Vec<String> = row
        .marks()
        .filter(|m| column.contains(&m.at_ns))
        .map(|m| {
            let what = match &m.kind {
                MarkKind::Fork { child } => format!("forked {}", child.pid),
                MarkKind::Exec { name } => {
                    format!("exec'd {}", name.as_deref().unwrap_or("a program"))
                }
                MarkKind::Signal { number } => match number {
                    Some(n) => format!("sent {}", crate::proc::events::signal_name(*n)),
                    None => "sent a signal".to_string(),
                },
                MarkKind::Exit { status } => format!("exited{}", status_words(status.as_ref())),
                MarkKind::Reap { by, status } => format!(
                    "reaped{}{}",
                    by.map(|b| format!(" by {}", b.pid)).unwrap_or_default(),
                    status_words(status.as_ref())
                ),
            };
            format!("{what} at {}", clock(m.at_ns))
        })
        .collect();
    let second = if happened.is_empty() {
        legend
    } else {
        Line::raw(format!(" {}", happened.join(" · ")))
    };
    vec![Line::raw(head), second]
}

fn state_word(state: State) -> &'static str {
    match state {
        State::Running => "running",
        State::Sleeping => "sleeping",
        State::DiskSleep => "in disk wait",
        State::Stopped => "stopped",
        State::Traced => "stopped by its tracer",
        State::Zombie => "a zombie",
        State::Dead => "exited",
        State::Idle => "idle",
        State::Other(_) => "in an unknown state",
    }
}

fn status_words(status: Option<&crate::proc::events::ExitStatus>) -> String {
    use crate::proc::events::{ExitStatus, signal_name};
    match status {
        Some(ExitStatus::Code(code)) => format!(" with code {code}"),
        Some(ExitStatus::Signal { number, .. }) => format!(" by {}", signal_name(*number)),
        None => String::new(),
    }
}

fn hints(app: &App, theme: Theme) -> Line<'static> {
    let keys = &app.keymap.timeline;
    let pairs = [
        (TimelineAction::Earlier, "earlier"),
        (TimelineAction::Later, "later"),
        (TimelineAction::ZoomIn, "zoom in"),
        (TimelineAction::ZoomOut, "out"),
        (TimelineAction::Fit, "all time"),
        (TimelineAction::Subtree, "subtree"),
        (TimelineAction::All, "all"),
        (TimelineAction::Lab, "lab"),
        (TimelineAction::Child, "child"),
        (TimelineAction::Last, "follow"),
        (TimelineAction::Show, "show in tree"),
        (TimelineAction::Close, "back"),
    ];
    let keys = pairs.map(|(action, what)| (keys.first(action), what));
    super::hints::key_line(keys, theme)
}
