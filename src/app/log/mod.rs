//! The event log as the user reads it: which entries of the history (filters), where (a cursor,
//! or following the newest), and what is searched for. Pure functions of the history; the panel
//! and the full-screen log draw what `window` gives, and `keys` moves through it.

mod keys;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use crate::history::{Entry, History, Kinds, Origin};
use crate::proc::Identity;

/// Which entries the log shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Only entries of these kinds (empty: every kind).
    pub kinds: Kinds,
    pub lab_only: bool,
    /// Only entries about this user's processes: the UID and its name.
    pub user: Option<(u32, String)>,
    pub subtree: Option<Subtree>,
    /// Only entries whose line holds this text (lower case).
    pub text: String,
}

/// A process and every process it begot, as far as the history and the tree tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtree {
    pub root: Identity,
    /// "3495 (sh)", for the title.
    pub name: String,
    members: HashSet<Identity>,
}

impl Subtree {
    /// `root` and `known`, its descendants in the tree now, and those the history saw born to
    /// any of them.
    pub fn new(
        root: Identity,
        name: String,
        known: impl IntoIterator<Item = Identity>,
        history: &History,
    ) -> Subtree {
        let mut subtree = Subtree {
            root,
            name,
            members: known.into_iter().chain([root]).collect(),
        };
        for entry in history.entries(false) {
            subtree.observe(entry);
        }
        subtree
    }

    /// Takes in a new entry: a child born to a member is a member.
    pub fn observe(&mut self, entry: &Entry) {
        if let (Some(subject), Some(parent)) = (entry.subject, entry.parent)
            && self.members.contains(&parent)
        {
            self.members.insert(subject);
        }
    }

    fn contains(&self, id: Identity) -> bool {
        self.members.contains(&id)
    }
}

impl LogFilter {
    pub fn admits(&self, entry: &Entry) -> bool {
        (self.kinds.is_empty() || self.kinds.intersects(entry.kinds))
            && (!self.lab_only || entry.lab)
            && self
                .user
                .as_ref()
                .is_none_or(|(uid, _)| entry.uid == Some(*uid))
            && self
                .subtree
                .as_ref()
                .is_none_or(|s| entry.subject.is_some_and(|id| s.contains(id)))
            && (self.text.is_empty() || contains_folded(&entry.line(), &self.text))
    }

    pub fn is_active(&self) -> bool {
        *self != LogFilter::default()
    }

    /// The filters in words, for the log's title: "exit, signal · user alice · lab".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.kinds.is_empty() {
            let names: Vec<&str> = Kinds::NAMED
                .iter()
                .filter(|(k, _)| self.kinds.contains(*k))
                .map(|(_, name)| *name)
                .collect();
            parts.push(names.join(", "));
        }
        if let Some(subtree) = &self.subtree {
            parts.push(format!("subtree of {}", subtree.name));
        }
        if let Some((_, name)) = &self.user {
            parts.push(format!("user {name}"));
        }
        if self.lab_only {
            parts.push("the lab".into());
        }
        if !self.text.is_empty() {
            parts.push(format!("\"{}\"", self.text));
        }
        parts.join(" · ")
    }
}

/// Whether `line` holds `lower` (already lower case), ignoring case.
pub fn contains_folded(line: &str, lower: &str) -> bool {
    line.to_lowercase().contains(lower)
}

/// Where the user is in the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogView {
    pub filter: LogFilter,
    /// The entry under the cursor; `None` follows the newest.
    pub cursor: Option<u64>,
    /// The cursor's row on the full screen, kept while the user moves it so the page does not
    /// jump.
    pub cursor_row: usize,
    /// The last search (lower case): highlighted, and what `n` and `N` look for.
    pub search: String,
    /// While refreshing is paused: what was seen after this entry waits to be shown (what
    /// brood says in answer to keys shows at once).
    pub frozen_after: Option<u64>,
    /// While a recording is replayed: only what was written by this moment (nanoseconds since
    /// the epoch) is shown.
    pub until_ns: Option<u64>,
}

/// What one screenful of the log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<'a> {
    pub entries: Vec<&'a Entry>,
    /// The row the cursor is on.
    pub cursor: Option<usize>,
    /// Entries the filters let through, and how many of them come after the window.
    pub matching: usize,
    pub below: usize,
}

impl LogView {
    pub fn following(&self) -> bool {
        self.cursor.is_none()
    }

    /// Whether the log shows `entry` now.
    fn shows(&self, entry: &Entry) -> bool {
        let seen_while_paused = self.frozen_after.is_some_and(|last| entry.seq > last)
            && matches!(entry.origin, Origin::Scan | Origin::Kernel);
        let after_the_cursor = self.until_ns.is_some_and(|until| entry.at_ns > until);
        !seen_while_paused && !after_the_cursor && self.filter.admits(entry)
    }

    /// Every entry the log may show now, in order.
    fn shown<'a>(
        &'a self,
        history: &'a History,
        lab_view: bool,
    ) -> impl DoubleEndedIterator<Item = &'a Entry> + 'a {
        history
            .entries(lab_view || self.filter.lab_only)
            .filter(move |e| self.shows(e))
    }

    /// The entry the cursor is on: the one it names, or the nearest shown one after it (the
    /// one it named may have been pushed out or filtered away), or the newest.
    pub fn current<'a>(&self, history: &'a History, lab_view: bool) -> Option<&'a Entry> {
        let lab_only = lab_view || self.filter.lab_only;
        let shown = |e: &&Entry| self.shows(e);
        match self.cursor {
            Some(seq) => history
                .range(lab_only, seq..)
                .find(shown)
                .or_else(|| history.range(lab_only, ..seq).rev().find(shown)),
            None => history.range(lab_only, ..).rev().find(shown),
        }
    }

    /// The screenful of `height` rows around the cursor (the newest, when following).
    pub fn window<'a>(&self, history: &'a History, lab_view: bool, height: usize) -> Window<'a> {
        let matching = self.shown(history, lab_view).count();
        let Some(current) = self.current(history, lab_view).filter(|_| height > 0) else {
            return Window {
                entries: Vec::new(),
                cursor: None,
                matching,
                below: 0,
            };
        };
        let lab_only = lab_view || self.filter.lab_only;
        let shown = |e: &&Entry| self.shows(e);
        let below: Vec<&Entry> = history
            .range(lab_only, current.seq + 1..)
            .filter(shown)
            .take(height - 1)
            .collect();
        let above: Vec<&Entry> = history
            .range(lab_only, ..current.seq)
            .rev()
            .filter(shown)
            .take(height - 1)
            .collect();
        // The cursor stays on its row unless the log ends before the page does.
        let row = self
            .cursor_row
            .min(height - 1)
            .min(above.len())
            .max((height - 1).saturating_sub(below.len()).min(above.len()));
        let mut entries: Vec<&Entry> = above[..row].iter().rev().copied().collect();
        entries.push(current);
        entries.extend(below.iter().take(height - 1 - row));
        let after_window = entries.last().map_or(0, |last| {
            self.shown(history, lab_view)
                .rev()
                .take_while(|e| e.seq > last.seq)
                .count()
        });
        Window {
            entries,
            cursor: Some(row),
            matching,
            below: after_window,
        }
    }

    /// Moves the cursor `by` shown entries (up when negative); past the newest it follows.
    pub fn step(&mut self, history: &History, lab_view: bool, by: isize, height: usize) {
        let Some(current) = self.current(history, lab_view) else {
            return;
        };
        let lab_only = lab_view || self.filter.lab_only;
        let shown = |e: &&Entry| self.shows(e);
        let steps = by.unsigned_abs();
        // From the row the cursor is drawn on (the bottom one, or higher, when following).
        let row = self
            .window(history, lab_view, height)
            .cursor
            .unwrap_or_default();
        if by < 0 {
            let found = history
                .range(lab_only, ..current.seq)
                .rev()
                .filter(shown)
                .take(steps)
                .last();
            if let Some(entry) = found {
                self.cursor = Some(entry.seq);
                self.cursor_row = row.saturating_sub(steps);
            }
            return;
        }
        if self.following() {
            return;
        }
        let after: Vec<&Entry> = history
            .range(lab_only, current.seq + 1..)
            .filter(shown)
            .take(steps)
            .collect();
        match after.last() {
            Some(entry) if after.len() == steps || by == 1 => {
                self.cursor = Some(entry.seq);
                self.cursor_row = (row + after.len()).min(height.saturating_sub(1));
            }
            _ => self.follow(height),
        }
    }

    /// The oldest entry shown, at the top.
    pub fn first(&mut self, history: &History, lab_view: bool) {
        let oldest = self.shown(history, lab_view).next().map(|e| e.seq);
        if let Some(seq) = oldest {
            self.cursor = Some(seq);
            self.cursor_row = 0;
        }
    }

    /// Follows the newest entry again, at the bottom.
    pub fn follow(&mut self, height: usize) {
        self.cursor = None;
        self.cursor_row = height.saturating_sub(1);
    }

    /// Moves the cursor to the nearest entry that holds the search, older first (`older`) or
    /// newer first, from the cursor (itself included when `inclusive`), wrapping around; false
    /// when no entry holds it.
    pub fn find(
        &mut self,
        history: &History,
        lab_view: bool,
        older: bool,
        inclusive: bool,
    ) -> bool {
        if self.search.is_empty() {
            return false;
        }
        let Some(current) = self.current(history, lab_view) else {
            return false;
        };
        let holds = |e: &&Entry| contains_folded(&e.line(), &self.search);
        let lab_only = lab_view || self.filter.lab_only;
        let from = if inclusive {
            current.seq
        } else {
            current.seq.saturating_sub(1)
        };
        let shown = |e: &&Entry| self.shows(e);
        let found = if older {
            history
                .range(lab_only, ..=from)
                .rev()
                .filter(shown)
                .find(holds)
                .or_else(|| history.range(lab_only, ..).rev().filter(shown).find(holds))
        } else {
            let from = if inclusive {
                current.seq
            } else {
                current.seq + 1
            };
            history
                .range(lab_only, from..)
                .filter(shown)
                .find(holds)
                .or_else(|| history.range(lab_only, ..).filter(shown).find(holds))
        };
        match found {
            Some(entry) => {
                self.cursor = Some(entry.seq);
                true
            }
            None => false,
        }
    }
}
