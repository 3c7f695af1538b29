//! The app's lab decisions on hand-built snapshots: lab keys, signals and their confirmations,
//! the quit dialog, the lab view and deadlocks.

use super::tests::{
    app_with, feed, key, lab_machine, lab_tree, press, selected_pid, shown_log, sized_app, tree,
};
use super::*;
use crate::lab::protocol::Request;
use crate::message::SignalScope;
use crate::proc::State;
use crate::proc::builder::{SnapshotBuilder, id};
use crossterm::event::KeyEvent;
use crossterm::event::{KeyCode, KeyModifiers};
use nix::sys::signal::Signal;

#[test]
fn a_lab_process_just_started_is_selected_once_a_scan_shows_it() {
    let mut app = sized_app(100);
    feed(
        &mut app,
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(100, 1, "brood")
            .build(),
    );
    assert_eq!(selected_pid(&app), Some(100));
    app.update(Event::Done(crate::message::Outcome::Spawned {
        id: id(200),
        guard: Some(id(150)),
    }));
    assert_eq!(selected_pid(&app), Some(100), "not before a scan shows it");
    feed(&mut app, lab_tree().build());
    assert_eq!(selected_pid(&app), Some(200));
    assert_eq!(
        press(&mut app, 'f'),
        vec![Effect::Lab {
            target: id(200),
            request: Request::Fork
        }]
    );
    // Later scans leave the selection where the user puts it.
    app.select_pid(100);
    feed(&mut app, lab_tree().build());
    assert_eq!(selected_pid(&app), Some(100));
}

#[test]
fn lab_keys_ask_for_lab_effects_and_refuse_strangers() {
    let mut app = lab_machine();
    assert_eq!(press(&mut app, 'n'), vec![Effect::Spawn]);
    app.select_pid(200);
    assert_eq!(
        press(&mut app, 'f'),
        vec![Effect::Lab {
            target: id(200),
            request: Request::Fork
        }]
    );
    assert!(press(&mut app, 'w').is_empty(), "one request at a time");
    assert!(
        app.status
            .as_ref()
            .is_some_and(|s| s.text.contains("has not answered its last request yet")),
        "{:?}",
        app.status
    );
    app.update(Event::Done(crate::message::Outcome::LabReply {
        target: id(200),
        request: Request::Fork,
        reply: Ok(crate::lab::protocol::Reply::Forked(id(202))),
    }));
    assert_eq!(
        press(&mut app, 'w'),
        vec![Effect::Lab {
            target: id(200),
            request: Request::Wait
        }]
    );
    app.select_pid(300);
    assert!(press(&mut app, 'f').is_empty());
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("not a lab process")
    );
}

#[test]
fn wait_on_a_zombie_asks_its_parent_to_reap_it() {
    let mut app = lab_machine();
    app.select_pid(201);
    assert_eq!(
        press(&mut app, 'w'),
        vec![Effect::Lab {
            target: id(200),
            request: Request::Reap(201)
        }]
    );
    app.select_pid(100);
    assert_eq!(press(&mut app, 'w'), vec![Effect::ReapOwn(None)]);
}

/// Zombies whose parents brood cannot make wait: PID 1, a process of the user's, one of root's.
/// `w` says who can reap each and what the user can do, and asks nothing it cannot get.
#[test]
fn wait_on_a_zombie_brood_cannot_have_reaped_says_who_can_and_what_to_do() {
    let snapshot = SnapshotBuilder::default()
        .with(1, 0, "process_api", |p| p.uid = Some(0))
        .proc(100, 1, "brood")
        .with(301, 1, "defunct", |p| p.state = State::Zombie)
        .with(400, 1, "make", |p| p.uid = Some(1000))
        .with(401, 400, "cc", |p| p.state = State::Zombie)
        .with(500, 1, "cron", |p| {
            p.uid = Some(0);
            p.user = "root".into();
        })
        .with(501, 500, "job", |p| p.state = State::Zombie)
        .build();
    let mut app = sized_app(100);
    app.my_uid = 1000;
    feed(&mut app, snapshot);
    let mut said = |pid| {
        app.select_pid(pid);
        assert_eq!(
            press(&mut app, 'w'),
            vec![],
            "nothing brood could do for {pid}"
        );
        app.status
            .as_ref()
            .map(|s| s.text.clone())
            .unwrap_or_default()
    };
    let under_init = said(301);
    assert!(
        under_init.starts_with("zombie 301: its parent is PID 1 (process_api), which reaps")
            && under_init.ends_with("Nothing to do but wait"),
        "{under_init}"
    );
    let under_mine = said(401);
    assert!(
        under_mine.contains("only its parent 400 (make) can reap it")
            && under_mine.contains("end the parent (s on its row)"),
        "{under_mine}"
    );
    let under_roots = said(501);
    assert!(
        under_roots.contains("belongs to root and you may not signal it: nothing to do but wait"),
        "{under_roots}"
    );
}

#[test]
fn sigkill_to_a_zombie_says_it_changes_nothing_and_who_can_reap_it() {
    let mut app = lab_machine();
    let zombie = Target::of(app.proc_by_pid(201).unwrap());
    app.update(Event::Done(crate::message::Outcome::Signalled {
        signal: Signal::SIGKILL,
        scope: SignalScope::Process,
        results: vec![(zombie, Ok(()))],
    }));
    let text = app
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert_eq!(
        text,
        "sent SIGKILL to 201 (brood-lab), which changes nothing: a zombie is already dead; its parent 200 (brood-lab) is a lab process: w makes it reap it"
    );
}

#[test]
fn exit_asks_for_a_code_then_sends_it() {
    let mut app = lab_machine();
    app.select_pid(200);
    assert!(press(&mut app, 'x').is_empty());
    assert!(matches!(app.overlay, Some(Overlay::ExitCode { .. })));
    press(&mut app, '4');
    press(&mut app, '2');
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::Lab {
            target: id(200),
            request: Request::Exit(42)
        }]
    );
    assert_eq!(app.overlay, None);
}

#[test]
fn signal_menu_preselects_sigterm_and_confirms_only_for_processes_brood_did_not_start() {
    let mut app = lab_machine();
    app.select_pid(200);
    let effects = press(&mut app, 's');
    assert!(matches!(effects.as_slice(), [Effect::ReadDispositions(id)] if id.pid == 200));
    let Some(Overlay::SignalMenu(menu)) = &app.overlay else {
        panic!("no menu")
    };
    assert_eq!(menu.signal().map(|s| s.name()), Some("SIGTERM"));
    let sent = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(
            sent.as_slice(),
            [Effect::Signal {
                signal: Signal::SIGTERM,
                ..
            }]
        ),
        "lab: no confirmation"
    );

    app.select_pid(300);
    press(&mut app, 's');
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let Some(Overlay::Confirm { question, .. }) = &app.overlay else {
        panic!("no confirmation")
    };
    assert!(question.iter().any(|line| line.contains("300 (stranger)")));
    assert!(matches!(
        press(&mut app, 'y').as_slice(),
        [Effect::Signal {
            signal: Signal::SIGTERM,
            ..
        }]
    ));

    // SIGCONT cannot hurt a stranger: no confirmation. PID 1 always asks.
    assert!(matches!(
        press(&mut app, 'C').as_slice(),
        [Effect::Signal {
            signal: Signal::SIGCONT,
            ..
        }]
    ));
    app.select_pid(1);
    assert!(press(&mut app, 'C').is_empty());
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    press(&mut app, 'n');
    assert_eq!(app.overlay, None);
}

#[test]
fn tab_in_the_signal_menu_widens_the_scope_and_always_confirms() {
    let mut app = lab_machine();
    app.select_pid(200);
    press(&mut app, 's');
    key(&mut app, KeyCode::Tab);
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let Some(Overlay::Confirm { effect, question }) = &app.overlay else {
        panic!("no confirmation")
    };
    assert!(matches!(
        effect,
        Effect::Signal {
            scope: SignalScope::Subtree,
            ..
        }
    ));
    assert_eq!(
        question[..3],
        [
            "Send SIGTERM (15) to 2 processes: 200 (brood-lab) and its 1 descendant:",
            "  200 (brood-lab)",
            "  201 (brood-lab)"
        ]
    );

    // The group: named, and counted as the runtime will find it.
    key(&mut app, KeyCode::Esc);
    press(&mut app, 's');
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Enter);
    let Some(Overlay::Confirm { question, .. }) = &app.overlay else {
        panic!("no confirmation")
    };
    assert_eq!(
        question[0], "Send SIGTERM (15) to group 200 (2 processes):",
        "{question:?}"
    );

    // A subtree holding brood: brood and its ancestors are left out, and the text says so.
    key(&mut app, KeyCode::Esc);
    app.select_pid(1);
    press(&mut app, 's');
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Enter);
    let Some(Overlay::Confirm { question, .. }) = &app.overlay else {
        panic!("no confirmation")
    };
    assert_eq!(
        question[0], "Send SIGTERM (15) to 3 processes: 3 descendants of 1 (init):",
        "{question:?}"
    );
    assert!(
        question.iter().any(|l| l.starts_with("Left out: brood")),
        "{question:?}"
    );
}

#[test]
fn quitting_with_lab_processes_asks_whether_to_leave_them_running() {
    let mut app = lab_machine();
    press(&mut app, 'q');
    assert_eq!(
        app.overlay,
        Some(Overlay::Quit(QuitDialog {
            processes: 2,
            zombies: 1,
            stopped: Vec::new(),
        }))
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!((&app.exit, &app.overlay), (&None, &None));
    press(&mut app, 'q');
    press(&mut app, 'l');
    assert_eq!(
        app.exit,
        Some(Exit::Quit {
            leave_running: true
        })
    );

    let mut app = lab_machine();
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(
        app.exit,
        Some(Exit::Quit {
            leave_running: false
        }),
        "Ctrl-C quits at once"
    );
}

#[test]
fn the_quit_dialog_says_what_the_lab_is_now() {
    let mut app = lab_machine();
    press(&mut app, 'q');
    // The worker ends while the question is open: one zombie more, nobody running.
    let worker_exited = SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(100, 1, "brood")
        .with(200, 100, "brood-lab", |p| {
            p.pgrp = 200;
            p.state = State::Zombie;
        })
        .with(201, 200, "brood-lab", |p| {
            p.pgrp = 200;
            p.state = State::Zombie;
        })
        .build();
    feed(&mut app, worker_exited);
    let Some(Overlay::Quit(dialog)) = &app.overlay else {
        panic!("the dialog stays open: {:?}", app.overlay);
    };
    assert_eq!((dialog.processes, dialog.zombies), (2, 2));
    // Everything reaped: nothing is left to ask about.
    feed(
        &mut app,
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(100, 1, "brood")
            .build(),
    );
    assert_eq!(app.overlay, None);
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("the lab has ended")
    );
    assert_eq!(app.exit, None, "quitting is still the user's to ask");
}

#[test]
fn lab_view_shows_brood_and_its_lab_only() {
    let mut app = lab_machine();
    press(&mut app, 'L');
    let pids: Vec<Pid> = app
        .rows
        .iter()
        .map(|r| app.snapshot.procs[r.proc_index].pid())
        .collect();
    assert_eq!(pids, vec![100, 200, 201]);
}

#[test]
fn log_entries_say_whether_they_are_about_the_lab() {
    let mut app = lab_machine();
    let next = lab_tree()
        .with(202, 200, "brood-lab", |p| p.pgrp = 200)
        .proc(300, 1, "stranger")
        .proc(301, 300, "stranger-child")
        .build();
    feed(&mut app, next);
    let about = |pid: &str| {
        app.history
            .entries(false)
            .find(|e| e.text.starts_with(pid))
            .map(|e| e.lab)
    };
    assert_eq!(about("202 "), Some(true), "a new lab process");
    assert_eq!(about("301 "), Some(false), "a stranger's child");
}

/// 10 and 11 read each other's pipe (a deadlock), as a sweep of `snapshot` would find them.
fn deadlocked(snapshot: &Snapshot) -> IpcState {
    crate::proc::builder::pipe_deadlock(snapshot, 10, 11)
}

fn deadlock_lines(app: &App) -> Vec<String> {
    shown_log(app)
        .into_iter()
        .filter(|line| line.starts_with("deadlock"))
        .collect()
}

#[test]
fn a_deadlock_is_told_once_when_it_forms_and_once_when_it_breaks() {
    let pair = tree;
    let mut app = app_with(pair().build());
    app.update(Event::Ipc(Box::new(deadlocked(&app.snapshot))));
    assert!(app.in_deadlock(app.snapshot.procs[1].id));
    // A later sweep that misses it (descriptors unreadable that time) while both still sleep.
    app.update(Event::Ipc(Box::default()));
    app.update(Event::Ipc(Box::new(deadlocked(&app.snapshot))));
    feed(&mut app, pair().build());
    assert_eq!(deadlock_lines(&app).len(), 1, "{:?}", deadlock_lines(&app));
    // 11 is killed, and PID 11 goes to another process: the deadlock is broken, and the badge
    // does not land on the newcomer.
    let reused = SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(10, 1, "a")
        .with(11, 10, "newcomer", |p| p.id.start_ticks = 999)
        .proc(20, 1, "b")
        .build();
    feed(&mut app, reused);
    let lines = deadlock_lines(&app);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1], "deadlock broken: 10, 11");
    let newcomer = app.snapshot.procs.iter().find(|p| p.pid() == 11).unwrap();
    assert!(!app.in_deadlock(newcomer.id));
    // A sweep of the new processes finds nothing of the old pair.
    app.update(Event::Ipc(Box::default()));
    assert!(app.deadlocks.is_empty());
}

#[test]
fn deadlocks_outside_the_lab_stay_out_of_the_lab_views_log() {
    let mut app = app_with(tree().build());
    app.update(Event::Ipc(Box::new(deadlocked(&app.snapshot))));
    let entry = app
        .history
        .entries(false)
        .find(|e| e.text.starts_with("deadlock"))
        .expect("logged");
    assert!(!entry.lab, "10 and 11 are not the lab's");
}
