use super::*;
use crate::proc::builder::SnapshotBuilder;

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;

/// Booted 1 000 s ago, never suspended; the wall clock at 1.7e9 s.
fn clock() -> Clock {
    Clock::at(1_000 * SEC, 1_000 * SEC, 1_700_000_000 * SEC)
}

fn ids(pid: Pid) -> TaskIds {
    TaskIds { pid, tgid: pid }
}

fn thread(tid: Pid, tgid: Pid) -> TaskIds {
    TaskIds { pid: tid, tgid }
}

fn at(ns: u64, event: KernelEvent) -> Message {
    Message {
        seq: 0,
        ack: 0,
        cpu: 0,
        timestamp_ns: ns,
        event,
    }
}

fn stat(start_ticks: u64, ppid: Pid, name: &str) -> Facts {
    Facts {
        stat: Some(StatFacts {
            start_ticks,
            ppid,
            name: name.into(),
        }),
        cmdline: None,
        uid: Some(0),
        user: Some("root".into()),
    }
}

/// init (1) and a shell (100), as a scan saw them.
fn seeded(threads: bool) -> Tracker {
    let mut tracker = Tracker::new(threads, 100);
    tracker.seed(
        &SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(100, 1, "sh")
            .build(),
    );
    tracker
}

fn apply(tracker: &mut Tracker, message: Message, facts: &Facts) -> Option<ProcEvent> {
    tracker.apply(&message, facts, &clock())
}

#[test]
fn a_child_that_lived_a_millisecond_is_told_with_parent_name_status_and_lifetime() {
    let mut tracker = seeded(false);
    let fork = at(
        500 * SEC + 4 * MS,
        KernelEvent::Fork {
            parent: ids(100),
            child: ids(200),
        },
    );
    let event = apply(&mut tracker, fork, &stat(50_000, 100, "sh")).unwrap();
    assert_eq!(event.kind, Kind::Fork);
    let child = event.task.unwrap();
    assert_eq!((child.pid, child.start_ticks), (200, Some(50_000)));
    assert!(!child.start_estimated);
    assert_eq!(&*child.name, "sh", "a child starts as a copy of its parent");
    assert_eq!(&*child.cmdline, "/usr/bin/sh --flag");
    assert_eq!(event.parent.unwrap().name.as_ref(), "sh");

    let mut comm = [0u8; 16];
    comm[..5].copy_from_slice(b"bev-7");
    let renamed = at(
        500 * SEC + 4 * MS + 100_000,
        KernelEvent::Comm {
            task: ids(200),
            comm,
        },
    );
    assert_eq!(
        tracker.wants(&renamed.event),
        None,
        "known: nothing to read"
    );
    let event = apply(&mut tracker, renamed, &Facts::default()).unwrap();
    assert_eq!(
        event.kind,
        Kind::Comm {
            previous_name: "sh".into()
        }
    );

    let exit = at(
        500 * SEC + 5 * MS + 200_000,
        KernelEvent::Exit {
            task: ids(200),
            exit_code: 3 << 8,
            exit_signal: 17,
            parent: Some(ids(100)),
        },
    );
    assert_eq!(tracker.wants(&exit.event), None);
    let event = apply(&mut tracker, exit, &Facts::default()).unwrap();
    assert_eq!(
        event.kind,
        Kind::Exit {
            status: Some(ExitStatus::Code(3)),
            lifetime_ns: Some(MS + 200_000),
        }
    );
    let task = event.task.unwrap();
    assert_eq!(&*task.name, "bev-7");
    assert_eq!(task.identity().map(|id| id.start_ticks), Some(50_000));
    let parent = event.parent.unwrap();
    assert_eq!((parent.pid, &*parent.name), (100, "sh"));
    assert_eq!(parent.start_ticks, Some(100));
    assert_eq!(
        event.at.unix_ns,
        1_700_000_000 * SEC - 500 * SEC + 5 * MS + 200_000
    );
    assert_eq!(tracker.len(), 2, "the exited child is forgotten");
}

#[test]
fn a_child_gone_before_proc_was_read_has_its_start_estimated_from_the_fork() {
    let mut tracker = seeded(false);
    let fork = at(
        321 * SEC + 456 * MS,
        KernelEvent::Fork {
            parent: ids(100),
            child: ids(300),
        },
    );
    let child = apply(&mut tracker, fork, &Facts::default())
        .and_then(|e| e.task)
        .unwrap();
    assert_eq!(child.start_ticks, Some(32_145));
    assert!(child.start_estimated);

    // A stat read of a process that took the PID since (started much later) is not believed.
    let fork = at(
        321 * SEC + 456 * MS,
        KernelEvent::Fork {
            parent: ids(100),
            child: ids(301),
        },
    );
    let child = apply(&mut tracker, fork, &stat(40_000, 1, "other"))
        .and_then(|e| e.task)
        .unwrap();
    assert_eq!(
        (child.start_ticks, child.start_estimated),
        (Some(32_145), true)
    );
    assert_eq!(&*child.name, "sh");

    // The tick before the stamp is this fork's too (a tick began between creation and stamp).
    let fork = at(
        321 * SEC + 456 * MS,
        KernelEvent::Fork {
            parent: ids(100),
            child: ids(302),
        },
    );
    let child = apply(&mut tracker, fork, &stat(32_144, 100, "sh"))
        .and_then(|e| e.task)
        .unwrap();
    assert_eq!(
        (child.start_ticks, child.start_estimated),
        (Some(32_144), false)
    );
}

#[test]
fn threads_are_left_out_unless_asked_for() {
    // The kernel names the process's parent (init) as a new thread's parent.
    let spawn = at(
        SEC,
        KernelEvent::Fork {
            parent: ids(1),
            child: thread(101, 100),
        },
    );
    let end = at(
        2 * SEC,
        KernelEvent::Exit {
            task: thread(101, 100),
            exit_code: 0,
            exit_signal: -1,
            parent: Some(ids(1)),
        },
    );
    let mut tracker = seeded(false);
    assert_eq!(
        tracker.wants(&spawn.event),
        None,
        "nothing read for a thread"
    );
    assert_eq!(apply(&mut tracker, spawn, &Facts::default()), None);
    assert_eq!(apply(&mut tracker, end, &Facts::default()), None);
    assert_eq!(tracker.len(), 2);

    let mut tracker = seeded(true);
    let event = apply(&mut tracker, spawn, &Facts::default()).unwrap();
    let task = event.task.unwrap();
    assert!(task.is_thread());
    assert_eq!(task.tgid, 100);
    assert_eq!(&*task.name, "sh", "named as the process it joins");
    assert_eq!(
        event.parent.unwrap().pid,
        100,
        "a thread's parent is its process"
    );
    let event = apply(&mut tracker, end, &Facts::default()).unwrap();
    assert!(matches!(
        event.kind,
        Kind::Exit {
            lifetime_ns: Some(ns),
            ..
        } if ns == SEC
    ));
}

#[test]
fn exec_takes_name_and_command_from_proc_and_an_unread_one_is_fixed_at_exit() {
    let mut tracker = seeded(false);
    let exec = at(SEC, KernelEvent::Exec { task: ids(100) });
    assert_eq!(
        tracker.wants(&exec.event).map(|w| (w.stat, w.cmdline)),
        Some((true, true))
    );
    let facts = Facts {
        cmdline: Some("/bin/sleep 5".into()),
        ..stat(100, 1, "sleep")
    };
    let event = apply(&mut tracker, exec, &facts).unwrap();
    assert_eq!(
        event.kind,
        Kind::Exec {
            previous_name: "sh".into()
        }
    );
    let task = event.task.unwrap();
    assert_eq!((&*task.name, &*task.cmdline), ("sleep", "/bin/sleep 5"));

    // Exec'd and gone before /proc was read: the exit reads the zombie's name.
    let exec = at(2 * SEC, KernelEvent::Exec { task: ids(100) });
    let event = apply(&mut tracker, exec, &Facts::default()).unwrap();
    assert_eq!(&*event.task.unwrap().name, "sleep", "still the old name");
    let exit = at(
        3 * SEC,
        KernelEvent::Exit {
            task: ids(100),
            exit_code: 9,
            exit_signal: 17,
            parent: Some(ids(1)),
        },
    );
    assert!(tracker.wants(&exit.event).is_some_and(|w| w.stat));
    let event = apply(&mut tracker, exit, &stat(100, 1, "true")).unwrap();
    assert_eq!(&*event.task.as_ref().unwrap().name, "true");
    assert!(matches!(
        event.kind,
        Kind::Exit {
            status: Some(ExitStatus::Signal {
                number: 9,
                core_dumped: false
            }),
            // Known from the seed only: from its start tick (100 → 1 s) to 3 s.
            lifetime_ns: Some(ns),
        } if ns == 2 * SEC
    ));
}

#[test]
fn an_exit_brood_knows_nothing_about_is_still_told() {
    let mut tracker = seeded(false);
    let exit = at(
        SEC,
        KernelEvent::Exit {
            task: ids(999),
            exit_code: 1 << 8,
            exit_signal: 17,
            parent: Some(ids(100)),
        },
    );
    assert!(tracker.wants(&exit.event).is_some());
    let event = apply(&mut tracker, exit, &Facts::default()).unwrap();
    let task = event.task.unwrap();
    assert_eq!((task.pid, task.start_ticks, &*task.name), (999, None, ""));
    assert_eq!(event.parent.unwrap().name.as_ref(), "sh");
    assert!(matches!(
        event.kind,
        Kind::Exit {
            status: Some(ExitStatus::Code(1)),
            lifetime_ns: None
        }
    ));
}

#[test]
fn another_process_under_a_known_pid_replaces_the_stale_one() {
    // 100's exit was lost; a new process got PID 100 and execs.
    let mut tracker = seeded(false);
    let exec = at(SEC, KernelEvent::Exec { task: ids(100) });
    let event = apply(&mut tracker, exec, &stat(7_000, 1, "vim")).unwrap();
    let task = event.task.unwrap();
    assert_eq!(task.start_ticks, Some(7_000));
    assert_eq!(
        event.kind,
        Kind::Exec {
            previous_name: "".into()
        },
        "not the old process's name"
    );
}

#[test]
fn reseeding_forgets_the_gone_and_keeps_the_fork_time_of_the_living() {
    let mut tracker = seeded(false);
    let fork = at(
        5 * SEC,
        KernelEvent::Fork {
            parent: ids(100),
            child: ids(200),
        },
    );
    apply(&mut tracker, fork, &stat(500, 100, "sh"));
    tracker.seed(
        &SnapshotBuilder::default()
            .proc(1, 0, "init")
            .with(200, 1, "sh", |p| p.id.start_ticks = 500)
            .build(),
    );
    assert_eq!(tracker.len(), 2);
    let exit = at(
        5 * SEC + 7 * MS,
        KernelEvent::Exit {
            task: ids(200),
            exit_code: 0,
            exit_signal: 17,
            parent: Some(ids(1)),
        },
    );
    let event = apply(&mut tracker, exit, &Facts::default()).unwrap();
    assert!(matches!(
        event.kind,
        Kind::Exit { lifetime_ns: Some(ns), .. } if ns == 7 * MS
    ));
}

#[test]
fn uid_ptrace_and_sid_name_who_is_involved() {
    let mut tracker = seeded(false);
    let setuid = at(
        SEC,
        KernelEvent::Uid {
            task: ids(100),
            ruid: 1000,
            euid: 1000,
        },
    );
    assert_eq!(
        tracker.wants(&setuid.event).map(|w| (w.stat, w.user_of)),
        Some((false, Some(1000)))
    );
    let facts = Facts {
        user: Some("alice".into()),
        ..Facts::default()
    };
    let event = apply(&mut tracker, setuid, &facts).unwrap();
    assert_eq!(&*event.task.unwrap().user, "alice");

    let traced = at(
        2 * SEC,
        KernelEvent::Ptrace {
            task: ids(100),
            tracer: Some(thread(2, 1)),
        },
    );
    let event = apply(&mut tracker, traced, &Facts::default()).unwrap();
    assert!(matches!(
        event.kind,
        Kind::Ptrace { tracer: Some(ref t) } if t.pid == 1 && &*t.name == "init"
    ));
    let sid = at(3 * SEC, KernelEvent::Sid { task: ids(100) });
    let event = apply(&mut tracker, sid, &Facts::default()).unwrap();
    assert_eq!(event.kind, Kind::Sid);
    assert_eq!(event.parent.unwrap().pid, 1);
    assert_eq!(
        apply(
            &mut tracker,
            at(SEC, KernelEvent::Ack { err: 0 }),
            &Facts::default()
        ),
        None
    );
}
