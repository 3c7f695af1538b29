//! Entries in the order they were numbered, within a memory budget: the oldest go first.

use std::collections::VecDeque;

use super::Entry;

#[derive(Debug)]
pub(super) struct Ring {
    entries: VecDeque<Entry>,
    bytes: usize,
    budget: usize,
}

impl Ring {
    pub(super) fn new(budget: usize) -> Ring {
        Ring {
            entries: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn entries(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// Appends an entry numbered after every other one.
    pub(super) fn push(&mut self, entry: Entry) {
        self.bytes += entry.bytes();
        self.entries.push_back(entry);
        self.keep_to_budget();
    }

    /// Puts an entry in its place by number.
    pub(super) fn insert(&mut self, entry: Entry) {
        let at = self.entries.partition_point(|e| e.seq < entry.seq);
        self.bytes += entry.bytes();
        self.entries.insert(at, entry);
        self.keep_to_budget();
    }

    pub(super) fn get(&self, seq: u64) -> Option<&Entry> {
        self.position(seq).map(|i| &self.entries[i])
    }

    /// Changes entry `seq` with `change`; false if this ring does not hold it.
    pub(super) fn update(&mut self, seq: u64, change: impl FnOnce(&mut Entry)) -> bool {
        let Some(i) = self.position(seq) else {
            return false;
        };
        let entry = &mut self.entries[i];
        self.bytes -= entry.bytes();
        change(entry);
        self.bytes += entry.bytes();
        self.keep_to_budget();
        true
    }

    pub(super) fn remove(&mut self, seq: u64) -> Option<Entry> {
        let entry = self.entries.remove(self.position(seq)?)?;
        self.bytes -= entry.bytes();
        Some(entry)
    }

    fn position(&self, seq: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&seq, |e| e.seq).ok()
    }

    fn keep_to_budget(&mut self) {
        // The newest entry stays, whatever its size.
        while self.bytes > self.budget && self.entries.len() > 1 {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.bytes();
            }
        }
    }
}
