//! The key hints popups and prompts show, written from the key table so they name the keys
//! that really work (remapped or not).

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
