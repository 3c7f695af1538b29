use super::super::tests::{key, press, shown_log, sized_app};
use super::*;
use crate::app::Overlay;
use crate::history::timeline::Timeline;
use crate::history::{Entry, Kinds, Origin};
use crate::message::Event;
use crate::proc::builder::SnapshotBuilder;
use crossterm::event::KeyCode;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

fn moment(second: u64, pids: &[i32]) -> Moment {
    let mut builder = SnapshotBuilder::default().proc(1, 0, "init");
    for &pid in pids {
        builder = builder.proc(pid, 1, "worker");
    }
    Moment {
        at_ns: T0 + second * SEC,
        snapshot: builder.build(),
        system: None,
    }
}

/// A recording of `scans` scans a second apart from T0: a file, or the session's own past.
fn recording(scans: u64, session: bool) -> ReplayFile {
    let (path, brood_pid) = if session {
        ("(this session)", 100)
    } else {
        ("lab.brood", 1)
    };
    ReplayFile {
        path: path.into(),
        host: "here".into(),
        brood_pid,
        frames: (0..scans).map(|s| T0 + s * SEC).collect(),
        torn: false,
        session,
    }
}

/// A recording of scans at 0, 1, 2 and 3 s (process 10 from 1 s, 11 from 2 s) and entries at
/// 1.5 and 2.5 s, opened, its first scan shown and its history read.
fn replaying() -> App {
    let mut app = sized_app(1);
    app.update(Event::Replay(ReplayNews::Opened(recording(4, false))));
    app.update(Event::Replay(ReplayNews::Moment(Box::new(moment(0, &[])))));
    let entry = |seq, at, text: &str| {
        let mut e = Entry::new(at, Kinds::FORK, Origin::Kernel, text);
        e.seq = seq;
        e
    };
    let entries = vec![
        entry(1, T0 + 3 * SEC / 2, "1 forked 10"),
        entry(2, T0 + 5 * SEC / 2, "1 forked 11"),
    ];
    app.update(Event::Replay(ReplayNews::Loaded {
        entries,
        timeline: Box::new(Timeline::default()),
    }));
    app
}

fn seeks(effects: Vec<Effect>) -> Vec<u64> {
    effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Seek(at) => Some((at - T0) / (SEC / 2)),
            _ => None,
        })
        .collect()
}

#[test]
fn stepping_by_scan_and_by_event_asks_for_the_machine_then() {
    let mut app = replaying();
    assert!(
        shown_log(&app).is_empty(),
        "nothing written at the first scan"
    );
    // Half-seconds from the start: scan 1 is at 2, the first event at 3.
    assert_eq!(seeks(press(&mut app, '.')), [2]);
    assert_eq!(
        seeks(press(&mut app, '}')),
        Vec::<u64>::new(),
        "1.5 s is still scan 1's"
    );
    assert_eq!(
        shown_log(&app),
        ["1 forked 10"],
        "the log follows the cursor at once"
    );
    assert_eq!(seeks(press(&mut app, '}')), [5]);
    // From between two scans, back to the one shown (no need to read it again), then on.
    assert!(seeks(press(&mut app, ',')).is_empty());
    assert_eq!(app.replay.as_ref().unwrap().cursor_ns, T0 + 2 * SEC);
    assert_eq!(seeks(press(&mut app, ',')), [2]);
    assert!(
        seeks(press(&mut app, '}')).is_empty(),
        "1.5 s: scan 1's again"
    );
    assert_eq!(app.replay.as_ref().unwrap().cursor_ns, T0 + 3 * SEC / 2);
    assert_eq!(seeks(press(&mut app, '<')), [1], "a second back: 0.5 s");
    assert_eq!(seeks(press(&mut app, '>')), [3], "a second on: 1.5 s");
    assert_eq!(seeks(press(&mut app, '(')), [0], "not before the start");
    assert_eq!(seeks(press(&mut app, ')')), [6], "nor after the end");
}

#[test]
fn the_machine_shown_is_the_moment_read() {
    let mut app = replaying();
    press(&mut app, '.');
    app.update(Event::Replay(ReplayNews::Moment(Box::new(moment(
        1,
        &[10],
    )))));
    assert!(app.proc_by_pid(10).is_some());
    app.update(Event::Replay(ReplayNews::Moment(Box::new(moment(
        2,
        &[10, 11],
    )))));
    assert_eq!(app.counts.total, 3);
}

#[test]
fn playing_moves_the_cursor_each_tick_at_its_speed_and_stops_at_the_end() {
    let mut app = replaying();
    assert!(app.update(Event::Tick).is_empty(), "paused: nothing moves");
    press(&mut app, '2');
    let mut asked = Vec::new();
    for _ in 0..10 {
        asked.extend(seeks(app.update(Event::Tick)));
    }
    // Ten ticks of a tenth of a second at 10×: ten seconds, capped at the end (3 s).
    assert_eq!(asked, [2, 4, 6]);
    assert_eq!(
        app.replay.as_ref().unwrap().playing,
        None,
        "stopped at the end"
    );
    press(&mut app, 'p');
    assert_eq!(app.replay.as_ref().unwrap().playing, Some(10));
}

#[test]
fn jump_takes_a_time_and_lab_keys_do_nothing() {
    let mut app = replaying();
    press(&mut app, 'J');
    for c in "2.5".chars() {
        press(&mut app, c);
    }
    assert_eq!(seeks(key(&mut app, KeyCode::Enter)), [5]);
    press(&mut app, 'J');
    for c in "later".chars() {
        press(&mut app, c);
    }
    key(&mut app, KeyCode::Enter);
    assert!(app.status.as_ref().unwrap().text.contains("not a time"));
    for c in ['n', 'X', 's', 'r'] {
        assert!(press(&mut app, c).is_empty(), "{c} acts on live processes");
    }
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("does nothing here")
    );
    press(&mut app, 'q');
    assert!(app.exit.is_some(), "q quits a replay at once");
}

#[test]
fn stepping_back_shows_the_past_holds_live_scans_and_returns_with_nothing_lost() {
    use super::super::tests::{feed, lab_machine, lab_tree};
    let mut app = lab_machine();
    let logged = app.history.len();
    assert_eq!(press(&mut app, 'b'), [Effect::Travel(true)]);
    let file = recording(3, true);
    assert_eq!(
        seeks(app.update(Event::Replay(ReplayNews::Opened(file)))),
        [2],
        "a scan back from the latest"
    );
    app.update(Event::Replay(ReplayNews::Moment(Box::new(moment(
        1,
        &[77],
    )))));
    assert!(app.proc_by_pid(77).is_some(), "the tree as it was");
    // Live scans meanwhile are held, and what they tell reaches the history at once.
    feed(
        &mut app,
        lab_tree()
            .proc(300, 1, "stranger")
            .proc(301, 300, "new")
            .build(),
    );
    assert!(app.proc_by_pid(301).is_none());
    assert!(
        app.history.len() > logged,
        "the new process is in the history"
    );
    assert_eq!(press(&mut app, 'n'), [], "lab keys wait for live");
    let back = key(&mut app, KeyCode::Esc);
    assert!(back.contains(&Effect::Travel(false)), "{back:?}");
    assert!(app.replay.is_none());
    assert!(
        app.proc_by_pid(301).is_some(),
        "live again, with what came meanwhile"
    );
    assert!(app.proc_by_pid(77).is_none());
    let lines = shown_log(&app);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("301 ")).count(),
        1,
        "told once: {lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("77") || l.starts_with("300 ")),
        "what the past showed is no news, nor what was live all along: {lines:?}"
    );
}

fn into_the_past(app: &mut App) {
    assert_eq!(press(app, 'b'), [Effect::Travel(true)]);
    let file = recording(3, true);
    app.update(Event::Replay(ReplayNews::Opened(file)));
    // A past without the lab.
    app.update(Event::Replay(ReplayNews::Moment(Box::new(moment(1, &[])))));
}

#[test]
fn quitting_from_the_past_asks_about_the_live_lab() {
    use super::super::tests::lab_machine;
    let mut app = lab_machine();
    into_the_past(&mut app);
    // From the full log too, which has a q of its own.
    press(&mut app, 'v');
    assert!(app.proc_by_pid(200).is_none(), "the past has no lab");
    let effects = press(&mut app, 'q');
    assert!(effects.contains(&Effect::Travel(false)), "{effects:?}");
    assert!(app.exit.is_none(), "the lab is running: brood asks first");
    assert!(
        matches!(app.overlay, Some(Overlay::Quit(_))),
        "{:?}",
        app.overlay
    );
    assert!(app.proc_by_pid(200).is_some(), "asked on the live tree");
}

#[test]
fn a_past_that_cannot_be_had_leaves_the_session_live() {
    use super::super::tests::lab_machine;
    let mut app = lab_machine();
    assert_eq!(press(&mut app, 'b'), [Effect::Travel(true)]);
    app.update(Event::Replay(ReplayNews::NoPast(
        "no scan kept yet to step back to".into(),
    )));
    assert!(app.exit.is_none());
    assert!(app.replay.is_none());
    let status = app.status.as_ref().map(|s| s.text.as_str());
    assert_eq!(status, Some("no scan kept yet to step back to"));
}

#[test]
fn a_moment_is_seconds_from_the_start_or_a_time_of_day() {
    let sec = 1_000_000_000u64;
    // 1 700 000 000 s is 22:13:20 UTC.
    let start = 1_700_000_000 * sec;
    assert_eq!(parse_moment("90", start, 0), Some(start + 90 * sec));
    assert_eq!(parse_moment("1.5", start, 0), Some(start + 1_500_000_000));
    assert_eq!(parse_moment("22:14:00", start, 0), Some(start + 40 * sec));
    assert_eq!(
        parse_moment("22:14:00.25", start, 0),
        Some(start + 40 * sec + 250_000_000)
    );
    // 23:14:00 at an hour east of UTC is 22:14:00 UTC.
    assert_eq!(
        parse_moment("23:14:00", start, 3_600),
        Some(start + 40 * sec)
    );
    // Past midnight: the next day.
    assert_eq!(
        parse_moment("00:00:10", start, 0),
        Some(start + (6_400 + 10) * sec)
    );
    assert_eq!(parse_moment("25:00:00", start, 0), None);
    assert_eq!(parse_moment("soon", start, 0), None);
    assert_eq!(parse_moment("-3", start, 0), None);
}

#[test]
fn b_asks_once_and_esc_before_the_past_comes_gives_it_up() {
    use super::super::tests::lab_machine;
    let mut app = lab_machine();
    assert_eq!(press(&mut app, 'b'), [Effect::Travel(true)]);
    assert_eq!(press(&mut app, 'b'), [], "asked already");
    assert_eq!(key(&mut app, KeyCode::Esc), [Effect::Travel(false)]);
    // The past comes after all: too late, its source is told to end.
    let late = app.update(Event::Replay(ReplayNews::Opened(recording(3, true))));
    assert_eq!(late, [Effect::Travel(false)]);
    assert!(app.replay.is_none() && !app.in_the_past());
    assert!(app.proc_by_pid(200).is_some(), "live all along");
}

#[test]
fn paused_then_back_in_time_esc_shows_the_paused_screen_again() {
    use super::super::tests::{feed, lab_machine, lab_tree};
    let mut app = lab_machine();
    press(&mut app, 'Z');
    assert!(app.paused);
    // A scan comes while paused: held, not shown.
    feed(&mut app, lab_tree().proc(302, 1, "held").build());
    let seen = app.scans_seen;
    into_the_past(&mut app);
    assert!(app.proc_by_pid(200).is_none());
    key(&mut app, KeyCode::Esc);
    assert!(!app.in_the_past() && app.paused);
    assert!(
        app.proc_by_pid(200).is_some(),
        "the paused live screen, not the past"
    );
    assert!(
        app.proc_by_pid(302).is_none(),
        "and still paused: the held scan waits"
    );
    assert_eq!(app.scans_seen, seen);
}

#[test]
fn scans_held_while_in_the_past_are_the_latest_for_a_recording() {
    use super::super::tests::{feed, lab_machine, lab_tree};
    let mut app = lab_machine();
    into_the_past(&mut app);
    let seen = app.scans_seen;
    feed(&mut app, lab_tree().proc(301, 1, "newcomer").build());
    assert_eq!(app.scans_seen, seen + 1, "counted, though not shown");
    assert!(app.proc_by_pid(301).is_none());
    let (latest, _) = app.latest_scan();
    assert!(
        latest.procs.iter().any(|p| p.pid() == 301),
        "what a recording takes"
    );
}

#[test]
fn each_b_before_the_past_comes_is_a_scan_further_back() {
    use super::super::tests::lab_machine;
    let mut app = lab_machine();
    assert_eq!(press(&mut app, 'b'), [Effect::Travel(true)]);
    assert_eq!(press(&mut app, 'b'), []);
    let seek = app.update(Event::Replay(ReplayNews::Opened(recording(4, true))));
    assert_eq!(seeks(seek), [2], "scan 1 of 0..3: two back from the latest");
}
