//! End to end: the real brood binary in a pseudo-terminal (or, for the command line, with no
//! terminal at all). Each test starts its own brood, so they run in parallel; every wait is on a
//! condition with a generous deadline, for slow CI machines.

#[path = "support/pty.rs"]
mod pty;

use std::process::{Command, Stdio};
use std::time::Duration;

use pty::{Brood, Key};

/// How long any screen or exit may take to appear; generous because CI machines are slow.
const PATIENCE: Duration = Duration::from_secs(20);

/// The first screen row of the process table (below two header lines and the column header).
const FIRST_TABLE_ROW: u16 = 3;

/// The text of brood's own row, if the screen shows it: `[this brood]` after brood's PID.
fn own_row(text: &str, pid: i32) -> Option<&str> {
    text.lines().find(|line| {
        line.contains("[this brood]")
            && line.split_whitespace().next() == Some(pid.to_string().as_str())
    })
}

/// Waits for the first scan to be drawn: the tree, with brood's own row on it.
#[track_caller]
fn wait_for_tree(brood: &Brood) -> String {
    let pid = brood.pid();
    brood.wait_for(|text| own_row(text, pid).is_some(), PATIENCE)
}

fn row_text(screen: &vt100::Screen, row: u16) -> String {
    let (_, cols) = screen.size();
    screen.contents_between(row, 0, row, cols.get())
}

/// Screen rows of the process table, footer excluded.
fn table_rows(screen: &vt100::Screen) -> std::ops::Range<u16> {
    let (rows, _) = screen.size();
    FIRST_TABLE_ROW..rows.get() - 1
}

/// Table rows drawn in reverse video from edge to edge: the selection bar.
fn selected_rows(screen: &vt100::Screen) -> Vec<u16> {
    let (_, cols) = screen.size();
    table_rows(screen)
        .filter(|&row| {
            (0..cols.get()).all(|col| screen.cell(row, col).is_some_and(|c| c.inverse()))
        })
        .collect()
}

/// The one selected table row; `None` while there is not exactly one.
fn selected_row(screen: &vt100::Screen) -> Option<u16> {
    match selected_rows(screen)[..] {
        [row] => Some(row),
        _ => None,
    }
}

/// The last table row with any text on it.
fn last_filled_row(screen: &vt100::Screen) -> Option<u16> {
    table_rows(screen)
        .rev()
        .find(|&row| !row_text(screen, row).trim().is_empty())
}

/// The column of the state letter, found under the `S` of the column header.
fn state_column(screen: &vt100::Screen) -> u16 {
    let header = row_text(screen, FIRST_TABLE_ROW - 1);
    let at = header
        .find(" S ")
        .unwrap_or_else(|| panic!("no S column in the header {header:?}"));
    (at + 1) as u16
}

/// The state-letter cells of the process rows on screen.
fn state_cells(screen: &vt100::Screen) -> Vec<vt100::Cell> {
    let col = state_column(screen);
    table_rows(screen)
        .filter_map(|row| screen.cell(row, col))
        .filter(|cell| "RSDTtZIX".contains(cell.contents()) && cell.has_contents())
        .cloned()
        .collect()
}

#[track_caller]
fn assert_terminal_restored(brood: &Brood) {
    let screen = brood.screen();
    assert!(
        !screen.alternate_screen(),
        "brood left the terminal on the alternate screen"
    );
    assert!(!screen.hide_cursor(), "brood left the cursor hidden");
    assert!(brood.is_cooked(), "brood left the terminal in raw mode");
}

/// Presses `key` until the screen shows `done`, for a key whose target the live tree can take
/// away between the press and the frame (the last process may exit right then).
#[track_caller]
fn press_until(brood: &mut Brood, key: Key, done: impl Fn(&vt100::Screen) -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        brood.send_key(key);
        match brood.poll_screen(&done, Duration::from_secs(2)) {
            Ok(_) => return,
            Err(failure) if std::time::Instant::now() >= deadline => panic!("{failure}"),
            Err(_) => {}
        }
    }
}

#[test]
fn starts_with_its_own_pid_the_header_and_key_hints() {
    let brood = Brood::start_default();
    let pid = brood.pid();
    // One condition for the whole screen: a frame can be read half drawn.
    brood.wait_for(
        |text| {
            let footer = text.lines().last().unwrap_or_default();
            own_row(text, pid).is_some()
                && text.contains("Tasks")
                && footer.contains("q quit")
                && footer.contains("? help")
        },
        PATIENCE,
    );
}

#[test]
fn help_opens_closes_and_q_quits_with_the_terminal_restored() {
    let mut brood = Brood::launch().size(120, 40).start();
    wait_for_tree(&brood);
    let help_shown = |text: &str| text.contains("quit at once");
    let help_complete = |text: &str| {
        text.contains("help — Esc")
            && text.contains("quit at once")
            && text.contains("exited, not yet reaped")
    };

    brood.send_key(Key::Char('?'));
    brood.wait_for(help_complete, PATIENCE);
    brood.send_key(Key::Char('?'));
    brood.wait_for(|text| !help_shown(text), PATIENCE);

    brood.send_key(Key::Char('?'));
    brood.wait_for(help_complete, PATIENCE);
    brood.send_key(Key::Esc);
    let pid = brood.pid();
    brood.wait_for(
        |text| !help_shown(text) && own_row(text, pid).is_some(),
        PATIENCE,
    );
    assert!(
        brood.is_running(),
        "Esc on the help must close it, not quit"
    );
    assert!(
        !brood.is_cooked(),
        "brood runs with the terminal in raw mode"
    );

    brood.send_key(Key::Char('q'));
    assert_eq!(brood.wait_exit(PATIENCE), 0);
    assert_terminal_restored(&brood);
}

#[test]
fn ctrl_c_quits_with_status_0() {
    let mut brood = Brood::start_default();
    wait_for_tree(&brood);
    brood.send_key(Key::CtrlC);
    assert_eq!(brood.wait_exit(PATIENCE), 0);
    assert_terminal_restored(&brood);
}

/// Starts brood, sends it `signal` once the tree is up, and checks it exits with 128 + signal
/// and leaves the terminal as it found it.
fn exits_on_signal_with_the_terminal_restored(signal: i32) {
    let mut brood = Brood::start_default();
    wait_for_tree(&brood);
    brood.signal(signal);
    assert_eq!(brood.wait_exit(PATIENCE), 128 + signal);
    assert_terminal_restored(&brood);
}

#[test]
fn sigterm_exits_143_with_the_terminal_restored() {
    exits_on_signal_with_the_terminal_restored(libc::SIGTERM);
}

#[test]
fn sighup_exits_129_with_the_terminal_restored() {
    exits_on_signal_with_the_terminal_restored(libc::SIGHUP);
}

#[test]
fn closing_the_terminal_ends_brood_without_a_crash() {
    let mut brood = Brood::start_default();
    wait_for_tree(&brood);
    brood.hang_up(PATIENCE);
    // The kernel's SIGHUP (129) or the failed write to the dead terminal (1) ends brood, whichever
    // comes first; either way an exit, not an abort (`wait_exit` fails on a death by signal).
    let code = brood.wait_exit(PATIENCE);
    assert!(
        code == 128 + libc::SIGHUP || code == 1,
        "brood exited with {code} after its terminal closed"
    );
}

#[test]
fn tiny_terminal_shows_a_notice_and_the_tree_once_resized() {
    let mut brood = Brood::launch().size(20, 5).start();
    brood.wait_for(|text| text.contains("terminal too small"), PATIENCE);
    assert!(brood.is_running(), "brood died in a 20x5 terminal");

    brood.resize(100, 30);
    let pid = brood.pid();
    brood.wait_for(
        |text| {
            own_row(text, pid).is_some()
                && text.contains("Tasks")
                && !text.contains("terminal too small")
        },
        PATIENCE,
    );
}

#[test]
fn no_color_keeps_the_tree_and_leaves_state_letters_uncoloured() {
    let brood = Brood::launch().env("NO_COLOR", "1").start();
    wait_for_tree(&brood);
    // The selection bar must show without colour too.
    let screen = brood.wait_for_screen(
        |screen| !state_cells(screen).is_empty() && selected_row(screen).is_some(),
        PATIENCE,
    );
    for cell in state_cells(&screen) {
        assert_eq!(
            cell.fgcolor(),
            vt100::Color::Default,
            "state letter {:?} is coloured under NO_COLOR:\n{}",
            cell.contents(),
            screen.contents()
        );
    }
}

/// The colour a terminal is told to use for `color` (crossterm's SGR codes, read back by vt100).
fn terminal_color(color: ratatui::style::Color) -> vt100::Color {
    use ratatui::style::Color;
    let named = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    match color {
        Color::Reset => vt100::Color::Default,
        Color::Indexed(index) => vt100::Color::Idx(index),
        Color::Rgb(r, g, b) => vt100::Color::Rgb(r, g, b),
        named_color => named
            .iter()
            .position(|&c| c == named_color)
            .map_or(vt100::Color::Default, |i| vt100::Color::Idx(i as u8)),
    }
}

/// Every state letter on screen (the selection bar aside) in the colour of its own state in the
/// default theme, and the running brood and its sleeping neighbours in different colours: what
/// a user reads at a glance.
#[test]
fn each_state_letter_has_its_states_colour_by_default() {
    use brood::app::settings::ThemeName;
    use brood::proc::State;
    use brood::ui::theme::Theme;
    let theme = Theme::new(ThemeName::Dark, true);
    let expected = |letter: &str| {
        let state = State::from_letter(letter.bytes().next().unwrap_or(b'?'));
        terminal_color(theme.state(state).fg.unwrap_or_default())
    };
    let brood = Brood::start_default();
    wait_for_tree(&brood);
    let screen = brood.wait_for_screen(
        |screen| {
            let col = state_column(screen);
            let selected = selected_row(screen);
            let letters: Vec<vt100::Cell> = table_rows(screen)
                .filter(|&row| Some(row) != selected)
                .filter_map(|row| screen.cell(row, col).cloned())
                .filter(|cell| "RSDTtZIX".contains(cell.contents()) && cell.has_contents())
                .collect();
            letters.iter().any(|c| c.contents() == "S")
                && letters
                    .iter()
                    .all(|c| c.fgcolor() == expected(c.contents()))
        },
        PATIENCE,
    );
    assert_ne!(
        expected("R"),
        expected("S"),
        "running and sleeping read apart"
    );
    assert_ne!(
        expected("S"),
        vt100::Color::Default,
        "{}",
        screen.contents()
    );
}

#[test]
fn selection_moves_with_j_down_k_and_jumps_with_g_and_shift_g() {
    // A short terminal, so the tree overflows the table and "last" is its bottom row.
    let mut brood = Brood::launch().size(120, 12).start();
    wait_for_tree(&brood);
    let on_row = |row: u16| move |screen: &vt100::Screen| selected_row(screen) == Some(row);

    brood.send_key(Key::Char('g'));
    brood.wait_for_screen(on_row(FIRST_TABLE_ROW), PATIENCE);
    brood.send_key(Key::Char('j'));
    brood.wait_for_screen(on_row(FIRST_TABLE_ROW + 1), PATIENCE);
    brood.send_key(Key::Down);
    brood.wait_for_screen(on_row(FIRST_TABLE_ROW + 2), PATIENCE);
    brood.send_key(Key::Char('k'));
    brood.wait_for_screen(on_row(FIRST_TABLE_ROW + 1), PATIENCE);

    press_until(&mut brood, Key::Char('G'), |screen| {
        selected_row(screen).is_some_and(|row| Some(row) == last_filled_row(screen))
    });
    brood.send_key(Key::Char('g'));
    brood.wait_for_screen(on_row(FIRST_TABLE_ROW), PATIENCE);
}

/// brood run without a terminal, its output captured.
fn run_piped(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_brood"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("cannot run brood")
}

#[test]
fn without_a_terminal_it_exits_2_and_says_why() {
    let out = run_piped(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("terminal"), "stderr: {stderr}");
}

#[test]
fn an_unknown_option_is_one_line_on_stderr() {
    let out = run_piped(&["--bogus"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.contains("--bogus"), "stderr: {stderr}");
}

#[test]
fn help_and_version_exit_0() {
    let help = run_piped(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--interval"));

    let version = run_piped(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_zero_interval_is_rejected() {
    let out = run_piped(&["--interval", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stderr: {stderr}");
    assert!(stderr.contains("interval"), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr}");
}

#[test]
fn a_terminal_that_cannot_draw_a_screen_gets_a_clear_message_and_status_2() {
    for term in ["dumb", ""] {
        let mut brood = Brood::launch().env("TERM", term).start();
        assert_eq!(brood.wait_exit(PATIENCE), 2, "TERM={term:?}");
        let text = brood.screen().contents();
        assert!(text.contains("brood: "), "TERM={term:?}: {text}");
        assert!(brood.is_cooked(), "the terminal was never touched");
    }
}

#[test]
fn too_few_file_descriptors_is_a_clear_message_not_a_screen_that_cannot_quit() {
    let mut brood = Brood::launch().files(12).start();
    assert_eq!(brood.wait_exit(PATIENCE), 1);
    let text = brood.screen().contents();
    assert!(
        text.contains("needs at least 32 open files and the limit is 12"),
        "{text}"
    );
    assert!(brood.is_cooked());
}

/// A SIGSTOP from outside (uncatchable), after which a shell takes the terminal back in cooked
/// mode, then SIGCONT (`fg`): brood takes the terminal back and draws its screen again.
#[test]
fn after_a_stop_from_outside_brood_takes_the_terminal_back_when_continued() {
    let mut brood = Brood::start_default();
    wait_for_tree(&brood);
    let pid = brood.pid();
    brood.signal(libc::SIGSTOP);
    support_state(pid, 'T');
    brood.make_cooked();
    assert!(brood.is_cooked());
    brood.signal(libc::SIGCONT);
    let deadline = std::time::Instant::now() + PATIENCE;
    while brood.is_cooked() {
        assert!(
            std::time::Instant::now() < deadline,
            "brood never took the terminal back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Keys work again: the help opens.
    brood.send_key(Key::Char('?'));
    brood.wait_for(|text| text.contains("States (column S)"), PATIENCE);
}

/// SIGTSTP from outside, with no job-control shell to bring brood back: brood says so and goes
/// on, its terminal untouched, rather than stop for good with the screen in raw mode.
#[test]
fn a_stop_request_with_no_shell_to_resume_brood_is_refused_and_said() {
    let brood = Brood::start_default();
    wait_for_tree(&brood);
    brood.signal(libc::SIGTSTP);
    brood.wait_for(
        |text| text.contains("nothing could bring it back; not suspended"),
        PATIENCE,
    );
    assert!(!brood.is_cooked());
}

/// Waits for the state letter `state` of `pid` in /proc.
fn support_state(pid: i32, state: char) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            == Some(state)
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{pid} never reached {state}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Under the fewest descriptors brood accepts, a lab process started and brood quit: whatever
/// succeeded or failed on the way, no run directory of that brood is left. The run directory
/// goes where the test says, so the test looks where brood wrote.
#[test]
fn a_squeezed_brood_leaves_no_run_directory_behind() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("squeezed-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let mut brood = Brood::launch()
        .files(32)
        .env("XDG_RUNTIME_DIR", base.to_str().unwrap())
        .start();
    wait_for_tree(&brood);
    brood.send_key(Key::Char('n'));
    brood.wait_for(
        |text| text.contains("brood started lab process") || text.contains("could not"),
        PATIENCE,
    );
    let made: Vec<_> = std::fs::read_dir(&base).unwrap().flatten().collect();
    assert_eq!(
        made.len(),
        1,
        "the run directory is where it was told: {made:?}"
    );
    brood.send_key(Key::Char('q'));
    brood.send_key(Key::Enter);
    brood.send_key(Key::Enter);
    assert_eq!(brood.wait_exit(PATIENCE), 0);
    let left: Vec<_> = std::fs::read_dir(&base).unwrap().flatten().collect();
    let _ = std::fs::remove_dir_all(&base);
    assert!(left.is_empty(), "{left:?}");
}
