//! The scanner under a file-descriptor squeeze: a small budget of kept-open `stat` files, or a
//! real RLIMIT_NOFILE lower than the budget, must cost speed only, never a process.

mod support;

use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::process::Command;

use brood::proc::Pid;
use brood::proc::scan::{ScanOptions, Scanner};
use nix::sys::resource::{Resource, setrlimit};
use support::{Children, brood, find_json, snapshot_json};

fn pids(scanner: &mut Scanner) -> HashSet<Pid> {
    let snapshot = scanner.scan().expect("/proc is readable");
    snapshot.procs.iter().map(|p| p.pid()).collect()
}

fn scanner_with_budget(files: usize) -> Scanner {
    Scanner::new(ScanOptions {
        max_open_files: Some(files),
        ..ScanOptions::default()
    })
}

#[test]
fn a_tiny_fd_budget_lists_every_process_a_normal_scan_lists() {
    let mut children = Children::default();
    let sleepers = children.sleepers(12);
    let mut normal = Scanner::new(ScanOptions::default());
    let mut tiny = scanner_with_budget(5);
    let mut none = scanner_with_budget(0);

    for round in 0..3 {
        let listed = pids(&mut normal);
        let squeezed = pids(&mut tiny);
        let unkept = pids(&mut none);
        for pid in sleepers.iter().chain([&(std::process::id() as Pid)]) {
            assert!(
                listed.contains(pid),
                "round {round}: normal scan lost {pid}"
            );
            assert!(squeezed.contains(pid), "round {round}: budget 5 lost {pid}");
            assert!(unkept.contains(pid), "round {round}: budget 0 lost {pid}");
        }
        assert!(tiny.open_files() <= 5, "{} files kept", tiny.open_files());
        assert_eq!(none.open_files(), 0);
    }
    assert_eq!(
        tiny.open_files(),
        5,
        "the budget is used once processes are known"
    );
    assert!(normal.open_files() >= sleepers.len());
}

#[test]
fn snapshot_runs_under_a_tiny_rlimit_nofile() {
    let mut children = Children::default();
    let sleepers = children.sleepers(40);
    let me = std::process::id().to_string();
    let mut command = brood(&["snapshot", "--format", "json", "--pid", &me]);
    // SAFETY: setrlimit is async-signal-safe and touches only the child between fork and exec.
    unsafe {
        command
            .pre_exec(|| setrlimit(Resource::RLIMIT_NOFILE, 32, 32).map_err(std::io::Error::from));
    }
    let procs = snapshot_json(command);
    for pid in sleepers {
        let proc = find_json(&procs, pid).unwrap_or_else(|| panic!("sleeper {pid} missing"));
        assert_eq!(proc["cmdline"], "sleep 600");
    }
}

/// Set in the re-executed test binary: the PIDs it must find, comma-separated.
const EXPECT_ENV: &str = "BROOD_SCAN_LIMITS_EXPECT";

/// The budget says "keep thousands open" but RLIMIT_NOFILE allows 48: opening `stat` fails
/// with EMFILE mid-scan, and the scanner must give files back rather than skip processes.
/// RLIMIT_NOFILE is per process, so the squeezed scan runs in a re-executed copy of this test.
#[test]
fn a_budget_above_rlimit_nofile_sheds_files_instead_of_processes() {
    if let Ok(expected) = std::env::var(EXPECT_ENV) {
        return scan_under_the_squeeze(&expected);
    }
    let mut children = Children::default();
    // Enough new processes that the first scan reads them ahead on two threads, which must not
    // take the descriptors the pass itself needs.
    let sleepers = children.sleepers(300);
    let expected: Vec<String> = sleepers.iter().map(Pid::to_string).collect();
    let mut command = Command::new(std::env::current_exe().expect("test binary path"));
    command
        .args([
            "--exact",
            "a_budget_above_rlimit_nofile_sheds_files_instead_of_processes",
            "--test-threads=1",
        ])
        .env(EXPECT_ENV, expected.join(","));
    // SAFETY: as above, setrlimit only, between fork and exec.
    unsafe {
        command
            .pre_exec(|| setrlimit(Resource::RLIMIT_NOFILE, 48, 48).map_err(std::io::Error::from));
    }
    let output = command.output().expect("re-run the test binary");
    assert!(
        output.status.success(),
        "squeezed scan failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 passed"),
        "the squeezed copy ran no test: {stdout}"
    );
}

fn scan_under_the_squeeze(expected: &str) {
    let expected: Vec<Pid> = expected.split(',').map(|p| p.parse().unwrap()).collect();
    let mut scanner = scanner_with_budget(100_000);
    let mut said_short = false;
    for round in 0..4 {
        let snapshot = scanner.scan().expect("/proc is readable");
        said_short |= snapshot.descriptors_short;
        for pid in &expected {
            let proc = snapshot
                .procs
                .iter()
                .find(|p| p.pid() == *pid)
                .unwrap_or_else(|| panic!("round {round}: lost {pid}"));
            // Reading the command line and owner needs a descriptor too.
            assert_eq!(&*proc.cmdline, "sleep 600", "round {round}: {pid}");
            assert_eq!(proc.uid, Some(nix::unistd::geteuid().as_raw()));
        }
        assert!(
            scanner.open_files() < 48,
            "{} files kept",
            scanner.open_files()
        );
    }
    assert!(said_short, "a scan said descriptors ran short");
}

/// Set in the re-executed test binary: the sleeper whose command line it must come to read.
const UNREAD_ENV: &str = "BROOD_SCAN_LIMITS_UNREAD";

/// A command line that could not be read because descriptors ran out (the stat file took the
/// last one) is read again at the next scan, not remembered empty for the process's life.
#[test]
fn a_command_line_unread_for_want_of_descriptors_is_read_at_the_next_scan() {
    if let Ok(sleeper) = std::env::var(UNREAD_ENV) {
        return read_after_the_squeeze(sleeper.parse().expect("a PID"));
    }
    let mut children = Children::default();
    let sleeper = children.sleepers(1)[0];
    let mut command = Command::new(std::env::current_exe().expect("test binary path"));
    command
        .args([
            "--exact",
            "a_command_line_unread_for_want_of_descriptors_is_read_at_the_next_scan",
            "--test-threads=1",
        ])
        .env(UNREAD_ENV, sleeper.to_string());
    // SAFETY: as above, setrlimit only, between fork and exec.
    unsafe {
        command
            .pre_exec(|| setrlimit(Resource::RLIMIT_NOFILE, 64, 64).map_err(std::io::Error::from));
    }
    let output = command.output().expect("re-run the test binary");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "squeezed scan failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the squeezed copy ran no test: {text}"
    );
}

fn read_after_the_squeeze(sleeper: Pid) {
    // Every descriptor but one taken: a process's stat file opens, its command line cannot.
    let mut held = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        held.push(file);
    }
    held.pop();
    let mut scanner = scanner_with_budget(0);
    let cmdline = |scanner: &mut Scanner| {
        let snapshot = scanner.scan().expect("/proc is readable");
        let proc = snapshot.procs.iter().find(|p| p.pid() == sleeper).cloned();
        proc.expect("the sleeper is listed").cmdline.to_string()
    };
    assert_eq!(
        cmdline(&mut scanner),
        "",
        "no descriptor was left to read it"
    );
    drop(held);
    assert_eq!(
        cmdline(&mut scanner),
        "sleep 600",
        "read once descriptors are back"
    );
}
