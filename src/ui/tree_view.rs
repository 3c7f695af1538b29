//! The process table: one row per visible process, tree guides before the command.
//! Only the rows on screen are laid out, so the cost does not grow with the process count.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format;
use super::theme::Theme;
use crate::app::App;
use crate::proc::lifecycle::{Marks, Orphan};
use crate::proc::tree::Row;
use crate::proc::{Pid, ProcInfo, State};

const USER_WIDTH: usize = 8;

pub fn draw(frame: &mut Frame<'_>, header_area: Rect, area: Rect, app: &App, theme: Theme) {
    let header = format!(
        "{:>7} {:<USER_WIDTH$} S  CPU%    RES   ELAPSED  COMMAND",
        "PID", "USER"
    );
    let header_line = Line::from(format!(
        "{header:<width$}",
        width = usize::from(header_area.width)
    ));
    frame.render_widget(
        Paragraph::new(header_line).style(theme.column_header()),
        header_area,
    );

    if app.rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(" no processes (yet)", theme.dim())),
            area,
        );
        return;
    }
    let context = RowContext {
        app,
        theme,
        guide_budget: usize::from(area.width).saturating_sub(50).max(8) / 2,
        // Peers of the selected process, badged while the IPC panel shows its links.
        linked: match app.selected_proc() {
            Some(selected) if app.show_ipc => app
                .ipc
                .links_of(selected.pid())
                .iter()
                .map(|l| l.peer)
                .collect(),
            _ => Vec::new(),
        },
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
        if row_index == app.selected_row {
            line = line.patch_style(theme.selected());
        }
        let line_area = Rect::new(area.x, area.y + screen_row as u16, area.width, 1);
        // Pad to the full width so the selection bar spans the row.
        let pad = usize::from(area.width).saturating_sub(line.width());
        line.push_span(Span::raw(" ".repeat(pad)));
        frame.render_widget(Paragraph::new(line), line_area);
    }
}

/// What every row needs besides its own process.
struct RowContext<'a> {
    app: &'a App,
    theme: Theme,
    guide_budget: usize,
    linked: Vec<Pid>,
}

fn row_line(context: &RowContext<'_>, row: &Row, proc: &ProcInfo, marks: Marks) -> Line<'static> {
    let (app, theme) = (context.app, context.theme);
    let user: String = proc.user.chars().take(USER_WIDTH).collect();
    let state_style = theme.state(proc.state);
    let mut spans = vec![
        Span::raw(format!("{:>7} {user:<USER_WIDTH$} ", proc.pid())),
        Span::styled(proc.state.letter().to_string(), state_style),
        Span::raw(format!(
            " {:>5.1} {:>6} {:>9}  ",
            proc.cpu_percent,
            format::bytes(proc.rss_bytes),
            format::duration(app.snapshot.age_secs(proc))
        )),
        Span::styled(guides(app, row, context.guide_budget), theme.dim()),
    ];
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
    } else if let Some(args) = arguments(proc) {
        spans.push(Span::styled(format!(" {args}"), theme.dim()));
    }
    Line::from(spans)
}

/// Word badges: what colour shows is also said in text.
fn badges(context: &RowContext<'_>, proc: &ProcInfo, marks: Marks) -> Vec<(String, Style)> {
    let (app, theme) = (context.app, context.theme);
    let mut badges = Vec::new();
    if let Some(zombie) = marks.zombie {
        let at_least = if zombie.at_least { "≥" } else { "" };
        badges.push((
            format!(
                "[zombie {at_least}{}, parent {}]",
                format::age(zombie.secs),
                proc.ppid
            ),
            theme.state(State::Zombie),
        ));
    }
    match proc.state {
        State::Stopped => badges.push(("[stopped]".to_string(), theme.state(State::Stopped))),
        State::Traced => {
            let by = proc.tracer.map(|t| format!(" by {t}")).unwrap_or_default();
            badges.push((format!("[traced{by}]"), theme.state(State::Traced)));
        }
        _ => {}
    }
    match marks.orphan {
        Some(Orphan::Seen { former_parent }) => {
            badges.push((
                format!("[orphan, was child of {former_parent}]"),
                theme.orphan(),
            ));
        }
        Some(Orphan::Probable) => badges.push(("[orphan?]".to_string(), theme.orphan())),
        None => {}
    }
    if app.in_deadlock(proc.pid()) {
        badges.push(("[deadlock]".to_string(), theme.state(State::Zombie)));
    }
    if context.linked.contains(&proc.pid()) {
        badges.push(("[linked]".to_string(), theme.key()));
    }
    if proc.pid() == app.self_pid {
        badges.push(("[this brood]".to_string(), theme.key()));
    }
    badges
}

/// The arguments after the program name, when the command line has any.
fn arguments(proc: &ProcInfo) -> Option<&str> {
    let cmdline = proc.cmdline.as_ref();
    let (_, args) = cmdline.split_once(' ')?;
    let args = args.trim();
    (!args.is_empty()).then_some(args)
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
