//! The lab through its API, with real worker processes (this package's own binary).

mod support;
#[path = "support/lab.rs"]
mod test_lab;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

use brood::app::{App, Settings};
use brood::lab::protocol::{Reply, Request, WaitOutcome};
use brood::lab::{Lab, LabError, socket_path};
use brood::message::{CollectorCommand, Effect, Event, Outcome, SystemStats, Target};
use brood::proc::lifecycle::{Change, Lifecycle};
use brood::proc::lookup::read_identity;
use brood::proc::signal::{SignalError, send_signal, send_signal_checked};
use brood::proc::{Identity, Pid, State};
use brood::runtime::executor::Executor;
use nix::sys::signal::Signal;
use support::*;
use test_lab::TestLab;

/// The state and parent of `id`, while that process (not a PID reuser) is there.
fn state_of(id: Identity) -> Option<(State, Pid)> {
    let snapshot = scanner().scan().ok()?;
    find(&snapshot, id.pid)
        .filter(|p| p.id == id)
        .map(|p| (p.state, p.ppid))
}

fn gone(id: Identity) -> bool {
    read_identity(id.pid) != Some(id)
}

#[test]
fn fork_exit_wait_makes_a_zombie_then_reaps_it_with_its_exit_code() {
    let lab = TestLab::new();
    let worker = lab.spawn();
    assert_eq!(
        state_of(worker).map(|s| s.1),
        Some(own_pid()),
        "a worker is brood's direct child"
    );
    let child = lab.fork(worker);
    assert_eq!(
        state_of(child).map(|s| s.1),
        Some(worker.pid),
        "the fork appears under its parent"
    );

    lab.exit(child, 3);
    wait_until("the exited child to be a zombie under its parent", || {
        state_of(child).filter(|s| *s == (State::Zombie, worker.pid))
    });

    // Through the effects layer and the app, as the TUI does it: the reap lands in the log.
    let (events, inbox) = mpsc::channel();
    let (scans, _scan_requests) = mpsc::channel::<CollectorCommand>();
    let effects = Executor::new(Lab::new(env!("CARGO_BIN_EXE_brood").into()), events, scans);
    let mut app = App::new(Settings::new(own_pid()));
    let outcome = match lab.0.request(worker, Request::Wait, None) {
        Ok(Reply::Waited(outcome)) => outcome,
        other => panic!("wait failed: {other:?}"),
    };
    assert_eq!(
        outcome,
        WaitOutcome::Exited {
            pid: child.pid,
            code: 3
        }
    );
    app.update(Event::Done(Outcome::LabReply {
        target: worker,
        request: Request::Wait,
        reply: Ok(Reply::Waited(outcome)),
    }));
    assert!(
        app.history
            .entries(false)
            .any(|e| e.text.as_ref() == format!("{worker} reaped {child}: exited with code 3")),
        "{:?}",
        app.history
            .entries(false)
            .map(|e| e.line())
            .collect::<Vec<_>>()
    );
    wait_until("the reaped child to be gone", || gone(child).then_some(()));
    drop((effects, inbox));
}

#[test]
fn exiting_a_middle_process_reparents_its_child_to_the_adopter_proc_names() {
    let lab = TestLab::new();
    let worker = lab.spawn();
    let middle = lab.fork(worker);
    let grandchild = lab.fork(middle);
    let mut scanner = scanner();
    let mut lifecycle = Lifecycle::default();
    lifecycle.observe(&scanner.scan().unwrap());

    lab.exit(middle, 0);
    let mut changes = Vec::new();
    wait_until("the grandchild to be adopted", || {
        let snapshot = scanner.scan().ok()?;
        changes.extend(lifecycle.observe(&snapshot));
        find(&snapshot, grandchild.pid)
            .filter(|p| p.ppid != middle.pid)
            .map(|_| ())
    });
    let adopter = ppid_from_proc(grandchild.pid).unwrap();
    assert!(
        changes.iter().any(|c| matches!(c, Change::Reparented { id, from, to, .. } if *id == grandchild && *from == middle.pid && *to == adopter)),
        "{changes:?}"
    );
    // The middle process is a zombie under the worker at the same time: both visible at once.
    assert_eq!(state_of(middle), Some((State::Zombie, worker.pid)));
}

#[test]
fn stop_and_continue_reach_a_lab_process_through_its_pidfd() {
    let lab = TestLab::new();
    let worker = lab.spawn();
    send_signal(worker, Signal::SIGSTOP).unwrap();
    wait_until("the worker to stop", || {
        state_of(worker).filter(|s| s.0 == State::Stopped)
    });
    send_signal(worker, Signal::SIGCONT).unwrap();
    wait_until("the worker to run again", || {
        state_of(worker).filter(|s| s.0 == State::Sleeping)
    });
    // Still healthy: it answers.
    assert_eq!(
        lab.0
            .request(worker, Request::Ping, Some(brood::lab::REPLY_TIMEOUT))
            .unwrap(),
        Reply::Ok(worker.pid)
    );
}

#[test]
fn sigkill_to_a_zombie_changes_nothing_and_the_app_says_why() {
    let lab = TestLab::new();
    let worker = lab.spawn();
    let child = lab.fork(worker);
    lab.exit(child, 0);
    wait_until("a zombie", || {
        state_of(child).filter(|s| s.0 == State::Zombie)
    });
    let zombie = child;
    assert_eq!(send_signal(zombie, Signal::SIGKILL), Ok(()));

    let mut app = App::new(Settings::new(own_pid()));
    app.update(Event::Snapshot(
        Box::new(scanner().scan().unwrap()),
        SystemStats::default(),
    ));
    let target = Target {
        id: zombie,
        name: "brood-lab".into(),
        group: worker.pid,
    };
    app.update(Event::Done(Outcome::Signalled {
        signal: Signal::SIGKILL,
        scope: brood::message::SignalScope::Process,
        results: vec![(target, Ok(()))],
    }));
    let status = app.status.unwrap().text;
    assert!(
        status.contains("changes nothing") && status.contains(&format!("parent {worker}")),
        "{status}"
    );

    // The proof that it changed nothing, without waiting to see nothing happen: still a zombie
    // after the signal was handled (kill() returns once it has been), and reaped by its
    // parent with the status it died with, code 0, not "killed by SIGKILL".
    assert_eq!(
        state_of(zombie).map(|s| s.0),
        Some(State::Zombie),
        "still a zombie after SIGKILL"
    );
    let reaped = lab.0.request(
        worker,
        Request::Reap(zombie.pid),
        Some(brood::lab::REPLY_TIMEOUT),
    );
    assert_eq!(
        reaped.unwrap(),
        Reply::Waited(WaitOutcome::Exited {
            pid: zombie.pid,
            code: 0
        })
    );
}

#[test]
fn a_signal_to_a_pid_now_held_by_another_process_is_refused() {
    let victim = Reaped::spawn("sleep", &["60"]);
    let real = read_identity(victim.pid()).unwrap();
    // The process we meant had the same PID but another start time: it is gone and the PID reused.
    let stale = Identity {
        pid: real.pid,
        start_ticks: real.start_ticks.wrapping_sub(1),
    };
    assert_eq!(
        send_signal(stale, Signal::SIGKILL),
        Err(SignalError::Reused)
    );
    // Through the seam: the identity changes between pidfd_open and the check.
    let swapped = |pid: Pid| {
        Some(Identity {
            pid,
            start_ticks: 1,
        })
    };
    assert_eq!(
        send_signal_checked(real, Signal::SIGKILL, swapped),
        Err(SignalError::Reused)
    );
    assert_eq!(
        read_identity(victim.pid()),
        Some(real),
        "the process was not signalled"
    );
    assert_eq!(
        send_signal(
            Identity {
                pid: 999_999_999,
                start_ticks: 1
            },
            Signal::SIGTERM
        ),
        Err(SignalError::Gone)
    );
}

/// Sends `signal` to `scope` around `root` through the effects layer; returns the outcome.
fn signal_scope(
    root: Identity,
    scope: brood::message::SignalScope,
    signal: Signal,
) -> Vec<(Target, Result<(), SignalError>)> {
    let (events, inbox) = mpsc::channel();
    let (scans, _requests) = mpsc::channel::<CollectorCommand>();
    let effects = Executor::new(Err(LabError::NoWorker(0)), events, scans);
    let snapshot = scanner().scan().unwrap();
    let targets = vec![Target::of(
        find(&snapshot, root.pid).expect("the root is alive"),
    )];
    effects.run(Effect::Signal {
        targets,
        signal,
        scope,
    });
    match inbox.recv_timeout(DEADLINE) {
        Ok(Event::Done(Outcome::Signalled { results, .. })) => results,
        other => panic!("no signal outcome: {other:?}"),
    }
}

fn dead(pid: Identity) -> bool {
    gone(pid) || state_of(pid).is_some_and(|s| s.0 == State::Zombie)
}

#[test]
fn a_subtree_signal_reaches_every_descendant_and_spares_the_rest() {
    let lab = TestLab::new();
    let worker = lab.spawn();
    let child = lab.fork(worker);
    let grandchildren: Vec<Identity> = (0..3).map(|_| lab.fork(child)).collect();

    // A stop signal reaches all four and leaves them stopped; SIGCONT brings them all back.
    let stopped = signal_scope(child, brood::message::SignalScope::Subtree, Signal::SIGSTOP);
    assert_eq!(stopped.len(), 4, "{stopped:?}");
    for &pid in grandchildren.iter().chain([&child]) {
        wait_until("each member to stop", || {
            state_of(pid).filter(|s| s.0 == State::Stopped)
        });
    }
    assert!(
        state_of(worker).is_some_and(|s| s.0 == State::Sleeping),
        "the worker above is not touched"
    );
    signal_scope(child, brood::message::SignalScope::Subtree, Signal::SIGCONT);
    for &pid in grandchildren.iter().chain([&child]) {
        wait_until("each member to continue", || {
            state_of(pid).filter(|s| s.0 == State::Sleeping)
        });
    }

    let killed = signal_scope(child, brood::message::SignalScope::Subtree, Signal::SIGKILL);
    assert_eq!(killed.len(), 4, "{killed:?}");
    assert!(killed.iter().all(|(_, r)| r.is_ok()), "{killed:?}");
    for &pid in grandchildren.iter().chain([&child]) {
        wait_until("each member to die", || dead(pid).then_some(()));
    }
    assert!(
        state_of(worker).is_some_and(|s| s.0 != State::Zombie),
        "the worker above the subtree lives"
    );
}

#[test]
fn a_group_signal_from_a_member_that_is_not_the_leader_reaches_the_whole_group() {
    let lab = TestLab::new();
    let worker = lab.spawn();
    let child = lab.fork(worker);
    let grandchild = lab.fork(child);
    // The child is not the group leader (the worker is): the group is the lab's, not its PID.
    let results = signal_scope(child, brood::message::SignalScope::Group, Signal::SIGKILL);
    let mut hit: Vec<Pid> = results.iter().map(|(t, _)| t.id.pid).collect();
    hit.sort_unstable();
    // The executor here runs without a lab, so it knows no guard to spare: the test lab's guard
    // is in the group too.
    let guard = lab.0.group().expect("the lab's guard leads the group");
    let mut expected = vec![guard, worker.pid, child.pid, grandchild.pid];
    expected.sort_unstable();
    assert_eq!(hit, expected);
    for pid in [worker, child, grandchild] {
        wait_until("every member to die", || dead(pid).then_some(()));
    }
}

#[test]
fn a_subtree_signal_never_includes_brood_or_its_ancestors() {
    // The subtree of this test's parent holds this test process: it must be spared, or the
    // freeze would stop the thread that resumes everyone.
    let snapshot = scanner().scan().unwrap();
    let parent = find(&snapshot, ppid_from_proc(own_pid()).unwrap())
        .unwrap()
        .clone();
    let members = brood::runtime::executor::members_of(
        &snapshot,
        &[Target::of(&parent)],
        brood::message::SignalScope::Subtree,
        own_pid(),
        None,
    );
    assert!(
        members
            .iter()
            .all(|(t, _)| t.id.pid != own_pid() && t.id.pid != parent.pid()),
        "{members:?}"
    );
}

#[test]
fn a_worker_answers_garbage_with_an_error_and_stays_healthy() {
    let lab = TestLab::new();
    let worker = lab.spawn();
    let ask = |bytes: &[u8]| {
        let mut stream = UnixStream::connect(socket_path(lab.0.dir(), worker.pid)).unwrap();
        let _ = stream.write_all(bytes);
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        line
    };
    assert!(ask(b"rm -rf /\n").starts_with("error unknown command"));
    assert!(ask(b"exit 999\n").starts_with("error"));
    assert!(ask(&vec![b'x'; 10_000]).starts_with("error request longer than"));
    assert!(ask(b"\xff\xfe\n").starts_with("error"));
    assert_eq!(ask(b"ping\n").trim(), format!("ok {worker}"));
}

#[test]
fn the_control_directory_is_private_and_lab_processes_end_with_the_lab() {
    let lab = TestLab::new();
    let dir = lab.0.dir().to_path_buf();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(brood::lab::rundir::check_private(&dir).is_ok());

    let open = tempdir_with_mode(0o755);
    assert!(
        brood::lab::rundir::check_private(&open).is_err(),
        "a dir others can enter is refused"
    );
    let link = open.with_extension("link");
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    assert!(
        brood::lab::rundir::check_private(&link).is_err(),
        "a symlink is refused"
    );

    let worker = lab.spawn();
    let second = lab.spawn();
    let child = lab.fork(worker);
    let grandchild = lab.fork(child);
    lab.exit(child, 0); // the grandchild is now an orphan outside brood's subtree
    lab.0.shutdown(false);
    for pid in [worker, second, child, grandchild] {
        wait_until("every lab process to be gone", || gone(pid).then_some(()));
    }
    assert!(!dir.exists(), "the run directory is removed");
    let _ = std::fs::remove_file(link);
    let _ = std::fs::remove_dir(open);
}

fn tempdir_with_mode(mode: u32) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("brood-test-{}-{mode:o}", std::process::id()));
    let _ = std::fs::remove_dir(&path);
    std::fs::create_dir(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn a_request_given_up_on_while_the_worker_was_busy_is_not_carried_out_later() {
    let lab = std::sync::Arc::new(TestLab::new());
    let worker = lab.spawn();
    let child = lab.fork(worker);
    let waiting = {
        let lab = lab.clone();
        std::thread::spawn(move || lab.0.request(worker, Request::Wait, None))
    };
    wait_until("the worker to block in wait", || {
        (brood::proc::wchan::read(worker.pid).and_then(|c| c.kind)
            == Some(brood::proc::wchan::WaitKind::Child))
        .then_some(())
    });
    let late = lab.0.request(
        worker,
        Request::Fork,
        Some(std::time::Duration::from_millis(200)),
    );
    assert!(matches!(late, Err(LabError::Timeout(_))), "{late:?}");
    lab.exit(child, 0);
    let reaped = waiting.join().unwrap().unwrap();
    assert_eq!(
        reaped,
        Reply::Waited(WaitOutcome::Exited {
            pid: child.pid,
            code: 0
        })
    );
    // The queued fork reaches the worker now, after brood gave up on it: it must be dropped.
    assert_eq!(
        lab.0
            .request(worker, Request::Ping, Some(brood::lab::REPLY_TIMEOUT))
            .unwrap(),
        Reply::Ok(worker.pid)
    );
    let children: Vec<Pid> = scanner()
        .scan()
        .unwrap()
        .procs
        .iter()
        .filter(|p| p.ppid == worker.pid)
        .map(|p| p.pid())
        .collect();
    assert!(
        children.is_empty(),
        "no fork behind brood's back: {children:?}"
    );
}

#[test]
fn a_group_signal_spares_the_labs_guard_and_the_guard_leads_the_group() {
    let (events, inbox) = mpsc::channel();
    let (scans, _requests) = mpsc::channel::<CollectorCommand>();
    let executor = Executor::new(Lab::new(env!("CARGO_BIN_EXE_brood").into()), events, scans);
    let lab = executor.lab().expect("a lab").clone();
    let worker = lab.spawn().unwrap();
    let guard = lab.live_guard().expect("a guard");
    assert_eq!(
        lab.group(),
        Some(guard.pid),
        "the guard leads the lab's group"
    );
    assert_eq!(
        brood::proc::lookup::read_membership(worker.pid),
        Some((worker, guard.pid)),
        "the worker is in the guard's group"
    );
    let snapshot = scanner().scan().unwrap();
    executor.run(Effect::Signal {
        targets: vec![Target::of(find(&snapshot, worker.pid).unwrap())],
        signal: Signal::SIGKILL,
        scope: brood::message::SignalScope::Group,
    });
    let results = match inbox.recv_timeout(DEADLINE) {
        Ok(Event::Done(Outcome::Signalled { results, .. })) => results,
        other => panic!("no signal outcome: {other:?}"),
    };
    let hit: Vec<Pid> = results.iter().map(|(t, _)| t.id.pid).collect();
    assert_eq!(hit, vec![worker.pid]);
    wait_until("the worker to die", || dead(worker).then_some(()));
    assert_eq!(lab.live_guard(), Some(guard), "the guard lives on");
    executor.shutdown(false);
    wait_until("the guard to be gone", || gone(guard).then_some(()));
}

/// A lab process whose child is stopped exits: the child is orphaned, but its group is not (the
/// guard leading it has its parent, brood, in another group of the session), so the kernel
/// sends it no SIGHUP and SIGCONT, and it stays stopped. The kernel decides that as the parent
/// exits, before the parent is a zombie; so once it is one, the child's fate is sealed.
#[test]
fn a_stopped_child_outlives_its_parent_in_the_lab_stopped_and_unsignalled() {
    let lab = TestLab::new();
    let worker = lab.spawn();
    let child = lab.fork(worker);
    send_signal(child, Signal::SIGSTOP).unwrap();
    wait_until("the child to stop", || {
        state_of(child).filter(|s| s.0 == State::Stopped)
    });
    lab.exit(worker, 0);
    wait_until("the parent to have exited", || {
        state_of(worker)
            .is_none_or(|s| s.0 == State::Zombie)
            .then_some(())
    });
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.pid)).unwrap();
    let pending = |field: &str| {
        let mask = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .map(str::trim)
            .unwrap();
        u64::from_str_radix(mask, 16).unwrap()
    };
    let sighup = 1 << (libc::SIGHUP - 1);
    assert_eq!(pending("SigPnd:") & sighup, 0, "{status}");
    assert_eq!(pending("ShdPnd:") & sighup, 0, "{status}");
    assert_eq!(state_of(child).map(|s| s.0), Some(State::Stopped));
}
