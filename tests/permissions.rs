//! brood as an ordinary user: other users' processes show what is readable and say "permission
//! denied" for the rest, signals to them fail with EPERM in plain words, and the lab works fully.
//! With /proc mounted `hidepid=2`, other users' processes simply do not appear.
//! Run as root, the tests re-run themselves as `nobody`; run as anyone else, they say why they
//! skipped.
//!
//! The "other user's process" is a sleeper the root half starts in a session of its own: not PID 1,
//! which may share the test's session (and SIGCONT is allowed within a session, whoever owns it).

mod support;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use brood::app::{App, Settings};
use brood::exporter::observe::Observer;
use brood::lab::protocol::{Reply, Request, WaitOutcome};
use brood::message::{Event, Outcome, SignalScope, SystemStats, Target};
use brood::proc::State;
use brood::proc::ipc::{read_ends, read_ipc};
use brood::proc::lookup::read_identity;
use brood::proc::signal::{SignalError, send_signal};
use nix::sys::signal::Signal;
use support::*;

const NOBODY: u32 = 65534;
const INNER: &str = "BROOD_TEST_AS_NOBODY";
const ROOTS_PROCESS: &str = "BROOD_TEST_ROOTS_PROCESS";

#[test]
fn an_unprivileged_user_sees_what_it_may_and_is_told_what_it_may_not() {
    if !nix::unistd::geteuid().is_root() {
        skip(
            "an_unprivileged_user_sees_what_it_may_and_is_told_what_it_may_not",
            "only root can start the unprivileged child this test needs",
        );
        return;
    }
    let mut sleeper = Command::new("sleep");
    sleeper.arg("300");
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        sleeper.pre_exec(|| {
            nix::unistd::setsid()?;
            Ok(())
        });
    }
    let roots = Reaped::from_command(&mut sleeper);
    let mut inner = inner_test("inner_checks_as_nobody", roots.pid());
    check_inner(
        "an_unprivileged_user_sees_what_it_may_and_is_told_what_it_may_not",
        inner.uid(NOBODY).gid(NOBODY).output(),
    );
}

/// With /proc mounted `hidepid=2`, other users' processes are not listed at all: they are simply
/// not in the tree, and nothing is reported as an error. The child mounts its own /proc in a
/// mount namespace of its own, then becomes nobody.
#[test]
fn with_hidepid_other_users_processes_simply_do_not_appear() {
    if !nix::unistd::geteuid().is_root() {
        skip(
            "with_hidepid_other_users_processes_simply_do_not_appear",
            "only root can mount the /proc this test needs",
        );
        return;
    }
    let roots = Reaped::spawn("sleep", &["300"]);
    let mut inner = inner_test("inner_hidepid_as_nobody", roots.pid());
    // SAFETY: only syscalls between fork and exec.
    unsafe {
        inner.pre_exec(hide_other_users_then_become_nobody);
    }
    match inner.output() {
        // From the mounts: a container may forbid them (EPERM), an old kernel the option.
        Err(err)
            if err
                .raw_os_error()
                .is_some_and(|e| [libc::EPERM, libc::EINVAL, libc::ENOSYS].contains(&e)) =>
        {
            skip(
                "with_hidepid_other_users_processes_simply_do_not_appear",
                &format!("no /proc of the test's own can be mounted here ({err})"),
            );
        }
        output => check_inner(
            "with_hidepid_other_users_processes_simply_do_not_appear",
            output,
        ),
    }
}

fn hide_other_users_then_become_nobody() -> std::io::Result<()> {
    let check = |result: libc::c_int| {
        if result == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let none = std::ptr::null();
    // SAFETY: plain syscalls with NUL-terminated literals.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            none,
            libc::MS_REC | libc::MS_PRIVATE,
            none.cast(),
        ))?;
        check(libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            0,
            c"hidepid=2".as_ptr().cast(),
        ))?;
        check(libc::setgroups(0, std::ptr::null()))?;
        check(libc::setgid(NOBODY))?;
        check(libc::setuid(NOBODY))
    }
}

/// This test binary, to run the one ignored test `name`, with root's process `roots` to look for.
fn inner_test(name: &str, roots: i32) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            name,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .env(ROOTS_PROCESS, roots.to_string())
        .env("HOME", "/tmp")
        .env_remove("XDG_RUNTIME_DIR");
    command
}

/// Asserts that an inner test run as nobody passed; skips (saying why) if nobody cannot reach
/// the test binary here.
fn check_inner(test: &str, output: std::io::Result<std::process::Output>) {
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            skip(
                test,
                &format!("user nobody cannot run the test binary here ({err})"),
            );
            return;
        }
        Err(err) => panic!("cannot start the test as nobody: {err}"),
    };
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    if text.contains("Permission denied") && !text.contains("running 1 test") {
        skip(test, "user nobody cannot reach the test binary here");
        return;
    }
    assert!(
        output.status.success(),
        "the checks as nobody failed:\n{text}"
    );
    assert!(text.contains("1 passed"), "the inner test ran:\n{text}");
}

fn roots_process() -> i32 {
    std::env::var(ROOTS_PROCESS)
        .expect("the root half names root's process")
        .parse()
        .unwrap()
}

#[test]
#[ignore = "run by with_hidepid_other_users_processes_simply_do_not_appear, as nobody"]
fn inner_hidepid_as_nobody() {
    if std::env::var_os(INNER).is_none() {
        return;
    }
    assert_ne!(nix::unistd::geteuid().as_raw(), 0, "must not run as root");
    let roots = roots_process();
    let snapshot = scanner().scan().expect("a scan with hidepid");
    assert!(
        find(&snapshot, own_pid()).is_some(),
        "our own process is listed"
    );
    assert!(find(&snapshot, roots).is_none(), "root's process is hidden");
    let theirs: Vec<_> = snapshot
        .procs
        .iter()
        .filter(|p| p.uid != Some(NOBODY))
        .map(|p| (p.pid(), p.name.to_string()))
        .collect();
    assert!(theirs.is_empty(), "only our own processes: {theirs:?}");

    // The printed tree says the same, with no error.
    let procs = snapshot_json(brood(&["snapshot", "--format", "json"]));
    assert!(find_json(&procs, own_pid()).is_some());
    assert!(find_json(&procs, roots).is_none());
}

#[test]
#[ignore = "run by an_unprivileged_user_sees_what_it_may_and_is_told_what_it_may_not, as nobody"]
fn inner_checks_as_nobody() {
    if std::env::var_os(INNER).is_none() {
        return;
    }
    assert_ne!(
        nix::unistd::geteuid().as_raw(),
        0,
        "these checks must not run as root"
    );

    let roots = roots_process();

    // The tree: root's processes are listed, with their owner.
    let snapshot = scanner().scan().unwrap();
    let sleeper = find(&snapshot, roots)
        .expect("root's process is visible")
        .clone();
    assert_eq!(&*sleeper.user, "root");

    // Its descriptors are not ours to read, and that is said, not guessed.
    let denied = read_ends(roots).expect_err("another user's descriptors are unreadable");
    assert_eq!(denied.kind(), std::io::ErrorKind::PermissionDenied);

    // It sleeps, and its wait channel reads "0" to us, as a running process's does: the deadlock
    // sweep cannot tell what it waits for, so the exporter counts it, never takes it for running.
    assert_eq!(sleeper.state, State::Sleeping);
    let ipc = read_ipc(&snapshot, false);
    assert!(
        ipc.wait_hidden(sleeper.id),
        "{:?}",
        ipc.waits_in.get(&roots)
    );
    assert!(ipc.unjudged().contains(&roots));
    let report = Observer::new(Duration::from_secs(30)).observe(&snapshot, &ipc);
    assert!(
        report.unreadable_processes >= 1,
        "root's sleeper is counted unreadable: {report:?}"
    );

    // A signal to it fails with EPERM, in plain words naming the owner. (SIGCONT: harmless.)
    let id = read_identity(roots).unwrap();
    assert_eq!(
        send_signal(id, Signal::SIGCONT),
        Err(SignalError::PermissionDenied)
    );
    let mut app = App::new(Settings::new(own_pid()));
    app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
    let target = Target::of(&sleeper);
    app.update(Event::Done(Outcome::Signalled {
        signal: Signal::SIGCONT,
        scope: SignalScope::Process,
        results: vec![(target, Err(SignalError::PermissionDenied))],
    }));
    let status = app.status.expect("a message").text;
    assert!(
        status.contains("permission denied — it belongs to root"),
        "{status}"
    );

    // The lab works fully for an ordinary user.
    let lab = brood::lab::Lab::new(env!("CARGO_BIN_EXE_brood").into()).expect("a lab as nobody");
    let worker = lab.spawn().expect("a worker as nobody");
    let own = scanner().scan().unwrap();
    assert_eq!(
        find(&own, worker.pid).map(|p| (p.uid, p.user.to_string())),
        Some((Some(NOBODY), "nobody".to_string())),
        "a process is shown with its own user"
    );
    let Ok(Reply::Forked(child)) =
        lab.request(worker, Request::Fork, Some(brood::lab::REPLY_TIMEOUT))
    else {
        panic!("fork as nobody failed");
    };
    lab.request(child, Request::Exit(5), Some(brood::lab::REPLY_TIMEOUT))
        .unwrap();
    let reaped = lab.request(worker, Request::Wait, None).unwrap();
    assert_eq!(
        reaped,
        Reply::Waited(WaitOutcome::Exited {
            pid: child.pid,
            code: 5
        })
    );
    lab.shutdown(false);
    wait_until("the worker to be gone", || {
        (read_identity(worker.pid) != Some(worker)).then_some(())
    });
}
