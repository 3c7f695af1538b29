//! The timeline: each process's life as states over time — sampled from scans, exact where the
//! kernel's events or brood's own waits tell them — with marks for fork, exec, signals, exit and
//! reap. Fed by the scans and the history's entries, live or from a recording; pure (it reads
//! no clock and no /proc) and bounded by memory, the lab's rows apart from the machine's.

mod row;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasherDefault;
use std::mem::size_of;
use std::ops::Range;

pub use row::{Change, Edge, Mark, MarkKind, Row, Segment};

use super::{Entry, Fact, Kinds, Origin, Pair};
use crate::proc::events::clock::ticks_to_ns;
use crate::proc::wchan::WaitKind;
use crate::proc::{Identity, PidHasher, PidIndex, Snapshot, State, TaskKind};

/// Memory for the machine's rows: 240 bytes a process, 16 a change of state, 56 a mark, so at
/// 2 000 processes room for some 200 000 changes (hours, on a quiet machine).
pub const MACHINE_BYTES: usize = 4 << 20;
/// Memory for the lab's rows: a long lesson's worth many times over.
pub const LAB_BYTES: usize = 2 << 20;

/// What a row costs before any change or mark: the row, its slot in the maps.
const ROW_BYTES: usize = size_of::<Row>() + 2 * size_of::<Identity>() + 16;
const CHANGE_BYTES: usize = size_of::<Change>();

type IdMap<V> = HashMap<Identity, V, BuildHasherDefault<PidHasher>>;
type IdSet = HashSet<Identity, BuildHasherDefault<PidHasher>>;

/// Every process's row, and the order their changes and marks go when memory runs short.
#[derive(Debug)]
pub struct Timeline {
    rows: IdMap<Row>,
    /// The rows not ended yet: a scan that no longer shows one ends it.
    live: IdSet,
    /// The machine's and the lab's memory: `[machine, lab]`.
    pools: [Pool; 2],
    /// Scans observed, and when the last one was taken.
    frame: u64,
    frame_ns: u64,
    /// The latest moment anything observed tells of.
    latest_ns: u64,
    /// The highest entry number observed: a lower one is an amended entry.
    highest_seq: u64,
}

/// A memory budget and what may go to keep within it, oldest first: each token names a row
/// whose oldest closed change, or oldest mark, may be dropped.
#[derive(Debug)]
struct Pool {
    budget: usize,
    bytes: usize,
    oldest: VecDeque<(Identity, Item)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Change,
    Mark,
}

/// Which rows to list.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    All,
    /// brood's lab only.
    Lab,
    /// These processes (tagged ones, a subtree).
    These(&'a HashSet<Identity>),
}

/// A row as listed: in tree order, with its depth under the first listed ancestor.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub row: &'a Row,
    pub depth: usize,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::with_budgets(LAB_BYTES, MACHINE_BYTES)
    }
}

impl Timeline {
    pub fn with_budgets(lab_bytes: usize, machine_bytes: usize) -> Timeline {
        let pool = |budget| Pool {
            budget,
            bytes: 0,
            oldest: VecDeque::new(),
        };
        Timeline {
            rows: IdMap::default(),
            live: IdSet::default(),
            pools: [pool(machine_bytes), pool(lab_bytes)],
            frame: 0,
            frame_ns: 0,
            latest_ns: 0,
            highest_seq: 0,
        }
    }

    /// Takes in a scan taken at `at_ns` (nanoseconds since the Unix epoch): a process whose
    /// state differs from its row's opens a sampled segment, a new one gets a row, and a row
    /// whose process the scan no longer shows ends. Threads are left out: rows are processes.
    pub fn observe_snapshot(&mut self, at_ns: u64, snapshot: &Snapshot) {
        self.frame += 1;
        self.frame_ns = at_ns;
        self.latest_ns = self.latest_ns.max(at_ns);
        let frame = self.frame;
        let mut index: Option<PidIndex> = None;
        for proc in snapshot.procs.iter().filter(|p| p.kind != TaskKind::Thread) {
            if let Some(row) = self.rows.get_mut(&proc.id) {
                if row.end.is_some() {
                    continue;
                }
                row.seen_ns = at_ns;
                row.seen_frame = frame;
                if row.name != proc.name {
                    row.name = proc.name.clone();
                }
                if row.current() != Some(proc.state) {
                    self.change_row(proc.id, |row| row.set_state(at_ns, proc.state, false));
                }
                continue;
            }
            let index = index.get_or_insert_with(|| snapshot.index_by_pid());
            let mut row = Row::new(proc.id, proc.name.clone(), proc.kind);
            row.parent = index
                .get(proc.ppid)
                .map(|i| snapshot.procs[i].id)
                .filter(|p| p.pid != proc.pid());
            // Its start time, from /proc: to a clock tick, on the boot clock the scan's uptime
            // is on; a fork's time, when told, is finer.
            let age_ns = (snapshot.uptime_secs * 1e9) as u64;
            let started_ns = ticks_to_ns(proc.id.start_ticks, snapshot.ticks_per_sec);
            row.born = (started_ns <= age_ns).then(|| Edge {
                at_ns: at_ns.saturating_sub(age_ns - started_ns),
                exact: false,
            });
            row.seen_ns = at_ns;
            row.seen_frame = frame;
            self.add_row(row);
            self.change_row(proc.id, |row| row.set_state(at_ns, proc.state, false));
        }
        let gone: Vec<Identity> = self
            .live
            .iter()
            .filter(|id| self.rows.get(id).is_none_or(|r| r.seen_frame < frame))
            .copied()
            .collect();
        for id in gone {
            self.live.remove(&id);
            self.change_row(id, |row| {
                // A zombie no scan ever saw was reaped within a refresh, as most parents reap
                // at once: its row ends at its exit rather than blame its parent for a refresh.
                let at = match row.changes.back() {
                    Some(c) if c.state == State::Zombie && c.exact && c.at_ns > row.seen_ns => {
                        c.at_ns
                    }
                    _ => at_ns,
                };
                row.finish(Edge {
                    at_ns: at,
                    exact: false,
                });
            });
        }
        self.keep_to_budget();
    }

    /// Takes in an entry of the history, new or amended (the same `seq` again, merged with a
    /// later witness): a fork starts the child's row (at its exact time, when the kernel or
    /// brood told it), an exit makes it a zombie, a reap by brood or its lab ends it, and each
    /// puts a mark on the row. Requests not yet seen happen are left out, but for the signals
    /// brood sent.
    pub fn observe_entry(&mut self, entry: &Entry) {
        let Some(subject) = entry.subject else {
            return;
        };
        let at = entry.at_ns;
        self.latest_ns = self.latest_ns.max(at);
        let exact = matches!(entry.origin, Origin::Kernel | Origin::Brood);
        let amended = entry.seq <= self.highest_seq;
        self.highest_seq = self.highest_seq.max(entry.seq);
        let mark = |kind| Mark {
            at_ns: at,
            exact,
            seq: entry.seq,
            kind,
        };
        if entry.lab {
            self.make_lab(subject);
        }
        let fact = entry.fact.as_ref();
        let status = match fact {
            Some(Fact::Ended(status)) => Some(*status),
            _ => None,
        };
        let signal = || {
            let number = match fact {
                Some(Fact::Signal(number)) => Some(*number),
                _ => None,
            };
            mark(MarkKind::Signal { number })
        };
        if entry.origin == Origin::Asked {
            if entry.kinds.contains(Kinds::SIGNAL) {
                self.put_mark(subject, signal(), amended);
            }
            return;
        }
        match entry.pair {
            Some(Pair::Fork) if entry.kinds.contains(Kinds::FORK) => {
                self.fork(entry, subject, exact);
                if let Some(parent) = entry.parent {
                    self.put_mark(parent, mark(MarkKind::Fork { child: subject }), amended);
                }
            }
            Some(Pair::Exec(_)) => {
                let name = match fact {
                    Some(Fact::Exec(name)) => Some(name.clone()),
                    _ => None,
                };
                if let (Some(name), Some(row)) = (&name, self.rows.get_mut(&subject))
                    && exact
                {
                    row.name = name.clone();
                }
                self.put_mark(subject, mark(MarkKind::Exec { name }), amended);
            }
            Some(Pair::Exit) if entry.kinds.contains(Kinds::EXIT) => {
                if exact {
                    self.change_row(subject, |row| row.set_state(at, State::Zombie, true));
                }
                self.put_mark(subject, mark(MarkKind::Exit { status }), amended);
            }
            Some(Pair::Reap) if entry.kinds.contains(Kinds::EXIT) => {
                let by = entry.parent;
                self.put_mark(subject, mark(MarkKind::Reap { by, status }), amended);
                if exact {
                    self.live.remove(&subject);
                    self.change_row(subject, |row| row.finish(Edge { at_ns: at, exact }));
                }
            }
            Some(Pair::Stop) if exact => {
                self.change_row(subject, |row| row.set_state(at, State::Stopped, true));
            }
            Some(Pair::Continue) if exact => {
                self.change_row(subject, |row| row.set_state(at, State::Running, true));
            }
            _ if entry.kinds.contains(Kinds::SIGNAL) => self.put_mark(subject, signal(), amended),
            _ => {}
        }
        self.keep_to_budget();
    }

    /// The rows of `which` whose life overlaps `window`, in tree order: each after its parent
    /// (when listed too), siblings by birth.
    pub fn rows(&self, which: Which<'_>, window: Range<u64>) -> Vec<Line<'_>> {
        let overlaps = |row: &Row| {
            let (start, end) = row.life();
            start < window.end && end.is_none_or(|end| end >= window.start)
        };
        let admits = |row: &Row| match which {
            Which::All => true,
            Which::Lab => row.lab,
            Which::These(ids) => ids.contains(&row.id),
        };
        let picked: IdMap<&Row> = self
            .rows
            .values()
            .filter(|r| admits(r) && overlaps(r))
            .map(|r| (r.id, r))
            .collect();
        let mut children: IdMap<Vec<&Row>> = IdMap::default();
        let mut roots = Vec::new();
        for row in picked.values() {
            match row
                .parent
                .filter(|p| picked.contains_key(p) && *p != row.id)
            {
                Some(parent) => children.entry(parent).or_default().push(*row),
                None => roots.push(*row),
            }
        }
        let by_birth = |a: &&Row, b: &&Row| (a.life().0, a.id).cmp(&(b.life().0, b.id));
        roots.sort_by(by_birth);
        children.values_mut().for_each(|c| c.sort_by(by_birth));
        // Iterative, and each row once: a parent loop in torn data is walked once.
        let mut lines = Vec::with_capacity(picked.len());
        let mut listed = IdSet::default();
        let mut stack: Vec<(&Row, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
        while let Some((row, depth)) = stack.pop() {
            if !listed.insert(row.id) {
                continue;
            }
            lines.push(Line { row, depth });
            if let Some(kids) = children.get(&row.id) {
                stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
            }
        }
        lines
    }

    pub fn row(&self, id: Identity) -> Option<&Row> {
        self.rows.get(&id)
    }

    /// The state of `id` at `at_ns`, and the change that began it; `None` outside what is kept
    /// of its life.
    pub fn state_at(&self, id: Identity, at_ns: u64) -> Option<Change> {
        self.rows.get(&id)?.state_at(at_ns)
    }

    /// From the earliest moment kept to the latest observed; `None` before anything was.
    pub fn span(&self) -> Option<(u64, u64)> {
        let first = self.rows.values().map(|r| r.life().0).min()?;
        Some((first.min(self.latest_ns), self.latest_ns))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Memory the rows take (the live processes' rows and current states beyond the budgets).
    pub fn bytes(&self) -> usize {
        self.pools.iter().map(|p| p.bytes).sum()
    }

    /// Takes in what each sleeping process waits for, from the IPC sweep that follows a scan.
    pub fn observe_waits(&mut self, waits: impl IntoIterator<Item = (Identity, WaitKind)>) {
        let at_ns = self.frame_ns;
        for (id, wait) in waits {
            if self.live.contains(&id) {
                self.change_row(id, |row| row.set_wait(at_ns, wait));
            }
        }
    }

    /// A fork: the child's row starts, at the fork's time when exact. A fork older than the last
    /// scan starts no row: that scan showed the child (which has a row) or it was gone already.
    fn fork(&mut self, entry: &Entry, child: Identity, exact: bool) {
        let at = entry.at_ns;
        if !self.rows.contains_key(&child) {
            if at <= self.frame_ns {
                return;
            }
            let parent = entry.parent.and_then(|p| self.rows.get(&p));
            let name = parent.map(|p| p.name.clone()).unwrap_or_default();
            let kind = parent.map_or(TaskKind::Process, |p| p.kind);
            let mut row = Row::new(child, name, kind);
            // Not yet seen by a scan, and the next may have read /proc before the fork: it is
            // ended only by a scan after that one.
            row.seen_frame = self.frame + 1;
            self.add_row(row);
            if entry.lab {
                self.make_lab(child);
            }
        }
        self.change_row(child, |row| {
            row.parent = row.parent.or(entry.parent);
            // A fork told exactly beats /proc's start time (to a tick); a scan's does not.
            if row.born.is_none() || exact && row.born.is_none_or(|b| !b.exact || at < b.at_ns) {
                row.born = Some(Edge { at_ns: at, exact });
            }
            // A fork is where a life starts: what a scan saw of it is later, whatever the scan's
            // clock (to a hundredth of a second) says.
            if exact && row.changes.front().is_none_or(|c| at < c.at_ns) {
                row.set_state(at, State::Running, true);
            }
        });
    }

    fn add_row(&mut self, mut row: Row) {
        row.bytes = ROW_BYTES;
        self.pools[usize::from(row.lab)].bytes += ROW_BYTES;
        self.live.insert(row.id);
        self.rows.insert(row.id, row);
    }

    fn put_mark(&mut self, id: Identity, mark: Mark, amended: bool) {
        self.change_row(id, |row| row.put_mark(mark, amended));
    }

    /// Changes row `id` with `change`, then accounts for what it added: its bytes, and a token
    /// for each change it closed and each mark it made, which the budget may drop later.
    fn change_row(&mut self, id: Identity, change: impl FnOnce(&mut Row)) {
        let Some(row) = self.rows.get_mut(&id) else {
            return;
        };
        let (closed, marks) = (row.closed_changes(), row.marks.len());
        change(row);
        let bytes = ROW_BYTES + row.changes.len() * CHANGE_BYTES + row.marks_bytes;
        let pool = &mut self.pools[usize::from(row.lab)];
        pool.bytes = pool.bytes + bytes - row.bytes;
        row.bytes = bytes;
        let tokens = [
            (Item::Change, row.closed_changes().saturating_sub(closed)),
            (Item::Mark, row.marks.len().saturating_sub(marks)),
        ];
        for (item, count) in tokens {
            pool.oldest.extend(std::iter::repeat_n((id, item), count));
        }
    }

    /// Moves a row to the lab's budget. What the machine's queue holds of it stays there, and
    /// is skipped: the lab's rows are never pushed out by the machine.
    fn make_lab(&mut self, id: Identity) {
        if let Some(row) = self.rows.get_mut(&id)
            && !row.lab
        {
            row.lab = true;
            self.pools[0].bytes -= row.bytes;
            self.pools[1].bytes += row.bytes;
        }
    }

    /// Drops the oldest changes and marks of each budget until it holds; a row that ended and
    /// has nothing left goes too. What the live processes are now is never dropped.
    fn keep_to_budget(&mut self) {
        for (which, pool) in self.pools.iter_mut().enumerate() {
            while pool.bytes > pool.budget {
                let Some((id, item)) = pool.oldest.pop_front() else {
                    break;
                };
                let Some(row) = self
                    .rows
                    .get_mut(&id)
                    .filter(|r| usize::from(r.lab) == which)
                else {
                    continue;
                };
                let freed = match item {
                    Item::Change if row.closed_changes() > 0 => {
                        row.changes.pop_front().map_or(0, |_| CHANGE_BYTES)
                    }
                    Item::Change => 0,
                    Item::Mark => row.drop_oldest_mark(),
                };
                row.trimmed |= freed > 0;
                row.bytes -= freed;
                pool.bytes -= freed;
                if row.end.is_some() && row.changes.is_empty() && row.marks.is_empty() {
                    pool.bytes -= row.bytes;
                    self.rows.remove(&id);
                }
            }
        }
    }
}
