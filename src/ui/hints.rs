//! The key hints popups and prompts show, written from the key table so they name the keys
//! that really work (remapped or not).

use ratatui::text::{Line, Span};

use super::theme::Theme;
use crate::app::App;
use crate::app::keymap::MenuAction;

/// `keys: what` pairs, three spaces apart.
pub fn line(pairs: &[(String, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .map(|(keys, what)| format!("{keys}: {what}"))
        .collect();
    parts.join("   ")
}

/// The hint under a list: how to move, choose (`choose` says what that does) and cancel.
pub fn menu(app: &App, choose: &str) -> String {
    let menu = &app.keymap.menu;
    let moves = format!(
        "{} {}",
        menu.first(MenuAction::Up),
        menu.first(MenuAction::Down)
    );
    line(&[
        (moves, "move"),
        (menu.first(MenuAction::Choose), choose),
        (menu.first(MenuAction::Cancel), "cancel"),
    ])
}

/// A page's bottom line: each key in the key colour, then what it does.
pub fn key_line(
    pairs: impl IntoIterator<Item = (String, &'static str)>,
    theme: Theme,
) -> Line<'static> {
    let mut spans = Vec::new();
    for (key, what) in pairs {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}
