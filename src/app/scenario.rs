//! The scenarios' side of `update`: the menu (S), the explanation panel (E), starting a scenario
//! and taking in what its driver reports. Decisions only; the driver runs in the effects layer.

use strum::VariantArray;

use super::dialogs::moved;
use super::keymap::{Action, MenuAction};
use super::{App, Overlay, Severity};
use crate::lab::scenarios::{Figures, ScenarioId, Step};
use crate::message::{Effect, Outcome};
use crate::proc::Pid;

/// The scenario menu's state: which entry is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScenarioMenu {
    pub selected: usize,
}

impl ScenarioMenu {
    pub fn scenario(self) -> ScenarioId {
        ScenarioId::VARIANTS[self.selected.min(ScenarioId::VARIANTS.len() - 1)]
    }
}

/// The scenario being shown, as its driver last reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioView {
    pub id: ScenarioId,
    /// Which start this is: reports from an earlier run (still winding down) are not shown.
    pub run: u64,
    /// Each process's part, in the order the driver gave them.
    pub roles: Vec<(Pid, String)>,
    pub figures: Figures,
    pub finished: bool,
}

/// Everything the app keeps about scenarios.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scenarios {
    /// Whether the explanation panel is shown.
    pub panel: bool,
    pub current: Option<ScenarioView>,
    runs: u64,
}

impl App {
    pub(super) fn perform_scenario(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Scenarios => {
                let selected = self
                    .scenarios
                    .current
                    .as_ref()
                    .and_then(|c| ScenarioId::VARIANTS.iter().position(|&id| id == c.id))
                    .unwrap_or(0);
                self.overlay = Some(Overlay::ScenarioMenu(ScenarioMenu { selected }));
            }
            Action::Explain => {
                self.scenarios.panel = !self.scenarios.panel;
                self.keep_selection_visible();
            }
            _ => {}
        }
        Vec::new()
    }

    /// Starts `id`: the panel, the event log and the lab view come on, so what it does is in sight.
    pub fn start_scenario(&mut self, id: ScenarioId) -> Vec<Effect> {
        self.scenarios.runs += 1;
        let run = self.scenarios.runs;
        self.scenarios.current = Some(ScenarioView {
            id,
            run,
            roles: Vec::new(),
            figures: Figures::default(),
            finished: false,
        });
        self.scenarios.panel = true;
        self.show_log = true;
        if !self.lab_view {
            self.lab_view = true;
            self.rebuild_rows(None);
        }
        self.keep_selection_visible();
        self.tell(
            Severity::Info,
            format!(
                "scenario {id}: {} (lab view on; L shows every process)",
                id.title()
            ),
        );
        vec![Effect::Scenario { id, run }]
    }

    /// `again`: the key that opened the menu was pressed again, which closes it.
    pub(super) fn on_scenario_menu_key(
        &mut self,
        mut menu: ScenarioMenu,
        action: Option<MenuAction>,
        again: bool,
    ) -> Vec<Effect> {
        match action {
            Some(MenuAction::Choose) => return self.start_scenario(menu.scenario()),
            Some(MenuAction::Cancel) => return Vec::new(),
            _ if again => return Vec::new(),
            Some(action) => {
                let count = ScenarioId::VARIANTS.len();
                menu.selected = moved(menu.selected, count, action, self.menu_page());
            }
            None => {}
        }
        self.overlay = Some(Overlay::ScenarioMenu(menu));
        Vec::new()
    }

    pub(super) fn on_scenario_step(&mut self, run: u64, step: Step) {
        let current = self.scenarios.current.as_mut().filter(|c| c.run == run);
        match step {
            // The lab's own outcomes are told as when a key asked for them.
            Step::Spawned { id, guard } => self.on_outcome(Outcome::Spawned { id, guard }),
            Step::Forked { parent, child } => self.forked(parent.pid, child),
            Step::Waited { waiter, outcome } => {
                self.on_outcome(Outcome::Waited { waiter, outcome })
            }
            Step::Role { pid, label, .. } => {
                if let Some(current) = current {
                    current.roles.push((pid, label));
                }
            }
            Step::Note(text) => self.log_line(text),
            Step::Figures(figures) => {
                if let Some(current) = current {
                    current.figures = figures;
                }
            }
            Step::Finished => {
                if let Some(current) = current.filter(|c| !c.finished) {
                    current.finished = true;
                    let text = format!(
                        "scenario {} is over; S starts another, E hides the panel",
                        current.id
                    );
                    self.log_line(text);
                }
            }
            Step::Failed(why) => self.tell(Severity::Error, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Settings;
    use crate::message::Event;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
        app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    #[test]
    fn the_menu_starts_the_highlighted_scenario_and_shows_the_panel() {
        let mut app = App::new(Settings::new(100));
        assert!(press(&mut app, KeyCode::Char('S')).is_empty());
        assert!(matches!(app.overlay, Some(Overlay::ScenarioMenu(_))));
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        let effects = press(&mut app, KeyCode::Enter);
        assert_eq!(
            effects,
            vec![Effect::Scenario {
                id: ScenarioId::Zombie,
                run: 1
            }]
        );
        assert_eq!(app.overlay, None);
        assert!(app.scenarios.panel && app.show_log && app.lab_view);
        press(&mut app, KeyCode::Char('E'));
        assert!(!app.scenarios.panel, "E hides the panel");
    }

    #[test]
    fn the_menu_closes_with_the_quit_key_and_starts_nothing() {
        let mut app = App::new(Settings::new(100));
        press(&mut app, KeyCode::Char('S'));
        assert!(press(&mut app, KeyCode::Esc).is_empty());
        assert_eq!((app.overlay.clone(), app.exit), (None, None));
    }

    #[test]
    fn reports_of_an_earlier_run_do_not_replace_the_current_figures() {
        let mut app = App::new(Settings::new(100));
        app.start_scenario(ScenarioId::Pipe);
        app.start_scenario(ScenarioId::Queue);
        let figures = |line: &str| Figures {
            lines: vec![line.to_string()],
            ..Figures::default()
        };
        let step = |run, step| Event::Done(Outcome::Scenario { run, step });
        app.update(step(1, Step::Figures(figures("old"))));
        app.update(step(2, Step::Figures(figures("new"))));
        app.update(step(1, Step::Finished));
        let current = app.scenarios.current.as_ref().unwrap();
        assert_eq!(current.figures.lines, vec!["new".to_string()]);
        assert!(!current.finished);
        app.update(step(
            1,
            Step::Note("1 exited 0 after handling SIGTERM".into()),
        ));
        assert!(
            app.history
                .entries(false)
                .any(|e| e.text.contains("after handling"))
        );
    }
}
