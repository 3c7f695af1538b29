//! The scanner and the lifecycle diff against real processes this test makes.

#[path = "support/fork.rs"]
mod fork;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use brood::app::{App, Settings};
use brood::message::{Event, SystemStats};
use brood::proc::lifecycle::{Change, Lifecycle, Orphan};
use brood::proc::{State, TaskKind};
use nix::sys::signal::Signal;
use support::*;

#[test]
fn unreaped_child_is_reported_as_zombie_under_its_parent() {
    let child = Reaped::spawn("true", &[]);
    let mut scanner = scanner();
    let zombie = wait_until("the child to become a zombie", || {
        let snapshot = scanner.scan().ok()?;
        find(&snapshot, child.pid())
            .filter(|p| p.state == State::Zombie)
            .cloned()
    });
    assert_eq!(zombie.ppid, own_pid());
    assert_eq!(&*zombie.name, "true");
    assert_eq!(zombie.state.letter(), 'Z');
}

#[test]
fn stopped_child_shows_t_and_runs_again_after_sigcont() {
    let child = Reaped::spawn("sleep", &["60"]);
    let mut scanner = scanner();
    let mut lifecycle = Lifecycle::default();
    lifecycle.observe(&scanner.scan().unwrap());

    signal(child.pid(), Signal::SIGSTOP);
    let mut changes = Vec::new();
    wait_until("the child to stop", || {
        let snapshot = scanner.scan().ok()?;
        changes.extend(lifecycle.observe(&snapshot));
        find(&snapshot, child.pid())
            .filter(|p| p.state == State::Stopped)
            .map(|_| ())
    });
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Stopped { id, .. } if id.pid == child.pid()))
    );

    signal(child.pid(), Signal::SIGCONT);
    changes.clear();
    let resumed = wait_until("the child to run again", || {
        let snapshot = scanner.scan().ok()?;
        changes.extend(lifecycle.observe(&snapshot));
        find(&snapshot, child.pid())
            .filter(|p| p.state != State::Stopped)
            .cloned()
    });
    assert!(
        matches!(resumed.state, State::Sleeping | State::Running),
        "{:?}",
        resumed.state
    );
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Continued { id, .. } if id.pid == child.pid()))
    );
}

#[test]
fn traced_child_is_told_apart_from_stopped_and_names_its_tracer() {
    use nix::sys::ptrace;
    let child = Reaped::spawn("sleep", &["60"]);
    let target = nix::unistd::Pid::from_raw(child.pid());
    if let Err(err) = ptrace::attach(target) {
        skip(
            "traced_child_is_told_apart_from_stopped_and_names_its_tracer",
            &format!("ptrace is not allowed here ({err})"),
        );
        return;
    }
    let _ = nix::sys::wait::waitpid(target, None);
    let mut scanner = scanner();
    let traced = wait_until("the child to be traced", || {
        let snapshot = scanner.scan().ok()?;
        find(&snapshot, child.pid())
            .filter(|p| p.state == State::Traced)
            .cloned()
    });
    // The tracer is this test's thread: its TID, which /proc lists as a task of this process.
    assert_eq!(traced.tracer, Some(nix::unistd::gettid().as_raw()));
    assert_eq!(traced.state.letter(), 't');
    let _ = ptrace::detach(target, None);
}

/// `strace -p` on a sleeping process: the tracer seizes it, stops it for a moment and lets it
/// sleep on. It stays S, and still its row names the tracer, with the tracer's name; once the
/// tracer is gone, so is the badge.
#[test]
fn a_process_traced_while_it_sleeps_names_its_tracer_and_loses_it_with_the_tracer() {
    const TEST: &str =
        "a_process_traced_while_it_sleeps_names_its_tracer_and_loses_it_with_the_tracer";
    let child = Reaped::spawn("sleep", &["60"]);
    let target = child.pid();
    // As the screen scans: following every tracer.
    let mut scanner = brood::proc::scan::Scanner::new(brood::proc::scan::ScanOptions {
        tracers: brood::proc::scan::Tracers::Followed,
        ..Default::default()
    });
    // Known to the scanner, quiet, its tracer looked for, before anyone attaches.
    for _ in 0..12 {
        scanner.scan().unwrap();
    }
    let Some(tracer) = fork::trace_like_strace(target) else {
        skip(TEST, "ptrace is not allowed here");
        return;
    };
    // strace -p lets it sleep on (after a moment's run to restart its nanosleep).
    let seen = wait_until("the sleeping tracee to name its tracer", || {
        let snapshot = scanner.scan().ok()?;
        find(&snapshot, target)
            .filter(|p| p.tracer == Some(tracer.0) && p.state == State::Sleeping)?;
        Some(snapshot)
    });

    // Rooted at the tracee, as `brood --pid` is: other tests' children crowd this process.
    let mut app = App::new(Settings {
        root: Some(target),
        ..Settings::new(own_pid())
    });
    app.update(Event::Resize {
        width: 120,
        height: 40,
    });
    app.update(Event::Snapshot(Box::new(seen), SystemStats::default()));
    let row = screen_row(&app, 120, 40, target);
    assert!(
        row.contains(&format!("sleep [traced by {} brood-tracer] 60", tracer.0)),
        "{row}"
    );

    drop(tracer);
    wait_until("the badge to go with the tracer", || {
        let snapshot = scanner.scan().ok()?;
        find(&snapshot, target).filter(|p| p.tracer.is_none())?;
        Some(())
    });
}

#[test]
fn orphaned_grandchild_is_reported_reparented_to_the_adopter_proc_names() {
    // The middle process starts a grandchild, prints its PID, then sleeps until killed.
    let mut middle = Reaped::from_command(
        Command::new("sh")
            .args(["-c", "sleep 60 & echo $!; exec sleep 60"])
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    BufReader::new(middle.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let grandchild = Killed(line.trim().parse().unwrap());

    let mut scanner = scanner();
    let mut lifecycle = Lifecycle::default();
    let before = wait_until("the grandchild to be seen under the middle process", || {
        let snapshot = scanner.scan().ok()?;
        find(&snapshot, grandchild.0).filter(|p| p.ppid == middle.pid())?;
        Some(snapshot)
    });
    lifecycle.observe(&before);

    signal(middle.pid(), Signal::SIGKILL);
    middle.0.wait().unwrap();

    let mut changes = Vec::new();
    let after = wait_until("the grandchild to be adopted", || {
        let snapshot = scanner.scan().ok()?;
        changes.extend(lifecycle.observe(&snapshot));
        find(&snapshot, grandchild.0).filter(|p| p.ppid != middle.pid())?;
        Some(snapshot)
    });
    let adopter = ppid_from_proc(grandchild.0).expect("the grandchild is alive");
    let reparented = changes.iter().find_map(|c| match c {
        Change::Reparented { id, from, to, .. } if id.pid == grandchild.0 => Some((*from, *to)),
        _ => None,
    });
    assert_eq!(reparented, Some((middle.pid(), adopter)));

    let marks = lifecycle.marks(&after, &after.index_by_pid());
    let index = after
        .procs
        .iter()
        .position(|p| p.pid() == grandchild.0)
        .unwrap();
    assert_eq!(
        marks[index].orphan,
        Some(Orphan::Seen {
            former_parent: middle.pid()
        })
    );
}

#[test]
fn exec_keeps_the_pid_and_changes_name_and_command_line() {
    let mut child = Reaped::from_command(
        Command::new("sh")
            .args(["-c", "read line; exec sleep 61"])
            .stdin(Stdio::piped()),
    );
    let mut scanner = scanner();
    let mut lifecycle = Lifecycle::default();
    let before = wait_until("the shell to appear", || {
        let snapshot = scanner.scan().ok()?;
        find(&snapshot, child.pid()).filter(|p| &*p.name == "sh")?;
        Some(snapshot)
    });
    lifecycle.observe(&before);

    child.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut changes = Vec::new();
    // A scan in the middle of the exec may read no command line yet: the next one does.
    wait_until("the exec, with its new command line", || {
        let snapshot = scanner.scan().ok()?;
        changes.extend(lifecycle.observe(&snapshot));
        find(&snapshot, child.pid())
            .filter(|p| &*p.name == "sleep" && &*p.cmdline == "sleep 61")
            .cloned()
    });
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Exec { id, .. } if id.pid == child.pid()))
    );
}

#[test]
fn threads_are_listed_under_their_process_only_when_asked_for() {
    let threads_of_self = |scanner: &mut brood::proc::scan::Scanner| {
        let snapshot = scanner.scan().unwrap();
        snapshot
            .procs
            .iter()
            .filter(|p| p.kind == TaskKind::Thread && p.ppid == own_pid())
            .count()
    };
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let helper = std::thread::spawn(move || parked.recv());
    let mut scanner = scanner();
    assert_eq!(threads_of_self(&mut scanner), 0);
    scanner.set_threads(true);
    assert!(
        threads_of_self(&mut scanner) >= 1,
        "this test runs at least one extra thread"
    );
    drop(stop);
    let _ = helper.join();
}

#[test]
fn cpu_share_of_a_busy_child_is_measured_from_tick_deltas() {
    let child = Reaped::spawn("sh", &["-c", "while :; do :; done"]);
    let mut scanner = scanner();
    scanner.scan().unwrap();
    let busy = wait_until("the busy child to show CPU use", || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let snapshot = scanner.scan().ok()?;
        find(&snapshot, child.pid())
            .filter(|p| p.cpu_percent > 20.0)
            .cloned()
    });
    assert!(
        busy.cpu_percent <= 100.0 * 1.5,
        "one thread cannot use much more than one core: {}",
        busy.cpu_percent
    );
}

/// The orphaned-process-group rule, for real: a "shell" in a session of its own runs a job in a
/// process group of its own; the job is stopped and the shell dies. Nothing in the session can
/// resume the job any more, so the kernel sends it SIGHUP and SIGCONT, and brood says so.
#[test]
fn a_stopped_job_whose_shell_dies_is_hung_up_by_the_kernel_and_brood_says_why() {
    use std::os::unix::process::CommandExt;
    let (read, write) = nix::unistd::pipe().unwrap();
    let mut shell = std::process::Command::new("/bin/sleep");
    shell.arg("1000");
    let write_fd = std::os::fd::AsRawFd::as_raw_fd(&write);
    // SAFETY: between fork and exec only async-signal-safe calls run: setsid, fork, setpgid,
    // write and execv, with everything they need prepared before the fork.
    unsafe {
        shell.pre_exec(move || {
            libc::setsid();
            match libc::fork() {
                0 => {
                    // The job: a group of its own in the shell's session; it reports its PID.
                    libc::setpgid(0, 0);
                    let pid = libc::getpid().to_ne_bytes();
                    libc::write(write_fd, pid.as_ptr().cast(), pid.len());
                    let argv = [c"sleep".as_ptr(), c"1000".as_ptr(), std::ptr::null()];
                    libc::execv(c"/bin/sleep".as_ptr(), argv.as_ptr());
                    libc::_exit(127);
                }
                -1 => Err(std::io::Error::last_os_error()),
                _ => Ok(()),
            }
        });
    }
    let mut shell = Reaped::from_command(&mut shell);
    drop(write);
    let mut bytes = [0u8; 4];
    std::io::Read::read_exact(&mut std::fs::File::from(read), &mut bytes).unwrap();
    let job = i32::from_ne_bytes(bytes);
    let _job = Killed(job);
    signal(job, Signal::SIGSTOP);
    wait_for_state(job, 'T');

    let mut app = App::new(Settings::new(own_pid()));
    let feed = |app: &mut App| {
        app.update(Event::Snapshot(
            Box::new(scanner().scan().unwrap()),
            SystemStats::default(),
        ))
    };
    feed(&mut app);
    assert!(
        find(&app.snapshot, job).is_some_and(|p| p.pgrp == job && p.ppid == shell.pid()),
        "the job leads its own group under the shell"
    );
    let _ = shell.0.kill();
    let _ = shell.0.wait();
    wait_until("the hung-up job to end", || {
        (state_of(job) != Some('T') && state_of(job) != Some('S')).then_some(())
    });
    feed(&mut app);
    let said = format!("the kernel sent SIGHUP and SIGCONT to group {job}");
    assert!(
        app.history
            .entries(false)
            .any(|e| e.text.starts_with(&said)),
        "{:?}",
        app.history
            .entries(false)
            .map(|e| e.line())
            .collect::<Vec<_>>()
    );
}
