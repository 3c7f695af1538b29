//! One entry of the history: one thing that happened, in one line, with what the log's filters
//! and the pairing of a request with its outcome need to know about it.

use std::sync::Arc;

use bitflags::bitflags;
use serde::{Deserialize, Serialize};

use crate::proc::Identity;
use crate::proc::events::ExitStatus;

bitflags! {
    /// What an entry is about, for the log's filters. An entry can be several: an exit by a
    /// signal is an exit and a signal.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Kinds: u16 {
        const FORK = 1;
        const EXEC = 1 << 1;
        /// Exits, zombies and reaping.
        const EXIT = 1 << 2;
        const SIGNAL = 1 << 3;
        /// Stopped, continued, traced, a new name, user or session.
        const STATE = 1 << 4;
        const REPARENT = 1 << 5;
        const DEADLOCK = 1 << 6;
        /// What brood itself says: lab requests and their answers, notes, errors, where events
        /// come from and how many were lost.
        const BROOD = 1 << 7;
    }
}

impl Kinds {
    /// Each kind with the word the log's filter shows for it.
    pub const NAMED: [(Kinds, &'static str); 8] = [
        (Kinds::FORK, "fork"),
        (Kinds::EXEC, "exec"),
        (Kinds::EXIT, "exit"),
        (Kinds::SIGNAL, "signal"),
        (Kinds::STATE, "state change"),
        (Kinds::REPARENT, "reparent"),
        (Kinds::DEADLOCK, "deadlock"),
        (Kinds::BROOD, "brood"),
    ];
}

/// Who told brood. When two entries pair up, the text of the better witness stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Origin {
    /// brood asked for it and has not seen it happen yet.
    Asked,
    /// The difference between two scans: later than it happened, and short lives are missed.
    Scan,
    /// The kernel's process events: exact.
    Kernel,
    /// brood did it or was answered (a `waitpid` it ran, a lab process's reply): exact, and it
    /// knows the why.
    Brood,
}

/// The things that happen once to a process (or once in a short while) and that two witnesses
/// may both tell: an entry with a pairing key merges with a recent one with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Pair {
    Fork,
    /// An exec into the program of this name's hash (a process may exec several times).
    Exec(u64),
    Exit,
    Reap,
    Stop,
    Continue,
}

impl Pair {
    /// How long an entry waits for its pair. Births, deaths and reaping happen once per
    /// identity, so they may wait for a slow scan; the others recur.
    pub fn window_ns(self) -> u64 {
        const SEC: u64 = 1_000_000_000;
        match self {
            Pair::Fork | Pair::Exit | Pair::Reap => 120 * SEC,
            Pair::Exec(_) | Pair::Stop | Pair::Continue => 10 * SEC,
        }
    }

    pub fn exec(name: &str) -> Pair {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut hasher);
        Pair::Exec(hasher.finish())
    }
}

/// What an entry tells in figures as well as in words, where its witness gave them: the
/// timeline and the exports draw and count these, rather than read the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// It runs a new program, under this name.
    Exec(Arc<str>),
    /// How it ended, as the kernel's exit event or a `waitpid` told it.
    Ended(ExitStatus),
    /// brood sent it this signal.
    Signal(i32),
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its place in the history: entries are numbered in the order they were recorded.
    pub seq: u64,
    /// When it happened (for a request not seen happen yet: when it was asked), in nanoseconds
    /// since the Unix epoch.
    pub at_ns: u64,
    pub kinds: Kinds,
    pub origin: Origin,
    /// The process it is about.
    pub subject: Option<Identity>,
    /// The subject's parent then, for the subtree filter.
    pub parent: Option<Identity>,
    /// The subject's user.
    pub uid: Option<u32>,
    /// About brood or its lab: kept apart, so the rest of the machine never pushes it out.
    pub lab: bool,
    /// What happened, in words.
    pub text: Box<str>,
    /// Who asked for it, when someone did ("brood sent SIGTERM").
    pub asked: Option<Box<str>>,
    /// What follows from it ("a zombie until its parent 3495 (sh) waits for it").
    pub then: Option<Box<str>>,
    /// What it pairs with.
    pub pair: Option<Pair>,
    /// The figures behind the words, where known.
    pub fact: Option<Fact>,
}

impl Entry {
    /// A new entry; `seq` is given when it is recorded.
    pub fn new(at_ns: u64, kinds: Kinds, origin: Origin, text: impl Into<Box<str>>) -> Entry {
        Entry {
            seq: 0,
            at_ns,
            kinds,
            origin,
            subject: None,
            parent: None,
            uid: None,
            lab: false,
            text: text.into(),
            asked: None,
            then: None,
            pair: None,
            fact: None,
        }
    }

    pub fn about(mut self, subject: Identity, pair: Option<Pair>) -> Entry {
        self.subject = Some(subject);
        self.pair = pair;
        self
    }

    pub fn parent(mut self, parent: Option<Identity>) -> Entry {
        self.parent = parent;
        self
    }

    pub fn uid(mut self, uid: Option<u32>) -> Entry {
        self.uid = uid;
        self
    }

    pub fn lab(mut self, lab: bool) -> Entry {
        self.lab = lab;
        self
    }

    pub fn asked(mut self, asked: impl Into<Box<str>>) -> Entry {
        self.asked = Some(asked.into());
        self
    }

    pub fn then(mut self, then: impl Into<Box<str>>) -> Entry {
        self.then = Some(then.into());
        self
    }

    pub fn fact(mut self, fact: Fact) -> Entry {
        self.fact = Some(fact);
        self
    }

    /// The line the log shows: what happened, who asked, what follows.
    pub fn line(&self) -> String {
        let mut line = String::with_capacity(
            self.text.len()
                + self.asked.as_ref().map_or(0, |a| a.len() + 3)
                + self.then.as_ref().map_or(0, |t| t.len() + 2),
        );
        line.push_str(&self.text);
        if let Some(asked) = &self.asked {
            line.push_str(" — ");
            line.push_str(asked);
        }
        if let Some(then) = &self.then {
            line.push_str("; ");
            line.push_str(then);
        }
        line
    }

    /// Bytes it takes in memory, for the history's bounds.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Entry>()
            + self.text.len()
            + self.asked.as_ref().map_or(0, |a| a.len())
            + self.then.as_ref().map_or(0, |t| t.len())
            + match &self.fact {
                Some(Fact::Exec(name)) => name.len(),
                _ => 0,
            }
    }

    /// Takes in `other`, which tells the same thing: the better witness's words stay, who asked
    /// and what followed are kept from either, and it is of every kind either was.
    pub(super) fn merge(&mut self, other: Entry) {
        // When it happened: the earliest time a witness gives (a request only says when it
        // was made).
        if self.origin == Origin::Asked {
            self.at_ns = other.at_ns;
        } else if other.origin != Origin::Asked {
            self.at_ns = self.at_ns.min(other.at_ns);
        }
        if other.origin > self.origin {
            self.text = other.text;
            self.origin = other.origin;
        }
        self.kinds |= other.kinds;
        if other.asked.is_some() {
            self.asked = other.asked;
        }
        // The kernel's exit only names the parent; what a scan saw after it (a zombie) says more.
        if other.then.is_some() && (self.then.is_none() || other.origin != Origin::Kernel) {
            self.then = other.then;
        }
        // How it ended says more than the signal sent to end it.
        self.fact = match (self.fact.take(), other.fact) {
            (Some(ended @ Fact::Ended(_)), _) | (_, Some(ended @ Fact::Ended(_))) => Some(ended),
            (mine, theirs) => mine.or(theirs),
        };
        self.subject = self.subject.or(other.subject);
        self.parent = self.parent.or(other.parent);
        self.uid = self.uid.or(other.uid);
        self.lab |= other.lab;
    }
}
