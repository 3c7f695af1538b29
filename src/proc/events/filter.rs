//! Which events to show: those of one process, or of its subtree followed as it forks, and those
//! whose process matches a text. Pure; it must see every event, shown or not, in order, so that
//! it can follow the subtree's births and deaths.

use super::{Kind, ProcEvent, Task};
use crate::proc::{Identity, Pid, PidMap, Snapshot, TaskKind};

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// The process asked for, if any.
    root: Option<Identity>,
    subtree: bool,
    /// The root and, for a subtree, its live descendants, by PID. A PID leaves at its exit, so a
    /// later process reusing it is not taken for a member.
    members: PidMap<()>,
    /// Lowercase; empty lets everything through.
    text: String,
}

impl EventFilter {
    /// Events of `root` (and of its descendants, with `subtree`) whose process's name, command
    /// line or PID matches `text` (ignoring case; equal for a PID), as `--filter` does in the TUI.
    pub fn new(root: Option<Identity>, subtree: bool, text: Option<&str>) -> EventFilter {
        let mut members = PidMap::default();
        if let Some(root) = root {
            members.insert(root.pid, ());
        }
        EventFilter {
            root,
            subtree,
            members,
            text: text.unwrap_or_default().to_lowercase(),
        }
    }

    /// Takes the root's descendants at the start from a scan (which must show the root).
    pub fn seed(&mut self, snapshot: &Snapshot) {
        let Some(root) = self.root else { return };
        if !self.subtree || !snapshot.procs.iter().any(|p| p.id == root) {
            return;
        }
        let mut children: PidMap<Vec<Pid>> = PidMap::default();
        for proc in snapshot.procs.iter() {
            if proc.kind != TaskKind::Thread {
                children.entry(proc.ppid).or_default().push(proc.pid());
            }
        }
        // Iterative: a 10 000-deep chain is a real test case.
        let mut stack = vec![root.pid];
        while let Some(pid) = stack.pop() {
            for &child in children.get(&pid).into_iter().flatten() {
                if self.members.insert(child, ()).is_none() {
                    stack.push(child);
                }
            }
        }
    }

    /// Whether to show `event`; follows forks and exits of the subtree on the way. Events about
    /// the stream (dropped, notices) always pass.
    pub fn admits(&mut self, event: &ProcEvent) -> bool {
        let Some(task) = &event.task else {
            return true;
        };
        if self.root.is_none() {
            return self.matches(task);
        }
        let from_member = event
            .parent
            .as_ref()
            .is_some_and(|p| self.members.contains_key(&p.pid));
        let is_fork = event.kind == Kind::Fork;
        if is_fork && from_member && self.subtree && !task.is_thread() {
            self.members.insert(task.pid, ());
        }
        let member = self.members.contains_key(&task.pid) || self.members.contains_key(&task.tgid);
        if matches!(event.kind, Kind::Exit { .. }) && !task.is_thread() {
            self.members.remove(&task.pid);
        }
        (member || (is_fork && from_member)) && self.matches(task)
    }

    fn matches(&self, task: &Task) -> bool {
        self.text.is_empty()
            || task.pid.to_string() == self.text
            || task.name.to_lowercase().contains(&self.text)
            || task.cmdline.to_lowercase().contains(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::SnapshotBuilder;
    use crate::proc::events::{Source, Stamp, TaskRef};

    fn event(kind: Kind, pid: Pid, parent: Pid, name: &str) -> ProcEvent {
        ProcEvent {
            at: Stamp::default(),
            source: Source::Kernel,
            kind,
            task: Some(Task {
                pid,
                tgid: pid,
                start_ticks: Some(1),
                start_estimated: false,
                name: name.into(),
                cmdline: format!("/bin/{name} -v").into(),
                uid: None,
                user: "".into(),
            }),
            parent: Some(TaskRef {
                pid: parent,
                start_ticks: None,
                name: "".into(),
            }),
        }
    }

    fn exit() -> Kind {
        Kind::Exit {
            status: None,
            lifetime_ns: None,
        }
    }

    fn root(pid: Pid) -> Option<Identity> {
        Some(Identity {
            pid,
            start_ticks: pid as u64,
        })
    }

    #[test]
    fn a_subtree_is_followed_through_its_forks_and_exits() {
        let snapshot = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "sh")
            .proc(11, 10, "make")
            .proc(12, 11, "cc")
            .proc(20, 1, "other")
            .build();
        let mut filter = EventFilter::new(root(10), true, None);
        filter.seed(&snapshot);
        assert!(
            filter.admits(&event(Kind::Fork, 13, 12, "cc")),
            "grandchild forks"
        );
        assert!(filter.admits(&event(exit(), 13, 12, "ld")));
        assert!(!filter.admits(&event(Kind::Fork, 21, 20, "other")));
        assert!(
            filter.admits(&event(exit(), 12, 11, "cc")),
            "seeded descendant"
        );
        // 12 has exited: a new process reusing PID 12 elsewhere is not a member.
        assert!(!filter.admits(&event(Kind::Fork, 12, 20, "new")));
        assert!(filter.admits(&ProcEvent::dropped(Stamp::default(), Some(3))));
    }

    #[test]
    fn without_subtree_only_the_process_and_its_forks_pass() {
        let mut filter = EventFilter::new(root(10), false, None);
        assert!(
            filter.admits(&event(Kind::Fork, 30, 10, "sh")),
            "10 forked 30"
        );
        assert!(
            !filter.admits(&event(exit(), 30, 10, "sh")),
            "30's own exit"
        );
        assert!(filter.admits(&event(exit(), 10, 1, "sh")));
    }

    #[test]
    fn text_matches_name_command_line_or_exact_pid() {
        let mut filter = EventFilter::new(None, false, Some("VIM"));
        assert!(filter.admits(&event(Kind::Fork, 5, 1, "vim")));
        assert!(!filter.admits(&event(Kind::Fork, 6, 1, "emacs")));
        let mut filter = EventFilter::new(None, false, Some("-v"));
        assert!(
            filter.admits(&event(Kind::Fork, 6, 1, "emacs")),
            "in the command line"
        );
        let mut filter = EventFilter::new(None, false, Some("42"));
        assert!(filter.admits(&event(Kind::Fork, 42, 1, "x")));
        assert!(!filter.admits(&event(Kind::Fork, 420, 1, "x")));
    }
}
