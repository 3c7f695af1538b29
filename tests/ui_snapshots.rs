//! Rendered screens on hand-built snapshots: whole-screen insta snapshots, plus explicit checks
//! that colour lands on the right cells and disappears without colour.

use brood::app::{App, Settings};
use brood::message::{Event, SystemStats};
use brood::proc::builder::SnapshotBuilder;
use brood::proc::details::Details;
use brood::proc::{Snapshot, State};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const BROOD_PID: i32 = 4000;

fn stats() -> SystemStats {
    SystemStats {
        cpu_percent: 37.5,
        cpus: 2,
        mem_used: 3 << 30,
        mem_total: 24 << 30,
        swap_used: 0,
        swap_total: 0,
        load: [0.52, 0.4, 0.31],
        uptime_secs: 93_784,
        utc_offset_secs: 0,
    }
}

/// A small machine with one process in each state brood must make visible.
fn machine(with_parent: bool, uptime: f64) -> Snapshot {
    let mut builder = SnapshotBuilder::default()
        .uptime(uptime)
        .proc(1, 0, "init")
        .with(300, 1, "bash", |p| p.session = 300)
        .with(BROOD_PID, 300, "brood", |p| {
            p.session = 300;
            p.state = State::Running;
            p.cpu_percent = 1.5;
        })
        .with(4001, BROOD_PID, "worker", |p| {
            p.session = 300;
            p.state = State::Zombie;
        })
        .with(4002, BROOD_PID, "stopped-job", |p| {
            p.session = 300;
            p.state = State::Stopped;
        })
        .with(4003, BROOD_PID, "debuggee", |p| {
            p.session = 300;
            p.state = State::Traced;
            p.tracer = Some(300);
        })
        .with(
            4010,
            if with_parent { 4009 } else { 1 },
            "left-behind",
            |p| p.session = 300,
        );
    if with_parent {
        builder = builder.with(4009, BROOD_PID, "middle", |p| p.session = 300);
    }
    builder.build()
}

fn app(color: bool) -> App {
    let mut app = App::new(Settings {
        color,
        ..Settings::new(BROOD_PID)
    });
    app.update(Event::Resize {
        width: 110,
        height: 16,
    });
    // Two scans: in the second the middle process is gone and its child adopted by init.
    app.update(Event::Snapshot(Box::new(machine(true, 5000.0)), stats()));
    app.update(Event::Snapshot(Box::new(machine(false, 5012.0)), stats()));
    app
}

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| brood::ui::draw(frame, app)).unwrap();
    terminal
}

fn press(app: &mut App, c: char) {
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )));
}

/// The first row on screen that contains `needle`.
fn row_of(terminal: &Terminal<TestBackend>, needle: &str) -> u16 {
    (0..terminal.backend().buffer().area.height)
        .find(|&y| row_text(terminal, y).contains(needle))
        .unwrap_or_else(|| panic!("no row contains {needle:?}"))
}

/// The text of row `y` as a terminal shows it: a wide character once, not followed by the
/// blank of the cell it covers.
fn row_text(terminal: &Terminal<TestBackend>, y: u16) -> String {
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    let mut x = 0;
    while x < buffer.area.width {
        let symbol = buffer[(x, y)].symbol();
        text.push_str(symbol);
        x += brood::proc::text::width(symbol).max(1) as u16;
    }
    text
}

/// Column of the state letter, from the header.
fn state_column(terminal: &Terminal<TestBackend>) -> u16 {
    let buffer = terminal.backend().buffer();
    let header: String = (0..buffer.area.width)
        .map(|x| buffer[(x, 2)].symbol())
        .collect();
    header.find(" S ").expect("a state column") as u16 + 1
}

#[test]
fn main_screen_shows_every_state_and_badge() {
    let terminal = render(&app(true), 110, 16);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn help_screen_lists_keys_and_states() {
    let mut app = app(true);
    press(&mut app, '?');
    let terminal = render(&app, 110, 40);
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn a_tiny_terminal_gets_a_notice_instead_of_a_panic() {
    let app = app(true);
    insta::assert_snapshot!(render(&app, 20, 5).backend());
    // Too small for the tree: the notice, as far as it fits; big enough: the tree.
    for (width, height) in [(1, 1), (0, 0)] {
        render(&app, width, height);
    }
    for (width, height) in [(400, 3), (39, 100)] {
        row_of(&render(&app, width, height), "terminal too small");
    }
    row_of(&render(&app, 400, 120), "brood [this brood]");
}

#[test]
fn state_colours_land_on_the_state_cells_and_vanish_without_colour() {
    let expected = [
        ("worker", Color::Red),
        ("stopped-job", Color::Magenta),
        ("debuggee", Color::LightCyan),
        ("bash", Color::Blue),
    ];
    let coloured = render(&app(true), 110, 16);
    let column = state_column(&coloured);
    for (name, color) in expected {
        let cell = &coloured.backend().buffer()[(column, row_of(&coloured, name))];
        assert_eq!(cell.fg, color, "state cell of {name}");
    }

    let plain = render(&app(false), 110, 16);
    let buffer = plain.backend().buffer();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "colour at ({x}, {y}) with colour off"
            );
        }
    }
    // Without colour the same facts are still on screen as text.
    let zombie_row = row_of(&plain, "worker");
    assert_eq!(buffer[(column, zombie_row)].symbol(), "Z");
    row_of(&plain, "[zombie ≥12s, parent 4000]");
    row_of(&plain, "[orphan, was child of 4009]");
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn filtered_tree_keeps_ancestors_dimmed() {
    let mut app = app(true);
    key(&mut app, KeyCode::Char('\\'));
    for c in "worker".chars() {
        press(&mut app, c);
    }
    let terminal = render(&app, 110, 16);
    insta::assert_snapshot!(terminal.backend());
    // The context rows (init, bash, brood) are dim; the match is not.
    let buffer = terminal.backend().buffer();
    let name_cell = |name: &str| {
        let y = row_of(&terminal, name);
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        let x = line.find(name).unwrap();
        let x = line[..x].chars().count() as u16;
        buffer[(x, y)].clone()
    };
    assert_eq!(name_cell("bash").fg, Color::DarkGray);
    assert_ne!(name_cell("worker").fg, Color::DarkGray);
}

#[test]
fn tags_sort_and_list_mode_show_in_the_table() {
    let mut app = app(true);
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::F(5));
    key(&mut app, KeyCode::Char('I'));
    let terminal = render(&app, 110, 16);
    insta::assert_snapshot!(terminal.backend());
}

/// Details as the collector reads them for a `sleep` child, with every volatile value fixed.
fn sleep_details(id: brood::proc::Identity) -> Details {
    use brood::proc::details::*;
    Details {
        id,
        cmdline: Ok(vec!["sleep".into(), "300".into()]),
        exe: Ok("/usr/bin/sleep".into()),
        cwd: Ok("/home/alice".into()),
        status: Ok(StatusPart {
            state: "S (sleeping)".into(),
            tracer: 0,
            threads: 1,
            credentials: Credentials {
                uids: [1000, 1000, 1000, 1000],
                gids: [1000, 1000, 1000, 1000],
                user: "alice".into(),
                effective_user: "alice".into(),
                group: "alice".into(),
            },
            nspid: vec![4000],
            rss_bytes: Some(1 << 20),
            vsize_bytes: Some(8 << 20),
            shared_bytes: Some(900 << 10),
            swap_bytes: Some(0),
            sig_ignored: 1 << 12,
            sig_caught: (1 << 1) | (1 << 14),
            sig_blocked: 0,
            sig_pending: 0,
            voluntary_switches: Some(2),
            involuntary_switches: Some(0),
        }),
        stat: Ok(StatPart {
            user_secs: 0.0,
            system_secs: 0.01,
            children_user_secs: 0.0,
            children_system_secs: 0.0,
            priority: 20,
            nice: 0,
            start_ticks: 400_000,
            started_unix: None,
        }),
        wchan: Ok(brood::proc::wchan::Sleep::In(
            brood::proc::wchan::WaitChannel::parse("hrtimer_nanosleep").unwrap(),
        )),
        io: Err(Unreadable::PermissionDenied),
        fds: Ok(Fds {
            total: 3,
            listed: vec![
                (0, "/dev/null".into()),
                (1, "pipe:[123]".into()),
                (2, "/dev/pts/3".into()),
            ],
        }),
        environ: Err(Unreadable::PermissionDenied),
        limits: Ok(vec![LimitRow {
            name: "open files",
            soft: "1024".into(),
            hard: "524288".into(),
        }]),
        cgroups: Ok(vec!["0::/user.slice".into()]),
        namespaces: Ok(vec![("mnt".into(), 4026531841), ("pid".into(), 4026531836)]),
    }
}

#[test]
fn details_pane_shows_sections_and_says_what_it_could_not_read() {
    let mut app = app(true);
    app.update(Event::Resize {
        width: 110,
        height: 100,
    });
    press(&mut app, 'd');
    let selected = app.selected.expect("brood's own row is selected");
    // Before the collector answers, the pane says it is reading: never another process's data.
    let reading = render(&app, 110, 100);
    row_of(&reading, &format!("reading /proc/{}", selected.pid));
    app.update(Event::Details(Box::new(sleep_details(selected))));
    let terminal = render(&app, 110, 100);
    insta::assert_snapshot!(terminal.backend());
    row_of(&terminal, "permission denied");
    row_of(&terminal, "SIGPIPE");
}

#[test]
fn ipc_panel_shows_why_it_sleeps_its_links_and_the_deadlock_cycle() {
    let mut app = app(true);
    app.update(Event::Resize {
        width: 110,
        height: 24,
    });
    // 4002 and 4010 each read the pipe only the other writes: a pipe deadlock.
    let mut ipc = brood::proc::builder::pipe_deadlock(&app.snapshot, 4002, 4010);
    ipc.ends.insert(300, None);
    app.update(Event::Ipc(Box::new(ipc)));
    press(&mut app, 'i');
    while app.selected_proc().map(|p| p.pid()) != Some(4010) {
        press(&mut app, 'j');
    }
    let terminal = render(&app, 110, 24);
    insta::assert_snapshot!(terminal.backend());
    row_of(&terminal, "[deadlock]");
    row_of(&terminal, "DEADLOCK");
}

/// brood with a zombie scenario under way: the parent idles in poll, its child is a zombie.
#[test]
fn scenario_panel_explains_the_zombie_beside_the_tree() {
    use brood::lab::scenarios::{Figures, ProcFigure, ScenarioId, Step};
    use brood::message::Outcome;

    let snapshot = SnapshotBuilder::default()
        .uptime(5000.0)
        .proc(1, 0, "init")
        .with(BROOD_PID, 1, "brood", |p| p.state = State::Running)
        .with(4100, BROOD_PID, "brood-lab", |p| p.pgrp = 4100)
        .with(4101, 4100, "brood-lab", |p| {
            p.pgrp = 4100;
            p.state = State::Zombie;
        })
        .build();
    let mut app = App::new(Settings {
        color: false,
        ..Settings::new(BROOD_PID)
    });
    app.update(Event::Resize {
        width: 140,
        height: 30,
    });
    app.start_scenario(ScenarioId::Zombie);
    // The log's clock is local time; keep the snapshot free of it.
    app.show_log = false;
    let step = |step| Event::Done(Outcome::Scenario { run: 1, step });
    app.update(step(Step::Spawned {
        id: brood::proc::builder::id(4100),
        guard: None,
    }));
    app.update(step(Step::Forked {
        parent: brood::proc::builder::id(4100),
        child: brood::proc::builder::id(4101),
    }));
    for (pid, key, label) in [
        (4100, "parent", "parent: never calls waitpid()"),
        (4101, "child", "child: exits after 1 s"),
    ] {
        app.update(step(Step::Role {
            pid,
            key: key.into(),
            label: label.into(),
        }));
    }
    // The panel's states come from the figures' sample, as the watcher read them.
    let figure = |pid, key: &str, state, wchan: &str, status: &str| ProcFigure {
        pid,
        key: key.into(),
        label: String::new(),
        state: Some(state),
        ppid: 0,
        pgid: 0,
        sid: 0,
        tty: 0,
        wchan: brood::proc::wchan::WaitChannel::parse(wchan),
        status: status.into(),
        pending: 0,
        blocked: 0,
    };
    app.update(step(Step::Figures(Figures {
        procs: vec![
            figure(4100, "parent", 'S', "do_sys_poll", ""),
            figure(4101, "child", 'Z', "", "exiting code=0"),
        ],
        ..Figures::default()
    })));
    app.update(Event::Snapshot(Box::new(snapshot), stats()));
    let terminal = render(&app, 140, 30);
    insta::assert_snapshot!(terminal.backend());
    row_of(
        &terminal,
        "zombie — Zombie: a child nobody waits for — running",
    );
    row_of(&terminal, "4101 Z child: exits after 1 s");

    // E hides it, S opens the menu over the tree.
    press(&mut app, 'E');
    press(&mut app, 'S');
    let terminal = render(&app, 140, 30);
    row_of(&terminal, "scenarios — real processes, one lesson each");
    row_of(&terminal, "deadlock-flock");
}

/// Every x at which `glyph` shows on row `y`: not where a wide character on its left covers it,
/// as a terminal draws it (and ratatui never redraws a covered cell).
fn cells_of(terminal: &Terminal<TestBackend>, y: u16, glyph: &str) -> Vec<u16> {
    let buffer = terminal.backend().buffer();
    let covered = |x: u16| x > 0 && brood::proc::text::width(buffer[(x - 1, y)].symbol()) > 1;
    (0..buffer.area.width)
        .filter(|&x| buffer[(x, y)].symbol() == glyph && !covered(x))
        .collect()
}

/// Names as the scanner makes them safe: a flag, CJK (two cells a character), combining marks,
/// a CJK user name longer than its column. Rows stay in their columns and the popup's border
/// stands in one column from top to bottom.
#[test]
fn flags_cjk_and_combining_marks_keep_rows_and_popups_in_their_cells() {
    let safe = |raw: &str| brood::proc::text::sanitize(raw.as_bytes());
    let snapshot = SnapshotBuilder::default()
        .uptime(5000.0)
        .proc(1, 0, "init")
        .with(BROOD_PID, 1, "brood", |p| p.state = State::Running)
        .with(4101, BROOD_PID, &safe("漢字プロセス"), |p| {
            p.user = "ユーザー名前です".into();
            p.cmdline = safe("漢字プロセス --設定 /tmp/ファイル").into();
        })
        .with(4102, BROOD_PID, &safe("🇺🇸flag"), |p| {
            p.cmdline = safe("🇺🇸flag 🇫🇷").into();
        })
        .with(4103, BROOD_PID, &safe("e\u{301}tude"), |p| {
            p.cmdline = safe("e\u{301}tude --cafe\u{301} --x\u{2028}y").into();
        })
        .build();
    let mut app = App::new(Settings {
        color: false,
        ..Settings::new(BROOD_PID)
    });
    app.update(Event::Resize {
        width: 90,
        height: 16,
    });
    app.update(Event::Snapshot(Box::new(snapshot), stats()));
    let table = render(&app, 90, 16);
    let state_x = state_column(&table);
    for pid in [4101, 4102, 4103] {
        let y = row_of(&table, &format!("   {pid} "));
        let buffer = table.backend().buffer();
        assert!(
            ["R", "S"].contains(&buffer[(state_x, y)].symbol()),
            "the state letter of {pid} stays in its column: {:?}",
            row_text(&table, y)
        );
    }
    // The user column is cut, marked, and takes its 8 cells.
    row_of(&table, "ユーザ…  S");
    row_of(&table, "\\u{1f1fa}\\u{1f1f8}flag \\u{1f1eb}\\u{1f1f7}");

    // A popup naming the CJK process: its right border in one column on every line.
    while app.selected_proc().map(|p| p.pid()) != Some(4101) {
        press(&mut app, 'j');
    }
    press(&mut app, 's');
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Enter);
    let terminal = render(&app, 90, 16);
    insta::assert_snapshot!(terminal.backend());
    // One of its rows is the table's 4101 row, whose user name the popup's left edge halves.
    let top = row_of(&terminal, "┌ confirm");
    assert!(row_of(&terminal, "4101 ユー") > top);
    let corner = |y: u16, glyph: &str| cells_of(&terminal, y, glyph).first().copied();
    let (left, right) = (corner(top, "┌"), corner(top, "┐"));
    assert!(
        left.is_some() && right.is_some(),
        "both top corners show: {:?}",
        row_text(&terminal, top)
    );
    let bottom = (top..16)
        .find(|&y| corner(y, "┘").is_some())
        .expect("a bottom border");
    assert_eq!((corner(bottom, "└"), corner(bottom, "┘")), (left, right));
    for y in top + 1..bottom {
        let borders = cells_of(&terminal, y, "│");
        assert!(
            borders.contains(&left.unwrap_or_default())
                && borders.contains(&right.unwrap_or_default()),
            "a border moved on {:?}",
            row_text(&terminal, y)
        );
    }
    row_of(&terminal, "4101 (漢字プロセス)");
}

/// The optional WCHAN column: a word or two for what each sleeping process waits in, the
/// kernel's own name when brood does not know it, cut with a mark.
#[test]
fn the_wchan_column_says_why_each_process_sleeps() {
    use brood::app::sort::Column;
    use brood::proc::ipc::IpcState;
    use brood::proc::wchan::WaitChannel;
    let mut app = App::new(Settings {
        color: false,
        columns: vec![Column::Pid, Column::State, Column::Wchan, Column::Command],
        ..Settings::new(BROOD_PID)
    });
    app.update(Event::Resize {
        width: 70,
        height: 14,
    });
    app.update(Event::Snapshot(Box::new(machine(false, 5000.0)), stats()));
    let mut ipc = IpcState::default();
    for (pid, symbol) in [
        (300, "do_wait"),
        (1, "do_epoll_wait"),
        (4010, "a_kernel_function_from_tomorrow"),
    ] {
        ipc.waits_in
            .insert(pid, WaitChannel::parse(symbol).expect("a symbol"));
    }
    ipc.ids = app.snapshot.procs.iter().map(|p| (p.pid(), p.id)).collect();
    app.update(Event::Ipc(Box::new(ipc)));
    let terminal = render(&app, 70, 14);
    insta::assert_snapshot!(terminal.backend());
    row_of(&terminal, "    300 S child       ├─ bash");
    row_of(&terminal, "      1 S poll        init");
    row_of(&terminal, "   4010 S a_kernel_…  └─ left-behind");
}

/// A sleeping process whose wait channel the kernel hides from brood is said to be hidden, in
/// the WCHAN column and the IPC panel: neither taken for running nor for not read yet.
#[test]
fn a_hidden_wait_channel_is_called_hidden() {
    use brood::app::sort::Column;
    use brood::proc::ipc::IpcState;
    let mut app = App::new(Settings {
        color: false,
        columns: vec![Column::Pid, Column::State, Column::Wchan, Column::Command],
        ..Settings::new(BROOD_PID)
    });
    app.update(Event::Resize {
        width: 110,
        height: 24,
    });
    app.update(Event::Snapshot(Box::new(machine(false, 5000.0)), stats()));
    let mut ipc = IpcState::default();
    ipc.waits_hidden.insert(300);
    ipc.ids = app.snapshot.procs.iter().map(|p| (p.pid(), p.id)).collect();
    app.update(Event::Ipc(Box::new(ipc)));
    press(&mut app, 'i');
    press(&mut app, 'g');
    press(&mut app, 'j');
    assert_eq!(app.selected_proc().map(|p| p.pid()), Some(300));
    let terminal = render(&app, 110, 24);
    row_of(&terminal, "    300 S hidden      ├─ bash");
    row_of(
        &terminal,
        "300 bash: S — sleeping, wait channel hidden (the kernel",
    );
}

/// A status message longer than the screen is cut with a mark, never silently.
#[test]
fn a_status_message_too_long_for_the_line_ends_in_a_cut_mark() {
    use brood::message::{Outcome, SignalScope, Target};
    let mut app = app(false);
    let zombie = Target::of(app.proc_by_pid(4001).expect("the zombie worker"));
    app.update(Event::Done(Outcome::Signalled {
        signal: nix::sys::signal::Signal::SIGKILL,
        scope: SignalScope::Process,
        results: vec![(zombie, Ok(()))],
    }));
    let terminal = render(&app, 80, 16);
    let footer = row_text(&terminal, 15);
    assert!(
        footer.starts_with(" sent SIGKILL to 4001 (worker), which changes nothing")
            && footer.ends_with('…'),
        "{footer:?}"
    );
}
