//! The timeline page rendered from a known history: a lab process forks a child that exits
//! (told exactly by the kernel's event), is seen a zombie and is reaped, while its parent is
//! stopped; snapshots with and without colour, and the colour of key cells checked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brood::app::{App, Settings};
use brood::lab::protocol::{Reply, Request, WaitOutcome};
use brood::message::{Event, Outcome, SystemStats};
use brood::proc::builder::{SnapshotBuilder, id};
use brood::proc::events::{ExitStatus, Kind, ProcEvent, Source, Stamp, Task, TaskRef};
use brood::proc::{Snapshot, State};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

const BROOD: i32 = 4000;
/// The history begins at this second since the epoch (a fixed moment, so the axis is the same
/// in every run).
const T0: u64 = 1_700_000_000;
const SEC: u64 = 1_000_000_000;

/// The app's clock, moved by the test. Each test binary has one app at a time per clock, and
/// the tests here share it only through `at`, which every test sets before it reads.
static NOW_NS: AtomicU64 = AtomicU64::new(T0 * SEC);

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(NOW_NS.load(Ordering::SeqCst))
}

fn at(second: u64) {
    NOW_NS.store((T0 + second) * SEC, Ordering::SeqCst);
}

/// brood, its worker 4001 (stopped from second 7), and 4001's child 4002 (a zombie from
/// second 6, while `zombie`; gone when `child` is false).
fn scan(uptime: f64, child: bool, zombie: bool, worker_stopped: bool) -> Snapshot {
    let mut builder = SnapshotBuilder::default()
        .uptime(uptime)
        .proc(1, 0, "init")
        .with(BROOD, 1, "brood", |p| p.state = State::Running)
        .with(4001, BROOD, "brood-lab", |p| {
            if worker_stopped {
                p.state = State::Stopped;
            }
        });
    if child {
        builder = builder.with(4002, 4001, "brood-lab", |p| {
            if zombie {
                p.state = State::Zombie;
            }
        });
    }
    builder.build()
}

fn feed(app: &mut App, second: u64, snapshot: Snapshot) {
    at(second);
    app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
}

fn exit_event(second: u64) -> ProcEvent {
    ProcEvent {
        at: Stamp {
            boot_ns: 0,
            unix_ns: (T0 + second) * SEC,
        },
        source: Source::Kernel,
        kind: Kind::Exit {
            status: Some(ExitStatus::Code(3)),
            lifetime_ns: Some(2 * SEC),
        },
        task: Some(Task {
            pid: 4002,
            tgid: 4002,
            start_ticks: Some(4002),
            start_estimated: false,
            name: "brood-lab".into(),
            cmdline: "".into(),
            uid: Some(1000),
            user: "alice".into(),
        }),
        parent: Some(TaskRef {
            pid: 4001,
            start_ticks: Some(4001),
            name: "brood-lab".into(),
        }),
    }
}

/// Ten seconds of a lab: 4001 starts, forks 4002 at 3 s; 4002 exits at 5 s, seen a zombie at
/// 6 s and reaped at 8 s; 4001 is stopped from 7 s.
fn lab_history(color: bool) -> App {
    let mut app = App::new(Settings {
        color,
        ..Settings::new(BROOD)
    });
    app.clock = now;
    app.update(Event::Resize {
        width: 100,
        height: 16,
    });
    let base = 100.0;
    feed(&mut app, 0, scan(base, false, false, false));
    at(1);
    app.update(Event::Done(Outcome::Spawned {
        id: id(4001),
        guard: None,
    }));
    feed(&mut app, 2, scan(base + 2.0, false, false, false));
    at(3);
    app.update(Event::Done(Outcome::LabReply {
        target: id(4001),
        request: Request::Fork,
        reply: Ok(Reply::Forked(id(4002))),
    }));
    feed(&mut app, 4, scan(base + 4.0, true, false, false));
    at(5);
    app.update(Event::ProcEvents(vec![exit_event(5)]));
    feed(&mut app, 6, scan(base + 6.0, true, true, false));
    feed(&mut app, 7, scan(base + 7.0, true, true, true));
    at(8);
    app.update(Event::Done(Outcome::LabReply {
        target: id(4001),
        request: Request::Reap(4002),
        reply: Ok(Reply::Waited(WaitOutcome::Exited { pid: 4002, code: 3 })),
    }));
    feed(&mut app, 9, scan(base + 9.0, false, false, true));
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn render(app: &App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(100, 16)).unwrap();
    terminal.draw(|frame| brood::ui::draw(frame, app)).unwrap();
    terminal
}

/// The lab's timeline at a quarter of a second a column.
fn timeline_of_the_lab(color: bool) -> (App, Terminal<TestBackend>) {
    let mut app = lab_history(color);
    key(&mut app, KeyCode::Char('L'));
    key(&mut app, KeyCode::Char('V'));
    key(&mut app, KeyCode::Char('+'));
    let terminal = render(&app);
    (app, terminal)
}

fn row_text(terminal: &Terminal<TestBackend>, y: u16) -> String {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol())
        .collect()
}

fn row_of(terminal: &Terminal<TestBackend>, needle: &str) -> u16 {
    (0..terminal.backend().buffer().area.height)
        .find(|&y| row_text(terminal, y).contains(needle))
        .unwrap_or_else(|| panic!("no row holds {needle:?}"))
}

#[test]
fn the_labs_timeline_reads_without_colour() {
    let (_, terminal) = timeline_of_the_lab(false);
    insta::assert_snapshot!(terminal.backend());
    let child = row_text(&terminal, row_of(&terminal, "4002 brood-lab"));
    // Its life: sleeping, its exit (exact) as a mark, a zombie, reaped: nothing after.
    let life = child.trim_end();
    assert!(life.contains("x"), "{child}");
    assert!(life.contains("ZZZ"), "{child}");
    assert!(life.ends_with('.'), "the reap ends the row: {child}");
    let parent = row_text(&terminal, row_of(&terminal, "4001 brood-lab"));
    assert!(parent.contains('+'), "the fork's mark: {parent}");
    assert!(parent.trim_end().ends_with('T'), "stopped now: {parent}");
}

#[test]
fn the_labs_timeline_in_colour_paints_each_state_its_colour() {
    let (app, terminal) = timeline_of_the_lab(true);
    insta::assert_snapshot!(terminal.backend());
    let buffer = terminal.backend().buffer();
    let y = row_of(&terminal, "4002 brood-lab");
    let z = (0..buffer.area.width)
        .find(|&x| buffer[(x, y)].symbol() == "Z")
        .expect("a zombie cell");
    assert_eq!(buffer[(z, y)].fg, Color::Red);
    let y = row_of(&terminal, "4001 brood-lab");
    let t = (0..buffer.area.width)
        .find(|&x| buffer[(x, y)].symbol() == "T")
        .expect("a stopped cell");
    assert_eq!(buffer[(t, y)].fg, Color::Magenta);
    // Following: the cursor is the last column of time, on every row.
    let last = (0..buffer.area.width)
        .rev()
        .find(|&x| !buffer[(x, y)].symbol().trim().is_empty())
        .unwrap();
    assert!(buffer[(last, y)].modifier.contains(Modifier::REVERSED));
    assert!(app.timeline_view.following());
}

#[test]
fn the_cursor_tells_the_state_at_its_moment_and_the_page_resizes() {
    let mut app = lab_history(false);
    key(&mut app, KeyCode::Char('L'));
    key(&mut app, KeyCode::Char('V'));
    key(&mut app, KeyCode::Char('+'));
    // Select the child and move the cursor back into its zombie time.
    key(&mut app, KeyCode::Down);
    for _ in 0..8 {
        key(&mut app, KeyCode::Left);
    }
    let terminal = render(&app);
    let bottom = row_text(&terminal, 13);
    assert!(
        bottom.contains("4002 (brood-lab) · Z a zombie since"),
        "{bottom}"
    );
    assert!(!app.timeline_view.following());
    // Narrow and short: still drawn, nothing overlaps.
    app.update(Event::Resize {
        width: 40,
        height: 8,
    });
    let mut terminal = Terminal::new(TestBackend::new(40, 8)).unwrap();
    terminal.draw(|frame| brood::ui::draw(frame, &app)).unwrap();
    assert!(row_text(&terminal, 2).contains("timeline"));
    key(&mut app, KeyCode::End);
    assert!(app.timeline_view.following());
}

#[test]
fn a_sleep_says_what_it_waits_for_where_a_sweep_read_it() {
    use brood::proc::ipc::IpcState;
    use brood::proc::wchan::WaitChannel;
    let mut app = App::new(Settings {
        color: false,
        ..Settings::new(BROOD)
    });
    app.clock = now;
    app.update(Event::Resize {
        width: 120,
        height: 16,
    });
    feed(&mut app, 0, scan(100.0, true, false, false));
    let sweep = IpcState {
        ids: [(4002, id(4002))].into(),
        waits_in: [(4002, WaitChannel::parse("anon_pipe_read").unwrap())].into(),
        ..IpcState::default()
    };
    app.update(Event::Ipc(Box::new(sweep)));
    feed(&mut app, 1, scan(101.0, true, false, false));
    key(&mut app, KeyCode::Char('V'));
    key(&mut app, KeyCode::Char('a'));
    let mut terminal = Terminal::new(TestBackend::new(120, 16)).unwrap();
    let mut detail = String::new();
    for _ in 0..6 {
        terminal.draw(|frame| brood::ui::draw(frame, &app)).unwrap();
        detail = row_text(&terminal, 13);
        if detail.contains("4002 (brood-lab)") {
            break;
        }
        key(&mut app, KeyCode::Down);
    }
    assert!(
        detail.contains("S sleeping, reading an empty pipe since"),
        "{detail}"
    );
}

#[test]
fn c_follows_a_fork_to_the_childs_row_and_p_comes_back() {
    let mut app = lab_history(false);
    key(&mut app, KeyCode::Char('L'));
    key(&mut app, KeyCode::Char('V'));
    key(&mut app, KeyCode::Char('+'));
    key(&mut app, KeyCode::Up);
    assert_eq!(app.timeline_view.selected, Some(id(4001)));
    // No fork where the cursor is now: c says so and stays.
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.timeline_view.selected, Some(id(4001)));
    assert!(
        app.status
            .as_ref()
            .is_some_and(|s| s.text.contains("+ mark"))
    );
    // Back until the cursor's cell on the parent's row, as drawn, is the fork's mark.
    let on_the_mark = |app: &App| {
        let terminal = render(app);
        let buffer = terminal.backend().buffer();
        let y = row_of(&terminal, "4001 brood-lab");
        (0..buffer.area.width).any(|x| {
            let cell = &buffer[(x, y)];
            cell.modifier.contains(Modifier::REVERSED) && cell.symbol() == "+"
        })
    };
    for _ in 0..200 {
        if on_the_mark(&app) {
            break;
        }
        key(&mut app, KeyCode::Left);
    }
    assert!(on_the_mark(&app), "the cursor on the + mark");
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(
        app.timeline_view.selected,
        Some(id(4002)),
        "the child's row"
    );
    key(&mut app, KeyCode::Char('P'));
    assert_eq!(
        app.timeline_view.selected,
        Some(id(4001)),
        "and its parent's"
    );
}
