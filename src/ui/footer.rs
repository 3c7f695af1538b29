//! The bottom line: the latest status message while it lasts, else the main keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::app::keymap::Action;
use crate::app::{App, Severity};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
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
        spans.push(Span::raw(format!(" {label} ")));
    }
    Line::from(spans)
}
