//! One process's row of the timeline: its states as change points in time order, its marks,
//! and how its life began and ended. The rules for an exact time arriving after a sampled one
//! live here.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use crate::proc::events::ExitStatus;
use crate::proc::wchan::WaitKind;
use crate::proc::{Identity, State, TaskKind};

/// A moment a process's state changed, as far as brood can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at_ns: u64,
    pub state: State,
    /// Told by the kernel or brood as it happened; else sampled: seen by a scan, so it
    /// happened at most a refresh earlier.
    pub exact: bool,
    /// What it sleeps in, where an IPC sweep read its wait channel while it did.
    pub wait: Option<WaitKind>,
}

/// A stretch of one state: from a change to the next one, the row's end, or still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub from_ns: u64,
    /// `None` while the process is alive in that state.
    pub to_ns: Option<u64>,
    pub state: State,
    /// Whether its start is exact (see [`Change::exact`]).
    pub exact: bool,
    pub wait: Option<WaitKind>,
}

/// A moment a row begins or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub at_ns: u64,
    pub exact: bool,
}

/// Something that happened to a process at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub at_ns: u64,
    pub exact: bool,
    /// The history entry that tells it, for its words.
    pub seq: u64,
    pub kind: MarkKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkKind {
    /// It forked `child` (whose row starts here).
    Fork { child: Identity },
    /// It runs a new program, by this name where known.
    Exec { name: Option<Arc<str>> },
    /// It was sent a signal (the number where known).
    Signal { number: Option<i32> },
    /// It exited: a zombie until reaped. How, where known.
    Exit { status: Option<ExitStatus> },
    /// Its parent `by` collected it: the row ends.
    Reap {
        by: Option<Identity>,
        status: Option<ExitStatus>,
    },
}

/// One process over time.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: Identity,
    /// The process that forked it, as far as brood knows: the fork's entry, else the parent the
    /// first scan showed. Kept when it is adopted, so an orphan stays under who made it.
    pub parent: Option<Identity>,
    /// Its latest name.
    pub name: Arc<str>,
    pub kind: TaskKind,
    /// About brood's lab: kept within the lab's budget, never pushed out by the machine.
    pub lab: bool,
    /// When it was born: the fork's time (exact), else its start time from /proc (to a clock
    /// tick) — which may be long before its first change.
    pub born: Option<Edge>,
    /// When it was reaped (exact when brood or its lab reaped it) or found gone (sampled).
    pub end: Option<Edge>,
    /// Its oldest changes or marks were dropped to keep within the memory budget.
    pub trimmed: bool,
    pub(super) changes: VecDeque<Change>,
    pub(super) marks: VecDeque<Mark>,
    /// When a scan last showed it, and which scan.
    pub(super) seen_ns: u64,
    pub(super) seen_frame: u64,
    /// Bytes it takes, all told, and its marks alone.
    pub(super) bytes: usize,
    pub(super) marks_bytes: usize,
}

impl Row {
    pub(super) fn new(id: Identity, name: Arc<str>, kind: TaskKind) -> Row {
        Row {
            id,
            parent: None,
            name,
            kind,
            lab: false,
            born: None,
            end: None,
            trimmed: false,
            changes: VecDeque::new(),
            marks: VecDeque::new(),
            seen_ns: 0,
            seen_frame: 0,
            bytes: 0,
            marks_bytes: 0,
        }
    }

    /// Its states, oldest first.
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = Segment> + '_ {
        (0..self.changes.len()).map(|i| self.segment(i))
    }

    /// Its states that overlap `window`, oldest first (not cut to it).
    pub fn segments_in(&self, window: Range<u64>) -> impl Iterator<Item = Segment> + '_ {
        let first = self
            .changes
            .partition_point(|c| c.at_ns <= window.start)
            .saturating_sub(1);
        (first..self.changes.len())
            .map(|i| self.segment(i))
            .take_while(move |s| s.from_ns < window.end)
            .filter(move |s| s.to_ns.is_none_or(|to| to > window.start))
    }

    fn segment(&self, i: usize) -> Segment {
        let change = self.changes[i];
        Segment {
            from_ns: change.at_ns,
            to_ns: self
                .changes
                .get(i + 1)
                .map(|next| next.at_ns)
                .or(self.end.map(|e| e.at_ns)),
            state: change.state,
            exact: change.exact,
            wait: change.wait,
        }
    }

    /// Its marks, oldest first.
    pub fn marks(&self) -> impl DoubleEndedIterator<Item = &Mark> + '_ {
        self.marks.iter()
    }

    /// Its state at `at_ns` and the change that began it; `None` before the first change kept
    /// or after its end.
    pub fn state_at(&self, at_ns: u64) -> Option<Change> {
        if self.end.is_some_and(|e| at_ns >= e.at_ns) {
            return None;
        }
        let after = self.changes.partition_point(|c| c.at_ns <= at_ns);
        after.checked_sub(1).map(|i| self.changes[i])
    }

    /// The span its life is known over: from its birth (or first change) to its end (open
    /// while it lives).
    pub fn life(&self) -> (u64, Option<u64>) {
        let first = self.changes.front().map_or(u64::MAX, |c| c.at_ns);
        let start = self.born.map_or(first, |b| b.at_ns.min(first));
        (start, self.end.map(|e| e.at_ns))
    }

    /// The first moment brood knows something of: its first change, or its birth when a fork
    /// told it. A birth read from /proc may be hours before brood looked.
    pub fn first_known(&self) -> u64 {
        let first = self.changes.front().map_or(u64::MAX, |c| c.at_ns);
        match self.born {
            Some(born) if born.exact => born.at_ns.min(first),
            _ => first,
        }
    }

    pub(super) fn current(&self) -> Option<State> {
        self.changes.back().map(|c| c.state)
    }

    /// Changes kept that a later change (or the end) closed: those the budget may drop.
    pub(super) fn closed_changes(&self) -> usize {
        match self.end {
            Some(_) => self.changes.len(),
            None => self.changes.len().saturating_sub(1),
        }
    }

    /// Says the process was in `state` from `at_ns` on. A sampled change only ever follows what
    /// is known; an exact one may come after a scan already saw its result (the kernel's events
    /// arrive in batches), and then moves that change back to when it happened.
    pub(super) fn set_state(&mut self, at_ns: u64, state: State, exact: bool) {
        if self.end.is_some_and(|e| at_ns >= e.at_ns) {
            return;
        }
        let at = self.changes.partition_point(|c| c.at_ns <= at_ns);
        if let Some(before) = at.checked_sub(1).map(|i| &mut self.changes[i])
            && before.state == state
        {
            before.exact |= exact && before.at_ns == at_ns;
            return;
        }
        match self.changes.get_mut(at) {
            Some(next) if next.state == state && exact => {
                next.at_ns = at_ns;
                next.exact = true;
            }
            // A scan that saw the state after a later change has nothing to add.
            Some(_) if !exact => {}
            _ => self.changes.insert(
                at,
                Change {
                    at_ns,
                    state,
                    exact,
                    wait: None,
                },
            ),
        }
    }

    /// Says the process sleeps in `wait` at `at_ns`, as read after a scan. The first wait read
    /// of a sleep is its wait from the sleep's start (a sleep seen twice with no run between is
    /// one sleep); a different one later starts a change of its own, sampled.
    pub(super) fn set_wait(&mut self, at_ns: u64, wait: WaitKind) {
        let Some(last) = self.changes.back_mut() else {
            return;
        };
        let sleeping = matches!(last.state, State::Sleeping | State::DiskSleep);
        if !sleeping || self.end.is_some() || at_ns < last.at_ns || last.wait == Some(wait) {
            return;
        }
        if last.wait.is_none() {
            last.wait = Some(wait);
            return;
        }
        let state = last.state;
        self.changes.push_back(Change {
            at_ns,
            state,
            exact: false,
            wait: Some(wait),
        });
    }

    /// Ends the row at `edge` (a later, exact end is not needed: the first exact one stays).
    pub(super) fn finish(&mut self, edge: Edge) {
        match self.end {
            Some(end) if end.exact || !edge.exact => {}
            _ => self.end = Some(edge),
        }
    }

    /// Puts in a mark; with `amended`, in place of the one the same entry made before (a later
    /// witness of the same thing, merged into the entry: recent, so looked for from the end).
    pub(super) fn put_mark(&mut self, mark: Mark, amended: bool) {
        if amended
            && let Some(same) = self.marks.iter().rposition(|m| m.seq == mark.seq)
            && let Some(old) = self.marks.remove(same)
        {
            self.marks_bytes -= mark_bytes(&old);
        }
        self.marks_bytes += mark_bytes(&mark);
        let at = self.marks.partition_point(|m| m.at_ns <= mark.at_ns);
        self.marks.insert(at, mark);
    }

    /// Drops its oldest mark; returns the bytes freed.
    pub(super) fn drop_oldest_mark(&mut self) -> usize {
        let freed = self.marks.pop_front().map_or(0, |m| mark_bytes(&m));
        self.marks_bytes -= freed;
        freed
    }
}

/// What a mark takes in memory.
fn mark_bytes(mark: &Mark) -> usize {
    std::mem::size_of::<Mark>()
        + match &mark.kind {
            MarkKind::Exec { name: Some(name) } => name.len(),
            _ => 0,
        }
}
