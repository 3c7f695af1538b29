//! The process table: one row per visible process, tree guides before the command.
//! Only the rows on screen are laid out, so the cost does not grow with the process count.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{fit, format};
use crate::app::App;
use crate::app::layout;
use crate::app::sort::{Column, Sort};
use crate::proc::badges::{BadgeKind, Known};
use crate::proc::lifecycle::Marks;
use crate::proc::tree::Row;
use crate::proc::{self, Identity, ProcInfo, State};

pub fn draw(frame: &mut Frame<'_>, header_area: Rect, area: Rect, app: &App, theme: Theme) {
    let columns = layout::columns(&app.columns, header_area.width);
    frame.render_widget(
        Paragraph::new(header_line(app, &columns, header_area.width)).style(theme.column_header()),
        header_area,
    );

    if app.rows.is_empty() {
        let text = if app.filter.is_active() || app.root.is_some() {
            " nothing matches the filter (c clears it)"
        } else {
            " no processes (yet)"
        };
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), area);
        return;
    }
    let context = RowContext {
        app,
        theme,
        columns,
        guide_budget: layout::guide_budget(area.width),
        // Peers of the selected process, badged while the IPC panel shows its links.
        linked: app.links.iter().map(|l| l.peer).collect(),
    };
    let visible = app
        .rows
        .iter()
        .enumerate()
        .skip(app.scroll)
        .take(usize::from(area.height));
    for (screen_row, (row_index, row)) in visible.enumerate() {
        let proc = &app.snapshot.procs[row.proc_index];
        let marks = app.marks.get(row.proc_index).copied().unwrap_or_default();
        let mut line = row_line(&context, row, proc, marks);
        if row.context {
            line = line.patch_style(theme.context());
        }
        if app.tagged.contains(&proc.id) {
            line = line.patch_style(theme.tagged());
        }
        if row_index == app.selected_row {
            line = line.patch_style(theme.selected());
        }
        let line_area = Rect::new(area.x, area.y + screen_row as u16, area.width, 1);
        // A row wider than the table ends in `…`: arguments cut off are never silently hidden.
        let mut line = fit::line(line, usize::from(area.width));
        // Pad to the full width so the selection bar spans the row.
        let pad = usize::from(area.width).saturating_sub(fit::width_of(&line));
        line.push_span(Span::raw(" ".repeat(pad)));
        frame.render_widget(Paragraph::new(line), line_area);
    }
}

/// Column labels at their places, the sort column marked ▲/▼, and the view's modes on the right.
fn header_line(app: &App, columns: &[(Column, u16, u16)], width: u16) -> Line<'static> {
    let width = usize::from(width);
    let mut cells: Vec<char> = vec![' '; width];
    for &(column, x, cell_width) in columns {
        let mut label = column.label().to_string();
        let len = label.chars().count();
        let start = if column.right_aligned() {
            (usize::from(x) + usize::from(cell_width)).saturating_sub(len)
        } else {
            usize::from(x)
        };
        // The arrow goes right after the label, in the gap after a right-aligned column, so no
        // label moves. The default order (the tree by PID, as pstree) goes unmarked.
        if column == app.sort.column && (app.sort != Sort::default() || app.list_mode) {
            label.push_str(app.sort.arrow());
        }
        for (i, c) in label.chars().enumerate() {
            if let Some(cell) = cells.get_mut(start + i) {
                *cell = c;
            }
        }
    }
    let labels: String = cells.iter().collect();
    let modes = modes(app);
    // On the right, over blank cells only, so no column label is hidden (the filter text may
    // hold wide characters: measured in cells, not characters).
    let start = width.saturating_sub(fit::width(&modes) + 1);
    if modes.is_empty() || cells[start.min(width)..].iter().any(|c| *c != ' ') {
        return Line::from(labels);
    }
    let before: String = cells[..start].iter().collect();
    Line::from(fit::pad(&format!("{before}{modes}"), width))
}

/// The view's modes in brackets: paused, follow, list, filter, root, tags.
fn modes(app: &App) -> String {
    let mut parts = Vec::new();
    if app.paused {
        parts.push("[PAUSED]".to_string());
    }
    if let Some(root) = app.root {
        parts.push(format!("[under {root}]"));
    }
    if app.filter.is_active() {
        parts.push(format!("[{}]", app.filter.describe()));
    }
    if !app.tagged.is_empty() {
        parts.push(format!("[{} tagged]", app.tagged.len()));
    }
    if app.list_mode {
        parts.push("[list]".to_string());
    }
    if app.follow {
        parts.push("[follow]".to_string());
    }
    parts.join(" ")
}

/// What every row needs besides its own process.
struct RowContext<'a> {
    app: &'a App,
    theme: Theme,
    columns: Vec<(Column, u16, u16)>,
    guide_budget: usize,
    linked: Vec<Identity>,
}

fn row_line(context: &RowContext<'_>, row: &Row, proc: &ProcInfo, marks: Marks) -> Line<'static> {
    let (app, theme) = (context.app, context.theme);
    let mark = if app.tagged.contains(&proc.id) {
        "*"
    } else {
        " "
    };
    let mut spans = Vec::new();
    let state_style = theme.state(proc.state);
    for &(column, _, width) in &context.columns {
        let width = usize::from(width);
        let text = match column {
            // A tagged row's mark stands just before its command, in the gap after the columns.
            Column::Command => {
                spans.push(Span::styled(mark, theme.key()));
                break;
            }
            Column::Pid => format!("{:>width$}", proc.pid()),
            Column::Ppid => format!("{:>width$}", proc.ppid),
            Column::User => fit::pad(&proc.user, width),
            Column::State => {
                spans.push(Span::styled(proc.state.letter().to_string(), state_style));
                spans.push(Span::raw(" "));
                continue;
            }
            Column::Nice => format!("{:>width$}", proc.nice),
            Column::Threads => format!("{:>width$}", proc.threads),
            Column::Cpu => format!("{:>width$.1}", proc.cpu_percent),
            Column::Res => format!("{:>width$}", format::bytes(proc.rss_bytes)),
            Column::Virt => format!("{:>width$}", format::bytes(proc.vsize_bytes)),
            Column::Elapsed => {
                format!("{:>width$}", format::duration(app.snapshot.age_secs(proc)))
            }
            Column::Wchan => {
                let words = app.ipc.wait_short(proc.id).unwrap_or_default();
                fit::pad(words, width)
            }
        };
        spans.push(Span::raw(format!("{text} ")));
    }
    if !app.list_mode {
        spans.push(Span::styled(
            guides(app, row, context.guide_budget),
            theme.dim(),
        ));
    }
    let name_style = match proc.state {
        State::Zombie | State::Stopped | State::Traced => state_style,
        _ => Style::new(),
    };
    spans.push(Span::styled(proc.name.to_string(), name_style));
    if row.collapsed {
        spans.push(Span::styled(
            format!(" [+{}]", row.child_count),
            theme.dim(),
        ));
    }
    for (text, style) in badges(context, proc, marks) {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(text, style));
    }
    if proc.state == State::Zombie {
        spans.push(Span::styled(" <defunct>", theme.dim()));
    } else if let Some(args) = proc.arguments() {
        spans.push(Span::styled(format!(" {args}"), theme.dim()));
    }
    Line::from(spans)
}

/// Word badges (their wording is `proc::badges`'), coloured by kind.
fn badges(context: &RowContext<'_>, proc: &ProcInfo, marks: Marks) -> Vec<(String, Style)> {
    let (app, theme) = (context.app, context.theme);
    let known = Known {
        marks,
        tracer_name: proc
            .tracer
            .and_then(|t| app.proc_by_pid(t))
            .map(|t| &*t.name),
        in_deadlock: app.in_deadlock(proc.id),
        linked: context.linked.contains(&proc.id),
        this_brood: proc.pid() == app.self_pid,
        lab_guard: app.lab.guard == Some(proc.id),
    };
    proc::badges::badges(proc, &known)
        .into_iter()
        .map(|badge| {
            let style = match badge.kind {
                BadgeKind::Zombie | BadgeKind::Deadlock => theme.state(State::Zombie),
                BadgeKind::Stopped => theme.state(State::Stopped),
                BadgeKind::Traced => theme.state(State::Traced),
                BadgeKind::Orphan | BadgeKind::ProbableOrphan => theme.orphan(),
                BadgeKind::Linked | BadgeKind::ThisBrood | BadgeKind::LabGuard => theme.key(),
            };
            (badge.text, style)
        })
        .collect()
}

/// `│ ├─` guides for a row; past `budget` levels the outer ones are elided as `…`.
fn guides(app: &App, row: &Row, budget: usize) -> String {
    if row.depth == 0 {
        return String::new();
    }
    let levels = (row.depth as usize).min(budget);
    // Walk up at most `levels` ancestors: bounded work per row however deep the tree is.
    let mut parts = Vec::with_capacity(levels);
    parts.push(if row.is_last { "└─" } else { "├─" });
    let mut ancestor = row.parent_row.map(|r| app.rows[r]);
    while parts.len() < levels {
        let Some(current) = ancestor else { break };
        if current.depth == 0 {
            break;
        }
        parts.push(if current.is_last { "  " } else { "│ " });
        ancestor = current.parent_row.map(|r| app.rows[r]);
    }
    let mut text = String::with_capacity(levels * 6 + 4);
    if (row.depth as usize) > levels {
        text.push('…');
    }
    for part in parts.iter().rev() {
        text.push_str(part);
    }
    text.push(' ');
    text
}
