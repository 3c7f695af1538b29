//! The app's decisions on hand-built snapshots: selection, folding, paging, the lab keys.

use super::*;
use crate::lab::protocol::Request;
use crate::proc::State;
use crate::proc::builder::{SnapshotBuilder, id};
use crossterm::event::KeyEvent;
use crossterm::event::{KeyCode, KeyModifiers};

pub(super) fn app_with(snapshot: Snapshot) -> App {
    let mut app = sized_app(1);
    feed(&mut app, snapshot);
    app
}

/// An app whose own PID is `self_pid`, on a 100x30 screen, before any scan.
pub(super) fn sized_app(self_pid: Pid) -> App {
    let mut app = App::new(Settings::new(self_pid));
    app.update(Event::Resize {
        width: 100,
        height: 30,
    });
    app
}

pub(super) fn feed(app: &mut App, snapshot: Snapshot) {
    app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
}

pub(super) fn press(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

pub(super) fn selected_pid(app: &App) -> Option<Pid> {
    app.selected.map(|id| id.pid)
}

pub(super) fn tree() -> SnapshotBuilder {
    SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(10, 1, "a")
        .proc(11, 10, "a1")
        .proc(12, 11, "a2")
        .proc(20, 1, "b")
}

#[test]
fn selection_follows_the_process_not_the_row() {
    let mut app = app_with(tree().build());
    press(&mut app, 'j');
    press(&mut app, 'j');
    assert_eq!(selected_pid(&app), Some(11));
    // A new process above it shifts every row down; the selection stays on PID 11.
    feed(&mut app, tree().proc(5, 1, "early").build());
    assert_eq!(selected_pid(&app), Some(11));
    assert_eq!(
        app.rows[app.selected_row].proc_index,
        app.snapshot
            .procs
            .iter()
            .position(|p| p.pid() == 11)
            .unwrap()
    );
}

#[test]
fn selection_moves_to_the_parent_when_the_process_exits() {
    let mut app = app_with(tree().build());
    app.update(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
    press(&mut app, 'j');
    press(&mut app, 'j');
    assert_eq!(selected_pid(&app), Some(12));
    // 12 and its parent 11 both die: the nearest surviving ancestor is 10.
    feed(
        &mut app,
        SnapshotBuilder::default()
            .proc(1, 0, "init")
            .proc(10, 1, "a")
            .proc(20, 1, "b")
            .build(),
    );
    assert_eq!(selected_pid(&app), Some(10));
}

#[test]
fn a_reused_pid_is_not_mistaken_for_the_selected_process() {
    let mut app = app_with(tree().build());
    press(&mut app, 'G');
    assert_eq!(selected_pid(&app), Some(20));
    // PID 20 died and a new process got the same PID: selection goes to the parent, init.
    let reused = SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(10, 1, "a")
        .proc(11, 10, "a1")
        .proc(12, 11, "a2")
        .with(20, 10, "impostor", |p| p.id.start_ticks = 999)
        .build();
    feed(&mut app, reused);
    assert_eq!(
        app.selected,
        Some(Identity {
            pid: 1,
            start_ticks: 1
        })
    );
}

#[test]
fn folding_hides_descendants_and_moves_up_when_already_folded() {
    let mut app = app_with(tree().build());
    press(&mut app, 'j');
    assert_eq!(selected_pid(&app), Some(10));
    press(&mut app, 'h');
    assert_eq!(app.rows.len(), 3);
    press(&mut app, 'h');
    assert_eq!(selected_pid(&app), Some(1));
    press(&mut app, 'j');
    press(&mut app, 'l');
    assert_eq!(app.rows.len(), 5);
    press(&mut app, '*');
    assert_eq!(app.rows.len(), 3, "fold all keeps init and its children");
    press(&mut app, '*');
    assert_eq!(app.rows.len(), 5);
}

#[test]
fn help_takes_keys_while_open_and_quit_closes_it_first() {
    let mut app = app_with(tree().build());
    press(&mut app, '?');
    assert!(app.overlay.is_some());
    press(&mut app, 'j');
    assert_eq!(
        selected_pid(&app),
        Some(1),
        "keys scroll the help, not the tree"
    );
    press(&mut app, 'q');
    assert!(app.overlay.is_none());
    assert_eq!(app.exit, None);
    press(&mut app, 'q');
    assert_eq!(
        app.exit,
        Some(Exit::Quit {
            leave_running: false
        })
    );
}

#[test]
fn thread_toggle_asks_the_collector_and_says_so() {
    let mut app = app_with(tree().build());
    assert_eq!(
        press(&mut app, 'H'),
        vec![Effect::Collector(CollectorCommand::ScanThreads(true))]
    );
    assert_eq!(
        app.status.as_ref().map(|s| s.text.as_str()),
        Some("userland threads shown")
    );
    for _ in 0..=STATUS_SCANS {
        feed(&mut app, tree().build());
    }
    assert_eq!(app.status, None, "status messages expire");
}

#[test]
fn paging_stays_in_bounds_and_keeps_the_selection_on_screen() {
    let mut app = app_with(crate::proc::builder::population(500));
    app.update(Event::Key(KeyEvent::new(
        KeyCode::PageDown,
        KeyModifiers::NONE,
    )));
    let page = usize::from(app.table_height());
    assert_eq!(app.selected_row, page);
    assert!(app.scroll <= app.selected_row && app.selected_row < app.scroll + page);
    press(&mut app, 'G');
    assert_eq!(app.selected_row, app.rows.len() - 1);
    assert_eq!(app.scroll, app.rows.len() - page);
}

/// brood (PID 100) with one lab worker (200, group 200) whose child 201 is a zombie.
pub(super) fn lab_tree() -> SnapshotBuilder {
    SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(100, 1, "brood")
        .with(200, 100, "brood-lab", |p| p.pgrp = 200)
        .with(201, 200, "brood-lab", |p| {
            p.pgrp = 200;
            p.state = State::Zombie;
        })
}

/// The lab tree, with 300, a stranger.
pub(super) fn lab_machine() -> App {
    let snapshot = lab_tree().proc(300, 1, "stranger").build();
    let mut app = sized_app(100);
    app.update(Event::Done(crate::message::Outcome::Spawned {
        id: id(200),
        guard: Some(id(150)),
    }));
    app.update(Event::Done(crate::message::Outcome::LabReply {
        target: id(200),
        request: Request::Fork,
        reply: Ok(crate::lab::protocol::Reply::Forked(id(201))),
    }));
    feed(&mut app, snapshot);
    app
}

/// The log's lines as the log shows them now, oldest first.
pub(super) fn shown_log(app: &App) -> Vec<String> {
    app.log
        .window(&app.history, app.lab_view, 100_000)
        .entries
        .iter()
        .map(|e| e.line())
        .collect()
}

pub(super) fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[test]
fn what_happens_while_paused_reaches_the_log_on_resume() {
    let mut app = app_with(tree().build());
    let logged = |app: &App, pid: &str| {
        shown_log(app)
            .into_iter()
            .filter(|line| line.starts_with(pid))
            .collect::<Vec<_>>()
    };
    press(&mut app, 'p');
    // Born and gone while paused, both between two scans the screen did not show.
    feed(&mut app, tree().proc(50, 10, "quick").build());
    feed(&mut app, tree().build());
    assert!(logged(&app, "50").is_empty(), "the log waits while paused");
    press(&mut app, 'p');
    let lines = logged(&app, "50");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("appeared, child of 10 (a)"), "{lines:?}");
    // Resumed, the next scan logs as before, and nothing twice.
    feed(&mut app, tree().build());
    assert_eq!(logged(&app, "50").len(), 2);
}
