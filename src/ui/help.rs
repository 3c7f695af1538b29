//! The help popup, generated from the key table and the state list.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::theme::Theme;
use crate::app::App;
use crate::app::keymap::Action;
use crate::proc::State;

pub fn draw(frame: &mut Frame<'_>, screen: Rect, app: &App, theme: Theme, scroll: u16) {
    let width = screen.width.saturating_sub(4).min(100);
    let height = screen.height.saturating_sub(2);
    let area = Rect::new(
        screen.x + (screen.width - width) / 2,
        screen.y + 1,
        width,
        height,
    );
    let lines = help_lines(app, theme);
    let max_scroll = (lines.len() as u16).saturating_sub(height.saturating_sub(2));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" help — Esc or ? closes, ↑↓ scroll ")
        .title_style(theme.title());
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(max_scroll), 0)),
        area,
    );
}

fn help_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let heading = |text: &'static str| {
        Line::from(Span::styled(
            text,
            theme.title().remove_modifier(Modifier::REVERSED),
        ))
    };
    // The explorer's keys (search onwards) come after the states, so that the tree and lab keys
    // and what the states mean fit on one screen.
    let explorer = |action: Action| {
        let at = |a: Action| Action::ALL.iter().position(|&x| x == a);
        at(action) >= at(Action::Search)
    };
    let key_line = |action: Action, keys: &[crate::app::keymap::Key]| {
        let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
        Line::from(vec![
            Span::styled(format!("  {:<24}", names.join(", ")), theme.key()),
            Span::raw(action.doc()),
        ])
    };
    let mut lines = vec![heading("Keys")];
    for (action, keys) in app.keymap.bindings().filter(|(a, _)| !explorer(*a)) {
        lines.push(key_line(action, keys));
    }
    lines.push(Line::raw(""));
    lines.push(heading("States (column S)"));
    for state in State::KNOWN {
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(state.letter().to_string(), theme.state(state)),
            Span::raw(format!("  {}", state.meaning())),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(heading("Badges"));
    let badges: [(&str, &str); 7] = [
        (
            "[zombie 5s, parent P]",
            "dead for 5 s, waiting for parent P to reap it (≥: at least)",
        ),
        (
            "[orphan, was child of P]",
            "brood saw its parent P die; it was adopted by its new PPID",
        ),
        (
            "[orphan?]",
            "first seen adopted: not a session leader, parent in another session",
        ),
        (
            "[stopped] / [traced by P]",
            "job-control stop (T) / stopped under tracer P (t)",
        ),
        (
            "[deadlock]",
            "on a cycle of processes that wait only for each other (i explains)",
        ),
        (
            "[linked]",
            "shares a pipe, socket or queue with the selected process (i)",
        ),
        ("[+N]", "a folded subtree with N children"),
    ];
    for (badge, meaning) in badges {
        lines.push(Line::from(vec![
            Span::styled(format!("  {badge:<26}"), theme.orphan()),
            Span::raw(meaning),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(heading("Exploring: search, filter, sort, tags, details"));
    for (action, keys) in app.keymap.bindings().filter(|(a, _)| explorer(*a)) {
        lines.push(key_line(action, keys));
    }
    lines
}
