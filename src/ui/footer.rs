//! The bottom line: the latest status message while it lasts, else the main keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::app::keymap::Action;
use crate::app::{App, Prompt, PromptKind, Severity};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    if let Some(prompt) = &app.prompt {
        frame.render_widget(Paragraph::new(prompt_line(app, prompt, theme)), area);
        return;
    }
    let line = match &app.status {
        Some(status) if status.severity == Severity::Error => Line::from(vec![
            Span::styled(" error: ", theme.error()),
            Span::raw(status.text.clone()),
        ]),
        Some(status) => Line::from(format!(" {}", status.text)),
        None => hints(app, theme),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The key hints, generated from the key table.
fn hints(app: &App, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for action in Action::ALL {
        let (Some(label), Some(key)) = (action.hint(), app.keymap.keys_for(action).first()) else {
            continue;
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key.to_string(), theme.key()));
        spans.push(Span::raw(format!(" {label}")));
    }
    Line::from(spans)
}

/// The search or filter box: what was typed, and the keys that work in it.
fn prompt_line(app: &App, prompt: &Prompt, theme: Theme) -> Line<'static> {
    let keys = |action: Action| {
        app.keymap
            .keys_for(action)
            .iter()
            .find(|k| !matches!(k.code, crossterm::event::KeyCode::Char(_)))
            .or_else(|| app.keymap.keys_for(action).first())
            .map_or_else(String::new, ToString::to_string)
    };
    let (label, help) = match prompt.kind {
        PromptKind::Search => (
            " Search: ",
            format!(
                "   Enter/{} next  {} previous  Esc close",
                keys(Action::Search),
                keys(Action::SearchPrev)
            ),
        ),
        PromptKind::Filter => (" Filter: ", "   Enter keep  Esc clear".to_string()),
    };
    let mut spans = vec![
        Span::styled(label, theme.title()),
        Span::raw(" "),
        Span::styled(format!("{}_", prompt.input), theme.key()),
    ];
    if prompt.not_found {
        spans.push(Span::styled("  not found", theme.error()));
    }
    spans.push(Span::styled(help, theme.dim()));
    Line::from(spans)
}
