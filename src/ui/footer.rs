//! The bottom line: the latest status message while it lasts, else the main keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{fit, hints};
use crate::app::keymap::{Action, Bindable, InputAction, ReplayAction};
use crate::app::{App, Prompt, PromptKind, Severity};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    if let Some(prompt) = &app.prompt {
        frame.render_widget(Paragraph::new(prompt_line(app, prompt, theme)), area);
        return;
    }
    let message = match &app.status {
        Some(status) if status.severity == Severity::Error => Line::from(vec![
            Span::styled(" error: ", theme.error()),
            Span::raw(status.text.clone()),
        ]),
        Some(status) => Line::from(format!(" {}", status.text)),
        None => {
            frame.render_widget(Paragraph::new(hints(app, theme)), area);
            return;
        }
    };
    // A message longer than the line ends in `…` (what is told is in the log in full).
    let message = fit::line(message, usize::from(area.width));
    frame.render_widget(Paragraph::new(message), area);
}

/// The key hints, generated from the key table; while replaying, the replay's.
fn hints(app: &App, theme: Theme) -> Line<'static> {
    if app.replay.is_some() {
        return replay_hints(app, theme);
    }
    let mut spans = Vec::new();
    for &action in Action::all() {
        let (Some(label), Some(key)) = (action.hint(), app.keymap.main.keys_for(action).first())
        else {
            continue;
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key.to_string(), theme.key()));
        spans.push(Span::raw(format!(" {label}")));
    }
    Line::from(spans)
}

fn replay_hints(app: &App, theme: Theme) -> Line<'static> {
    let keys = &app.keymap.replay;
    let pair = |a, b| format!("{} {}", keys.first(a), keys.first(b));
    let hints = [
        (
            pair(ReplayAction::PreviousScan, ReplayAction::NextScan),
            "scan",
        ),
        (
            pair(ReplayAction::PreviousEvent, ReplayAction::NextEvent),
            "event",
        ),
        (
            pair(ReplayAction::SecondBack, ReplayAction::SecondOn),
            "1 s",
        ),
        (pair(ReplayAction::TenBack, ReplayAction::TenOn), "10 s"),
        (keys.first(ReplayAction::Play), "play"),
        (
            format!(
                "{} {} {}",
                keys.first(ReplayAction::Speed1),
                keys.first(ReplayAction::Speed10),
                keys.first(ReplayAction::Speed100)
            ),
            "1× 10× 100×",
        ),
        (keys.first(ReplayAction::Jump), "jump"),
        (app.keymap.main.first(Action::FullLog), "log"),
        (app.keymap.main.first(Action::TimelineView), "timeline"),
        (app.keymap.main.first(Action::Quit), "quit"),
    ];
    super::hints::key_line(hints, theme)
}

/// The search or filter box: what was typed, and the keys that work in it.
fn prompt_line(app: &App, prompt: &Prompt, theme: Theme) -> Line<'static> {
    let input = &app.keymap.input;
    let (label, help) = match prompt.kind {
        PromptKind::Search | PromptKind::LogSearch => (
            " Search: ",
            hints::line(&[
                (
                    format!(
                        "{} {}",
                        input.first(InputAction::Accept),
                        input.first(InputAction::Next)
                    ),
                    "next",
                ),
                (input.label(InputAction::Previous), "previous"),
                (input.first(InputAction::Cancel), "close"),
            ]),
        ),
        PromptKind::Jump => (
            " Jump to: ",
            hints::line(&[
                (
                    input.first(InputAction::Accept),
                    "go (HH:MM:SS, or seconds from the start)",
                ),
                (input.first(InputAction::Cancel), "cancel"),
            ]),
        ),
        PromptKind::Filter | PromptKind::LogFilter => (
            " Filter: ",
            hints::line(&[
                (input.first(InputAction::Accept), "keep"),
                (input.first(InputAction::Cancel), "clear"),
            ]),
        ),
    };
    let mut spans = vec![
        Span::styled(label, theme.title()),
        Span::raw(" "),
        Span::styled(format!("{}_", prompt.input), theme.key()),
    ];
    if prompt.not_found {
        spans.push(Span::styled("  not found", theme.error()));
    }
    spans.push(Span::styled(format!("   {help}"), theme.dim()));
    Line::from(spans)
}
