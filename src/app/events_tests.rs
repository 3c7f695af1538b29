//! The kernel's process events taken in: the tree told before the next scan, the lab's members,
//! one line for a request and what it did, and the lab's history kept apart.

use super::tests::{feed, lab_machine, lab_tree, press, selected_pid, shown_log};
use super::*;
use crate::lab::protocol::{Reply, Request};
use crate::message::{Outcome, SignalScope};
use crate::proc::State;
use crate::proc::builder::id;
use crate::proc::events::{ExitStatus, Kind, ProcEvent, Source, Stamp, Task, TaskRef};
use nix::sys::signal::Signal;

fn task(pid: Pid, name: &str) -> Task {
    Task {
        pid,
        tgid: pid,
        start_ticks: Some(pid as u64),
        start_estimated: false,
        name: name.into(),
        cmdline: format!("{name} --now").into(),
        uid: Some(1000),
        user: "alice".into(),
    }
}

fn parent(pid: Pid, name: &str) -> Option<TaskRef> {
    Some(TaskRef {
        pid,
        start_ticks: Some(pid as u64),
        name: name.into(),
    })
}

fn kernel(kind: Kind, task: Task, parent: Option<TaskRef>) -> ProcEvent {
    ProcEvent {
        at: Stamp {
            boot_ns: 1,
            unix_ns: 1_700_000_000_000_000_000,
        },
        source: Source::Kernel,
        kind,
        task: Some(task),
        parent,
    }
}

fn exit(pid: Pid, name: &str, status: ExitStatus, parent_of: Option<TaskRef>) -> ProcEvent {
    let kind = Kind::Exit {
        status: Some(status),
        lifetime_ns: Some(3_000_000_000),
    };
    kernel(kind, task(pid, name), parent_of)
}

fn send(app: &mut App, batch: Vec<ProcEvent>) {
    app.update(Event::ProcEvents(batch));
}

fn state_of(app: &App, pid: Pid) -> Option<State> {
    app.proc_by_pid(pid).map(|p| p.state)
}

#[test]
fn a_fork_is_in_the_tree_before_the_next_scan_an_exec_renames_an_exit_marks() {
    let mut app = lab_machine();
    send(
        &mut app,
        vec![kernel(
            Kind::Fork,
            task(301, "stranger"),
            parent(300, "stranger"),
        )],
    );
    let child = app.proc_by_pid(301).expect("added at once");
    assert_eq!((child.ppid, child.state), (300, State::Running));
    assert!(
        app.rows
            .iter()
            .any(|r| app.snapshot.procs[r.proc_index].pid() == 301),
        "shown in the tree"
    );
    let exec = Kind::Exec {
        previous_name: "stranger".into(),
    };
    send(
        &mut app,
        vec![kernel(exec, task(301, "true"), parent(300, "stranger"))],
    );
    assert_eq!(app.proc_by_pid(301).unwrap().name.as_ref(), "true");
    send(
        &mut app,
        vec![exit(
            301,
            "true",
            ExitStatus::Code(0),
            parent(300, "stranger"),
        )],
    );
    assert_eq!(state_of(&app, 301), Some(State::Dead), "marked as exited");
    // The scan is the truth: 301 is gone.
    feed(&mut app, lab_tree().proc(300, 1, "stranger").build());
    assert_eq!(state_of(&app, 301), None);
    let lines = shown_log(&app);
    let about: Vec<&String> = lines.iter().filter(|l| l.contains("301")).collect();
    assert_eq!(about.len(), 3, "fork, exec and exit, each once: {lines:?}");
    assert!(
        about[2].starts_with("301 (true) exited with code 0 after 3.00 s; parent 300 (stranger)")
    );
}

#[test]
fn a_child_forked_by_a_lab_process_is_the_labs() {
    let mut app = lab_machine();
    send(
        &mut app,
        vec![kernel(
            Kind::Fork,
            task(202, "brood-lab"),
            parent(200, "brood-lab"),
        )],
    );
    assert!(app.lab.contains(id(202)));
    press(&mut app, 'L');
    assert!(
        shown_log(&app)
            .iter()
            .any(|l| l == "200 (brood-lab) forked 202")
    );
}

#[test]
fn a_kill_and_the_exit_it_caused_are_one_line() {
    let mut app = lab_machine();
    let target = Target::of(app.proc_by_pid(200).unwrap());
    app.update(Event::Done(Outcome::Signalled {
        signal: Signal::SIGKILL,
        scope: SignalScope::Process,
        results: vec![(target, Ok(()))],
    }));
    send(
        &mut app,
        vec![exit(
            200,
            "brood-lab",
            ExitStatus::Signal {
                number: 9,
                core_dumped: false,
            },
            parent(100, "brood"),
        )],
    );
    let next = lab_tree()
        .with(200, 100, "brood-lab", |p| {
            p.pgrp = 200;
            p.state = State::Zombie;
        })
        .build();
    feed(&mut app, next);
    let lines: Vec<String> = shown_log(&app)
        .into_iter()
        .filter(|l| l.contains("200") && !l.contains("started") && !l.contains("fork"))
        .collect();
    assert_eq!(
        lines,
        [
            "200 (brood-lab) was killed by SIGKILL after 3.00 s — brood sent SIGKILL; a zombie until its parent 100 (brood) waits for it"
        ]
    );
}

#[test]
fn an_exit_brood_asked_for_is_one_line_with_what_followed() {
    let mut app = lab_machine();
    app.update(Event::Done(Outcome::LabReply {
        target: id(200),
        request: Request::Exit(3),
        reply: Ok(Reply::Ok(200)),
    }));
    let asked: Vec<String> = shown_log(&app);
    assert!(
        asked
            .last()
            .unwrap()
            .starts_with("brood asked 200 to exit with code 3")
    );
    send(
        &mut app,
        vec![exit(
            200,
            "brood-lab",
            ExitStatus::Code(3),
            parent(100, "brood"),
        )],
    );
    let last = shown_log(&app).pop().unwrap();
    assert_eq!(
        last,
        "200 (brood-lab) exited with code 3 after 3.00 s — brood asked it to; parent 100 (brood)"
    );
}

#[test]
fn kernel_threads_are_logged_only_when_shown() {
    let mut app = lab_machine();
    let machine = lab_tree()
        .proc(300, 1, "stranger")
        .with(2, 0, "kthreadd", |p| {
            p.kind = crate::proc::TaskKind::KernelThread
        })
        .build();
    feed(&mut app, machine);
    let before = app.history.len();
    send(
        &mut app,
        vec![kernel(
            Kind::Fork,
            task(400, "kworker/0:1"),
            parent(2, "kthreadd"),
        )],
    );
    assert_eq!(app.history.len(), before);
    press(&mut app, 'K');
    send(
        &mut app,
        vec![kernel(
            Kind::Fork,
            task(401, "kworker/0:2"),
            parent(2, "kthreadd"),
        )],
    );
    assert_eq!(app.history.len(), before + 1);
}

#[test]
fn events_from_scans_are_said_once_and_lost_events_are_counted() {
    let mut app = lab_machine();
    let notice = |source| {
        ProcEvent::notice(
            Stamp::default(),
            source,
            "events from scans every 1.00 s: processes shorter than a refresh are not seen".into(),
        )
    };
    send(&mut app, vec![notice(Source::Scan)]);
    assert_eq!(app.events.source, Some(Source::Scan));
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("shorter than a refresh")
    );
    app.status = None;
    send(&mut app, vec![notice(Source::Scan)]);
    assert!(app.status.is_none(), "said once");
    send(
        &mut app,
        vec![ProcEvent::dropped(Stamp::default(), Some(12))],
    );
    assert_eq!(app.events.dropped, 12);
    assert!(
        shown_log(&app)
            .iter()
            .any(|l| l.starts_with("12 events lost"))
    );
}

#[test]
fn the_labs_history_survives_ten_thousand_other_events() {
    let mut app = lab_machine();
    press(&mut app, 'L');
    let lab_before = shown_log(&app);
    assert!(!lab_before.is_empty());
    for n in 0..10_000 {
        let pid = 10_000 + n;
        send(
            &mut app,
            vec![exit(
                pid,
                "busy",
                ExitStatus::Code(0),
                parent(300, "stranger"),
            )],
        );
    }
    assert_eq!(shown_log(&app), lab_before);
}

#[test]
fn a_program_that_renames_itself_as_it_starts_is_one_line_with_its_exec() {
    let mut app = lab_machine();
    let exec = Kind::Exec {
        previous_name: "stranger".into(),
    };
    send(
        &mut app,
        vec![kernel(exec, task(300, "exe"), parent(1, "init"))],
    );
    let comm = |from: &str| Kind::Comm {
        previous_name: from.into(),
    };
    send(
        &mut app,
        vec![kernel(comm("exe"), task(300, "worker"), parent(1, "init"))],
    );
    // Renamed again to the same name (read after the rename): nothing new.
    send(
        &mut app,
        vec![kernel(
            comm("worker"),
            task(300, "worker"),
            parent(1, "init"),
        )],
    );
    let about: Vec<String> = shown_log(&app)
        .into_iter()
        .filter(|l| l.starts_with("300 "))
        .collect();
    assert_eq!(
        about,
        ["300 exec'd exe: exe --now (was stranger); renamed itself worker"]
    );
    assert_eq!(app.proc_by_pid(300).unwrap().name.as_ref(), "worker");
}

#[test]
fn a_lab_process_just_started_is_selected_once_its_fork_is_seen_before_any_scan() {
    let mut app = lab_machine();
    press(&mut app, 'L');
    app.update(Event::Done(Outcome::Spawned {
        id: id(202),
        guard: Some(id(150)),
    }));
    send(
        &mut app,
        vec![kernel(Kind::Fork, task(202, "brood"), parent(100, "brood"))],
    );
    assert_eq!(selected_pid(&app), Some(202), "f now forks the new process");
}
