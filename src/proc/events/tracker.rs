//! Turns the kernel's bare process events (PIDs and numbers) into told ones: who forked whom, what
//! the process was called and ran, how long it lived. Pure: what /proc said is handed in as
//! [`Facts`] by the caller, which asks first what to read ([`Tracker::wants`]); nothing here reads
//! or waits. It knows every live process (and thread, if asked), seeded from a scan.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::clock::{Clock, Stamp, ns_to_ticks, ticks_to_ns};
use super::{ExitStatus, Kind, ProcEvent, Source, Task, TaskRef};
use crate::proc::connector::wire::{KernelEvent, Message, TaskIds, comm_bytes};
use crate::proc::text::sanitize;
use crate::proc::{Pid, PidMap, Snapshot, TaskKind};

/// What brood knows of one live task.
#[derive(Debug, Clone)]
struct Known {
    ppid: Pid,
    start_ticks: Option<u64>,
    start_estimated: bool,
    /// Boot-clock time of its fork, when brood saw it: its lifetime is then exact.
    born_ns: Option<u64>,
    name: Arc<str>,
    cmdline: Arc<str>,
    uid: Option<u32>,
    user: Arc<str>,
    /// It exec'd and was gone before /proc could be read: name and command are from before.
    stale: bool,
}

/// What /proc said of a task just after its event; all of it missing when it was already gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub stat: Option<StatFacts>,
    pub cmdline: Option<Arc<str>>,
    /// The owner of its /proc entry (its effective user).
    pub uid: Option<u32>,
    /// The name of the user asked for ([`Want::user_of`]), else of `uid`.
    pub user: Option<Arc<str>>,
}

/// From /proc/PID/stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatFacts {
    pub start_ticks: u64,
    pub ppid: Pid,
    pub name: Arc<str>,
}

/// What to read from /proc before handing an event to [`Tracker::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    pub task: TaskIds,
    /// Its stat file.
    pub stat: bool,
    /// The owner of its stat file (its effective user).
    pub owner: bool,
    pub cmdline: bool,
    /// The name of this user ID (a uid event's new one).
    pub user_of: Option<u32>,
}

/// Every live process brood knows, by PID; threads too when asked for.
#[derive(Debug)]
pub struct Tracker {
    known: PidMap<Known>,
    threads: bool,
    ticks_per_sec: u64,
}

impl Tracker {
    /// `threads`: tell the events of threads too (else they are left out, and not remembered).
    pub fn new(threads: bool, ticks_per_sec: u64) -> Tracker {
        Tracker {
            known: PidMap::default(),
            threads,
            ticks_per_sec: ticks_per_sec.max(1),
        }
    }

    /// How many tasks it holds: one per live process (and thread, if asked for).
    pub fn len(&self) -> usize {
        self.known.len()
    }

    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Learns the processes of a scan: at the start, and again after events were lost. Those the
    /// scan no longer shows are forgotten (they ended among the lost events); those it still
    /// shows keep the time of the fork brood saw.
    pub fn seed(&mut self, snapshot: &Snapshot) {
        let mut known = PidMap::default();
        known.reserve(snapshot.procs.len());
        for proc in snapshot.procs.iter() {
            if proc.kind == TaskKind::Thread && !self.threads {
                continue;
            }
            let task = Task::from_proc(proc);
            let start = proc.id.start_ticks;
            let born_ns = self
                .known
                .get(&task.pid)
                .filter(|k| {
                    k.start_ticks
                        .is_some_and(|s| same_start(s, k.start_estimated, start))
                })
                .and_then(|k| k.born_ns);
            known.insert(
                task.pid,
                Known {
                    ppid: proc.ppid,
                    start_ticks: Some(start),
                    start_estimated: false,
                    born_ns,
                    name: task.name,
                    cmdline: task.cmdline,
                    uid: task.uid,
                    user: task.user,
                    stale: false,
                },
            );
        }
        self.known = known;
    }

    fn ignores(&self, task: TaskIds) -> bool {
        task.is_thread() && !self.threads
    }

    /// What /proc should be asked about `event` before [`apply`](Tracker::apply), if anything.
    pub fn wants(&self, event: &KernelEvent) -> Option<Want> {
        let task = event.task()?;
        if self.ignores(task) {
            return None;
        }
        let known = self.known.get(&task.pid).filter(|k| !k.stale);
        let want = |stat, owner, cmdline, user_of| {
            Some(Want {
                task,
                stat,
                owner,
                cmdline,
                user_of,
            })
        };
        match *event {
            // The exact start time. Name, command and user are the parent's, when it is known.
            KernelEvent::Fork { parent, child } => {
                let creator = if child.is_thread() {
                    child.tgid
                } else {
                    parent.tgid
                };
                want(true, !self.known.contains_key(&creator), false, None)
            }
            // A set-user-ID program changes the user.
            KernelEvent::Exec { .. } => want(true, true, true, None),
            KernelEvent::Uid { euid, .. } => {
                let unknown = known.is_none();
                want(unknown, unknown, unknown, Some(euid))
            }
            _ if known.is_some() => None,
            // A zombie's command line is empty: only its stat is worth reading.
            KernelEvent::Exit { .. } | KernelEvent::Coredump { .. } => {
                want(true, true, false, None)
            }
            _ => want(true, true, true, None),
        }
    }

    /// The told event for one kernel message, and what brood now knows; `None` for what is not
    /// told (acks, unknown kinds, threads when not asked for).
    pub fn apply(&mut self, message: &Message, facts: &Facts, clock: &Clock) -> Option<ProcEvent> {
        let at = clock.from_monotonic(message.timestamp_ns);
        let task = message.event.task()?;
        if self.ignores(task) {
            return None;
        }
        let kind = match message.event {
            KernelEvent::Fork { parent, child } => {
                return Some(self.fork(parent, child, facts, at));
            }
            KernelEvent::Exit {
                exit_code, parent, ..
            } => return Some(self.exit(task, exit_code, parent, facts, at)),
            KernelEvent::Exec { .. } => {
                let previous_name = self.name_before(task, facts);
                let entry = self.entry(task, facts);
                match &facts.stat {
                    Some(stat) => {
                        entry.name = stat.name.clone();
                        entry.ppid = stat.ppid;
                        entry.stale = false;
                    }
                    None => entry.stale = true,
                }
                // A zombie's command line reads empty: keep none rather than the old one.
                entry.cmdline = facts.cmdline.clone().unwrap_or_default();
                if facts.uid.is_some() {
                    entry.uid = facts.uid;
                    entry.user = facts.user.clone().unwrap_or_default();
                }
                Kind::Exec { previous_name }
            }
            KernelEvent::Comm { comm, .. } => {
                let previous_name = self.name_before(task, facts);
                self.entry(task, facts).name = sanitize(comm_bytes(&comm)).into();
                Kind::Comm { previous_name }
            }
            KernelEvent::Ptrace { tracer, .. } => Kind::Ptrace {
                tracer: tracer.map(|t| self.task_ref(t.tgid)),
            },
            KernelEvent::Uid { ruid, euid, .. } => {
                let entry = self.entry(task, facts);
                entry.uid = Some(euid);
                entry.user = facts
                    .user
                    .clone()
                    .unwrap_or_else(|| euid.to_string().into());
                Kind::Uid { ruid, euid }
            }
            KernelEvent::Gid { rgid, egid, .. } => Kind::Gid { rgid, egid },
            KernelEvent::Sid { .. } => Kind::Sid,
            KernelEvent::Coredump { .. } => Kind::Coredump,
            KernelEvent::Ack { .. } | KernelEvent::Unknown { .. } => return None,
        };
        let entry = self.entry(task, facts);
        let (told, ppid) = (entry.task(task), entry.ppid);
        Some(ProcEvent {
            at,
            source: Source::Kernel,
            kind,
            task: Some(told),
            parent: Some(self.task_ref(ppid)),
        })
    }

    /// Events were lost: said as an event of its own. The caller should [`seed`](Tracker::seed)
    /// again from a scan, as what brood knows may now be stale.
    pub fn lost(&self, count: Option<u64>, clock: &Clock) -> ProcEvent {
        ProcEvent::dropped(clock.now(), count)
    }

    fn fork(&mut self, parent: TaskIds, child: TaskIds, facts: &Facts, at: Stamp) -> ProcEvent {
        // The child was created just before its fork event was stamped, so its start tick is the
        // stamp's, or the one before when a tick began in between. A stat read that says
        // otherwise is of another process that took the PID since.
        let estimate = ns_to_ticks(at.boot_ns, self.ticks_per_sec);
        let stat = facts
            .stat
            .as_ref()
            .filter(|s| same_start(estimate, true, s.start_ticks));
        // A child is a copy of the thread that forked: same name, command and user until it
        // execs or renames itself. A new thread's creator is in its own process (the kernel
        // names the process's parent as the thread's).
        let (creator, ppid) = if child.is_thread() {
            (self.known.get(&child.tgid), child.tgid)
        } else {
            let creator = self.known.get(&parent.pid);
            (
                creator.or_else(|| self.known.get(&parent.tgid)),
                parent.tgid,
            )
        };
        let known = Known {
            ppid,
            start_ticks: Some(stat.map_or(estimate, |s| s.start_ticks)),
            start_estimated: stat.is_none(),
            born_ns: Some(at.boot_ns),
            name: creator
                .map(|c| c.name.clone())
                .or_else(|| stat.map(|s| s.name.clone()))
                .unwrap_or_default(),
            cmdline: creator
                .map(|c| c.cmdline.clone())
                .or_else(|| facts.cmdline.clone())
                .unwrap_or_default(),
            uid: creator.and_then(|c| c.uid).or(facts.uid),
            user: creator
                .map(|c| c.user.clone())
                .or_else(|| facts.user.clone())
                .unwrap_or_default(),
            stale: false,
        };
        let task = known.task(child);
        self.known.insert(child.pid, known);
        ProcEvent {
            at,
            source: Source::Kernel,
            kind: Kind::Fork,
            task: Some(task),
            parent: Some(self.task_ref(ppid)),
        }
    }

    /// The exit of a process is that of its main thread (pid == tgid), which is nearly always
    /// the process's end. Two rare cases differ, as the kernel tells them: a main thread that
    /// calls pthread_exit() while others run on, and a thread other than the main one calling
    /// execve(), whose main thread is ended first (the exec then follows under the same PID).
    fn exit(
        &mut self,
        task: TaskIds,
        exit_code: u32,
        parent: Option<TaskIds>,
        facts: &Facts,
        at: Stamp,
    ) -> ProcEvent {
        let known = self
            .known
            .remove(&task.pid)
            .filter(|k| !k.is_not(facts.stat.as_ref()));
        let mut known = known.unwrap_or_else(|| Known::from_facts(facts));
        if let (true, Some(stat)) = (known.stale, &facts.stat) {
            // The zombie still has the name the exec gave it.
            known.name = stat.name.clone();
        }
        let lifetime_ns = known
            .born_ns
            .or_else(|| {
                known
                    .start_ticks
                    .map(|t| ticks_to_ns(t, self.ticks_per_sec))
            })
            .map(|born| at.boot_ns.saturating_sub(born));
        // The kernel names the parent at the exit, after any reparenting brood did not see.
        let ppid = parent.map_or(known.ppid, |p| p.tgid);
        ProcEvent {
            at,
            source: Source::Kernel,
            kind: Kind::Exit {
                status: Some(ExitStatus::from_wait_status(exit_code)),
                lifetime_ns,
            },
            task: Some(known.task(task)),
            parent: Some(self.task_ref(ppid)),
        }
    }

    /// The name brood knew the task by; empty for one it did not know (what /proc says now is
    /// already the new name).
    fn name_before(&self, task: TaskIds, facts: &Facts) -> Arc<str> {
        self.known
            .get(&task.pid)
            .filter(|k| !k.is_not(facts.stat.as_ref()))
            .map(|k| k.name.clone())
            .unwrap_or_default()
    }

    /// The task brood knows under this PID, unless /proc now shows another process there (its
    /// exit was lost), or one made from what /proc said.
    fn entry(&mut self, task: TaskIds, facts: &Facts) -> &mut Known {
        match self.known.entry(task.pid) {
            Entry::Occupied(mut known) => {
                if known.get().is_not(facts.stat.as_ref()) {
                    known.insert(Known::from_facts(facts));
                }
                known.into_mut()
            }
            Entry::Vacant(slot) => slot.insert(Known::from_facts(facts)),
        }
    }

    fn task_ref(&self, pid: Pid) -> TaskRef {
        match self.known.get(&pid) {
            Some(known) => TaskRef {
                pid,
                start_ticks: known.start_ticks,
                name: known.name.clone(),
            },
            None => TaskRef {
                pid,
                start_ticks: None,
                name: Arc::from(""),
            },
        }
    }
}

/// Whether a start time read from /proc is that of the process brood knows: equal, or for an
/// estimate, the same tick or the one before.
fn same_start(known: u64, estimated: bool, read: u64) -> bool {
    read == known || (estimated && read + 1 == known)
}

impl Known {
    fn from_facts(facts: &Facts) -> Known {
        let stat = facts.stat.as_ref();
        Known {
            ppid: stat.map_or(0, |s| s.ppid),
            start_ticks: stat.map(|s| s.start_ticks),
            start_estimated: false,
            born_ns: None,
            name: stat.map(|s| s.name.clone()).unwrap_or_default(),
            cmdline: facts.cmdline.clone().unwrap_or_default(),
            uid: facts.uid,
            user: facts.user.clone().unwrap_or_default(),
            stale: false,
        }
    }

    /// /proc shows another process under this PID than the one known.
    fn is_not(&self, read: Option<&StatFacts>) -> bool {
        match (self.start_ticks, read) {
            (Some(known), Some(read)) => !same_start(known, self.start_estimated, read.start_ticks),
            _ => false,
        }
    }

    fn task(&self, ids: TaskIds) -> Task {
        Task {
            pid: ids.pid,
            tgid: ids.tgid,
            start_ticks: self.start_ticks,
            start_estimated: self.start_estimated,
            name: self.name.clone(),
            cmdline: self.cmdline.clone(),
            uid: self.uid,
            user: self.user.clone(),
        }
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
