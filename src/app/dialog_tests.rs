//! Popups and their keys: Esc, the help, the quit dialog, remapped dialog keys.

use super::*;
use crate::lab::protocol::Reply;
use crate::message::Outcome;
use crate::proc::State;
use crate::proc::builder::{SnapshotBuilder, id};
use crossterm::event::KeyEvent;
use crossterm::event::{KeyCode, KeyModifiers};
use nix::sys::signal::Signal;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn press(app: &mut App, c: char) -> Vec<Effect> {
    key(app, KeyCode::Char(c))
}

fn app() -> App {
    let mut app = App::new(Settings::new(100));
    app.update(Event::Resize {
        width: 100,
        height: 30,
    });
    app
}

#[test]
fn esc_closes_what_was_opened_last_and_never_quits() {
    let mut app = app();
    for c in ['e', 'i', 'd'] {
        press(&mut app, c);
    }
    assert!(app.show_log && app.show_ipc && app.show_details);
    key(&mut app, KeyCode::Esc);
    assert!(!app.show_details && app.show_ipc);
    assert_eq!(
        key(&mut app, KeyCode::Esc),
        vec![Effect::Collector(CollectorCommand::IpcLinks(false))]
    );
    key(&mut app, KeyCode::Esc);
    assert!(!app.show_log);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.exit, None, "Esc never quits");
    assert!(
        app.status
            .as_ref()
            .is_some_and(|s| s.text == "nothing to close; q quits")
    );
    press(&mut app, 'q');
    assert!(app.exit.is_some(), "q does");
}

#[test]
fn the_help_scrolls_to_its_last_line_and_no_further() {
    let mut app = app();
    press(&mut app, '?');
    key(&mut app, KeyCode::End);
    let Some(Overlay::Help { scroll: last }) = app.overlay else {
        panic!("no help")
    };
    assert!(last > 0);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.overlay, Some(Overlay::Help { scroll: last }));
    key(&mut app, KeyCode::Up);
    assert_eq!(app.overlay, Some(Overlay::Help { scroll: last - 1 }));
    press(&mut app, '?');
    assert_eq!(app.overlay, None, "the key that opened it closes it");
}

#[test]
fn help_opened_on_the_full_log_starts_at_its_keys() {
    let mut app = app();
    press(&mut app, 'v');
    press(&mut app, '?');
    let Some(Overlay::Help { scroll }) = app.overlay else {
        panic!("no help")
    };
    let rows = help::rows(&app.keymap);
    assert_eq!(
        rows[usize::from(scroll)],
        help::HelpRow::Heading("In the full-screen event log")
    );
    press(&mut app, '?');
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.page, Page::Tree, "Esc leaves the full log");
}

#[test]
fn quitting_can_continue_the_stopped_lab_processes_then_leave_them_running() {
    let mut app = app();
    app.update(Event::Done(Outcome::Spawned {
        id: id(200),
        guard: None,
    }));
    app.update(Event::Done(Outcome::LabReply {
        target: id(200),
        request: crate::lab::protocol::Request::Fork,
        reply: Ok(Reply::Forked(id(201))),
    }));
    let snapshot = SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(100, 1, "brood")
        .proc(200, 100, "brood-lab")
        .with(201, 200, "brood-lab", |p| p.state = State::Stopped)
        .build();
    app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
    press(&mut app, 'q');
    let Some(Overlay::Quit(dialog)) = &app.overlay else {
        panic!("no quit dialog")
    };
    assert_eq!(dialog.stopped.len(), 1);
    let effects = press(&mut app, 'c');
    assert!(
        matches!(&effects[..], [Effect::Signal { signal: Signal::SIGCONT, targets, .. }] if targets[0].id == id(201)),
        "{effects:?}"
    );
    assert_eq!(app.exit, None, "not before they run again");
    app.update(Event::Done(Outcome::Signalled {
        signal: Signal::SIGCONT,
        scope: crate::message::SignalScope::Process,
        results: vec![(dialog_target(), Ok(()))],
    }));
    assert_eq!(
        app.exit,
        Some(Exit::Quit {
            leave_running: true
        })
    );
}

fn dialog_target() -> Target {
    Target {
        id: id(201),
        name: "brood-lab".into(),
        group: 200,
    }
}

#[test]
fn dialog_keys_come_from_the_key_table() {
    let mut names = crate::app::keymap::default_names();
    names
        .layer_mut(Some("confirm"))
        .unwrap()
        .set("yes", vec!["Y".to_string()]);
    let mut app = App::new(Settings {
        keymap: Keymap::build(&names).unwrap(),
        ..Settings::new(100)
    });
    app.update(Event::Snapshot(
        Box::new(
            SnapshotBuilder::default()
                .proc(1, 0, "init")
                .proc(100, 1, "brood")
                .proc(300, 1, "stranger")
                .build(),
        ),
        SystemStats::default(),
    ));
    app.select_pid(300);
    press(&mut app, 'X');
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    assert!(press(&mut app, 'y').is_empty(), "y is no longer yes");
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    assert!(matches!(
        &press(&mut app, 'Y')[..],
        [Effect::Signal {
            signal: Signal::SIGKILL,
            ..
        }]
    ));
}

/// brood (100) alone on screen, selected.
fn brood_selected(job_control: bool) -> App {
    let mut app = App::new(Settings {
        job_control,
        ..Settings::new(100)
    });
    app.update(Event::Snapshot(
        Box::new(
            SnapshotBuilder::default()
                .proc(1, 0, "init")
                .proc(100, 1, "brood")
                .build(),
        ),
        SystemStats::default(),
    ));
    app.select_pid(100);
    app
}

#[test]
fn stopping_brood_itself_suspends_it_the_proper_way_or_says_why_not() {
    let mut app = brood_selected(true);
    assert_eq!(press(&mut app, 'T'), vec![Effect::Suspend]);
    let mut app = brood_selected(false);
    assert!(press(&mut app, 'T').is_empty());
    assert!(
        app.status
            .as_ref()
            .is_some_and(|s| s.text.contains("not suspended"))
    );
}

#[test]
fn killing_brood_itself_gives_the_terminal_back_first_then_raises_the_signal() {
    let mut app = brood_selected(true);
    assert!(press(&mut app, 'X').is_empty());
    assert!(matches!(app.overlay, Some(Overlay::Confirm { .. })));
    assert!(press(&mut app, 'y').is_empty(), "not sent as is");
    assert_eq!(app.exit, Some(Exit::Raise(9)));
}

#[test]
fn a_terminal_whose_input_is_lost_ends_brood_with_the_reason() {
    let mut app = app();
    app.update(Event::InputLost("Too many open files".into()));
    assert!(matches!(&app.exit, Some(Exit::Failed(why)) if why.contains("Too many open files")));
}

#[test]
fn descriptors_running_short_is_said_once() {
    let mut app = app();
    let short = || {
        let mut snapshot = SnapshotBuilder::default().proc(1, 0, "init").build();
        snapshot.descriptors_short = true;
        snapshot
    };
    for _ in 0..3 {
        app.update(Event::Snapshot(Box::new(short()), SystemStats::default()));
    }
    let told: Vec<&crate::history::Entry> = app
        .history
        .entries(false)
        .filter(|e| e.text.contains("descriptors ran short"))
        .collect();
    assert_eq!(told.len(), 1);
}
