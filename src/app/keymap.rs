//! The one key table: every action a key can trigger, its key list, and the parsing of key names.
//! The dispatcher, the help screen and the bottom hints all read this table; a key handled
//! anywhere else is a bug. The one exception is inside a dialog: a typed exit code or search text,
//! Enter to confirm and Tab to switch a field are the dialog's own input, not commands.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can ask brood to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    ForceQuit,
    Help,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    Collapse,
    Expand,
    FoldAll,
    KernelThreads,
    Threads,
    Spawn,
    Fork,
    Exit,
    Wait,
    SignalMenu,
    Stop,
    Continue,
    Kill,
    EventLog,
    IpcView,
    LabView,
    AutoReap,
    Subreaper,
    Scenarios,
    Explain,
    Search,
    SearchPrev,
    Filter,
    FilterDescendants,
    FilterUser,
    FilterState,
    FilterMine,
    ClearFilters,
    TreeMode,
    SortMenu,
    ReverseSort,
    Tag,
    TagSubtree,
    UntagAll,
    Details,
    DetailsUp,
    DetailsDown,
    Follow,
    Pause,
    Suspend,
}

impl Action {
    /// Every action, in the order the help screen lists them.
    pub const ALL: [Action; 49] = [
        Action::Quit,
        Action::ForceQuit,
        Action::Help,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::First,
        Action::Last,
        Action::Collapse,
        Action::Expand,
        Action::FoldAll,
        Action::KernelThreads,
        Action::Threads,
        Action::Spawn,
        Action::Fork,
        Action::Exit,
        Action::Wait,
        Action::SignalMenu,
        Action::Stop,
        Action::Continue,
        Action::Kill,
        Action::EventLog,
        Action::IpcView,
        Action::LabView,
        Action::AutoReap,
        Action::Subreaper,
        Action::Scenarios,
        Action::Explain,
        Action::Search,
        Action::SearchPrev,
        Action::Filter,
        Action::FilterDescendants,
        Action::FilterUser,
        Action::FilterState,
        Action::FilterMine,
        Action::ClearFilters,
        Action::TreeMode,
        Action::SortMenu,
        Action::ReverseSort,
        Action::Tag,
        Action::TagSubtree,
        Action::UntagAll,
        Action::Details,
        Action::DetailsUp,
        Action::DetailsDown,
        Action::Follow,
        Action::Pause,
        Action::Suspend,
    ];

    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::ForceQuit => "force_quit",
            Action::Help => "help",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::First => "first",
            Action::Last => "last",
            Action::Collapse => "collapse",
            Action::Expand => "expand",
            Action::FoldAll => "fold_all",
            Action::KernelThreads => "kernel_threads",
            Action::Threads => "threads",
            Action::Spawn => "spawn",
            Action::Fork => "fork",
            Action::Exit => "exit",
            Action::Wait => "wait",
            Action::SignalMenu => "signal_menu",
            Action::Stop => "stop",
            Action::Continue => "continue",
            Action::Kill => "kill",
            Action::EventLog => "event_log",
            Action::IpcView => "ipc_view",
            Action::LabView => "lab_view",
            Action::AutoReap => "auto_reap",
            Action::Subreaper => "subreaper",
            Action::Scenarios => "scenarios",
            Action::Explain => "explain",
            Action::Search => "search",
            Action::SearchPrev => "search_previous",
            Action::Filter => "filter",
            Action::FilterDescendants => "filter_descendants",
            Action::FilterUser => "filter_user",
            Action::FilterState => "filter_state",
            Action::FilterMine => "filter_mine",
            Action::ClearFilters => "clear_filters",
            Action::TreeMode => "tree_mode",
            Action::SortMenu => "sort_menu",
            Action::ReverseSort => "reverse_sort",
            Action::Tag => "tag",
            Action::TagSubtree => "tag_subtree",
            Action::UntagAll => "untag_all",
            Action::Details => "details",
            Action::DetailsUp => "details_up",
            Action::DetailsDown => "details_down",
            Action::Follow => "follow",
            Action::Pause => "pause",
            Action::Suspend => "suspend",
        }
    }

    /// One line for the help screen.
    pub fn doc(self) -> &'static str {
        match self {
            Action::Quit => "quit (closes a popup first; asks about running lab processes)",
            Action::ForceQuit => "quit at once, ending every lab process",
            Action::Help => "show or hide this help",
            Action::Up => "select the process above",
            Action::Down => "select the process below",
            Action::PageUp => "one page up",
            Action::PageDown => "one page down",
            Action::First => "first process",
            Action::Last => "last process",
            Action::Collapse => "fold the selected subtree, or go to the parent",
            Action::Expand => "unfold the selected subtree",
            Action::FoldAll => "fold every subtree below the top level, or unfold all",
            Action::KernelThreads => "show or hide kernel threads",
            Action::Threads => "show or hide userland threads",
            Action::Spawn => "lab: start a new lab process as brood's child",
            Action::Fork => "lab: the selected lab process calls fork()",
            Action::Exit => "lab: the selected lab process exits (asks for the code)",
            Action::Wait => {
                "lab: waitpid() in the selected process; a zombie is reaped by its parent"
            }
            Action::SignalMenu => "signal menu for the selected process, its subtree or its group",
            Action::Stop => "send SIGSTOP (stop; T in the tree)",
            Action::Continue => "send SIGCONT (continue a stopped process)",
            Action::Kill => "send SIGKILL (cannot be caught)",
            Action::EventLog => "show or hide the event log",
            Action::IpcView => {
                "IPC: why the selected process sleeps, its pipes and sockets, deadlocks"
            }
            Action::LabView => "lab view: only brood and the processes of its lab",
            Action::AutoReap => {
                "lab: brood reaps its exited children at once (off: they stay zombies)"
            }
            Action::Subreaper => "lab: brood becomes a child subreaper and adopts lab orphans",
            Action::Scenarios => {
                "scenarios: start a ready-made lesson in the lab (zombie, pipe, deadlock, …)"
            }
            Action::Explain => "show or hide the panel that explains the running scenario",
            Action::Search => "search name, command line or PID; again: next match",
            Action::SearchPrev => "previous search match",
            Action::Filter => {
                "filter: matches and their ancestors (dimmed) stay; Esc in the box clears"
            }
            Action::FilterDescendants => "filter: also show the descendants of each match",
            Action::FilterUser => "filter by user: a picker of the users present",
            Action::FilterState => "filter by state: only zombies, only stopped, only orphans, all",
            Action::FilterMine => "only my processes, or everyone's",
            Action::ClearFilters => "clear every filter",
            Action::TreeMode => "tree or flat list (sorted as a whole)",
            Action::SortMenu => "sort by a column (picker); the same column again reverses",
            Action::ReverseSort => "reverse the sort order",
            Action::Tag => "tag or untag the selected process; signals then go to every tagged one",
            Action::TagSubtree => "tag the selected process and all its descendants",
            Action::UntagAll => "clear all tags",
            Action::Details => "show or hide the details pane of the selected process",
            Action::DetailsUp => "scroll the details pane up",
            Action::DetailsDown => "scroll the details pane down",
            Action::Follow => "follow: keep the selected process in the middle of the view",
            Action::Pause => "pause or resume refreshing (the screen freezes)",
            Action::Suspend => "suspend brood to the shell; fg brings it back",
        }
    }

    /// A short label for the bottom bar, for the actions worth a place there.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Action::Help => Some("help"),
            Action::Quit => Some("quit"),
            Action::Spawn => Some("spawn"),
            Action::Fork => Some("fork"),
            Action::Exit => Some("exit"),
            Action::Wait => Some("wait"),
            Action::SignalMenu => Some("signal"),
            Action::EventLog => Some("log"),
            Action::IpcView => Some("ipc"),
            Action::LabView => Some("lab"),
            Action::Scenarios => Some("scenarios"),
            Action::Search => Some("search"),
            Action::Filter => Some("filter"),
            _ => None,
        }
    }

    fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A key as the table knows it: shift is folded into the character for printable keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Key {
    pub fn from_event(event: KeyEvent) -> Key {
        let mut modifiers =
            event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match event.code {
            KeyCode::Char(c) => {
                modifiers.remove(KeyModifiers::SHIFT);
                // Terminals report Ctrl-letter in either case; the table uses lower case.
                if modifiers.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                modifiers.insert(KeyModifiers::SHIFT);
                KeyCode::Tab
            }
            other => other,
        };
        Key { code, modifiers }
    }

    /// Parses a key name as written in the config file, e.g. `q`, `Ctrl-c`, `PageDown`, `Shift-F3`.
    pub fn parse(text: &str) -> Result<Key, String> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        loop {
            let lower = rest.to_ascii_lowercase();
            let (flag, len) = if lower.starts_with("ctrl-") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") && rest.chars().count() > 6 {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            modifiers.insert(flag);
            rest = &rest[len..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                let c = if modifiers.contains(KeyModifiers::CONTROL) {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            _ => named_key(rest).ok_or_else(|| format!("unknown key name {text:?}"))?,
        };
        Ok(Key { code, modifiers })
    }
}

fn named_key(name: &str) -> Option<KeyCode> {
    let code = match name.to_ascii_lowercase().as_str() {
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "space" => KeyCode::Char(' '),
        "backspace" => KeyCode::Backspace,
        "delete" => KeyCode::Delete,
        "insert" => KeyCode::Insert,
        f if f.starts_with('f') => {
            KeyCode::F(f[1..].parse().ok().filter(|n| (1..=24).contains(n))?)
        }
        _ => return None,
    };
    Some(code)
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        if self.modifiers.contains(KeyModifiers::SHIFT) {
            f.write_str("Shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Keys → actions, plus each action's keys in the order they were written (for help and hints).
#[derive(Debug, Clone)]
pub struct Keymap {
    by_key: HashMap<Key, Action>,
    by_action: Vec<(Action, Vec<Key>)>,
}

pub const DEFAULT_CONFIG: &str = include_str!("../../assets/default-config.toml");

impl Keymap {
    /// The shipped defaults with `overrides` (action name → key names) laid over them.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Keymap, String> {
        let mut table: Vec<(Action, Vec<Key>)> =
            Action::ALL.iter().map(|&a| (a, Vec::new())).collect();
        for (layer, bindings) in [
            ("defaults", default_bindings()),
            ("config", overrides.clone()),
        ] {
            for (name, keys) in bindings {
                let action = Action::from_name(&name)
                    .ok_or_else(|| format!("{layer}: unknown action {name:?}"))?;
                let parsed = keys
                    .iter()
                    .map(|k| Key::parse(k))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Some(slot) = table.iter_mut().find(|(a, _)| *a == action) {
                    slot.1 = parsed;
                }
            }
        }
        let mut by_key = HashMap::new();
        for (action, keys) in &table {
            for key in keys {
                if let Some(other) = by_key.insert(*key, *action) {
                    return Err(format!(
                        "key {key} is bound to both {} and {}",
                        other.name(),
                        action.name()
                    ));
                }
            }
        }
        Ok(Keymap {
            by_key,
            by_action: table,
        })
    }

    pub fn action_for(&self, event: KeyEvent) -> Option<Action> {
        self.by_key.get(&Key::from_event(event)).copied()
    }

    pub fn keys_for(&self, action: Action) -> &[Key] {
        self.by_action
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(&[], |(_, keys)| keys)
    }

    /// Every action with its keys, in help-screen order.
    pub fn bindings(&self) -> impl Iterator<Item = (Action, &[Key])> {
        self.by_action.iter().map(|(a, keys)| (*a, keys.as_slice()))
    }
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap::with_overrides(&BTreeMap::new())
            .unwrap_or_else(|e| panic!("the shipped key table is broken: {e}"))
    }
}

fn default_bindings() -> BTreeMap<String, Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Defaults {
        keys: BTreeMap<String, Vec<String>>,
    }
    toml::from_str::<Defaults>(DEFAULT_CONFIG)
        .map(|d| d.keys)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn every_action_has_a_default_key() {
        let keymap = Keymap::default();
        for action in Action::ALL {
            assert!(
                !keymap.keys_for(action).is_empty(),
                "{} has no key",
                action.name()
            );
        }
    }

    #[test]
    fn shipped_keys_dispatch_to_their_actions() {
        let keymap = Keymap::default();
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::ForceQuit)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Last)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('g'), KeyModifiers::NONE)),
            Some(Action::First)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        // Plain c is not Ctrl-c.
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('c'), KeyModifiers::NONE)),
            Some(Action::ClearFilters)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::F(3), KeyModifiers::SHIFT)),
            Some(Action::SearchPrev)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('\\'), KeyModifiers::NONE)),
            Some(Action::Filter)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(Action::Tag)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('y'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn overrides_replace_an_actions_keys_and_conflicts_are_reported() {
        let mut overrides = BTreeMap::new();
        overrides.insert("quit".to_string(), vec!["Q".to_string()]);
        let keymap = Keymap::with_overrides(&overrides).unwrap();
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('Q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );

        overrides.insert("help".to_string(), vec!["Q".to_string()]);
        let err = Keymap::with_overrides(&overrides).unwrap_err();
        assert!(err.contains("key Q is bound to both"), "{err}");
    }

    #[test]
    fn key_names_parse_and_print() {
        assert_eq!(Key::parse("Shift-F3").unwrap().to_string(), "Shift-F3");
        assert_eq!(Key::parse("Ctrl-C").unwrap().to_string(), "Ctrl-c");
        assert_eq!(Key::parse("Space").unwrap().code, KeyCode::Char(' '));
        assert!(Key::parse("Hyper-x").is_err());
        assert!(Key::parse("F99").is_err());
    }
}
