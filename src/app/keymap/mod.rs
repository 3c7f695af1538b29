//! The one key table, in layers: the main screen, and each kind of popup or prompt. Every key
//! brood reacts to is bound here (defaults in `assets/default-config.toml`, the user's config
//! laid over them); the dispatcher, the help screen and every hint read this table, so a key
//! handled anywhere else is a bug. Only typed text (an exit code, a search) is a dialog's own.

mod actions;
mod key;

use std::collections::HashMap;

use crossterm::event::KeyEvent;

pub use actions::{
    Action, Bindable, ConfirmAction, ExitCodeAction, InputAction, LogAction, MenuAction,
    QuitAction, ReplayAction, TimelineAction,
};
pub use key::Key;

pub const DEFAULT_CONFIG: &str = include_str!("../../../assets/default-config.toml");

/// One layer: keys to its actions, and each action's keys in the order they were written.
#[derive(Debug, Clone)]
pub struct Layer<A> {
    by_key: HashMap<Key, A>,
    by_action: Vec<(A, Vec<Key>)>,
}

impl<A: Bindable> Layer<A> {
    /// From each action's key names; a key bound to two actions of the layer is an error.
    fn build(names: &LayerNames) -> Result<Layer<A>, String> {
        let mut by_action: Vec<(A, Vec<Key>)> = A::all().iter().map(|&a| (a, Vec::new())).collect();
        let mut by_key = HashMap::new();
        for (action, keys) in by_action.iter_mut() {
            let written = names
                .actions
                .iter()
                .find(|(name, _)| *name == action.name())
                .map_or(&[][..], |(_, keys)| keys.as_slice());
            for name in written {
                let key = Key::parse(name)?;
                if let Some(other) = by_key.insert(key, *action) {
                    return Err(format!(
                        "key {key} is bound to both {} and {}{}",
                        other.name(),
                        action.name(),
                        A::SECTION.map_or_else(String::new, |s| format!(" in [keys.{s}]"))
                    ));
                }
                keys.push(key);
            }
        }
        Ok(Layer { by_key, by_action })
    }

    pub fn action_for(&self, event: KeyEvent) -> Option<A> {
        self.by_key.get(&Key::from_event(event)).copied()
    }

    pub fn keys_for(&self, action: A) -> &[Key] {
        self.by_action
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(&[], |(_, keys)| keys)
    }

    /// Every action with its keys, in help-screen order.
    pub fn bindings(&self) -> impl Iterator<Item = (A, &[Key])> {
        self.by_action.iter().map(|(a, keys)| (*a, keys.as_slice()))
    }

    /// The first key of `action`, for a short hint (`—` when it has none).
    pub fn first(&self, action: A) -> String {
        self.keys_for(action)
            .first()
            .map_or_else(|| "—".to_string(), Key::to_string)
    }

    /// The keys of `action` as hints write them: `y / Enter`.
    pub fn label(&self, action: A) -> String {
        let names: Vec<String> = self.keys_for(action).iter().map(Key::to_string).collect();
        names.join(" / ")
    }
}

/// The key names of each action of one layer, as a config writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerNames {
    /// The section under `[keys]` (`None`: `[keys]` itself).
    pub section: Option<&'static str>,
    pub actions: Vec<(&'static str, Vec<String>)>,
}

impl LayerNames {
    fn of<A: Bindable>() -> LayerNames {
        LayerNames {
            section: A::SECTION,
            actions: A::all().iter().map(|a| (a.name(), Vec::new())).collect(),
        }
    }

    /// Sets the keys of the action called `action`; false if the layer has no such action.
    pub fn set(&mut self, action: &str, keys: Vec<String>) -> bool {
        match self.actions.iter_mut().find(|(name, _)| *name == action) {
            Some(slot) => {
                slot.1 = keys;
                true
            }
            None => false,
        }
    }
}

/// The key names of every layer: what `[keys]` and its sections hold, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNames(pub Vec<LayerNames>);

impl KeyNames {
    /// Every layer, every action, no keys yet.
    pub fn empty() -> KeyNames {
        KeyNames(vec![
            LayerNames::of::<Action>(),
            LayerNames::of::<LogAction>(),
            LayerNames::of::<TimelineAction>(),
            LayerNames::of::<ReplayAction>(),
            LayerNames::of::<MenuAction>(),
            LayerNames::of::<ConfirmAction>(),
            LayerNames::of::<QuitAction>(),
            LayerNames::of::<ExitCodeAction>(),
            LayerNames::of::<InputAction>(),
        ])
    }

    pub fn layer_mut(&mut self, section: Option<&str>) -> Option<&mut LayerNames> {
        self.0.iter_mut().find(|l| l.section == section)
    }

    fn layer(&self, section: Option<&str>) -> LayerNames {
        self.0
            .iter()
            .find(|l| l.section == section)
            .cloned()
            .unwrap_or(LayerNames {
                section: None,
                actions: Vec::new(),
            })
    }
}

/// Every layer of the key table.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub main: Layer<Action>,
    pub log: Layer<LogAction>,
    pub timeline: Layer<TimelineAction>,
    pub replay: Layer<ReplayAction>,
    pub menu: Layer<MenuAction>,
    pub confirm: Layer<ConfirmAction>,
    pub quit_dialog: Layer<QuitAction>,
    pub exit_code: Layer<ExitCodeAction>,
    pub input: Layer<InputAction>,
}

impl Keymap {
    /// The table from every layer's key names. Refused: a key bound twice in a layer, and a
    /// table that leaves no way out (no `force_quit` and a screen or popup that cannot be left).
    pub fn build(names: &KeyNames) -> Result<Keymap, String> {
        let keymap = Keymap {
            main: Layer::build(&names.layer(Action::SECTION))?,
            log: Layer::build(&names.layer(LogAction::SECTION))?,
            timeline: Layer::build(&names.layer(TimelineAction::SECTION))?,
            replay: Layer::build(&names.layer(ReplayAction::SECTION))?,
            menu: Layer::build(&names.layer(MenuAction::SECTION))?,
            confirm: Layer::build(&names.layer(ConfirmAction::SECTION))?,
            quit_dialog: Layer::build(&names.layer(QuitAction::SECTION))?,
            exit_code: Layer::build(&names.layer(ExitCodeAction::SECTION))?,
            input: Layer::build(&names.layer(InputAction::SECTION))?,
        };
        if keymap.main.keys_for(Action::ForceQuit).is_empty() {
            let stuck: Vec<&str> = [
                (keymap.main.keys_for(Action::Quit).is_empty(), "quit"),
                (
                    keymap.log.keys_for(LogAction::Close).is_empty()
                        && keymap.log.keys_for(LogAction::Quit).is_empty(),
                    "log.close",
                ),
                (
                    keymap.timeline.keys_for(TimelineAction::Close).is_empty()
                        && keymap.timeline.keys_for(TimelineAction::Quit).is_empty(),
                    "timeline.close",
                ),
                (
                    keymap.menu.keys_for(MenuAction::Cancel).is_empty(),
                    "menu.cancel",
                ),
                (
                    keymap.confirm.keys_for(ConfirmAction::No).is_empty(),
                    "confirm.no",
                ),
                (
                    keymap.quit_dialog.keys_for(QuitAction::Stay).is_empty(),
                    "quit_dialog.stay",
                ),
                (
                    keymap.exit_code.keys_for(ExitCodeAction::Cancel).is_empty(),
                    "exit_code.cancel",
                ),
                (
                    keymap.input.keys_for(InputAction::Cancel).is_empty(),
                    "input.cancel",
                ),
            ]
            .into_iter()
            .filter_map(|(empty, name)| empty.then_some(name))
            .collect();
            if !stuck.is_empty() {
                return Err(format!(
                    "with force_quit = [] brood would have no way out: {} need a key",
                    stuck.join(", ")
                ));
            }
        }
        Ok(keymap)
    }

    /// Every layer for the help screen: its title, then each action's keys and doc.
    pub fn help_sections(&self) -> Vec<(&'static str, Vec<(String, &'static str)>)> {
        fn section<A: Bindable>(layer: &Layer<A>) -> (&'static str, Vec<(String, &'static str)>) {
            let rows = layer
                .bindings()
                .map(|(action, keys)| {
                    let names: Vec<String> = keys.iter().map(Key::to_string).collect();
                    (names.join(", "), action.doc())
                })
                .collect();
            (A::TITLE, rows)
        }
        vec![
            section(&self.main),
            section(&self.log),
            section(&self.timeline),
            section(&self.replay),
            section(&self.menu),
            section(&self.confirm),
            section(&self.quit_dialog),
            section(&self.exit_code),
            section(&self.input),
        ]
    }
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap::build(&default_names())
            .unwrap_or_else(|e| panic!("the shipped key table is broken: {e}"))
    }
}

/// The shipped key names, from `assets/default-config.toml`.
pub fn default_names() -> KeyNames {
    let mut names = KeyNames::empty();
    let Ok(config) = DEFAULT_CONFIG.parse::<toml::Table>() else {
        return names;
    };
    let Some(keys) = config.get("keys").and_then(toml::Value::as_table) else {
        return names;
    };
    let list = |value: &toml::Value| -> Option<Vec<String>> {
        value
            .as_array()?
            .iter()
            .map(|k| k.as_str().map(str::to_string))
            .collect()
    };
    for (name, value) in keys {
        if let Some(section) = value.as_table() {
            if let Some(layer) = names.layer_mut(Some(name)) {
                for (action, keys) in section {
                    if let Some(keys) = list(keys) {
                        layer.set(action, keys);
                    }
                }
            }
        } else if let (Some(layer), Some(keys)) = (names.layer_mut(None), list(value)) {
            layer.set(name, keys);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn every_action_has_a_key<A: Bindable>(layer: &Layer<A>) {
        for &action in A::all() {
            assert!(
                !layer.keys_for(action).is_empty(),
                "{} has no key",
                action.name()
            );
        }
    }

    #[test]
    fn every_action_of_every_layer_has_a_default_key() {
        let keymap = Keymap::default();
        every_action_has_a_key(&keymap.main);
        every_action_has_a_key(&keymap.menu);
        every_action_has_a_key(&keymap.confirm);
        every_action_has_a_key(&keymap.quit_dialog);
        every_action_has_a_key(&keymap.exit_code);
        every_action_has_a_key(&keymap.input);
    }

    #[test]
    fn a_table_with_no_way_out_is_refused() {
        let mut names = default_names();
        names.layer_mut(None).unwrap().set("force_quit", Vec::new());
        assert!(Keymap::build(&names).is_ok(), "q still quits");
        names.layer_mut(None).unwrap().set("quit", Vec::new());
        let err = Keymap::build(&names).unwrap_err();
        assert!(err.contains("no way out") && err.contains("quit"), "{err}");
        let mut names = default_names();
        names.layer_mut(None).unwrap().set("force_quit", Vec::new());
        names
            .layer_mut(Some("confirm"))
            .unwrap()
            .set("no", Vec::new());
        let err = Keymap::build(&names).unwrap_err();
        assert!(err.contains("confirm.no"), "{err}");
    }

    #[test]
    fn shipped_keys_dispatch_to_their_actions() {
        let keymap = Keymap::default();
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::ForceQuit)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Last)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('g'), KeyModifiers::NONE)),
            Some(Action::First)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        // Plain c is not Ctrl-c.
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('c'), KeyModifiers::NONE)),
            Some(Action::ClearFilters)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::F(3), KeyModifiers::SHIFT)),
            Some(Action::SearchPrev)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('\\'), KeyModifiers::NONE)),
            Some(Action::Filter)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(Action::Tag)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('y'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn overrides_replace_an_actions_keys_and_conflicts_are_reported() {
        let mut names = default_names();
        names
            .layer_mut(None)
            .unwrap()
            .set("quit", vec!["Q".to_string()]);
        let keymap = Keymap::build(&names).unwrap();
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('Q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            keymap
                .main
                .action_for(press(KeyCode::Char('q'), KeyModifiers::NONE)),
            None
        );

        names
            .layer_mut(None)
            .unwrap()
            .set("help", vec!["Q".to_string()]);
        let err = Keymap::build(&names).unwrap_err();
        assert!(err.contains("key Q is bound to both"), "{err}");
        // Layers are apart: the same key may mean one thing on the screen, another in a menu.
        let keymap = Keymap::default();
        let y = press(KeyCode::Char('y'), KeyModifiers::NONE);
        assert_eq!(keymap.confirm.action_for(y), Some(ConfirmAction::Yes));
        let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(keymap.main.action_for(q), Some(Action::Quit));
        assert_eq!(keymap.menu.action_for(q), Some(MenuAction::Cancel));
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
