//! brood under stress: churn, hostile process names, huge shapes, stale state, other users,
//! signals to brood itself. Every loop here is bounded in count and time.

#[path = "support/pty.rs"]
mod pty;
mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::time::{Duration, Instant};

use brood::app::{App, Settings};
use brood::message::{Event, SystemStats};
use brood::proc::builder::SnapshotBuilder;
use brood::proc::lookup::read_identity;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::*;

#[test]
fn churn_of_short_lived_processes_and_threads_leaves_no_stale_rows_and_bounded_caches() {
    // The screen's scanner, which keeps files open: those must stay bounded too.
    let mut scanner = brood::proc::scan::Scanner::new(brood::proc::scan::ScanOptions::default());
    scanner.scan().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut pids = Vec::new();
            let started = Instant::now();
            while pids.len() < 400 && started.elapsed() < Duration::from_secs(20) {
                if let Ok(mut child) = Command::new("true").spawn() {
                    pids.push(child.id() as i32);
                    let _ = child.wait();
                }
                let _ = std::thread::spawn(|| std::hint::black_box(1)).join();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            pids
        })
    };
    scanner.set_threads(true);
    let mut scans = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) && scans < 10_000 {
        scanner
            .scan()
            .expect("a scan never fails because processes come and go");
        scans += 1;
    }
    let churned = churn.join().unwrap();
    scanner.set_threads(false);
    let after = scanner.scan().unwrap();
    for proc in after.procs.iter() {
        if churned.contains(&proc.pid()) {
            assert_eq!(
                read_identity(proc.pid()),
                Some(proc.id),
                "row {} outlived its process",
                proc.pid()
            );
        }
    }
    assert!(scans > 1, "the scanner ran during the churn");
    // One cache entry per task of the last scan: nothing of the churn is kept.
    assert_eq!(scanner.cached_tasks(), after.procs.len());
    assert!(
        scanner.open_files() <= 2 * scanner.cached_tasks(),
        "a stat and a schedstat file a task at most"
    );
}

/// A directory removed when the test ends, passed or failed.
struct RemovedDir(std::path::PathBuf);

impl Drop for RemovedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process whose name and arguments are hostile to a terminal: escape sequences, newlines,
/// invalid UTF-8, a right-to-left override, parentheses and spaces in comm, a 64 KiB argument.
fn hostile_process() -> (Reaped, RemovedDir) {
    let dir = RemovedDir(std::env::temp_dir().join(format!("brood-hostile-{}", own_pid())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let name = OsStr::from_bytes(b"x) (\x1b[2J\n\xff");
    let link = dir.0.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/bin/sh", &link).unwrap();
    let huge = "A".repeat(64 * 1024);
    // sh runs the script and keeps its own name and arguments; the arguments are only data.
    let child = Reaped::from_command(
        Command::new(&link)
            .args(["-c", "sleep 60; :"])
            .arg(OsStr::from_bytes(b"\x1b]0;owned\x07\n\xfe"))
            .arg("\u{202e}gnp.exe")
            .arg(huge)
            .stdin(std::process::Stdio::null()),
    );
    (child, dir)
}

#[test]
fn hostile_names_are_escaped_and_the_tree_stays_aligned() {
    let (child, dir) = hostile_process();
    let snapshot = wait_until("the hostile process", || {
        let snapshot = scanner().scan().ok()?;
        find(&snapshot, child.pid()).filter(|p| p.cmdline.contains("gnp"))?;
        Some(snapshot)
    });
    let proc = find(&snapshot, child.pid()).unwrap().clone();
    for text in [&*proc.name, &*proc.cmdline] {
        assert!(
            !text.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "unescaped: {text:?}"
        );
    }
    assert!(
        proc.name.starts_with("x) ("),
        "comm with parentheses and spaces: {:?}",
        proc.name
    );
    assert!(proc.cmdline.contains("\\x1b]0;owned\\x07\\n\u{fffd}"));
    assert!(proc.cmdline.contains("\\u{202e}gnp.exe"));
    assert!(proc.cmdline.chars().count() <= brood::proc::text::MAX_CMDLINE_CHARS + 1);

    let mut app = App::new(Settings::new(own_pid()));
    app.update(Event::Resize {
        width: 120,
        height: 40,
    });
    app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
    let row = app
        .rows
        .iter()
        .position(|r| app.snapshot.procs[r.proc_index].pid() == child.pid())
        .unwrap();
    // From the first row (the selection starts on brood's own, wherever that is).
    app.update(Event::Key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE)));
    for _ in 0..row {
        app.update(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)));
    }
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|frame| brood::ui::draw(frame, &app)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut found = false;
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        assert!(
            !line.chars().any(|c| c.is_control()),
            "a control character reached the screen: {line:?}"
        );
        if line.contains(&format!("{:>7} ", child.pid())) {
            found = true;
            assert_eq!(
                &line[..8],
                format!("{:>7} ", child.pid()),
                "the PID column stays aligned"
            );
        }
    }
    assert!(found, "the hostile process is on screen");
    drop(child);
    drop(dir);
}

/// A 5 000-character `argv[0]` before the arguments: the filter finds the process by an
/// argument, the row shows the arguments after the name, and a row cut at the edge says so.
#[test]
fn a_huge_first_argument_hides_neither_the_arguments_nor_the_cut() {
    use std::os::unix::process::CommandExt;
    let child = Reaped::from_command(
        Command::new("sh")
            .arg0("A".repeat(5000))
            .args(["-c", "sleep 60; :", "sh", "--needle-7e3"])
            .stdin(std::process::Stdio::null()),
    );
    let snapshot = wait_until("the child with its huge argv[0]", || {
        let snapshot = scanner().scan().ok()?;
        find(&snapshot, child.pid()).filter(|p| p.cmdline.starts_with("AAAA"))?;
        Some(snapshot)
    });
    let mut app = App::new(Settings::new(own_pid()));
    app.update(Event::Resize {
        width: 100,
        height: 20,
    });
    app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Char('\\'),
        KeyModifiers::NONE,
    )));
    for c in "needle-7e3".chars() {
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    let matched: Vec<i32> = app
        .rows
        .iter()
        .map(|r| app.snapshot.procs[r.proc_index].pid())
        .filter(|pid| *pid == child.pid())
        .collect();
    assert_eq!(
        matched,
        vec![child.pid()],
        "the filter finds it by an argument"
    );
    let row = screen_row(&app, 100, 20, child.pid());
    assert!(row.contains("sh -c sleep 60; : sh --needle-7e3"), "{row}");
    assert!(!row.contains("AAAA"), "argv[0] is not the name: {row}");

    // In a narrower table the arguments no longer fit: the row ends in a cut mark.
    app.update(Event::Resize {
        width: 60,
        height: 20,
    });
    let row = screen_row(&app, 60, 20, child.pid());
    assert!(row.ends_with('…'), "{row}");
}

#[test]
fn a_ten_thousand_wide_fan_out_folds_renders_and_unfolds() {
    let mut builder = SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(2, 1, "parent");
    for pid in 10..10_010 {
        builder = builder.proc(pid, 2, "child");
    }
    let mut app = App::new(Settings::new(1));
    app.update(Event::Resize {
        width: 100,
        height: 30,
    });
    app.update(Event::Snapshot(
        Box::new(builder.build()),
        SystemStats::default(),
    ));
    assert_eq!(app.rows.len(), 10_002);
    let key = |app: &mut App, c| {
        app.update(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )))
    };
    key(&mut app, 'g');
    key(&mut app, 'j');
    key(&mut app, 'h');
    assert_eq!(app.rows.len(), 2, "the 10 000 children are folded away");
    key(&mut app, 'l');
    assert_eq!(app.rows.len(), 10_002);
    key(&mut app, 'G');
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    terminal.draw(|frame| brood::ui::draw(frame, &app)).unwrap();
    for (width, height) in [(1, 1), (400, 50), (100, 30)] {
        terminal.backend_mut().resize(width, height);
        app.update(Event::Resize { width, height });
        terminal.draw(|frame| brood::ui::draw(frame, &app)).unwrap();
    }
}

#[test]
fn a_run_directory_is_stale_only_when_nobody_holds_its_lock_and_planted_links_are_not_followed() {
    use std::os::unix::fs::PermissionsExt;
    let base = std::env::temp_dir().join(format!("brood-stale-test-{}", own_pid()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir(&base).unwrap();
    let run = |name: &str| {
        let path = base.join(name);
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(path.join("lock"), b"").unwrap();
        path
    };
    // brood and its lab are gone: nobody holds the lock.
    let dead = run("brood-999999999-0");
    std::fs::write(dead.join("12.sock"), b"").unwrap();
    // A live run whose PID this process cannot see (another PID namespace sharing /tmp): its
    // lock is held, and that is all that counts.
    let unseen = run("brood-999999996-0");
    let held = std::fs::File::open(unseen.join("lock")).unwrap();
    held.lock_shared().unwrap();
    // Being made right now, or by another version: no lock file yet, so not judged.
    let unlocked = base.join("brood-999999995-0");
    std::fs::create_dir(&unlocked).unwrap();
    std::fs::set_permissions(&unlocked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = base.join("precious");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("data"), b"keep me").unwrap();
    let planted = base.join("brood-999999998-0");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();

    brood::lab::rundir::clean_stale(&base);
    assert!(!dead.exists(), "a run nobody holds is removed");
    assert!(unseen.exists(), "a held run is kept, whatever PID it names");
    assert!(unlocked.exists(), "a directory with no lock is not judged");
    assert!(
        victim.join("data").exists(),
        "a planted symlink is not followed"
    );
    assert!(
        std::fs::symlink_metadata(&planted).is_ok(),
        "nor removed: it is not ours to judge"
    );
    drop(held);
    brood::lab::rundir::clean_stale(&base);
    assert!(!unseen.exists(), "released, it is stale");
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn sigint_and_sigquit_to_brood_end_its_lab_and_restore_the_terminal() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGQUIT, 131)] {
        let mut brood = pty::Brood::launch().size(120, 30).start();
        let pid = brood.pid().to_string();
        brood.wait_for(
            |t| {
                t.lines()
                    .any(|l| l.contains("[this brood]") && l.trim_start().starts_with(&pid))
            },
            DEADLINE,
        );
        brood.send_key(pty::Key::Char('n'));
        let screen = brood.wait_for(
            |t| t.contains("brood started lab process") && t.contains("(f forks it"),
            DEADLINE,
        );
        let worker: i32 = screen
            .split("brood started lab process ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .expect("the worker's PID in the status line");
        brood.signal(signal);
        assert_eq!(brood.wait_exit(DEADLINE), code);
        assert!(brood.is_cooked());
        wait_until("the worker to be gone", || {
            read_identity(worker).is_none().then_some(())
        });
    }
}

const RUN_BASE: &str = "BROOD_TEST_RUN_BASE";

/// A run directory is made, then its lock file cannot be opened (every descriptor in use): the
/// failed start leaves no directory behind. Run in a process of its own (this test binary
/// again), as it takes every descriptor the process may have.
#[test]
fn a_start_that_fails_for_want_of_descriptors_leaves_no_run_directory() {
    let base = std::env::temp_dir().join(format!("brood-squeezed-{}", own_pid()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir(&base).unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "run_directory_under_no_descriptors",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RUN_BASE, &base)
        .env("XDG_RUNTIME_DIR", &base)
        .output()
        .expect("the inner test");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the inner test ran: {text}");
    let left: Vec<_> = std::fs::read_dir(&base).unwrap().flatten().collect();
    let _ = std::fs::remove_dir_all(&base);
    assert!(left.is_empty(), "{left:?}");
}

#[test]
#[ignore = "run by a_start_that_fails_for_want_of_descriptors_leaves_no_run_directory, alone"]
fn run_directory_under_no_descriptors() {
    assert!(
        std::env::var_os(RUN_BASE).is_some(),
        "run by its outer test only"
    );
    let limit = 64;
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, limit, limit)
        .unwrap();
    let mut held = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        held.push(file);
        assert!(held.len() <= limit as usize, "the limit holds");
    }
    let made = brood::lab::rundir::RunDir::create();
    drop(held);
    assert!(made.is_err(), "no lock file without a descriptor");
}
