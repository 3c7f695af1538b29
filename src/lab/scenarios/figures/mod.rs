//! A running scenario's figures from one sample of its processes: queue depth, counters, tasks
//! per worker, locks held, memory shared. Pure: the runtime's watcher reads the sample, this
//! sums it up, so every line of a panel comes from the same moment; and it says, from two
//! samples in a row, what changed that the event log should tell.

mod lifecycle;
mod locks;
mod pipes;
mod shared;

use std::collections::HashMap;

use super::{Figures, ProcFigure, ScenarioId};
use crate::lab::tasks::SharedFigures;
use crate::proc::Pid;
use crate::proc::ipc::FdEnd;
use crate::proc::locks::LockEntry;

/// What the watcher read about a scenario's processes at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Each process in the order its role was given.
    pub procs: Vec<ProcFigure>,
    /// The shared region each role owns, by role key (`parent`, `parent-a`, …).
    pub shared: HashMap<String, SharedFigures>,
    /// File locks the scenario's processes hold or wait for, from /proc/locks (open file
    /// description locks given their processes).
    pub locks: Vec<LockEntry>,
    /// The cycles brood's deadlock detector finds among those locks.
    pub deadlocks: Vec<Vec<Pid>>,
    /// The pipe and socket ends each process holds.
    pub ends: HashMap<Pid, Vec<FdEnd>>,
    /// The descriptor each process is blocked reading or writing, from /proc/PID/syscall.
    pub blocked_fd: HashMap<Pid, i32>,
    /// Each process's memory, from /proc/PID/smaps_rollup.
    pub memory: HashMap<Pid, Memory>,
    /// Each process's working directory and open descriptors.
    pub files: HashMap<Pid, Files>,
}

/// What the watcher must read for a scenario besides states, wait channels and statuses: the
/// costlier reads only where a lesson shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub locks: bool,
    pub ends: bool,
    pub memory: bool,
    pub files: bool,
}

pub fn needs(id: ScenarioId) -> Needs {
    Needs {
        locks: matches!(id, ScenarioId::DeadlockFlock | ScenarioId::DeadlockFcntl),
        ends: id == ScenarioId::PipeLeak,
        memory: id == ScenarioId::CopyOnWrite,
        files: id == ScenarioId::Daemon,
    }
}

/// A process's memory in KiB, as /proc/PID/smaps_rollup adds it up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident: every page mapped, shared or not (what `top` shows as RES).
    pub rss: u64,
    /// Proportional: each page divided by the number of processes mapping it.
    pub pss: u64,
    pub shared: u64,
    pub private: u64,
}

/// Reads the totals of /proc/PID/smaps_rollup; missing lines count as 0.
pub fn parse_rollup(text: &str) -> Memory {
    let mut memory = Memory::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(Ok(kb))) = (words.next(), words.next().map(str::parse::<u64>)) else {
            continue;
        };
        match name {
            "Rss:" => memory.rss = kb,
            "Pss:" => memory.pss = kb,
            "Shared_Clean:" | "Shared_Dirty:" => memory.shared += kb,
            "Private_Clean:" | "Private_Dirty:" => memory.private += kb,
            _ => {}
        }
    }
    memory
}

/// A process's working directory and what its descriptors point to, by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files {
    pub cwd: String,
    pub fds: Vec<(i32, String)>,
}

/// The figures of scenario `id` from one sample of its processes.
pub fn summarize(id: ScenarioId, sample: &Sample) -> Figures {
    let mut out = Out::default();
    let view = View(sample);
    match id {
        ScenarioId::Pipe | ScenarioId::PipeFull | ScenarioId::Queue => {
            pipes::messages(id, &view, &mut out)
        }
        ScenarioId::PipeLeak => pipes::leak(&view, &mut out),
        ScenarioId::Pool => pipes::pool(&view, &mut out),
        ScenarioId::PoolResults => pipes::results(&view, &mut out),
        ScenarioId::ForkPerTask => pipes::fork_per_task(&view, &mut out),
        ScenarioId::SharedMemory => shared::counters(&view, &mut out),
        ScenarioId::Semaphore => shared::semaphore(&view, &mut out),
        ScenarioId::RobustMutex => shared::robust(&view, &mut out),
        ScenarioId::CopyOnWrite => shared::copy_on_write(&view, &mut out),
        ScenarioId::DeadlockFlock | ScenarioId::DeadlockFcntl => locks::pairs(id, &view, &mut out),
        ScenarioId::StopContinue => lifecycle::ticks(&view, &mut out),
        ScenarioId::ManyChildrenInOrder => lifecycle::in_order(&view, &mut out),
        ScenarioId::Sigchld => lifecycle::sigchld(&view, &mut out),
        ScenarioId::Daemon => lifecycle::daemon(&view, &mut out),
        ScenarioId::JobControl => lifecycle::job(&view, &mut out),
        _ => {}
    }
    Figures {
        procs: sample.procs.clone(),
        lines: out.lines,
        values: out.values,
    }
}

/// What the event log should say about the change from `before` to `after` (two summaries of
/// the same scenario in a row): the moments a lesson turns on, as they happen.
pub fn events(id: ScenarioId, before: &Figures, after: &Figures) -> Vec<String> {
    let mut notes = Vec::new();
    let rose = |name: &str| after.value(name).unwrap_or(0) > before.value(name).unwrap_or(0);
    match id {
        ScenarioId::Sigchld => lifecycle::sigchld_events(before, after, &mut notes),
        ScenarioId::DeadlockFcntl => locks::fcntl_events(before, after, &mut notes),
        ScenarioId::RobustMutex if rose("robust_repairs") => notes.push(
            "the robust mutex's holder died: the next locker got EOWNERDEAD, repaired the \
             state and called pthread_mutex_consistent()"
                .into(),
        ),
        ScenarioId::PoolResults => pipes::results_events(before, after, &mut notes),
        ScenarioId::JobControl => lifecycle::job_events(before, after, &mut notes),
        _ => {}
    }
    notes
}

/// The lines and values a summary builds.
#[derive(Default)]
struct Out {
    lines: Vec<String>,
    values: Vec<(&'static str, i64)>,
}

impl Out {
    fn line(&mut self, text: String) {
        self.lines.push(text);
    }

    fn value(&mut self, name: &'static str, value: i64) {
        self.values.push((name, value));
    }
}

/// Questions about one sample.
struct View<'a>(&'a Sample);

impl<'a> View<'a> {
    /// The processes with role `key`, in role order.
    fn role(&self, key: &'a str) -> impl Iterator<Item = &'a ProcFigure> + 'a {
        self.0.procs.iter().filter(move |p| p.key == key)
    }

    fn one(&self, key: &'a str) -> Option<&'a ProcFigure> {
        self.role(key).next()
    }

    /// The number after `field=` in the statuses of role `key`, added up.
    fn sum(&self, key: &'a str, field: &str) -> i64 {
        self.role(key)
            .filter_map(|p| number(&p.status, field))
            .sum()
    }

    /// Whether some process of role `key` said `word`.
    fn said(&self, key: &'a str, word: &str) -> bool {
        self.role(key)
            .any(|p| p.status.split_whitespace().any(|w| w == word))
    }
}

/// The value of `key=` in a status line, as a word.
fn field<'s>(status: &'s str, key: &str) -> Option<&'s str> {
    status.split_whitespace().find_map(|word| {
        let (k, v) = word.split_once('=')?;
        (k == key).then_some(v)
    })
}

fn number(status: &str, key: &str) -> Option<i64> {
    field(status, key)?.parse().ok()
}

/// Whether signal `signal` is in a mask read from /proc/PID/status (bit N-1 for signal N).
fn has_signal(mask: u64, signal: i32) -> bool {
    (1..=64).contains(&signal) && mask & (1 << (signal - 1)) != 0
}

/// A terminal's name from its device number (`tty_nr` in /proc/PID/stat): `pts/3`, `tty1`, or
/// `none`.
fn tty_name(tty: i32) -> String {
    let (major, minor) = ((tty >> 8) & 0xff, (tty & 0xff) | ((tty >> 12) & 0xfff00));
    match major {
        0 => "none".into(),
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        _ => format!("terminal {major}:{minor}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::wchan::WaitChannel;

    /// Process `pid` of role `key`, asleep in kernel function `wchan`, having said `status`.
    fn asleep(pid: Pid, key: &str, wchan: &str, status: &str) -> ProcFigure {
        ProcFigure {
            pid,
            key: key.into(),
            label: String::new(),
            state: Some('S'),
            ppid: 1,
            pgid: pid,
            sid: pid,
            tty: 0,
            wchan: WaitChannel::parse(wchan),
            status: status.into(),
            pending: 0,
            blocked: 0,
        }
    }

    fn says(figures: &Figures, words: &str) -> bool {
        figures.lines.iter().any(|line| line.contains(words))
    }

    // Wait channels are read through the one table: `futex_do_wait` contains `do_wait`, and a
    // part of a name would take the futex wait of Linux ≥ 6.16 for a wait for a child.
    #[test]
    fn the_parent_blocked_in_waitpid_is_told_by_whole_names_only() {
        for (wchan, in_waitpid) in [
            ("do_wait", true),
            ("futex_do_wait", false),
            ("anon_pipe_read", false),
        ] {
            let sample = Sample {
                procs: vec![asleep(10, "parent", wchan, ""), asleep(11, "child", "", "")],
                ..Sample::default()
            };
            let figures = summarize(ScenarioId::ManyChildrenInOrder, &sample);
            assert_eq!(
                says(&figures, "blocked in waitpid(11)"),
                in_waitpid,
                "{wchan}"
            );
        }
    }

    #[test]
    fn a_full_pipe_is_told_by_its_writers_wait_on_old_and_new_kernels() {
        for (wchan, full) in [
            ("anon_pipe_write", true),
            ("pipe_write", true),
            // splice() waiting for room: no `pipe_write` in its name, a pipe write in the table.
            ("pipe_wait_writable", true),
            ("anon_pipe_read", false),
            ("futex_do_wait", false),
        ] {
            let sample = Sample {
                procs: vec![asleep(
                    10,
                    "producer",
                    wchan,
                    "sent=20 capacity=65536 slots=16",
                )],
                ..Sample::default()
            };
            let figures = summarize(ScenarioId::PipeFull, &sample);
            assert_eq!(
                says(&figures, "bytes short of the capacity"),
                full,
                "{wchan}"
            );
        }
    }

    #[test]
    fn mutex_waiters_are_futex_waits_by_any_kernels_name() {
        let waiters = ["futex_do_wait", "futex_wait_queue", "futex_wait_queue_me"];
        let mut procs: Vec<ProcFigure> = (11..)
            .zip(waiters)
            .map(|(pid, wchan)| asleep(pid, "plain", wchan, "waiting"))
            .collect();
        procs.push(asleep(20, "plain", "do_wait", "waiting"));
        let sample = Sample {
            procs,
            shared: HashMap::from([("parent-plain".into(), SharedFigures::default())]),
            ..Sample::default()
        };
        let figures = summarize(ScenarioId::RobustMutex, &sample);
        assert_eq!(figures.value("plain_waiting"), Some(3));
    }

    #[test]
    fn status_numbers_are_read_by_key() {
        assert_eq!(number("sent=3 writing", "sent"), Some(3));
        assert_eq!(number("done=2 idle", "sent"), None);
        assert_eq!(number("received=x", "received"), None);
        assert_eq!(field("order=2,1 lost=-", "order"), Some("2,1"));
    }

    #[test]
    fn smaps_rollup_totals_are_read() {
        let text = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss: 204900 kB\nPss: 51300 kB\n\
                    Pss_Anon: 51200 kB\nShared_Clean: 900 kB\nShared_Dirty: 204000 kB\n\
                    Private_Clean: 0 kB\nPrivate_Dirty: 0 kB\n";
        assert_eq!(
            parse_rollup(text),
            Memory {
                rss: 204_900,
                pss: 51_300,
                shared: 204_900,
                private: 0
            }
        );
    }

    #[test]
    fn terminal_numbers_are_named_and_signal_masks_read() {
        assert_eq!(tty_name(0), "none");
        assert_eq!(tty_name(136 << 8 | 5), "pts/5");
        assert_eq!(tty_name(4 << 8 | 1), "tty1");
        assert!(has_signal(1, 1) && has_signal(1 << 16, 17) && !has_signal(1, 2));
        assert!(!has_signal(u64::MAX, 0));
    }
}
