//! A lab process is the lab's by identity, never by a PID or a process group number that the
//! kernel has since handed to someone else. Proven with forced reuse: in a PID namespace of the
//! test's own, `ns_last_pid` makes a stranger take the number of the lab's emptied group.
//! The outer test re-runs this binary as PID 1 of a new namespace (`unshare -fp --mount-proc`);
//! where no namespace can be made, it says why and is recorded as skipped.

mod support;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use brood::app::{App, Settings};
use brood::lab::Lab;
use brood::message::{Event, Outcome, SystemStats};
use brood::proc::lookup::{read_identity, read_membership};
use brood::proc::signal::send_signal;
use nix::sys::signal::Signal;
use support::*;

const INNER: &str = "BROOD_TEST_IN_PID_NAMESPACE";

#[test]
fn a_stranger_that_reuses_the_labs_group_number_is_never_the_labs() {
    const NAME: &str = "a_stranger_that_reuses_the_labs_group_number_is_never_the_labs";
    if !nix::unistd::geteuid().is_root() {
        skip(NAME, "only root can make the PID namespace this test needs");
        return;
    }
    let output = Command::new("unshare")
        .args(["--fork", "--pid", "--mount-proc"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "inner_forced_reuse",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) => {
            skip(NAME, &format!("cannot run unshare here ({err})"));
            return;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    if !text.contains("running 1 test") {
        skip(
            NAME,
            &format!("no PID namespace can be made here: {}", text.trim()),
        );
        return;
    }
    assert!(output.status.success(), "inside the namespace:\n{text}");
    assert!(text.contains("1 passed"), "the inner test ran:\n{text}");
}

#[test]
#[ignore = "run by a_stranger_that_reuses_the_labs_group_number_is_never_the_labs, as PID 1 of a namespace"]
fn inner_forced_reuse() {
    if std::env::var_os(INNER).is_none() {
        return;
    }
    let lab = Lab::new(env!("CARGO_BIN_EXE_brood").into()).expect("a lab");
    let first = lab.spawn().expect("a worker");
    let guard = lab.live_guard().expect("a guard");
    assert_eq!(lab.group(), Some(guard.pid), "the guard leads the group");

    // Everything of the lab ends (the guard too: a user may kill it): the group is empty and
    // its number free again.
    for id in [first, guard] {
        send_signal(id, Signal::SIGKILL).unwrap();
    }
    brood::lab::reap_all_own(vec![first.pid, guard.pid], DEADLINE);
    assert_eq!(read_identity(guard.pid), None);
    assert_eq!(lab.group(), None, "an emptied group is forgotten");

    // A stranger takes the very number, leading a group of its own, as a shell's job would. It
    // starts a clock tick after the guard did at least: an identity is a PID and a start time
    // in ticks, and two processes that got one PID within one tick (10 ms) cannot be told
    // apart by anyone reading /proc (only a forced reuse like this one comes that close).
    wait_until("a clock tick after the guard's start", || {
        let now = scanner().scan().ok()?;
        let ticks = (now.uptime_secs * now.ticks_per_sec as f64) as u64;
        (ticks > guard.start_ticks).then_some(())
    });
    std::fs::write("/proc/sys/kernel/ns_last_pid", (guard.pid - 1).to_string())
        .expect("write ns_last_pid");
    let mut stranger = Command::new("sleep");
    stranger.arg("1000").process_group(0).stdin(Stdio::null());
    let stranger = Reaped::from_command(&mut stranger);
    assert_eq!(stranger.pid(), guard.pid, "the PID was reused");
    let stranger_id = read_identity(stranger.pid()).unwrap();
    assert_eq!(
        read_membership(stranger.pid()).map(|(_, group)| group),
        Some(guard.pid),
        "the stranger's group has the lab's old number"
    );

    // The app, told of the first worker and shown the stranger, does not take it for the lab's.
    let mut app = App::new(Settings::new(own_pid()));
    app.update(Event::Done(Outcome::Spawned {
        id: first,
        guard: Some(guard),
    }));
    app.update(Event::Snapshot(
        Box::new(scanner().scan().unwrap()),
        SystemStats::default(),
    ));
    let shown = find(&app.snapshot, stranger.pid()).expect("the stranger is listed");
    assert!(
        !app.is_brood_or_lab(shown),
        "the stranger is neither a lab process nor the guard"
    );
    assert_eq!(app.counts.lab, 0);

    // A new worker never joins the stranger's group: a new guard leads a new one.
    let second = lab.spawn().expect("a second worker");
    let new_guard = lab.live_guard().expect("a new guard");
    assert_ne!(new_guard.pid, guard.pid);
    assert_eq!(
        read_membership(second.pid),
        Some((second, new_guard.pid)),
        "the new worker is in the new guard's group"
    );

    // Ending the lab ends the lab, and not the stranger.
    lab.shutdown(false);
    wait_until("the second worker to be gone", || {
        (read_identity(second.pid) != Some(second)).then_some(())
    });
    assert_eq!(
        read_identity(stranger.pid()),
        Some(stranger_id),
        "the stranger lives"
    );
}
