//! The explanation panel: what the running scenario shows, live (each process's state, where it
//! sleeps, what its task says, the scenario's numbers), then its texts: what it is, which system
//! calls made it, what to try.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use strum::VariantArray;

use super::theme::Theme;
use crate::app::{App, ScenarioView};
use crate::lab::scenarios;
use crate::proc::State;
use nix::sys::signal::Signal;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    let (title, lines) = match &app.scenarios.current {
        Some(view) => (title(view, app.in_the_past()), lines(view, theme)),
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

/// Its figures are the lesson's now: said so while the tree shows the past.
fn title(view: &ScenarioView, past_on_screen: bool) -> String {
    let state = if view.finished { "over" } else { "running" };
    let now = if past_on_screen { " (now)" } else { "" };
    format!(" {} — {} — {state}{now} ", view.id, view.id.title())
}

fn lines(view: &ScenarioView, theme: Theme) -> Vec<Line<'static>> {
    // The scenario's numbers first: in a short panel they matter most.
    let mut lines: Vec<Line<'static>> = view
        .figures
        .lines
        .iter()
        .map(|line| Line::styled(line.clone(), theme.key()))
        .collect();
    for (pid, label) in &view.roles {
        // State, wait channel and status all come from the watcher's one sample, never mixed
        // with the table's scan, which is taken at another moment.
        let figure = view.figures.procs.iter().find(|p| p.pid == *pid);
        let state = match figure.and_then(|f| f.state) {
            Some(letter) => {
                let state = State::from_letter(letter as u8);
                Span::styled(letter.to_string(), theme.state(state))
            }
            None => Span::styled("-", theme.dim()),
        };
        let mut spans = vec![Span::raw(format!("{pid:>7} ")), state];
        spans.push(Span::raw(format!(" {label}")));
        let mut detail = Vec::new();
        if let Some(figure) = figure {
            if !figure.alive() {
                detail.push("gone".to_string());
            } else if let Some(channel) = &figure.wchan {
                detail.push(channel.describe());
            }
            if figure.alive() && figure.pending != 0 {
                detail.push(pending(figure.pending, figure.blocked));
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

/// The signals waiting for a process, by name, saying which of them it blocks.
fn pending(pending: u64, blocked: u64) -> String {
    let names: Vec<String> = (1..=64)
        .filter(|n: &i32| pending & (1 << (n - 1)) != 0)
        .map(|n| {
            let name = Signal::try_from(n).map_or(format!("signal {n}"), |s| s.as_str().into());
            if blocked & (1 << (n - 1)) != 0 {
                format!("{name} (blocked)")
            } else {
                name
            }
        })
        .collect();
    format!("pending {}", names.join(", "))
}

/// The scenario menu popup: every scenario with its title; Enter starts the highlighted one.
pub fn draw_menu(
    frame: &mut Frame<'_>,
    screen: Rect,
    app: &App,
    menu: crate::app::ScenarioMenu,
    theme: Theme,
) {
    let all = scenarios::ScenarioId::VARIANTS;
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
