//! Deadlocks from a wait-for graph: who is blocked on what (a pipe, a file lock) and who could
//! release it. Pure, but for the two look-ups of a blocked process's system call.

use std::collections::{HashMap, HashSet};

use super::IpcState;
use super::endpoints::{Endpoint, FdEnd};
use crate::proc::wchan::WaitKind;
use crate::proc::{Identity, Pid};

/// From /proc/PID/syscall: the syscall number and first argument of a blocked process
/// (for a blocked read or write, the file descriptor).
pub fn parse_syscall(text: &str) -> Option<(i64, i64)> {
    let mut words = text.split_whitespace();
    let number = words.next()?.parse().ok()?;
    let arg = words.next()?;
    let arg = i64::from_str_radix(arg.strip_prefix("0x").unwrap_or(arg), 16).ok()?;
    Some((number, arg))
}

/// Why a blocked process cannot go on, and who could release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    /// Reading an empty pipe: any writer that writes (or all closing) releases it.
    PipeRead(u64),
    /// Writing a full pipe: any reader that reads releases it.
    PipeWrite(u64),
    /// Waiting for file lock `id` on `inode`: every holder must release it.
    Lock { id: u32, class: String, inode: u64 },
}

impl WaitReason {
    pub fn describe(&self) -> String {
        match self {
            WaitReason::PipeRead(inode) => format!("reads pipe:[{inode}]"),
            WaitReason::PipeWrite(inode) => format!("writes full pipe:[{inode}]"),
            WaitReason::Lock { class, inode, .. } => {
                format!("{} lock on inode {inode}", class.to_lowercase())
            }
        }
    }

    /// The step of a cycle: what `waiter` waits for and from whom, e.g. "7 reads pipe:[3] written by 8".
    pub fn step(&self, waiter: &str, on: &str) -> String {
        match self {
            WaitReason::PipeRead(inode) => format!("{waiter} reads pipe:[{inode}] written by {on}"),
            WaitReason::PipeWrite(inode) => {
                format!("{waiter} writes full pipe:[{inode}] read by {on}")
            }
            WaitReason::Lock { class, inode, .. } => {
                format!(
                    "{waiter} waits for the {} lock on inode {inode} held by {on}",
                    class.to_lowercase()
                )
            }
        }
    }

    /// Whether one releaser is enough (a pipe) or every one is needed (a lock's holders).
    fn needs_all(&self) -> bool {
        matches!(self, WaitReason::Lock { .. })
    }
}

/// One blocked process and the processes that could release it, by identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub id: Identity,
    pub reason: WaitReason,
    pub releasers: Vec<Identity>,
}

/// A set of processes that wait only for each other: none can ever go on by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlock {
    /// Each process on the cycle, with what it waits for and on whom, in cycle order.
    pub cycle: Vec<(Identity, WaitReason, Identity)>,
}

impl Deadlock {
    pub fn members(&self) -> impl Iterator<Item = Identity> + '_ {
        self.cycle.iter().map(|(id, _, _)| *id)
    }
}

/// Finds deadlocks among blocked processes.
///
/// A process is stuck if what could release it is stuck too: for a pipe, *every* possible
/// releaser (any one writer would do); for a lock, *any* holder (all must let go). Starting from
/// every blocked process, those with a way out are removed until none is left to remove; what
/// remains is deadlocked. An idle reader whose writer is alive and not blocked always has a way
/// out, so it is never flagged.
pub fn find_deadlocks(waits: &[Wait]) -> Vec<Deadlock> {
    let mut stuck: HashMap<Identity, &Wait> = waits.iter().map(|w| (w.id, w)).collect();
    loop {
        let free: Vec<Identity> = stuck
            .values()
            .filter(|w| {
                let blocked = |p: &Identity| stuck.contains_key(p);
                if w.releasers.is_empty() {
                    return true; // waits for no one known: not ours to call a deadlock
                }
                if w.reason.needs_all() {
                    !w.releasers.iter().any(blocked)
                } else {
                    !w.releasers.iter().all(blocked)
                }
            })
            .map(|w| w.id)
            .collect();
        if free.is_empty() {
            break;
        }
        for pid in free {
            stuck.remove(&pid);
        }
    }
    // Spell out one cycle per group: follow stuck releasers until a process repeats.
    let mut seen: Vec<Identity> = Vec::new();
    let mut deadlocks = Vec::new();
    let mut starts: Vec<Identity> = stuck.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        if seen.contains(&start) {
            continue;
        }
        let mut path: Vec<Identity> = Vec::new();
        let mut current = start;
        while !path.contains(&current) {
            path.push(current);
            let Some(next) = stuck[&current]
                .releasers
                .iter()
                .copied()
                .filter(|p| stuck.contains_key(p))
                .min()
            else {
                break;
            };
            current = next;
        }
        seen.extend(&path);
        let Some(begin) = path.iter().position(|p| *p == current) else {
            continue;
        };
        let cycle_pids = &path[begin..];
        if cycle_pids.iter().any(|p| {
            deadlocks
                .iter()
                .any(|d: &Deadlock| d.members().any(|m| m == *p))
        }) {
            continue;
        }
        let cycle = cycle_pids
            .iter()
            .enumerate()
            .map(|(i, pid)| {
                (
                    *pid,
                    stuck[pid].reason.clone(),
                    cycle_pids[(i + 1) % cycle_pids.len()],
                )
            })
            .collect();
        deadlocks.push(Deadlock { cycle });
    }
    deadlocks
}

impl IpcState {
    /// The blocked processes and who could release each (input for [`find_deadlocks`]). A
    /// process whose wait channel is hidden is none of them: not known to be stuck, it leaves
    /// free whatever waits for it, so no deadlock is claimed through it; [`IpcState::unjudged`]
    /// counts it instead.
    pub fn waits(&self) -> Vec<Wait> {
        let mut waits = Vec::new();
        for (&pid, channel) in &self.waits_in {
            let (reading, pipe) = match channel.kind {
                Some(WaitKind::PipeRead) => (true, self.blocked_pipe(pid, true)),
                Some(WaitKind::PipeWrite) => (false, self.blocked_pipe(pid, false)),
                _ => continue,
            };
            let Some(inode) = pipe else { continue };
            // A reader waits for writers, a writer for readers; its own other end counts too:
            // a reader holding the write end itself never sees EOF.
            let releasers: Vec<Identity> = self
                .ends
                .iter()
                .filter(|(_, ends)| {
                    ends.iter().flat_map(|e| e.iter()).any(|e| {
                        e.endpoint == Endpoint::Pipe(inode)
                            && if reading {
                                e.access.writes()
                            } else {
                                e.access.reads()
                            }
                    })
                })
                .map(|(p, _)| self.identity(*p))
                .collect();
            // Someone we could not read might hold an end: no claim then.
            if self.ends.values().any(Option::is_none) && releasers.iter().all(|r| r.pid == pid) {
                continue;
            }
            let reason = if reading {
                WaitReason::PipeRead(inode)
            } else {
                WaitReason::PipeWrite(inode)
            };
            waits.push(Wait {
                id: self.identity(pid),
                reason,
                releasers,
            });
        }
        for request in self.locks.iter().filter(|l| l.blocked) {
            let Some(pid) = request.pid else { continue };
            let releasers = self
                .locks
                .iter()
                .filter(|l| !l.blocked && l.id == request.id)
                .filter_map(|l| l.pid)
                .filter(|holder| *holder != pid)
                .map(|holder| self.identity(holder))
                .collect();
            let reason = WaitReason::Lock {
                id: request.id,
                class: request.class.clone(),
                inode: request.inode,
            };
            waits.push(Wait {
                id: self.identity(pid),
                reason,
                releasers,
            });
        }
        waits.sort_by_key(|w| w.id);
        waits
    }

    /// The processes the sweep could not judge, so that a deadlock through them can be neither
    /// found nor ruled out: those whose descriptors it needed and could not read, and those whose
    /// wait channel is hidden, unless /proc/locks (open to all) shows the lock they wait for.
    pub fn unjudged(&self) -> HashSet<Pid> {
        let lock_waiters: HashSet<Pid> = self
            .locks
            .iter()
            .filter(|l| l.blocked)
            .filter_map(|l| l.pid)
            .collect();
        let unreadable_ends = self
            .ends
            .iter()
            .filter(|(_, ends)| ends.is_none())
            .map(|(pid, _)| *pid);
        let hidden = self
            .waits_hidden
            .iter()
            .copied()
            .filter(|pid| !lock_waiters.contains(pid));
        unreadable_ends.chain(hidden).collect()
    }

    /// The pipe a blocked process is reading (or writing): the one its blocked syscall names,
    /// else its only pipe end of that direction.
    fn blocked_pipe(&self, pid: Pid, reading: bool) -> Option<u64> {
        let ends = self.ends.get(&pid)?.as_ref()?;
        let pipe = |e: &FdEnd| match e.endpoint {
            Endpoint::Pipe(inode) => Some(inode),
            _ => None,
        };
        if let Some(fd) = self.blocked_fd.get(&pid) {
            return ends.iter().find(|e| e.fd == *fd).and_then(pipe);
        }
        let mut candidates = ends
            .iter()
            .filter(|e| {
                if reading {
                    e.access.reads()
                } else {
                    e.access.writes()
                }
            })
            .filter_map(pipe);
        let first = candidates.next()?;
        candidates.all(|other| other == first).then_some(first)
    }
}

/// The descriptor a process is blocked reading or writing, if /proc/PID/syscall says (read = 0,
/// write = 1 on x86-64 and the generic table's 63/64 elsewhere).
pub fn read_blocked_fd(pid: Pid) -> Option<i32> {
    let (number, arg) =
        parse_syscall(&std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?)?;
    let io_call = [libc::SYS_read, libc::SYS_write].contains(&number);
    if io_call {
        i32::try_from(arg).ok()
    } else {
        None
    }
}
