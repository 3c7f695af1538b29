//! What the exporter reports, worked out from consecutive scans: states, zombies and who leaves
//! them, orphans seen being adopted, deadlock cycles, processes stuck in D.
//! Pure: it remembers earlier scans but reads nothing; every input is a snapshot and the result
//! of a deadlock sweep, so it is tested on built ones.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::proc::ipc::{IpcState, find_deadlocks};
use crate::proc::lifecycle::{Change, Lifecycle};
use crate::proc::{Identity, Pid, Snapshot, State, TaskKind};

/// How many parents get a series of their own in `brood_zombies_by_parent`: enough to name the
/// culprits, few enough that the label cardinality stays bounded whatever the machine does.
pub const ZOMBIE_PARENTS_SHOWN: usize = 10;

/// The `state` label's values, always all of them (a zero is a series too), in this order.
pub const STATE_LABELS: [&str; 9] = [
    "running",
    "sleeping",
    "disk_sleep",
    "stopped",
    "traced",
    "zombie",
    "idle",
    "dead",
    "other",
];

/// Where a kernel state is counted in [`Report::processes_by_state`] (see [`STATE_LABELS`]).
fn state_slot(state: State) -> usize {
    match state {
        State::Running => 0,
        State::Sleeping => 1,
        State::DiskSleep => 2,
        State::Stopped => 3,
        State::Traced => 4,
        State::Zombie => 5,
        State::Idle => 6,
        State::Dead => 7,
        State::Other(_) => 8,
    }
}

/// A process that has unreaped children, and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct ZombieParent {
    pub pid: Pid,
    /// Its `comm` (at most 15 bytes, made safe to print), or empty if it was gone.
    pub comm: Arc<str>,
    pub zombies: u64,
}

/// How brood's own scanning went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScanStats {
    /// The last refresh (process table and deadlock sweep), in seconds.
    pub duration_secs: f64,
    pub scans: u64,
    pub errors: u64,
}

/// Everything one refresh has to say, as plain numbers (rendered in `metrics`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Processes and kernel threads by state, indexed like [`STATE_LABELS`].
    pub processes_by_state: [u64; STATE_LABELS.len()],
    /// How long each zombie has been one, in seconds (from when brood first saw it a zombie).
    pub zombie_ages: Vec<f64>,
    /// The parents with the most zombies, most first, at most [`ZOMBIE_PARENTS_SHOWN`].
    pub zombie_parents: Vec<ZombieParent>,
    /// How many processes have at least one zombie child (all of them, not just those shown).
    pub zombie_parent_count: u64,
    /// Processes seen losing their parent and being adopted, since the exporter started.
    pub orphans_adopted: u64,
    pub deadlock_cycles: u64,
    pub deadlocked_processes: u64,
    /// Processes the deadlock sweep could not judge (permission): their wait channel hidden or
    /// their descriptors unreadable, a cycle through them can be neither found nor ruled out.
    pub unreadable_processes: u64,
    /// Processes in D at every scan for at least the threshold.
    pub disk_sleep_stuck: u64,
    /// The longest time a process present now has been in D at every scan, in seconds.
    pub disk_sleep_longest_secs: f64,
    pub disk_sleep_threshold_secs: f64,
    pub scan: ScanStats,
}

/// Remembers what consecutive scans need to be compared: the lifecycle (zombie ages, adoptions)
/// and since when each process has been in D.
#[derive(Debug)]
pub struct Observer {
    lifecycle: Lifecycle,
    /// Uptime at which each process was first seen in D, for as long as every scan saw it there.
    disk_sleep_since: HashMap<Identity, f64>,
    orphans_adopted: u64,
    threshold_secs: f64,
}

impl Observer {
    /// `threshold` is how long a process must stay in D to count as stuck.
    pub fn new(threshold: Duration) -> Observer {
        Observer {
            lifecycle: Lifecycle::default(),
            disk_sleep_since: HashMap::new(),
            orphans_adopted: 0,
            threshold_secs: threshold.as_secs_f64(),
        }
    }

    /// Takes the next scan and the deadlock sweep made on it. The first scan is a baseline: its
    /// zombies and D sleepers are timed from it (a lower bound) and no adoption is counted.
    pub fn observe(&mut self, snapshot: &Snapshot, ipc: &IpcState) -> Report {
        self.orphans_adopted += self
            .lifecycle
            .observe(snapshot)
            .iter()
            .filter(|change| matches!(change, Change::Reparented { .. }))
            .count() as u64;
        let by_pid = snapshot.index_by_pid();
        let marks = self.lifecycle.marks(snapshot, &by_pid);

        let mut report = Report {
            orphans_adopted: self.orphans_adopted,
            disk_sleep_threshold_secs: self.threshold_secs,
            ..Report::default()
        };
        let mut zombies_of: HashMap<Pid, u64> = HashMap::new();
        let mut in_disk_sleep = HashSet::new();
        for (proc, mark) in snapshot.procs.iter().zip(&marks) {
            if proc.kind == TaskKind::Thread {
                continue;
            }
            report.processes_by_state[state_slot(proc.state)] += 1;
            match proc.state {
                State::Zombie => {
                    *zombies_of.entry(proc.ppid).or_default() += 1;
                    report
                        .zombie_ages
                        .push(mark.zombie.map_or(0.0, |age| age.secs));
                }
                State::DiskSleep => {
                    in_disk_sleep.insert(proc.id);
                    let since = *self
                        .disk_sleep_since
                        .entry(proc.id)
                        .or_insert(snapshot.uptime_secs);
                    let secs = (snapshot.uptime_secs - since).max(0.0);
                    report.disk_sleep_longest_secs = report.disk_sleep_longest_secs.max(secs);
                    if secs >= self.threshold_secs {
                        report.disk_sleep_stuck += 1;
                    }
                }
                _ => {}
            }
        }
        // Out of D at one scan, the clock starts again: "stuck" means seen there every time.
        self.disk_sleep_since
            .retain(|id, _| in_disk_sleep.contains(id));

        report.zombie_parent_count = zombies_of.len() as u64;
        let mut parents: Vec<ZombieParent> = zombies_of
            .into_iter()
            .map(|(pid, zombies)| ZombieParent {
                pid,
                comm: by_pid
                    .get(pid)
                    .map_or_else(|| Arc::from(""), |i| snapshot.procs[i].name.clone()),
                zombies,
            })
            .collect();
        parents.sort_by(|a, b| b.zombies.cmp(&a.zombies).then(a.pid.cmp(&b.pid)));
        parents.truncate(ZOMBIE_PARENTS_SHOWN);
        report.zombie_parents = parents;

        let deadlocks = find_deadlocks(&ipc.waits());
        let members: HashSet<Pid> = deadlocks
            .iter()
            .flat_map(|d| d.members())
            .map(|id| id.pid)
            .collect();
        report.deadlock_cycles = deadlocks.len() as u64;
        report.deadlocked_processes = members.len() as u64;
        report.unreadable_processes = ipc.unjudged().len() as u64;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::builder::SnapshotBuilder;
    use crate::proc::locks::LockEntry;

    fn family() -> SnapshotBuilder {
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "shell")
            .proc(11, 10, "parent")
    }

    fn zombie(builder: SnapshotBuilder, pid: Pid, ppid: Pid) -> SnapshotBuilder {
        builder.with(pid, ppid, "kid", |p| p.state = State::Zombie)
    }

    fn observer() -> Observer {
        Observer::new(Duration::from_secs(30))
    }

    #[test]
    fn states_are_counted_in_a_fixed_set_and_threads_are_not_processes() {
        let snapshot = family()
            .with(12, 11, "stopped", |p| p.state = State::Stopped)
            .with(13, 11, "thread", |p| {
                p.kind = TaskKind::Thread;
                p.state = State::Running;
            })
            .with(14, 2, "kworker", |p| {
                p.kind = TaskKind::KernelThread;
                p.state = State::Idle;
            })
            .with(15, 11, "odd", |p| p.state = State::Other(b'W'))
            .build();
        let report = observer().observe(&snapshot, &IpcState::default());
        let count = |label: &str| {
            let slot = STATE_LABELS.iter().position(|l| *l == label).unwrap();
            report.processes_by_state[slot]
        };
        assert_eq!(count("sleeping"), 3);
        assert_eq!(count("stopped"), 1);
        assert_eq!(count("idle"), 1);
        assert_eq!(count("other"), 1);
        assert_eq!(count("running"), 0, "a thread is not counted");
        assert_eq!(report.processes_by_state.iter().sum::<u64>(), 6);
    }

    #[test]
    fn zombies_are_aged_from_when_they_turned_and_counted_under_their_parent() {
        let mut observer = observer();
        observer.observe(&family().uptime(100.0).build(), &IpcState::default());
        let two = zombie(zombie(family(), 20, 11), 21, 11);
        let with_zombies = zombie(two, 22, 10);
        observer.observe(
            &with_zombies.clone().uptime(101.0).build(),
            &IpcState::default(),
        );
        let report = observer.observe(&with_zombies.uptime(161.0).build(), &IpcState::default());
        assert_eq!(report.zombie_ages, vec![60.0, 60.0, 60.0]);
        assert_eq!(report.zombie_parent_count, 2);
        assert_eq!(
            report.zombie_parents,
            vec![
                ZombieParent {
                    pid: 11,
                    comm: "parent".into(),
                    zombies: 2
                },
                ZombieParent {
                    pid: 10,
                    comm: "shell".into(),
                    zombies: 1
                },
            ]
        );
    }

    #[test]
    fn only_the_parents_with_most_zombies_get_a_series() {
        let mut builder = SnapshotBuilder::default().proc(1, 0, "init");
        let mut next = 1000;
        for parent in 100..100 + ZOMBIE_PARENTS_SHOWN as Pid + 5 {
            builder = builder.proc(parent, 1, "lazy");
            // Parent 100 has one zombie, 101 two, …: the last ones shown are the busiest.
            for _ in 0..(parent - 99) {
                builder = zombie(builder, next, parent);
                next += 1;
            }
        }
        let report = observer().observe(&builder.build(), &IpcState::default());
        assert_eq!(report.zombie_parents.len(), ZOMBIE_PARENTS_SHOWN);
        assert_eq!(report.zombie_parent_count, ZOMBIE_PARENTS_SHOWN as u64 + 5);
        assert_eq!(report.zombie_parents[0].pid, 114);
        assert_eq!(report.zombie_parents[0].zombies, 15);
        assert!(report.zombie_parents.iter().all(|p| p.pid >= 105));
    }

    #[test]
    fn adoptions_seen_between_scans_are_counted_and_kept() {
        let mut observer = observer();
        let before = family().proc(12, 11, "child").proc(13, 11, "child");
        observer.observe(&before.build(), &IpcState::default());
        // 11 died: its children went to 10 (a subreaper) and 1.
        let after = SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "shell")
            .proc(12, 10, "child")
            .proc(13, 1, "child");
        let report = observer.observe(&after.clone().build(), &IpcState::default());
        assert_eq!(report.orphans_adopted, 2);
        let report = observer.observe(&after.build(), &IpcState::default());
        assert_eq!(
            report.orphans_adopted, 2,
            "a counter: nothing new, no change"
        );
    }

    #[test]
    fn a_process_in_d_counts_as_stuck_once_every_scan_for_the_threshold_saw_it_there() {
        let mut observer = observer();
        let blocked = |uptime: f64| {
            family()
                .with(12, 11, "nfs-reader", |p| p.state = State::DiskSleep)
                .uptime(uptime)
                .build()
        };
        let report = observer.observe(&blocked(100.0), &IpcState::default());
        assert_eq!(
            (report.disk_sleep_stuck, report.disk_sleep_longest_secs),
            (0, 0.0)
        );
        let report = observer.observe(&blocked(129.0), &IpcState::default());
        assert_eq!(
            (report.disk_sleep_stuck, report.disk_sleep_longest_secs),
            (0, 29.0)
        );
        let report = observer.observe(&blocked(130.0), &IpcState::default());
        assert_eq!(
            (report.disk_sleep_stuck, report.disk_sleep_longest_secs),
            (1, 30.0)
        );
        assert_eq!(report.disk_sleep_threshold_secs, 30.0);

        // Seen awake once, its clock starts again.
        observer.observe(&family().uptime(131.0).build(), &IpcState::default());
        let report = observer.observe(&blocked(140.0), &IpcState::default());
        assert_eq!(
            (report.disk_sleep_stuck, report.disk_sleep_longest_secs),
            (0, 0.0)
        );
    }

    fn lock(id: u32, blocked: bool, pid: Pid, inode: u64) -> LockEntry {
        LockEntry {
            id,
            blocked,
            class: "FLOCK".into(),
            write: true,
            pid: Some(pid),
            file: format!("00:1f:{inode}"),
            inode,
        }
    }

    #[test]
    fn a_crossed_lock_pair_is_one_cycle_of_two_and_what_cannot_be_read_is_counted() {
        let ipc = IpcState {
            // 12 holds lock 1 and waits for lock 2, which 13 holds while waiting for lock 1.
            locks: vec![
                lock(1, false, 12, 500),
                lock(1, true, 13, 500),
                lock(2, false, 13, 501),
                lock(2, true, 12, 501),
            ],
            ends: [
                (12, Some(std::sync::Arc::default())),
                (40, None),
                (41, None),
            ]
            .into_iter()
            .collect(),
            ..IpcState::default()
        };
        let snapshot = family().proc(12, 11, "a").proc(13, 11, "b").build();
        let report = observer().observe(&snapshot, &ipc);
        assert_eq!(report.deadlock_cycles, 1);
        assert_eq!(report.deadlocked_processes, 2);
        assert_eq!(report.unreadable_processes, 2);

        // Sleepers whose wait channel is hidden are unjudged too, each counted once.
        let hidden = IpcState {
            waits_hidden: [40, 50].into_iter().collect(),
            ..ipc
        };
        let report = observer().observe(&snapshot, &hidden);
        assert_eq!(report.unreadable_processes, 3);

        let calm = observer().observe(&snapshot, &IpcState::default());
        assert_eq!((calm.deadlock_cycles, calm.deadlocked_processes), (0, 0));
    }
}
