//! The search and filter boxes at the bottom of the screen. While one is open it reads typed
//! text; its other keys come from the key table's input layer (next and previous match, accept,
//! cancel), and keys that are not text still move the selection.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::App;
use super::filter::text_matches;
use super::keymap::{Action, InputAction};
use crate::message::Effect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Search,
    Filter,
    /// Searching the full-screen log.
    LogSearch,
    /// Filtering the full-screen log by text.
    LogFilter,
    /// A moment of the recording replayed to jump to.
    Jump,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
    /// The search found nothing for the current input.
    pub not_found: bool,
    /// The row the search started from: typing looks for the first match from there.
    anchor: usize,
}

impl Prompt {
    pub(super) fn new(kind: PromptKind, input: String) -> Prompt {
        Prompt {
            kind,
            input,
            not_found: false,
            anchor: 0,
        }
    }
}

impl App {
    /// Opens an empty search box; F3 in it brings back the last search.
    pub(super) fn open_search(&mut self) {
        self.prompt = Some(Prompt {
            kind: PromptKind::Search,
            input: String::new(),
            not_found: false,
            anchor: self.selected_row,
        });
    }

    pub(super) fn open_filter(&mut self) {
        self.prompt = Some(Prompt {
            kind: PromptKind::Filter,
            input: self.filter.text.clone(),
            not_found: false,
            anchor: self.selected_row,
        });
    }

    pub(super) fn on_prompt_key(&mut self, mut prompt: Prompt, key: KeyEvent) -> Vec<Effect> {
        let typed = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match self.keymap.input.action_for(key) {
            Some(InputAction::Cancel) => {
                match prompt.kind {
                    PromptKind::Filter => {
                        self.filter.text.clear();
                        self.rebuild_rows(None);
                    }
                    PromptKind::LogFilter => self.log.filter.text.clear(),
                    PromptKind::Search | PromptKind::LogSearch | PromptKind::Jump => {}
                }
                return Vec::new();
            }
            Some(InputAction::Accept)
                if matches!(prompt.kind, PromptKind::Filter | PromptKind::LogFilter) =>
            {
                return Vec::new();
            }
            Some(InputAction::Accept) if prompt.kind == PromptKind::Jump => {
                return self.jump_to(&prompt.input);
            }
            Some(step @ (InputAction::Accept | InputAction::Next | InputAction::Previous))
                if prompt.kind == PromptKind::LogSearch =>
            {
                if prompt.input.is_empty() {
                    prompt.input = self.last_search.clone();
                    self.log.search = prompt.input.to_lowercase();
                }
                self.prompt = Some(prompt);
                self.log_search_step(step != InputAction::Previous);
                return Vec::new();
            }
            Some(step @ (InputAction::Accept | InputAction::Next | InputAction::Previous)) => {
                if prompt.input.is_empty() {
                    prompt.input = self.last_search.clone();
                }
                self.prompt = Some(prompt);
                self.search_step(step != InputAction::Previous);
                return Vec::new();
            }
            Some(InputAction::Erase) => {
                prompt.input.pop();
            }
            None => match key.code {
                KeyCode::Char(c) if typed => prompt.input.push(c),
                // Keys that are not text still move the selection.
                _ if matches!(prompt.kind, PromptKind::LogSearch | PromptKind::LogFilter) => {
                    use super::keymap::LogAction;
                    self.prompt = Some(prompt);
                    return match self.keymap.log.action_for(key) {
                        Some(
                            action @ (LogAction::Up
                            | LogAction::Down
                            | LogAction::PageUp
                            | LogAction::PageDown
                            | LogAction::First
                            | LogAction::Last),
                        ) => self.perform_log(action),
                        _ => Vec::new(),
                    };
                }
                _ => {
                    self.prompt = Some(prompt);
                    return match self.keymap.main.action_for(key) {
                        Some(
                            action @ (Action::Up
                            | Action::Down
                            | Action::PageUp
                            | Action::PageDown
                            | Action::First
                            | Action::Last),
                        ) => self.perform(action),
                        _ => Vec::new(),
                    };
                }
            },
        }
        // The text changed.
        match prompt.kind {
            PromptKind::Search => {
                self.last_search = prompt.input.clone();
                let anchor = prompt.anchor;
                self.prompt = Some(prompt);
                self.search_from(anchor, true, true);
            }
            PromptKind::Filter => {
                self.filter.text = prompt.input.clone();
                self.prompt = Some(prompt);
                self.rebuild_rows(None);
            }
            PromptKind::LogSearch => {
                self.last_search = prompt.input.clone();
                self.log.search = prompt.input.to_lowercase();
                let found = self.log.find(&self.history, self.lab_view, true, true);
                prompt.not_found = !found && !prompt.input.is_empty();
                self.prompt = Some(prompt);
            }
            PromptKind::LogFilter => {
                self.log.filter.text = prompt.input.to_lowercase();
                self.prompt = Some(prompt);
            }
            // A time is taken as a whole, on Enter.
            PromptKind::Jump => self.prompt = Some(prompt),
        }
        Vec::new()
    }

    /// Next (or previous) match after the selected row, wrapping around.
    pub(super) fn search_step(&mut self, forward: bool) {
        self.search_from(self.selected_row, forward, false);
    }

    /// Selects the first row matching the search, from `start` (itself included when
    /// `inclusive`), forwards or backwards, wrapping; says so in the box when nothing matches.
    fn search_from(&mut self, start: usize, forward: bool, inclusive: bool) {
        let query = self.last_search.to_lowercase();
        self.unfold_matches(&query);
        let found = if query.is_empty() || self.rows.is_empty() {
            None
        } else {
            let count = self.rows.len();
            let start = start.min(count - 1);
            let first = usize::from(!inclusive);
            (first..count + first)
                .map(|step| {
                    if forward {
                        (start + step) % count
                    } else {
                        (start + count * 2 - step) % count
                    }
                })
                .find(|&row| {
                    let proc = &self.snapshot.procs[self.rows[row].proc_index];
                    text_matches(proc, &query)
                })
        };
        if let Some(row) = found {
            self.select_row(row);
        }
        if let Some(prompt) = &mut self.prompt {
            prompt.not_found = found.is_none() && !query.is_empty();
        }
    }

    /// Unfolds every folded subtree that hides a match, so that search finds what a fold hides
    /// (the folds that hide no match stay).
    fn unfold_matches(&mut self, query: &str) {
        if query.is_empty() || self.collapsed.is_empty() {
            return;
        }
        let shown: std::collections::HashSet<usize> =
            self.rows.iter().map(|r| r.proc_index).collect();
        let hidden_matches: Vec<crate::proc::Identity> = self
            .snapshot
            .procs
            .iter()
            .enumerate()
            .filter(|(i, p)| !shown.contains(i) && text_matches(p, query))
            .map(|(_, p)| p.id)
            .collect();
        // Walk up from each hidden match; a process already walked through ends the walk, so the
        // whole pass stays linear however many matches there are.
        let mut walked = std::collections::HashSet::new();
        let mut unfolded = false;
        for id in hidden_matches {
            let mut pid = id.pid;
            while walked.insert(pid) {
                let Some(proc) = self.pid_index.get(pid).map(|i| &self.snapshot.procs[i]) else {
                    break;
                };
                unfolded |= self.collapsed.remove(&proc.id);
                pid = proc.ppid;
            }
        }
        if unfolded {
            self.rebuild_rows(None);
        }
    }
}
