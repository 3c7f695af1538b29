//! The explorer against real processes: the details reader on a child of ours, and the real
//! binary in a pty searching, tagging two children and ending both with one confirmation.

#[path = "support/pty.rs"]
mod pty;
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use brood::proc::details::{self, Unreadable};
use brood::proc::lookup::read_identity;
use pty::{Brood, Key};
use support::{Reaped, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);

fn sleeper() -> Reaped {
    Reaped::from_command(
        Command::new("sleep")
            .arg("1000")
            .current_dir("/tmp")
            .env("BROOD_TEST_MARK", "42")
            .stdin(Stdio::null()),
    )
}

#[test]
fn details_of_a_real_child_are_read_whole_and_refused_once_it_is_gone() {
    let mut child = sleeper();
    // Until its exec, the child is a copy of the test binary.
    wait_until("the child to exec sleep", || {
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.pid())).ok()?;
        (comm.trim() == "sleep").then_some(())
    });
    let id = read_identity(child.pid()).expect("the child's stat");
    let d = details::read(id);
    assert_eq!(d.id, id);
    assert_eq!(d.cmdline, Ok(vec!["sleep".to_string(), "1000".to_string()]));
    assert!(
        d.exe.as_ref().is_ok_and(|e| e.ends_with("sleep")),
        "{:?}",
        d.exe
    );
    assert_eq!(d.cwd.as_deref(), Ok("/tmp"));
    let environ = d.environ.as_ref().expect("our own child's environment");
    assert!(environ.iter().any(|v| v == "BROOD_TEST_MARK=42"));
    let fds = d.fds.as_ref().expect("our own child's descriptors");
    assert!(
        fds.total >= 3
            && fds
                .listed
                .iter()
                .any(|(fd, t)| *fd == 0 && t == "/dev/null")
    );
    let status = d.status.as_ref().expect("status");
    assert_eq!(status.tracer, 0);
    assert_eq!(status.nspid.last(), Some(&child.pid()));
    assert_eq!(status.credentials.uids[0], nix::unistd::getuid().as_raw());
    assert!(
        d.stat
            .as_ref()
            .is_ok_and(|s| s.start_ticks == id.start_ticks)
    );
    assert!(
        d.limits
            .as_ref()
            .is_ok_and(|l| l.iter().any(|r| r.name == "open files"))
    );
    assert!(
        d.namespaces
            .as_ref()
            .is_ok_and(|n| n.iter().any(|(kind, _)| kind == "pid"))
    );
    assert!(d.cgroups.is_ok());

    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let gone = details::read(id);
    assert_eq!(gone.cmdline, Err(Unreadable::Gone));
    assert_eq!(gone.fds, Err(Unreadable::Gone));
}

/// The screen line of the process table row for `pid`.
fn row_of(text: &str, pid: i32) -> Option<&str> {
    text.lines()
        .find(|line| line.split_whitespace().next() == Some(pid.to_string().as_str()))
}

/// Searches for `pid`, closes the box and tags the process the search selected.
fn search_and_tag(brood: &mut Brood, pid: i32, tagged: usize) {
    brood.send_key(Key::Char('/'));
    brood.wait_for(|text| text.contains("Search:"), PATIENCE);
    brood.send(pid.to_string().as_bytes());
    brood.wait_for(
        |text| text.contains(&format!("Search:  {pid}_")) && !text.contains("not found"),
        PATIENCE,
    );
    brood.send_key(Key::Esc);
    // A key right after Esc would read as Alt-key: wait for the box to close first.
    brood.wait_for(|text| !text.contains("Search:"), PATIENCE);
    brood.send(b" ");
    brood.wait_for(
        |text| {
            text.contains(&format!("[{tagged} tagged]"))
                && row_of(text, pid).is_some_and(|row| row.contains(" *"))
        },
        PATIENCE,
    );
}

#[test]
fn search_tag_two_children_and_end_both_with_one_confirmation() {
    let mut first = sleeper();
    let mut second = sleeper();
    let (a, b) = (first.pid(), second.pid());
    let mut brood = Brood::launch().size(140, 40).start();
    let own = brood.pid();
    brood.wait_for(|text| row_of(text, own).is_some(), PATIENCE);

    search_and_tag(&mut brood, a, 1);
    search_and_tag(&mut brood, b, 2);

    brood.send_key(Key::Char('s'));
    brood.wait_for(|text| text.contains("2 tagged processes"), PATIENCE);
    brood.send_key(Key::Enter);
    // One condition for the whole dialog: a frame can be read half drawn.
    brood.wait_for(
        |text| {
            text.contains("Send SIGTERM (15)")
                && text.contains(&format!("{a} (sleep)"))
                && text.contains(&format!("{b} (sleep)"))
        },
        PATIENCE,
    );
    brood.send_key(Key::Char('y'));

    // Both exited: zombies of ours in /proc, then reaped with SIGTERM as the cause.
    for (pid, child) in [(a, &mut first), (b, &mut second)] {
        wait_until(&format!("{pid} to end"), || {
            (support::state_of(pid) == Some('Z')).then_some(())
        });
        let status = child.0.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }
    brood.send_key(Key::Char('q'));
    assert_eq!(brood.wait_exit(PATIENCE), 0);
}

#[test]
fn ctrl_z_without_a_job_control_shell_says_so_and_keeps_running() {
    // Here brood leads its own session (no shell could `fg` it): it must not stop.
    let mut brood = Brood::launch().size(140, 30).start();
    let own = brood.pid();
    brood.wait_for(|text| row_of(text, own).is_some(), PATIENCE);
    brood.send(b"\x1a");
    brood.wait_for(|text| text.contains("not suspended"), PATIENCE);
    assert_eq!(support::state_of(own).map(|s| s != 'T'), Some(true));
    brood.send_key(Key::Char('q'));
    assert_eq!(brood.wait_exit(PATIENCE), 0);
}
