//! The explanation panel: what the running scenario shows, live (each process's state, where it
//! sleeps, what its task says, the scenario's numbers), then its texts: what it is, which system
//! calls made it, what to try.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::theme::Theme;
use crate::app::{App, ScenarioView};
use crate::lab::scenarios;
use crate::proc::wchan::WaitChannel;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let (title, lines) = match &app.scenarios.current {
        Some(view) => (title(view), lines(view, app, theme)),
        None => (
            " explanation ".to_string(),
            vec![Line::raw(
                "No scenario yet. S opens the scenario menu: each one starts real processes \
                 under brood and explains here what they show.",
            )],
        ),
    };
    super::dialogs::boxed(frame, area, title, lines, theme);
}

fn title(view: &ScenarioView) -> String {
    let state = if view.finished { "over" } else { "running" };
    format!(" {} — {} — {state} ", view.id, view.id.title())
}

fn lines(view: &ScenarioView, app: &App, theme: Theme) -> Vec<Line<'static>> {
    // The scenario's numbers first: in a short panel they matter most.
    let mut lines: Vec<Line<'static>> = view
        .figures
        .lines
        .iter()
        .map(|line| Line::styled(line.clone(), theme.key()))
        .collect();
    for (pid, label) in &view.roles {
        let figure = view.figures.procs.iter().find(|p| p.pid == *pid);
        let proc = app
            .proc_by_pid(*pid)
            .filter(|_| figure.is_none_or(|f| f.alive));
        let state = match proc {
            Some(proc) => Span::styled(proc.state.letter().to_string(), theme.state(proc.state)),
            None => Span::styled("-", theme.dim()),
        };
        let mut spans = vec![Span::raw(format!("{pid:>7} ")), state];
        spans.push(Span::raw(format!(" {label}")));
        let mut detail = Vec::new();
        if let Some(figure) = figure {
            if !figure.alive {
                detail.push("gone".to_string());
            } else if let Some(channel) = WaitChannel::parse(&figure.wchan) {
                detail.push(channel.describe());
            }
            if !figure.status.is_empty() {
                detail.push(figure.status.clone());
            }
        }
        if !detail.is_empty() {
            spans.push(Span::styled(
                format!("  {}", detail.join(" · ")),
                theme.dim(),
            ));
        }
        lines.push(Line::from(spans));
    }
    if let Some(text) = scenarios::text(view.id) {
        let heading = |label: &'static str| Span::styled(label, theme.title());
        lines.push(Line::raw(""));
        lines.push(Line::raw(text.what.clone()));
        lines.push(Line::from(vec![
            heading("System calls: "),
            Span::raw(text.syscalls.clone()),
        ]));
        lines.push(Line::from(vec![
            heading("Try: "),
            Span::raw(text.try_next.clone()),
        ]));
    }
    lines
}

/// The scenario menu popup: every scenario with its title; Enter starts the highlighted one.
pub fn draw_menu(
    frame: &mut Frame<'_>,
    screen: Rect,
    app: &App,
    menu: crate::app::ScenarioMenu,
    theme: Theme,
) {
    let all = scenarios::ScenarioId::ALL;
    let height = screen.height.saturating_sub(2).min(all.len() as u16 + 4);
    let visible = usize::from(height.saturating_sub(4));
    let items = all
        .iter()
        .enumerate()
        .map(|(i, id)| {
            Line::from(vec![
                Span::raw(format!("{:>2} ", i + 1)),
                Span::styled(format!("{:<24}", id.name()), theme.key()),
                Span::raw(id.title().to_string()),
            ])
        })
        .collect();
    let keys = super::hints::menu(app, "start it in the lab");
    let lines = super::dialogs::menu_lines(items, menu.selected, visible, keys, theme);
    super::dialogs::popup(
        frame,
        screen,
        " scenarios — real processes, one lesson each ",
        lines,
        76,
        theme,
    );
}
