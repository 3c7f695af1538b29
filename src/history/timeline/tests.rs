use std::collections::HashSet;

use super::*;
use crate::proc::builder::{SnapshotBuilder, id};
use crate::proc::events::ExitStatus;

const SEC: u64 = 1_000_000_000;

/// A scan at `at` seconds of processes `(pid, ppid, name, state)`, on a machine booted at 0 s
/// (so the builder's process `pid`, started `pid` ticks after boot, was born at `pid` / 100 s).
fn scan(timeline: &mut Timeline, at: f64, procs: &[(i32, i32, &str, State)]) {
    let mut builder = SnapshotBuilder::default().uptime(at);
    for &(pid, ppid, name, state) in procs {
        builder = builder.with(pid, ppid, name, |p| p.state = state);
    }
    timeline.observe_snapshot(secs(at), &builder.build());
}

fn secs(at: f64) -> u64 {
    (at * SEC as f64) as u64
}

/// Entry number `seq` about `pid`, told by `origin` at `at` seconds.
fn entry(seq: u64, at: f64, origin: Origin, kinds: Kinds, pid: i32, pair: Pair) -> Entry {
    let mut entry = Entry::new(secs(at), kinds, origin, "text").about(id(pid), Some(pair));
    entry.seq = seq;
    entry
}

/// The row's segments as `(from, to, letter, exact)` in seconds.
fn segments(timeline: &Timeline, pid: i32) -> Vec<(f64, Option<f64>, char, bool)> {
    let s = |ns: u64| ns as f64 / SEC as f64;
    timeline
        .row(id(pid))
        .expect("a row")
        .segments()
        .map(|seg| {
            (
                s(seg.from_ns),
                seg.to_ns.map(s),
                seg.state.letter(),
                seg.exact,
            )
        })
        .collect()
}

#[test]
fn each_change_of_state_a_scan_sees_opens_a_sampled_segment() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(10, 1, "sh", State::Sleeping)]);
    scan(&mut timeline, 2.0, &[(10, 1, "sh", State::Sleeping)]);
    scan(&mut timeline, 3.0, &[(10, 1, "sh", State::Running)]);
    assert_eq!(
        segments(&timeline, 10),
        [(1.0, Some(3.0), 'S', false), (3.0, None, 'R', false)]
    );
    let row = timeline.row(id(10)).unwrap();
    let born = row.born.expect("its start time from /proc");
    assert_eq!(
        (born.at_ns, born.exact),
        (secs(0.1), false),
        "to a clock tick"
    );
}

#[test]
fn a_kernel_fork_starts_the_childs_row_at_its_exact_time_and_marks_the_parent() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(10, 1, "sh", State::Sleeping)]);
    let fork = entry(1, 1.5, Origin::Kernel, Kinds::FORK, 11, Pair::Fork).parent(Some(id(10)));
    timeline.observe_entry(&fork);
    scan(
        &mut timeline,
        2.0,
        &[
            (10, 1, "sh", State::Sleeping),
            (11, 10, "ls", State::Sleeping),
        ],
    );
    assert_eq!(
        segments(&timeline, 11),
        [(1.5, Some(2.0), 'R', true), (2.0, None, 'S', false)]
    );
    let child = timeline.row(id(11)).unwrap();
    assert_eq!(child.parent, Some(id(10)));
    assert_eq!(child.name.as_ref(), "ls", "the latest name");
    assert_eq!(
        child.born,
        Some(Edge {
            at_ns: secs(1.5),
            exact: true
        })
    );
    let marks: Vec<&Mark> = timeline.row(id(10)).unwrap().marks().collect();
    assert_eq!(
        marks,
        [&Mark {
            at_ns: secs(1.5),
            exact: true,
            seq: 1,
            kind: MarkKind::Fork { child: id(11) }
        }]
    );
}

#[test]
fn an_exit_told_after_the_scan_that_saw_the_zombie_moves_the_zombie_back_to_when_it_began() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(10, 1, "sleep", State::Sleeping)]);
    scan(&mut timeline, 2.0, &[(10, 1, "sleep", State::Zombie)]);
    let exit = entry(1, 1.4, Origin::Kernel, Kinds::EXIT, 10, Pair::Exit)
        .fact(Fact::Ended(ExitStatus::Code(3)));
    timeline.observe_entry(&exit);
    assert_eq!(
        segments(&timeline, 10),
        [(1.0, Some(1.4), 'S', false), (1.4, None, 'Z', true)]
    );
    let mark = timeline.row(id(10)).unwrap().marks().next().cloned();
    assert_eq!(
        mark.map(|m| m.kind),
        Some(MarkKind::Exit {
            status: Some(ExitStatus::Code(3))
        })
    );
}

#[test]
fn a_reap_by_brood_ends_the_row_exactly_and_a_vanished_process_where_a_scan_noticed() {
    let mut timeline = Timeline::default();
    let both = [(10, 1, "a", State::Zombie), (20, 1, "b", State::Sleeping)];
    scan(&mut timeline, 1.0, &both);
    let reap = entry(1, 1.25, Origin::Brood, Kinds::EXIT, 10, Pair::Reap).parent(Some(id(1)));
    timeline.observe_entry(&reap);
    scan(&mut timeline, 2.0, &[]);
    let end = |pid| timeline.row(id(pid)).unwrap().end;
    assert_eq!(
        end(10),
        Some(Edge {
            at_ns: secs(1.25),
            exact: true
        })
    );
    assert_eq!(
        end(20),
        Some(Edge {
            at_ns: secs(2.0),
            exact: false
        })
    );
    assert_eq!(segments(&timeline, 20), [(1.0, Some(2.0), 'S', false)]);
    let reaped = timeline
        .row(id(10))
        .unwrap()
        .marks()
        .next()
        .map(|m| m.kind.clone());
    assert_eq!(
        reaped,
        Some(MarkKind::Reap {
            by: Some(id(1)),
            status: None
        })
    );
}

#[test]
fn a_zombie_no_scan_saw_ends_at_its_exit_not_at_the_next_scan() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(10, 1, "make", State::Sleeping)]);
    let fork = entry(1, 1.2, Origin::Kernel, Kinds::FORK, 11, Pair::Fork).parent(Some(id(10)));
    let exit = entry(2, 1.3, Origin::Kernel, Kinds::EXIT, 11, Pair::Exit);
    timeline.observe_entry(&fork);
    timeline.observe_entry(&exit);
    // The scan after may have read /proc before the fork: the row waits for one more.
    scan(&mut timeline, 2.0, &[(10, 1, "make", State::Sleeping)]);
    assert_eq!(timeline.row(id(11)).unwrap().end, None);
    scan(&mut timeline, 3.0, &[(10, 1, "make", State::Sleeping)]);
    assert_eq!(
        segments(&timeline, 11),
        [(1.2, Some(1.3), 'R', true), (1.3, Some(1.3), 'Z', true)]
    );
    assert_eq!(
        timeline.row(id(11)).unwrap().end,
        Some(Edge {
            at_ns: secs(1.3),
            exact: false
        })
    );
}

#[test]
fn a_fork_older_than_the_last_scan_starts_no_row() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 5.0, &[(10, 1, "sh", State::Sleeping)]);
    let old = entry(1, 1.0, Origin::Kernel, Kinds::FORK, 11, Pair::Fork).parent(Some(id(10)));
    timeline.observe_entry(&old);
    assert!(
        timeline.row(id(11)).is_none(),
        "gone before the scan, or seen by it"
    );
    assert_eq!(
        timeline.row(id(10)).unwrap().marks().count(),
        1,
        "the fork is marked"
    );
}

#[test]
fn an_amended_entry_moves_its_mark_instead_of_adding_one() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(10, 1, "sleep", State::Sleeping)]);
    scan(&mut timeline, 2.0, &[(10, 1, "sleep", State::Zombie)]);
    let seen = entry(7, 2.0, Origin::Scan, Kinds::EXIT, 10, Pair::Exit);
    timeline.observe_entry(&seen);
    let mut merged = entry(7, 1.6, Origin::Kernel, Kinds::EXIT, 10, Pair::Exit);
    merged.fact = Some(Fact::Ended(ExitStatus::Code(1)));
    timeline.observe_entry(&merged);
    let marks: Vec<Mark> = timeline.row(id(10)).unwrap().marks().cloned().collect();
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!((marks[0].at_ns, marks[0].exact), (secs(1.6), true));
    assert_eq!(segments(&timeline, 10)[1], (1.6, None, 'Z', true));
}

#[test]
fn signals_brood_sent_and_execs_are_marked_and_requests_are_not() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(10, 1, "sh", State::Sleeping)]);
    let sent = entry(1, 1.1, Origin::Asked, Kinds::SIGNAL, 10, Pair::Exit).fact(Fact::Signal(15));
    let asked = entry(2, 1.2, Origin::Asked, Kinds::EXIT, 10, Pair::Exit);
    let exec = entry(3, 1.3, Origin::Kernel, Kinds::EXEC, 10, Pair::exec("ls"))
        .fact(Fact::Exec("ls".into()));
    for e in [&sent, &asked, &exec] {
        timeline.observe_entry(e);
    }
    let kinds: Vec<MarkKind> = timeline
        .row(id(10))
        .unwrap()
        .marks()
        .map(|m| m.kind.clone())
        .collect();
    assert_eq!(
        kinds,
        [
            MarkKind::Signal { number: Some(15) },
            MarkKind::Exec {
                name: Some("ls".into())
            }
        ]
    );
    assert_eq!(timeline.row(id(10)).unwrap().name.as_ref(), "ls");
}

#[test]
fn rows_come_in_tree_order_and_only_those_of_the_window_and_the_set() {
    let mut timeline = Timeline::default();
    let s = State::Sleeping;
    scan(
        &mut timeline,
        1.0,
        &[
            (1, 0, "init", s),
            (5, 1, "a", s),
            (3, 1, "b", s),
            (7, 5, "c", s),
            (9, 1, "old", s),
        ],
    );
    scan(
        &mut timeline,
        2.0,
        &[
            (1, 0, "init", s),
            (5, 1, "a", s),
            (3, 1, "b", s),
            (7, 5, "c", s),
        ],
    );
    let listed = |lines: Vec<Line>| -> Vec<(i32, usize)> {
        lines.iter().map(|l| (l.row.id.pid, l.depth)).collect()
    };
    // Siblings by birth: the builder starts a process `pid` ticks after boot.
    assert_eq!(
        listed(timeline.rows(Which::All, secs(2.5)..secs(3.0))),
        [(1, 0), (3, 1), (5, 1), (7, 2)],
        "9 ended at 2 s, before the window"
    );
    assert_eq!(listed(timeline.rows(Which::All, 0..secs(3.0))).len(), 5);
    let some: HashSet<Identity> = [id(5), id(7)].into();
    assert_eq!(
        listed(timeline.rows(Which::These(&some), 0..u64::MAX)),
        [(5, 0), (7, 1)]
    );
    assert!(timeline.rows(Which::Lab, 0..u64::MAX).is_empty());
}

#[test]
fn the_state_at_any_instant_of_a_life_and_none_outside_it() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(10, 1, "x", State::Running)]);
    scan(&mut timeline, 2.0, &[(10, 1, "x", State::Stopped)]);
    scan(&mut timeline, 3.0, &[]);
    let at = |t| timeline.state_at(id(10), secs(t)).map(|c| c.state);
    assert_eq!(at(0.5), None);
    assert_eq!(at(1.0), Some(State::Running));
    assert_eq!(at(1.99), Some(State::Running));
    assert_eq!(at(2.5), Some(State::Stopped));
    assert_eq!(at(3.0), None, "gone");
    assert_eq!(
        timeline.span(),
        Some((secs(0.1), secs(3.0))),
        "from its birth"
    );
}

#[test]
fn threads_have_no_rows() {
    let mut timeline = Timeline::default();
    let snapshot = SnapshotBuilder::default()
        .proc(10, 1, "app")
        .with(11, 10, "worker", |p| p.kind = TaskKind::Thread)
        .build();
    timeline.observe_snapshot(SEC, &snapshot);
    assert_eq!(timeline.len(), 1);
}

#[test]
fn memory_stays_in_its_budget_oldest_first_and_the_machine_never_pushes_the_lab_out() {
    let budget = 64 << 10;
    let mut timeline = Timeline::with_budgets(budget, budget);
    let lab = entry(1, 0.5, Origin::Brood, Kinds::FORK, 500, Pair::Fork).lab(true);
    timeline.observe_entry(&lab);
    // 200 machine processes flapping between R and S every scan, for 500 scans.
    for n in 0..500u32 {
        let state = if n % 2 == 0 {
            State::Running
        } else {
            State::Sleeping
        };
        let mut procs: Vec<(i32, i32, &str, State)> =
            (100..300).map(|pid| (pid, 1, "busy", state)).collect();
        procs.push((
            500,
            1,
            "brood-lab",
            if n < 10 { state } else { State::Sleeping },
        ));
        scan(&mut timeline, 1.0 + f64::from(n), &procs);
    }
    let live_floor = 201 * (ROW_BYTES + CHANGE_BYTES);
    assert!(
        timeline.bytes() <= 2 * budget + live_floor,
        "{} bytes",
        timeline.bytes()
    );
    let machine = timeline.row(id(150)).unwrap();
    assert!(machine.trimmed, "the oldest changes went");
    assert_eq!(machine.state_at(secs(2.0)), None);
    assert!(machine.state_at(secs(500.0)).is_some(), "the newest stayed");
    let lab = timeline.row(id(500)).unwrap();
    assert!(lab.lab && !lab.trimmed, "the lab's row is whole");
    assert_eq!(lab.segments().next().map(|s| s.from_ns), Some(secs(0.5)));
}

#[test]
fn rows_of_processes_long_gone_go_whole_when_memory_runs_short() {
    let budget = 64 << 10;
    let mut timeline = Timeline::with_budgets(budget, budget);
    // 5 000 short lives, one scan each.
    for n in 0..5_000 {
        let pid = 1_000 + n;
        scan(
            &mut timeline,
            f64::from(n),
            &[(pid, 1, "true", State::Running)],
        );
    }
    assert!(timeline.bytes() <= budget + ROW_BYTES + CHANGE_BYTES);
    assert!(timeline.len() < 1_000, "{} rows kept", timeline.len());
    assert!(timeline.row(id(5_999)).is_some(), "the newest stay");
    assert!(timeline.row(id(1_000)).is_none(), "the oldest went");
}

#[test]
fn a_fork_told_after_a_scan_whose_coarse_clock_reads_earlier_starts_nothing_after_it() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(10, 1, "sh", State::Sleeping)]);
    // /proc/uptime counts hundredths: the scan that saw the child reads 2.00 s, its fork 2.003.
    scan(
        &mut timeline,
        2.0,
        &[
            (10, 1, "sh", State::Sleeping),
            (11, 10, "sh", State::Sleeping),
        ],
    );
    let fork = entry(1, 2.003, Origin::Kernel, Kinds::FORK, 11, Pair::Fork).parent(Some(id(10)));
    timeline.observe_entry(&fork);
    assert_eq!(segments(&timeline, 11), [(2.0, None, 'S', false)]);
    let child = timeline.row(id(11)).unwrap();
    assert_eq!(
        child.born,
        Some(Edge {
            at_ns: secs(2.003),
            exact: true
        })
    );
}

#[test]
fn a_birth_a_scan_noticed_leaves_the_start_time_proc_gave() {
    let mut timeline = Timeline::default();
    scan(&mut timeline, 1.0, &[(1, 0, "init", State::Sleeping)]);
    scan(
        &mut timeline,
        2.0,
        &[
            (1, 0, "init", State::Sleeping),
            (50, 1, "cron", State::Sleeping),
        ],
    );
    let appeared = entry(1, 2.01, Origin::Scan, Kinds::FORK, 50, Pair::Fork).parent(Some(id(1)));
    timeline.observe_entry(&appeared);
    let born = timeline.row(id(50)).unwrap().born;
    assert_eq!(
        born,
        Some(Edge {
            at_ns: secs(0.5),
            exact: false
        }),
        "its start, to a tick"
    );
}

#[test]
fn a_sleep_takes_the_wait_a_sweep_read_and_a_new_wait_is_a_change_of_its_own() {
    use crate::proc::wchan::WaitKind;
    let mut timeline = Timeline::default();
    let sleeping = [(10, 1, "sh", State::Sleeping)];
    scan(&mut timeline, 1.0, &sleeping);
    scan(&mut timeline, 2.0, &sleeping);
    timeline.observe_waits([(id(10), WaitKind::PipeRead)]);
    scan(&mut timeline, 3.0, &sleeping);
    timeline.observe_waits([(id(10), WaitKind::PipeRead)]);
    scan(&mut timeline, 4.0, &sleeping);
    timeline.observe_waits([(id(10), WaitKind::Child)]);
    let waits: Vec<_> = timeline
        .row(id(10))
        .unwrap()
        .segments()
        .map(|s| (s.from_ns / SEC, s.state.letter(), s.wait, s.exact))
        .collect();
    assert_eq!(
        waits,
        [
            (1, 'S', Some(WaitKind::PipeRead), false),
            (4, 'S', Some(WaitKind::Child), false)
        ],
        "the first wait is the sleep's from its start; another is a change, sampled"
    );
    // A process that runs has no wait to take, nor one whose PID another process holds now.
    scan(&mut timeline, 5.0, &[(10, 1, "sh", State::Running)]);
    timeline.observe_waits([(id(10), WaitKind::Futex)]);
    let row = timeline.row(id(10)).unwrap();
    assert_eq!(row.state_at(secs(5.5)).unwrap().wait, None);
    let stranger = Identity {
        pid: 10,
        start_ticks: 999,
    };
    timeline.observe_waits([(stranger, WaitKind::Futex)]);
    assert_eq!(timeline.row(id(10)).unwrap().segments().count(), 3);
}
