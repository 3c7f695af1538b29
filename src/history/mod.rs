//! What happened, kept: every process event and every change brood saw or made, one entry each,
//! keyed by identity. The log reads it; the timeline and recordings read it too.
//!
//! Kept per purpose: the lab's entries in a ring of their own, so the rest of the machine never
//! pushes them out, and the machine's in a ring bounded by memory. One thing that happened is one
//! entry: a request brood made and the change it then saw, or one change told by two witnesses
//! (the kernel, then a scan), pair up by identity and merge into one line. Pure: nothing here
//! reads /proc or a clock.

mod entries;
pub mod entry;
pub mod export;
pub mod record;
mod ring;
pub mod tell;
#[cfg(test)]
mod tests;
pub mod timeline;

use std::collections::{HashMap, VecDeque};
use std::ops::RangeBounds;

pub use entries::Entries;
pub use entry::{Entry, Fact, Kinds, Origin, Pair};
use ring::Ring;

use crate::proc::Identity;

/// Memory for the machine's entries: about 5 000 entries a MiB (a tree of 2 000 processes
/// coming and going at ten a second keeps the last twenty minutes).
pub const MACHINE_BYTES: usize = 8 << 20;
/// Memory for the lab's own entries: a long lesson's worth many times over.
pub const LAB_BYTES: usize = 4 << 20;

/// The entries, the lab's and the machine's, and what waits to pair up.
#[derive(Debug)]
pub struct History {
    lab: Ring,
    machine: Ring,
    next_seq: u64,
    /// Entries a later one about the same process and thing may merge into, and words for who
    /// asked that wait for the entry they belong to; each until its deadline.
    pending: HashMap<Key, (Pending, u64)>,
    /// The keys in `pending` in the order they were put there, one queue per length of wait
    /// (so each queue is in deadline order too): `(when, deadline, key)`.
    deadlines: [VecDeque<(u64, u64, Key)>; 2],
    /// The numbers of entries changed after they were recorded (merged with a later witness,
    /// told who asked, amended), in order: a journal each follower (the timeline, a recording)
    /// reads from its own place. `journal_start` is the place of its first item.
    journal: VecDeque<u64>,
    journal_start: u64,
}

/// Amendments the journal keeps: a follower reads after every update, far fewer than this.
const JOURNAL: usize = 1 << 14;

/// At most this many entries wait for a pair (a few MiB): under a storm of forks the oldest stop
/// waiting early, long after any scan that could pair with them.
const MAX_PENDING: usize = 1 << 16;

type Key = (Identity, Pair);

#[derive(Debug)]
enum Pending {
    Entry(u64),
    Asked(Box<str>),
}

impl Default for History {
    fn default() -> Self {
        History::with_budgets(LAB_BYTES, MACHINE_BYTES)
    }
}

impl History {
    pub fn with_budgets(lab_bytes: usize, machine_bytes: usize) -> History {
        History {
            lab: Ring::new(lab_bytes),
            machine: Ring::new(machine_bytes),
            next_seq: 1,
            pending: HashMap::new(),
            deadlines: [VecDeque::new(), VecDeque::new()],
            journal: VecDeque::new(),
            journal_start: 0,
        }
    }

    /// Records `entry`, or merges it into a recent entry that tells the same thing; returns the
    /// number of the entry that holds it.
    pub fn record(&mut self, mut entry: Entry) -> u64 {
        self.expire(entry.at_ns);
        let key = entry.subject.zip(entry.pair);
        if let Some(key) = key {
            match self.pending.remove(&key) {
                Some((Pending::Entry(seq), deadline)) => {
                    if let Some(seq) = self.merge_into(seq, entry.clone()) {
                        self.note_amended(seq);
                        self.pending.insert(key, (Pending::Entry(seq), deadline));
                        return seq;
                    }
                }
                Some((Pending::Asked(asked), _)) => {
                    entry.asked.get_or_insert(asked);
                }
                None => {}
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        entry.seq = seq;
        if let Some(key) = key {
            self.wait_for_pair(key, Pending::Entry(seq), entry.at_ns);
        }
        self.ring_mut(entry.lab).push(entry);
        seq
    }

    /// Puts an entry read from a recording in its place by number, as it was written (no
    /// pairing: it was paired when recorded).
    pub fn insert_recorded(&mut self, entry: Entry) {
        self.next_seq = self.next_seq.max(entry.seq + 1);
        self.ring_mut(entry.lab).insert(entry);
    }

    /// Says who asked for what will happen (or just happened) to `subject`: the entry that tells
    /// it, recent or still to come, gets `asked` (unless it already says who asked).
    pub fn annotate(&mut self, subject: Identity, pair: Pair, asked: &str, at_ns: u64) {
        self.expire(at_ns);
        let key = (subject, pair);
        if let Some((Pending::Entry(seq), _)) = self.pending.get(&key) {
            let seq = *seq;
            let told = |ring: &mut Ring| {
                ring.update(seq, |e| {
                    e.asked.get_or_insert_with(|| asked.into());
                })
            };
            if told(&mut self.lab) || told(&mut self.machine) {
                self.note_amended(seq);
                return;
            }
        }
        self.wait_for_pair(key, Pending::Asked(asked.into()), at_ns);
    }

    /// Changes the recent entry about `subject` that pairs by `pair`, if there is one; false
    /// when there is none (or it was pushed out).
    pub fn amend(
        &mut self,
        subject: Identity,
        pair: Pair,
        at_ns: u64,
        change: impl FnOnce(&mut Entry),
    ) -> bool {
        self.expire(at_ns);
        let Some((Pending::Entry(seq), _)) = self.pending.get(&(subject, pair)) else {
            return false;
        };
        let seq = *seq;
        let mut change = Some(change);
        let amended = [&mut self.lab, &mut self.machine].into_iter().any(|ring| {
            ring.update(seq, |e| {
                if let Some(change) = change.take() {
                    change(e);
                }
            })
        });
        if amended {
            self.note_amended(seq);
        }
        amended
    }

    pub fn get(&self, seq: u64) -> Option<&Entry> {
        self.lab.get(seq).or_else(|| self.machine.get(seq))
    }

    /// Entries in order, oldest first (and backwards with `.rev()`): all, or the lab's only.
    pub fn entries(&self, lab_only: bool) -> Entries<'_> {
        self.range(lab_only, ..)
    }

    /// The entries numbered within `seqs`.
    pub fn range(&self, lab_only: bool, seqs: impl RangeBounds<u64>) -> Entries<'_> {
        let machine = if lab_only { None } else { Some(&self.machine) };
        Entries::new(&self.lab, machine, &seqs)
    }

    /// The number the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn len(&self) -> usize {
        self.lab.len() + self.machine.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Memory the entries take.
    pub fn bytes(&self) -> usize {
        self.lab.bytes() + self.machine.bytes()
    }

    /// The place where the journal of amendments ends now: a follower starts reading there.
    pub fn amendments_end(&self) -> u64 {
        self.journal_start + self.journal.len() as u64
    }

    /// The entries amended from place `from` on, each once, by number (their form now is
    /// [`get`](History::get)), and the place to read from next. A follower that fell behind by
    /// more than the journal keeps gets what it still holds.
    pub fn amended_since(&self, from: u64) -> (Vec<u64>, u64) {
        let skip = from.saturating_sub(self.journal_start) as usize;
        let mut amended: Vec<u64> = self.journal.iter().skip(skip).copied().collect();
        amended.sort_unstable();
        amended.dedup();
        (amended, self.amendments_end())
    }

    fn note_amended(&mut self, seq: u64) {
        if self.journal.len() == JOURNAL {
            self.journal.pop_front();
            self.journal_start += 1;
        }
        self.journal.push_back(seq);
    }

    fn ring_mut(&mut self, lab: bool) -> &mut Ring {
        if lab {
            &mut self.lab
        } else {
            &mut self.machine
        }
    }

    /// Merges `incoming` into entry `seq`, moving it to the lab's ring if it became the lab's;
    /// `None` if that entry is gone (pushed out).
    fn merge_into(&mut self, seq: u64, incoming: Entry) -> Option<u64> {
        if self.lab.update(seq, |e| e.merge(incoming.clone())) {
            return Some(seq);
        }
        let mut became_lab = false;
        let found = self.machine.update(seq, |e| {
            e.merge(incoming);
            became_lab = e.lab;
        });
        if !found {
            return None;
        }
        if became_lab && let Some(entry) = self.machine.remove(seq) {
            self.lab.insert(entry);
        }
        Some(seq)
    }

    fn wait_for_pair(&mut self, key: Key, pending: Pending, at_ns: u64) {
        let window = key.1.window_ns();
        let deadline = at_ns.saturating_add(window);
        self.pending.insert(key, (pending, deadline));
        let queue = usize::from(window == Pair::Fork.window_ns());
        self.deadlines[queue].push_back((at_ns, deadline, key));
        while self.pending.len() > MAX_PENDING {
            let oldest = |q: &VecDeque<(u64, u64, Key)>| q.front().map_or(u64::MAX, |d| d.0);
            let queue = usize::from(oldest(&self.deadlines[1]) < oldest(&self.deadlines[0]));
            let Some((_, deadline, key)) = self.deadlines[queue].pop_front() else {
                break;
            };
            self.forget(key, deadline);
        }
    }

    fn expire(&mut self, now_ns: u64) {
        for queue in 0..2 {
            while let Some(&(_, deadline, key)) = self.deadlines[queue].front() {
                if deadline > now_ns {
                    break;
                }
                self.deadlines[queue].pop_front();
                self.forget(key, deadline);
            }
        }
    }

    /// Stops `key` waiting, unless it waits again since (with a later deadline).
    fn forget(&mut self, key: Key, deadline: u64) {
        if self.pending.get(&key).is_some_and(|(_, d)| *d == deadline) {
            self.pending.remove(&key);
        }
    }
}
