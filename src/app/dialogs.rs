//! Keys while a popup is open, each popup reading its own layer of the key table (menus,
//! confirmations, the quit dialog, the exit code); only the digits of an exit code are typed.

use crossterm::event::{KeyCode, KeyEvent};
use nix::sys::signal::Signal;

use super::keymap::{Action, ConfirmAction, ExitCodeAction, MenuAction, QuitAction};
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

/// Where `selected` goes in a list of `count` items for `action` (up and down wrap around).
pub(super) fn moved(selected: usize, count: usize, action: MenuAction, page: usize) -> usize {
    let last = count.saturating_sub(1);
    match action {
        MenuAction::Up => selected.checked_sub(1).unwrap_or(last),
        MenuAction::Down if selected >= last => 0,
        MenuAction::Down => selected + 1,
        MenuAction::PageUp => selected.saturating_sub(page),
        MenuAction::PageDown => (selected + page).min(last),
        MenuAction::First => 0,
        MenuAction::Last => last,
        MenuAction::Choose | MenuAction::Cancel | MenuAction::Scope => selected,
    }
}

impl App {
    /// Rows a page of a popup list moves.
    pub(super) fn menu_page(&self) -> usize {
        usize::from(self.screen.1.saturating_sub(8)).max(1)
    }

    /// The help's last scroll position: its last line at the bottom of the box, never past it.
    /// The help, opened at a page's own keys.
    pub(super) fn open_help_at(&mut self, section: &'static str) {
        let scroll = super::help::section_start(&self.keymap, section).min(self.help_last_scroll());
        self.overlay = Some(Overlay::Help { scroll });
    }

    pub(super) fn help_last_scroll(&self) -> u16 {
        let shown = usize::from(self.screen.1.saturating_sub(4));
        let last = super::help::rows(&self.keymap).len().saturating_sub(shown);
        u16::try_from(last).unwrap_or(u16::MAX)
    }

    pub(super) fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Vec<Effect> {
        let menu = self.keymap.menu.action_for(key);
        match overlay {
            Overlay::Help { scroll } => {
                // The keys that open the help close it too.
                let closes = menu == Some(MenuAction::Cancel)
                    || menu == Some(MenuAction::Choose)
                    || self.keymap.main.action_for(key) == Some(Action::Help);
                if closes {
                    return Vec::new();
                }
                let last = usize::from(self.help_last_scroll());
                let (scroll, page) = (usize::from(scroll), self.menu_page());
                let scroll = match menu {
                    Some(MenuAction::Up) => scroll.saturating_sub(1),
                    Some(MenuAction::Down) => scroll + 1,
                    Some(MenuAction::PageUp) => scroll.saturating_sub(page),
                    Some(MenuAction::PageDown) => scroll + page,
                    Some(MenuAction::First) => 0,
                    Some(MenuAction::Last) => last,
                    _ => scroll,
                };
                let scroll = u16::try_from(scroll.min(last)).unwrap_or(u16::MAX);
                self.overlay = Some(Overlay::Help { scroll });
            }
            Overlay::ExitCode { target, mut input } => {
                match self.keymap.exit_code.action_for(key) {
                    Some(ExitCodeAction::Send) => {
                        let code = if input.is_empty() {
                            Some(0)
                        } else {
                            input.parse::<u8>().ok()
                        };
                        if let Some(code) = code {
                            return self.lab_request(target.id, Request::Exit(code));
                        }
                        self.set_status(
                            super::Severity::Error,
                            format!("{input:?} is not an exit code (0 to 255)"),
                        );
                        input.clear();
                    }
                    Some(ExitCodeAction::Erase) => {
                        input.pop();
                    }
                    Some(ExitCodeAction::Cancel) => return Vec::new(),
                    None => match key.code {
                        KeyCode::Char(c) if c.is_ascii_digit() && input.len() < 3 => input.push(c),
                        _ => {}
                    },
                }
                self.overlay = Some(Overlay::ExitCode { target, input });
            }
            Overlay::SignalMenu(mut menu_state) => {
                match menu {
                    Some(MenuAction::Choose) => {
                        if let Some(info) = menu_state.signal() {
                            return self.request_signal(
                                menu_state.targets,
                                info.signal,
                                menu_state.scope,
                            );
                        }
                    }
                    Some(MenuAction::Scope) => menu_state.scope = menu_state.scope.next(),
                    Some(MenuAction::Cancel) => return Vec::new(),
                    Some(action) => {
                        let count = signals::all().len();
                        menu_state.selected =
                            moved(menu_state.selected, count, action, self.menu_page());
                    }
                    None => {}
                }
                self.overlay = Some(Overlay::SignalMenu(menu_state));
            }
            Overlay::Pick(picker) => return self.on_picker_key(picker, menu),
            Overlay::Confirm { effect, question } => match self.keymap.confirm.action_for(key) {
                Some(ConfirmAction::Yes) => return self.confirmed(effect),
                Some(ConfirmAction::No) => {}
                None => self.overlay = Some(Overlay::Confirm { effect, question }),
            },
            Overlay::Quit(dialog) => match self.keymap.quit_dialog.action_for(key) {
                Some(QuitAction::Stay) => {}
                Some(QuitAction::Leave) => {
                    self.exit = Some(Exit::Quit {
                        leave_running: true,
                    })
                }
                // Continued first, so leaving does not let the kernel hang the lab up.
                Some(QuitAction::Continue) if !dialog.stopped.is_empty() => {
                    self.leave_when_continued = true;
                    return vec![Effect::Signal {
                        targets: dialog.stopped,
                        signal: Signal::SIGCONT,
                        scope: SignalScope::Process,
                    }];
                }
                Some(QuitAction::End) => {
                    self.exit = Some(Exit::Quit {
                        leave_running: false,
                    })
                }
                Some(QuitAction::Continue) | None => self.overlay = Some(Overlay::Quit(dialog)),
            },
            Overlay::ScenarioMenu(scenario_menu) => {
                let again = self.keymap.main.action_for(key) == Some(Action::Scenarios);
                return self.on_scenario_menu_key(scenario_menu, menu, again);
            }
        }
        Vec::new()
    }
}
