//! Entries for what brood sees: a change between two scans, or one of the kernel's process
//! events; each in words, with its kinds, its process and what it pairs with. Whether it is
//! the lab's is the caller's to say.

use super::{Entry, Fact, Kinds, Origin, Pair};
use crate::proc::events::text::{duration, exit_sentence, who};
use crate::proc::events::{ExitStatus, Kind, ProcEvent, Source};
use crate::proc::lifecycle::Change;
use crate::proc::{Identity, Pid, PidIndex, ProcInfo, Snapshot};

/// The two scans a change is between, to name the processes it mentions.
#[derive(Clone, Copy)]
pub struct Scans<'a> {
    pub now: (&'a Snapshot, &'a PidIndex),
    pub before: (&'a Snapshot, &'a PidIndex),
}

impl<'a> Scans<'a> {
    fn find(scan: (&'a Snapshot, &'a PidIndex), pid: Pid) -> Option<&'a ProcInfo> {
        scan.1.get(pid).map(|i| &scan.0.procs[i])
    }

    /// The process as the latest scan that had it saw it.
    pub fn seen(&self, id: Identity) -> Option<&'a ProcInfo> {
        [self.now, self.before]
            .into_iter()
            .find_map(|scan| Scans::find(scan, id.pid).filter(|p| p.id == id))
    }

    /// "3495 (sh)" as `scan` knew it, or the bare PID.
    fn name(scan: (&'a Snapshot, &'a PidIndex), pid: Pid) -> String {
        Scans::find(scan, pid).map_or_else(|| pid.to_string(), |p| who(pid, &p.name))
    }

    fn identity(scan: (&'a Snapshot, &'a PidIndex), pid: Pid) -> Option<Identity> {
        Scans::find(scan, pid).map(|p| p.id)
    }
}

/// The entry for a change seen between two scans, stamped `at_ns`.
pub fn change(change: &Change, scans: Scans<'_>, at_ns: u64) -> Entry {
    let (now, before) = (scans.now, scans.before);
    let seen = scans.seen(change.id());
    let scan = |kinds, text: String| Entry::new(at_ns, kinds, Origin::Scan, text);
    let entry = match change {
        Change::Spawned { id, parent, name } => scan(
            Kinds::FORK,
            format!(
                "{} appeared, child of {}",
                who(id.pid, name),
                Scans::name(now, *parent)
            ),
        )
        .about(*id, Some(Pair::Fork))
        .parent(Scans::identity(now, *parent)),
        Change::Exec { id, from, to } => scan(
            Kinds::EXEC,
            format!("{} exec'd: {from} → {to}, same PID", id.pid),
        )
        .about(*id, Some(Pair::exec(to)))
        .fact(Fact::Exec(to.clone())),
        Change::BecameZombie { id, parent, name } => {
            let lived = seen
                .map(|p| format!(" within {}", duration(age_ns(now.0, p.id))))
                .unwrap_or_default();
            scan(Kinds::EXIT, format!("{} exited{lived}", who(id.pid, name)))
                .about(*id, Some(Pair::Exit))
                .parent(Scans::identity(now, *parent))
                .then(format!(
                    "a zombie until its parent {} waits for it",
                    Scans::name(now, *parent)
                ))
        }
        Change::Reaped { id, parent, name } => scan(
            Kinds::EXIT,
            format!(
                "zombie {} was reaped by {}",
                who(id.pid, name),
                Scans::name(before, *parent)
            ),
        )
        .about(*id, Some(Pair::Reap))
        .parent(Scans::identity(before, *parent)),
        Change::Vanished { id, parent, name } => scan(
            Kinds::EXIT,
            format!(
                "{} exited within {} and was reaped between two scans",
                who(id.pid, name),
                duration(age_ns(now.0, *id))
            ),
        )
        .about(*id, Some(Pair::Exit))
        .parent(Scans::identity(before, *parent)),
        Change::Reparented { id, from, to, name } => scan(
            Kinds::REPARENT,
            format!(
                "{} reparented: its parent {from} is gone, adopted by {}",
                who(id.pid, name),
                Scans::name(now, *to)
            ),
        )
        .about(*id, None)
        .parent(Scans::identity(now, *to)),
        Change::Stopped { id, name } => {
            scan(Kinds::STATE, format!("{} stopped", who(id.pid, name)))
                .about(*id, Some(Pair::Stop))
        }
        Change::Traced { id, tracer, name } => {
            let text = match tracer {
                Some(tracer) => format!("{} stopped under tracer {tracer}", who(id.pid, name)),
                None => format!("{} stopped under a tracer", who(id.pid, name)),
            };
            scan(Kinds::STATE, text).about(*id, None)
        }
        Change::Continued { id, name } => {
            scan(Kinds::STATE, format!("{} continued", who(id.pid, name)))
                .about(*id, Some(Pair::Continue))
        }
    };
    let entry = match seen {
        Some(proc) if entry.parent.is_none() => {
            entry.parent(Scans::identity(now, proc.ppid).or(Scans::identity(before, proc.ppid)))
        }
        _ => entry,
    };
    entry.uid(seen.and_then(|p| p.uid))
}

/// How long `id` had existed at the time of `snapshot`: for a process found dead, an upper
/// bound of its lifetime.
fn age_ns(snapshot: &Snapshot, id: Identity) -> u64 {
    let started = id.start_ticks as f64 / snapshot.ticks_per_sec.max(1) as f64;
    ((snapshot.uptime_secs - started).max(0.0) * 1e9) as u64
}

/// The entry for one of the kernel's process events (or one inferred from scans, as `brood
/// events` tells them).
pub fn event(event: &ProcEvent) -> Entry {
    let origin = match event.source {
        Source::Kernel => Origin::Kernel,
        Source::Scan => Origin::Scan,
    };
    let at = event.at.unix_ns;
    let Some(task) = &event.task else {
        return Entry::new(at, Kinds::BROOD, origin, event.describe());
    };
    let process = !task.is_thread();
    let (kinds, pair) = match &event.kind {
        Kind::Fork => (Kinds::FORK, process.then_some(Pair::Fork)),
        Kind::Exec { .. } => (Kinds::EXEC, Some(Pair::exec(&task.name))),
        Kind::Exit { status, .. } => {
            let signal = matches!(status, Some(ExitStatus::Signal { .. }));
            let kinds = if signal {
                Kinds::EXIT | Kinds::SIGNAL
            } else {
                Kinds::EXIT
            };
            (kinds, process.then_some(Pair::Exit))
        }
        Kind::Coredump => (Kinds::EXIT | Kinds::SIGNAL, None),
        Kind::Comm { .. }
        | Kind::Ptrace { .. }
        | Kind::Uid { .. }
        | Kind::Gid { .. }
        | Kind::Sid => (Kinds::STATE, None),
        Kind::Dropped { .. } | Kind::Notice { .. } => (Kinds::BROOD, None),
    };
    let parent = event.parent.as_ref().and_then(|p| {
        p.start_ticks.map(|start_ticks| Identity {
            pid: p.pid,
            start_ticks,
        })
    });
    let entry = match &event.kind {
        Kind::Exit {
            status,
            lifetime_ns,
        } => {
            let text = exit_sentence(task, status.as_ref(), *lifetime_ns, event.source);
            let entry = Entry::new(at, kinds, origin, text);
            let entry = match status {
                Some(status) => entry.fact(Fact::Ended(*status)),
                None => entry,
            };
            match event.parent.as_ref().filter(|_| process) {
                Some(p) => entry.then(format!("parent {}", who(p.pid, &p.name))),
                None => entry,
            }
        }
        Kind::Exec { .. } => {
            Entry::new(at, kinds, origin, event.describe()).fact(Fact::Exec(task.name.clone()))
        }
        _ => Entry::new(at, kinds, origin, event.describe()),
    };
    let entry = match task.identity() {
        Some(id) => entry.about(id, pair),
        None => entry,
    };
    entry.parent(parent).uid(task.uid)
}
