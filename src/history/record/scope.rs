//! What a recording of one process keeps (`brood record --pid`, and with `--subtree` its
//! descendants, followed as they fork, even once adopted elsewhere): its rows of each scan and
//! the entries about it. Pure.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use crate::history::{Entry, Kinds};
use crate::proc::{Identity, PidHasher, PidMap, Snapshot, TaskKind};

/// The recorded process and, for a subtree, its descendants.
#[derive(Debug, Clone)]
pub struct Scope {
    subtree: bool,
    /// Each member and the last scan that showed it. A child whose fork was told since the last
    /// scan counts as shown by the next (which may have read /proc before the fork); a member
    /// no scan shows after that has ended.
    members: HashMap<Identity, u64, BuildHasherDefault<PidHasher>>,
    scans: u64,
}

impl Scope {
    pub fn new(root: Identity, subtree: bool) -> Scope {
        let mut members = HashMap::default();
        members.insert(root, 1);
        Scope {
            subtree,
            members,
            scans: 0,
        }
    }

    /// Whether to keep `entry`: about a member, or the birth of a member's child (a member too,
    /// in a subtree). What is about no process (where events come from, how many were lost) is
    /// kept too.
    pub fn admits(&mut self, entry: &Entry) -> bool {
        let Some(subject) = entry.subject else {
            return true;
        };
        if self.members.contains_key(&subject) {
            return true;
        }
        let born_to_member = entry.kinds.contains(Kinds::FORK)
            && entry.parent.is_some_and(|p| self.members.contains_key(&p));
        if born_to_member && self.subtree {
            self.members.insert(subject, self.scans + 1);
        }
        born_to_member
    }

    /// The part of `snapshot` in scope: the members and their threads and, in a subtree, every
    /// descendant of a member (members from now on).
    pub fn narrow(&mut self, snapshot: &Snapshot) -> Snapshot {
        self.scans += 1;
        let procs = &snapshot.procs;
        let mut children: PidMap<Vec<usize>> = PidMap::default();
        for (i, proc) in procs.iter().enumerate() {
            if proc.ppid != proc.pid() {
                children.entry(proc.ppid).or_default().push(i);
            }
        }
        let mut keep = vec![false; procs.len()];
        let mut stack: Vec<usize> = (0..procs.len())
            .filter(|&i| self.members.contains_key(&procs[i].id))
            .collect();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut keep[i], true) {
                continue;
            }
            let proc = &procs[i];
            if proc.kind == TaskKind::Thread {
                continue;
            }
            self.members.insert(proc.id, self.scans);
            for &child in children.get(&proc.pid()).into_iter().flatten() {
                if self.subtree || procs[child].kind == TaskKind::Thread {
                    stack.push(child);
                }
            }
        }
        let scans = self.scans;
        self.members.retain(|_, seen| *seen + 1 >= scans);
        let kept = procs
            .iter()
            .zip(&keep)
            .filter(|(_, keep)| **keep)
            .map(|(p, _)| p.clone())
            .collect();
        Snapshot {
            procs: Arc::new(kept),
            ..snapshot.clone()
        }
    }
}
