//! Keys while a popup is open. Navigation and closing come from the key table (up/down, quit);
//! inside a dialog, Enter confirms, Tab switches the signal scope and digits type an exit code.

use crossterm::event::{KeyCode, KeyEvent};
use nix::sys::signal::Signal;

use super::keymap::Action;
use super::{App, Exit, Overlay};
use crate::lab::protocol::Request;
use crate::message::{Effect, SignalScope, Target};
use crate::signals::{self, Dispositions, SignalInfo};

/// The signal menu's state: which signal is highlighted, for whom, and what /proc says the target
/// does with each signal (`None` until read; `Some(None)` when /proc would not say).
#[derive(Debug, Clone, PartialEq)]
pub struct SignalMenu {
    pub target: Target,
    /// Everyone the signal goes to: the tagged processes, or just `target`.
    pub targets: Vec<Target>,
    pub scope: SignalScope,
    pub selected: usize,
    pub dispositions: Option<Option<Dispositions>>,
}

impl SignalMenu {
    pub fn new(target: Target) -> SignalMenu {
        let selected = signals::all()
            .iter()
            .position(|s| s.signal == Signal::SIGTERM)
            .unwrap_or(0);
        SignalMenu {
            targets: vec![target.clone()],
            target,
            scope: SignalScope::Process,
            selected,
            dispositions: None,
        }
    }

    pub fn signal(&self) -> Option<SignalInfo> {
        signals::all().get(self.selected).copied()
    }
}

impl App {
    pub(super) fn on_overlay_key(
        &mut self,
        overlay: Overlay,
        key: KeyEvent,
        action: Option<Action>,
    ) -> Vec<Effect> {
        let closes = matches!(action, Some(Action::Quit));
        match overlay {
            Overlay::Help { scroll } => {
                let scroll = match action {
                    Some(Action::Up) => scroll.saturating_sub(1),
                    Some(Action::Down) => scroll.saturating_add(1),
                    Some(Action::PageUp) => scroll.saturating_sub(10),
                    Some(Action::PageDown) => scroll.saturating_add(10),
                    Some(Action::Quit | Action::Help) => return Vec::new(),
                    _ => scroll,
                };
                self.overlay = Some(Overlay::Help { scroll });
            }
            Overlay::ExitCode { target, mut input } => match key.code {
                KeyCode::Enter => {
                    let code = if input.is_empty() {
                        Some(0)
                    } else {
                        input.parse::<u8>().ok()
                    };
                    match code {
                        Some(code) => return self.lab_request(target.id, Request::Exit(code)),
                        None => {
                            self.set_status(
                                super::Severity::Error,
                                format!("{input:?} is not an exit code (0 to 255)"),
                            );
                            self.overlay = Some(Overlay::ExitCode {
                                target,
                                input: String::new(),
                            });
                        }
                    }
                }
                KeyCode::Char(c) if c.is_ascii_digit() && input.len() < 3 => {
                    input.push(c);
                    self.overlay = Some(Overlay::ExitCode { target, input });
                }
                KeyCode::Backspace => {
                    input.pop();
                    self.overlay = Some(Overlay::ExitCode { target, input });
                }
                _ if closes => {}
                _ => self.overlay = Some(Overlay::ExitCode { target, input }),
            },
            Overlay::SignalMenu(mut menu) => {
                let count = signals::all().len();
                match (action, key.code) {
                    (_, KeyCode::Enter) => {
                        if let Some(info) = menu.signal() {
                            return self.request_signal(menu.targets, info.signal, menu.scope);
                        }
                    }
                    (_, KeyCode::Tab) => menu.scope = menu.scope.next(),
                    (Some(Action::Up), _) => {
                        menu.selected = menu.selected.checked_sub(1).unwrap_or(count - 1)
                    }
                    (Some(Action::Down), _) => menu.selected = (menu.selected + 1) % count,
                    (Some(Action::First), _) => menu.selected = 0,
                    (Some(Action::Last), _) => menu.selected = count - 1,
                    _ if closes => return Vec::new(),
                    _ => {}
                }
                self.overlay = Some(Overlay::SignalMenu(menu));
            }
            Overlay::Pick(picker) => return self.on_picker_key(picker, key, action),
            Overlay::Confirm { effect, question } => match key.code {
                KeyCode::Enter | KeyCode::Char('y') => return vec![effect],
                KeyCode::Char('n') => {}
                _ if closes => {}
                _ => self.overlay = Some(Overlay::Confirm { effect, question }),
            },
            // Esc stays; Enter or the quit key again ends the lab and quits; l leaves it running;
            // c continues the stopped ones first, so leaving does not hang the lab up.
            Overlay::Quit(dialog) => match key.code {
                KeyCode::Esc => {}
                KeyCode::Char('l') => {
                    self.exit = Some(Exit::Quit {
                        leave_running: true,
                    })
                }
                KeyCode::Char('c') if !dialog.stopped.is_empty() => {
                    self.leave_when_continued = true;
                    return vec![Effect::Signal {
                        targets: dialog.stopped,
                        signal: Signal::SIGCONT,
                        scope: SignalScope::Process,
                    }];
                }
                KeyCode::Enter => {
                    self.exit = Some(Exit::Quit {
                        leave_running: false,
                    })
                }
                _ if closes => {
                    self.exit = Some(Exit::Quit {
                        leave_running: false,
                    })
                }
                _ => self.overlay = Some(Overlay::Quit(dialog)),
            },
            Overlay::ScenarioMenu(menu) => return self.on_scenario_menu_key(menu, key, action),
        }
        Vec::new()
    }
}
