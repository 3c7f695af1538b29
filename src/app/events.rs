//! The kernel's process events, taken in: each into the history, the lab told of children born
//! to its members, and the tree told at once, before the next scan: a child forked is added, a
//! program exec'd renames its process, an exit marks it. The next scan stays the truth.

use std::sync::Arc;

use super::{App, Severity};
use crate::history::{Kinds, Pair, tell};
use crate::proc::events::{Kind, ProcEvent, Source, Task};
use crate::proc::lifecycle::Marks;
use crate::proc::{Identity, ProcInfo, State, TaskKind};

/// Where the history's process events come from, once the runtime has said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFeed {
    /// `None` until the first notice.
    pub source: Option<Source>,
    /// Events the kernel could not deliver (brood's buffer was full), in all.
    pub dropped: u64,
}

impl App {
    pub(super) fn take_proc_events(&mut self, batch: Vec<ProcEvent>) {
        let mut tree_changed = false;
        for event in batch {
            match &event.kind {
                Kind::Notice { text } => {
                    if event.source == Source::Scan && self.events.source != Some(Source::Scan) {
                        // Said once, plainly: what the user will not see, and how to see it.
                        self.set_status(Severity::Info, text.clone());
                    }
                    self.events.source = Some(event.source);
                }
                Kind::Dropped { count } => self.events.dropped += count.unwrap_or(0),
                _ => {}
            }
            if self.of_kernel_thread(&event) && !self.show_kernel_threads {
                // They come and go all the time: shown, as in the tree, only when asked for.
                continue;
            }
            let about_lab = self.event_is_lab(&event);
            if let (Kind::Fork, Some(child), Some(parent)) = (
                &event.kind,
                event.task.as_ref().and_then(Task::identity),
                parent_of(&event),
            ) && self.lab.contains(parent)
            {
                self.lab.add(child);
            }
            if !self.holds_scans() {
                tree_changed |= self.put_in_tree(&event);
            }
            if self.told_with_its_exec(&event) {
                continue;
            }
            let entry = tell::event(&event);
            let about_lab = about_lab || entry.kinds == Kinds::BROOD;
            self.record(entry.lab(about_lab));
        }
        if tree_changed {
            self.marks
                .resize(self.snapshot.procs.len(), Marks::default());
            self.counts = super::refresh::count_states(&self.snapshot, &self.marks, &self.lab);
            self.rebuild_rows(None);
        }
    }

    /// A rename to the name it had (read after the rename) tells nothing; a program that names
    /// itself as it starts is told on one line with its exec.
    fn told_with_its_exec(&mut self, event: &ProcEvent) -> bool {
        let (Kind::Comm { previous_name }, Some(task)) = (&event.kind, &event.task) else {
            return false;
        };
        if *previous_name == task.name {
            return true;
        }
        task.identity().is_some_and(|id| {
            let pair = Pair::exec(previous_name);
            self.history.amend(id, pair, event.at.unix_ns, |exec| {
                exec.then = Some(format!("renamed itself {}", task.name).into());
            })
        })
    }

    fn of_kernel_thread(&self, event: &ProcEvent) -> bool {
        let kernel_thread = |pid| {
            self.proc_by_pid(pid)
                .is_some_and(|p| p.kind == TaskKind::KernelThread)
        };
        event.task.as_ref().is_some_and(|t| kernel_thread(t.tgid))
            || event.parent.as_ref().is_some_and(|p| kernel_thread(p.pid))
    }

    /// Whether `event` is about brood, its lab or a child of either.
    fn event_is_lab(&self, event: &ProcEvent) -> bool {
        let is_lab = |id: Identity| {
            self.lab.contains(id) || self.lab.guard == Some(id) || id.pid == self.self_pid
        };
        event
            .task
            .as_ref()
            .and_then(Task::identity)
            .is_some_and(is_lab)
            || parent_of(event).is_some_and(is_lab)
    }

    /// Puts what `event` says in the tree now: a child where its parent is, a new name, an exit
    /// mark. Returns whether the tree changed.
    fn put_in_tree(&mut self, event: &ProcEvent) -> bool {
        let Some(task) = event.task.as_ref().filter(|t| !t.is_thread()) else {
            return false;
        };
        let Some(id) = task.identity() else {
            return false;
        };
        let found = self.pid_index.get(id.pid);
        match &event.kind {
            Kind::Fork if found.is_none() => {
                let Some(parent) = event.parent.as_ref().and_then(|p| self.proc_by_pid(p.pid))
                else {
                    return false;
                };
                let child = born(task, id, parent);
                let procs = Arc::make_mut(&mut self.snapshot.procs);
                procs.push(child);
                self.pid_index.insert(id.pid, procs.len() - 1);
                true
            }
            Kind::Exec { .. } | Kind::Comm { .. } | Kind::Exit { .. } => {
                let Some(i) = found.filter(|&i| self.snapshot.procs[i].id == id) else {
                    return false;
                };
                let proc = &mut Arc::make_mut(&mut self.snapshot.procs)[i];
                if let Kind::Exit { .. } = event.kind {
                    // It has exited: a zombie, or reaped already; the next scan tells which.
                    proc.state = State::Dead;
                } else {
                    proc.name = task.name.clone();
                    if !task.cmdline.is_empty() {
                        proc.cmdline = task.cmdline.clone();
                    }
                }
                true
            }
            _ => false,
        }
    }
}

/// The identity of the event's parent, where known.
fn parent_of(event: &ProcEvent) -> Option<Identity> {
    let parent = event.parent.as_ref()?;
    Some(Identity {
        pid: parent.pid,
        start_ticks: parent.start_ticks?,
    })
}

/// A process just forked from `parent`, as the fork left it: in its parent's group and session,
/// runnable, its figures not read yet.
fn born(task: &Task, id: Identity, parent: &ProcInfo) -> ProcInfo {
    ProcInfo {
        id,
        ppid: parent.pid(),
        pgrp: parent.pgrp,
        session: parent.session,
        kind: TaskKind::Process,
        state: State::Running,
        name: task.name.clone(),
        cmdline: task.cmdline.clone(),
        uid: task.uid.or(parent.uid),
        user: if task.user.is_empty() {
            parent.user.clone()
        } else {
            task.user.clone()
        },
        cpu_ticks: 0,
        cpu_percent: 0.0,
        rss_bytes: 0,
        vsize_bytes: 0,
        nice: parent.nice,
        threads: 1,
        tracer: None,
        ran: true,
    }
}
