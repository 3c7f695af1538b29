//! What the help screen says, as data: the states, the badges and every layer of the key table.
//! The app owns it (it scrolls it, so it must know how long it is); `ui` draws it.

use super::keymap::Keymap;
use crate::proc::State;

/// One line of the help screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpRow {
    Heading(&'static str),
    State(State),
    Badge(&'static str, &'static str),
    /// Keys, and what they do.
    Key(String, &'static str),
    Blank,
}

/// Every badge the tree shows, and what it means.
pub const BADGES: [(&str, &str); 9] = [
    (
        "[zombie 5s, parent P]",
        "dead 5 s; parent P must reap it (≥: at least; no age: found dead)",
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
        "[stopped]",
        "stopped by job control (T); SIGCONT resumes it",
    ),
    (
        "[traced by P name]",
        "P traces it (debugger, strace), stopped (t) or not (strace -p)",
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
    (
        "[lab guard]",
        "holds the lab's process group; ends the lab if brood is killed",
    ),
];

/// The whole help screen: states and badges first (they fit on one screen), then the keys.
pub fn rows(keymap: &Keymap) -> Vec<HelpRow> {
    let mut rows = vec![HelpRow::Heading("States (column S)")];
    rows.extend(State::KNOWN.into_iter().map(HelpRow::State));
    rows.push(HelpRow::Blank);
    rows.push(HelpRow::Heading("Badges"));
    rows.extend(
        BADGES
            .iter()
            .map(|&(badge, meaning)| HelpRow::Badge(badge, meaning)),
    );
    for (title, keys) in keymap.help_sections() {
        rows.push(HelpRow::Blank);
        rows.push(HelpRow::Heading(title));
        rows.extend(keys.into_iter().map(|(keys, doc)| HelpRow::Key(keys, doc)));
    }
    rows
}

/// The help screen's first line about `title`'s keys (the screen opens there from that page).
pub fn section_start(keymap: &Keymap, title: &'static str) -> u16 {
    let at = rows(keymap)
        .iter()
        .position(|row| *row == HelpRow::Heading(title));
    at.map_or(0, |at| at as u16)
}
