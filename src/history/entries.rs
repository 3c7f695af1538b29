//! Walking the history in order: the lab's ring and the machine's merged by entry number, both
//! ways, so a view can read a screenful around any entry without copying.

use std::ops::{Bound, RangeBounds};

use super::Entry;
use super::ring::Ring;

/// Entries in number order, from the lab's ring and (unless the lab's only) the machine's.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    sides: [Side<'a>; 2],
}

#[derive(Debug, Clone)]
struct Side<'a> {
    ring: Option<&'a Ring>,
    /// The entries left, `front..back`, as positions in the ring.
    front: usize,
    back: usize,
}

impl<'a> Side<'a> {
    fn new(ring: Option<&'a Ring>, seqs: &impl RangeBounds<u64>) -> Side<'a> {
        let Some(found) = ring else {
            return Side {
                ring,
                front: 0,
                back: 0,
            };
        };
        let entries = found.entries();
        let front = match seqs.start_bound() {
            Bound::Included(&s) => entries.partition_point(|e| e.seq < s),
            Bound::Excluded(&s) => entries.partition_point(|e| e.seq <= s),
            Bound::Unbounded => 0,
        };
        let back = match seqs.end_bound() {
            Bound::Included(&s) => entries.partition_point(|e| e.seq <= s),
            Bound::Excluded(&s) => entries.partition_point(|e| e.seq < s),
            Bound::Unbounded => entries.len(),
        };
        Side {
            ring,
            front,
            back: back.max(front),
        }
    }

    fn first(&self) -> Option<&'a Entry> {
        let ring = self.ring.filter(|_| self.front < self.back)?;
        ring.entries().get(self.front)
    }

    fn last(&self) -> Option<&'a Entry> {
        let ring = self.ring.filter(|_| self.front < self.back)?;
        ring.entries().get(self.back - 1)
    }
}

impl<'a> Entries<'a> {
    pub(super) fn new(
        lab: &'a Ring,
        machine: Option<&'a Ring>,
        seqs: &impl RangeBounds<u64>,
    ) -> Entries<'a> {
        Entries {
            sides: [Side::new(Some(lab), seqs), Side::new(machine, seqs)],
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = &'a Entry;

    fn next(&mut self) -> Option<&'a Entry> {
        let [a, b] = [self.sides[0].first(), self.sides[1].first()];
        let side = match (a, b) {
            (Some(a), Some(b)) => usize::from(b.seq < a.seq),
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (None, None) => return None,
        };
        let entry = [a, b][side];
        self.sides[side].front += 1;
        entry
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left: usize = self.sides.iter().map(|s| s.back - s.front).sum();
        (left, Some(left))
    }
}

impl<'a> DoubleEndedIterator for Entries<'a> {
    fn next_back(&mut self) -> Option<&'a Entry> {
        let [a, b] = [self.sides[0].last(), self.sides[1].last()];
        let side = match (a, b) {
            (Some(a), Some(b)) => usize::from(b.seq > a.seq),
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (None, None) => return None,
        };
        let entry = [a, b][side];
        self.sides[side].back -= 1;
        entry
    }
}

impl ExactSizeIterator for Entries<'_> {}
