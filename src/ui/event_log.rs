//! The event log: the panel below the tree and the full-screen page. Both draw the window the
//! log view gives (the newest entries at the bottom while it follows), each line with its time;
//! the page adds a cursor, search matches, the filters and the entry under the cursor in full.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::theme::Theme;
use super::{footer, format, header};
use crate::app::App;
use crate::app::keymap::LogAction;
use crate::app::layout;
use crate::app::log::Window;
use crate::history::{Entry, Kinds, Origin};
use crate::proc::events::Source;

pub fn draw_panel(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(title(app, None))
        .title_style(theme.title());
    let inner = block.inner(area);
    let window = app
        .log
        .window(&app.history, app.lab_view, usize::from(inner.height));
    let lines: Vec<Line<'_>> = window
        .entries
        .iter()
        .map(|entry| {
            Line::from(vec![
                Span::styled(
                    format::clock(entry.at_ns, app.utc_offset_secs, false),
                    theme.dim(),
                ),
                Span::raw(format!(" {}", entry.line())),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

pub fn draw_page(frame: &mut Frame<'_>, screen: Rect, app: &App, theme: Theme) {
    let page = layout::log_page(screen);
    header::draw(frame, page.header, app, theme);
    let window = app
        .log
        .window(&app.history, app.lab_view, usize::from(page.body.height));
    frame.render_widget(
        Paragraph::new(Line::styled(title(app, Some(&window)), theme.title())),
        page.title,
    );
    let lines: Vec<Line<'_>> = window
        .entries
        .iter()
        .enumerate()
        .map(|(row, entry)| {
            let line = page_line(app, entry, theme);
            if window.cursor == Some(row) {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    if lines.is_empty() {
        let empty = if app.log.filter.is_active() {
            " no entry passes the filters (c clears them)"
        } else {
            " nothing has happened yet"
        };
        frame.render_widget(Paragraph::new(Line::styled(empty, theme.dim())), page.body);
    } else {
        frame.render_widget(Paragraph::new(lines), page.body);
    }
    let cursor = window.cursor.and_then(|row| window.entries.get(row));
    frame.render_widget(
        Paragraph::new(cursor.map(|e| detail(app, e, theme)).unwrap_or_default())
            .block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(theme.dim()),
            )
            .wrap(Wrap { trim: false }),
        page.detail,
    );
    if app.prompt.is_some() || app.status.is_some() {
        footer::draw(frame, page.footer, app, theme);
    } else {
        frame.render_widget(Paragraph::new(page_hints(app, theme)), page.footer);
    }
}

/// " event log · the lab · exit · 1 234 entries · following", with where events come from.
fn title(app: &App, window: Option<&Window<'_>>) -> String {
    let mut parts = vec![" event log".to_string()];
    if app.lab_view {
        parts.push("the lab".into());
    }
    let filters = app.log.filter.describe();
    if !filters.is_empty() {
        parts.push(filters);
    }
    if let Some(window) = window {
        parts.push(format!("{} entries", window.matching));
        if !app.log.following() {
            let end = app.keymap.log.first(LogAction::Last);
            parts.push(match window.below {
                0 => format!("stopped ({end} follows)"),
                n => format!("{n} newer below ({end} follows)"),
            });
        }
        match app.events.source {
            Some(Source::Kernel) => parts.push("events from the kernel".into()),
            Some(Source::Scan) => parts.push("events from scans".into()),
            None => {}
        }
    } else if !app.log.following() {
        parts.push("scrolled".into());
    }
    if app.events.dropped > 0 {
        parts.push(format!("{} events lost", app.events.dropped));
    }
    if app.log.frozen_after.is_some() {
        parts.push("paused".into());
    }
    format!("{} ", parts.join(" · "))
}

/// One entry on the full page: time to the millisecond, its kind, its line with the search
/// marked.
fn page_line<'a>(app: &App, entry: &Entry, theme: Theme) -> Line<'a> {
    let mut spans = vec![
        Span::styled(
            format::clock(entry.at_ns, app.utc_offset_secs, true),
            theme.dim(),
        ),
        Span::raw(" "),
        Span::styled(
            format!("{:<6}", kind_label(entry.kinds)),
            kind_style(entry.kinds, theme),
        ),
        Span::raw(" "),
    ];
    spans.extend(marked(&entry.line(), &app.log.search, theme));
    Line::from(spans)
}

/// The entry under the cursor, whole: when, who told, of what kinds, and its line.
fn detail<'a>(app: &App, entry: &Entry, theme: Theme) -> Vec<Line<'a>> {
    let told = match entry.origin {
        Origin::Asked => "asked by brood, not seen happen yet",
        Origin::Scan => "seen by comparing two scans",
        Origin::Kernel => "told by the kernel",
        Origin::Brood => "done by brood",
    };
    let kinds: Vec<&str> = Kinds::NAMED
        .iter()
        .filter(|(k, _)| entry.kinds.contains(*k))
        .map(|(_, name)| *name)
        .collect();
    let mut head = format!(
        " {} · {} · {told}",
        format::clock(entry.at_ns, app.utc_offset_secs, true),
        kinds.join(", ")
    );
    if entry.lab {
        head.push_str(" · the lab");
    }
    vec![
        Line::styled(head, theme.dim()),
        Line::from(format!(" {}", entry.line())),
    ]
}

/// The kind a line is listed under: the first that applies, in the filters' order.
fn kind_label(kinds: Kinds) -> &'static str {
    const SHORT: [(Kinds, &str); 8] = [
        (Kinds::FORK, "fork"),
        (Kinds::EXEC, "exec"),
        (Kinds::EXIT, "exit"),
        (Kinds::SIGNAL, "signal"),
        (Kinds::STATE, "state"),
        (Kinds::REPARENT, "adopt"),
        (Kinds::DEADLOCK, "lock"),
        (Kinds::BROOD, "brood"),
    ];
    SHORT
        .iter()
        .find(|(k, _)| kinds.contains(*k))
        .map_or("", |(_, label)| label)
}

fn kind_style(kinds: Kinds, theme: Theme) -> Style {
    use crate::proc::State;
    if kinds.intersects(Kinds::EXIT) {
        theme.state(State::Zombie)
    } else if kinds.intersects(Kinds::SIGNAL | Kinds::DEADLOCK) {
        theme.error()
    } else if kinds.intersects(Kinds::STATE) {
        theme.state(State::Stopped)
    } else if kinds.intersects(Kinds::FORK | Kinds::EXEC) {
        theme.state(State::Running)
    } else {
        theme.dim()
    }
}

/// `text` in spans, every place that holds `search` (lower case) marked.
fn marked<'a>(text: &str, search: &str, theme: Theme) -> Vec<Span<'a>> {
    let lower = text.to_lowercase();
    // Lower-casing that changes lengths would put the marks in the wrong place: none then.
    if search.is_empty() || lower.len() != text.len() {
        return vec![Span::raw(text.to_string())];
    }
    let mut spans = Vec::new();
    let mut at = 0;
    for (start, found) in lower.match_indices(search) {
        if start < at || !text.is_char_boundary(start) {
            continue;
        }
        spans.push(Span::raw(text[at..start].to_string()));
        let end = start + found.len();
        spans.push(Span::styled(text[start..end].to_string(), theme.key()));
        at = end;
    }
    spans.push(Span::raw(text[at..].to_string()));
    spans
}

fn page_hints(app: &App, theme: Theme) -> Line<'static> {
    let log = &app.keymap.log;
    let pairs = [
        (LogAction::Search, "search"),
        (LogAction::FilterKind, "kind"),
        (LogAction::FilterSubtree, "subtree"),
        (LogAction::FilterUser, "user"),
        (LogAction::FilterLab, "lab"),
        (LogAction::ClearFilters, "clear"),
        (LogAction::Last, "follow"),
        (LogAction::Show, "show in tree"),
        (LogAction::Close, "back"),
    ];
    let keys = pairs.map(|(action, what)| (log.first(action), what));
    super::hints::key_line(keys, theme)
}
