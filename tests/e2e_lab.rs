//! The lab end to end: the real binary in a pseudo-terminal, keys typed, and /proc checked for
//! what really happened — including that nothing brood made is alive after it quits.

#[path = "support/pty.rs"]
mod pty;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brood::lab::protocol::{Reply, Request};
use brood::lab::socket_path;
use brood::proc::lookup::read_identity;
use brood::proc::scan::{ScanOptions, Scanner};
use brood::proc::{Snapshot, State};
use pty::{Brood, Key};
use support::{DEADLINE, find, scanner, wait_until, wait_within};

const PATIENCE: Duration = Duration::from_secs(20);

/// PIDs of the `brood-lab` rows on screen, top to bottom.
fn lab_rows(text: &str) -> Vec<i32> {
    text.lines()
        .filter(|line| line.contains("brood-lab"))
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}

/// State and parent of `pid` as /proc has them.
fn proc_state(pid: i32) -> Option<(State, i32)> {
    let snapshot = scanner().scan().ok()?;
    find(&snapshot, pid).map(|p| (p.state, p.ppid))
}

fn gone(pid: i32) -> bool {
    read_identity(pid).is_none()
}

fn start_in_lab_view() -> Brood {
    let mut brood = Brood::launch().size(140, 40).start();
    let pid = brood.pid().to_string();
    brood.wait_for(
        |text| {
            text.lines()
                .any(|l| l.contains("[this brood]") && l.trim_start().starts_with(&pid))
        },
        PATIENCE,
    );
    brood.send_key(Key::Char('L'));
    brood.wait_for(|text| text.contains("lab view on"), PATIENCE);
    brood
}

#[test]
fn spawn_fork_exit_wait_signal_and_quit_leave_nothing_behind() {
    let mut brood = start_in_lab_view();
    let brood_pid = brood.pid();

    brood.send_key(Key::Char('n'));
    let screen = brood.wait_for(|text| lab_rows(text).len() == 1, PATIENCE);
    let worker = lab_rows(&screen)[0];
    assert_eq!(
        proc_state(worker).map(|s| s.1),
        Some(brood_pid),
        "the worker is brood's child"
    );

    // Select the worker (the row below brood) and fork it.
    brood.send_key(Key::Char('j'));
    brood.send_key(Key::Char('f'));
    let screen = brood.wait_for(|text| lab_rows(text).len() == 2, PATIENCE);
    let child = lab_rows(&screen)[1];
    assert_eq!(
        proc_state(child).map(|s| s.1),
        Some(worker),
        "fork() made a child of the worker"
    );

    // Make the child exit with code 7: a zombie under the worker, on screen and in /proc.
    brood.send_key(Key::Char('j'));
    brood.send_key(Key::Char('x'));
    brood.wait_for(|text| text.contains("calls _exit()"), PATIENCE);
    brood.send(b"7");
    brood.send_key(Key::Enter);
    brood.wait_for(
        |text| text.contains("[zombie") && text.contains(&format!("parent {worker}")),
        PATIENCE,
    );
    assert_eq!(proc_state(child), Some((State::Zombie, worker)));

    // w on the zombie: its parent reaps it, and the exit code is reported.
    brood.send_key(Key::Char('w'));
    brood.wait_for(
        |text| text.contains(&format!("{worker} reaped {child}: exited with code 7")),
        PATIENCE,
    );
    wait_until("the reaped child to leave /proc", || {
        gone(child).then_some(())
    });
    // Once its row is gone the selection has moved to its parent, the worker.
    brood.wait_for(|text| lab_rows(text) == [worker], PATIENCE);

    // The signal menu on the worker, SIGTERM preselected: no confirmation for a lab process.
    brood.send_key(Key::Char('s'));
    brood.wait_for(
        |text| text.contains("send a signal") && text.contains("SIGTERM"),
        PATIENCE,
    );
    brood.send_key(Key::Enter);
    brood.wait_for(
        |text| text.contains(&format!("sent SIGTERM to {worker}")),
        PATIENCE,
    );
    wait_until("the worker to be a zombie of brood", || {
        proc_state(worker).filter(|s| *s == (State::Zombie, brood_pid))
    });
    // The quit dialog counts what brood's last scan saw: wait for the screen to show it too.
    brood.wait_for(
        |text| {
            text.lines()
                .any(|l| l.contains("[zombie") && l.trim_start().starts_with(&worker.to_string()))
        },
        PATIENCE,
    );

    // Quit: brood asks (a lab process, a zombie, remains), Enter ends everything.
    brood.send_key(Key::Char('q'));
    brood.wait_for(
        |text| text.contains("The lab has 1 zombie left: exited, not yet reaped"),
        PATIENCE,
    );
    brood.send_key(Key::Enter);
    assert_eq!(brood.wait_exit(PATIENCE), 0);
    wait_until("every process brood made to be gone", || {
        (gone(worker) && gone(child)).then_some(())
    });
}

#[test]
fn quit_can_leave_lab_processes_running_on_request() {
    let mut brood = start_in_lab_view();
    brood.send_key(Key::Char('n'));
    let worker = lab_rows(&brood.wait_for(|text| lab_rows(text).len() == 1, PATIENCE))[0];
    brood.send_key(Key::Char('q'));
    brood.wait_for(|text| text.contains("leave them running"), PATIENCE);
    brood.send_key(Key::Char('l'));
    assert_eq!(brood.wait_exit(PATIENCE), 0);
    let _cleanup = support::Killed(worker);
    // brood is gone, so the worker has seen its lifeline close; left running on purpose, it
    // still answers on its socket (the run directory is named in its command line).
    let cmdline =
        std::fs::read(format!("/proc/{worker}/cmdline")).expect("the worker outlives brood");
    let dir = String::from_utf8_lossy(
        cmdline
            .split(|b| *b == 0)
            .nth(2)
            .expect("the run directory"),
    )
    .to_string();
    let reply = wait_until("the worker to answer after brood exited", || {
        let mut stream =
            std::os::unix::net::UnixStream::connect(format!("{dir}/{worker}.sock")).ok()?;
        std::io::Write::write_all(&mut stream, b"ping\n").ok()?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(&stream), &mut line).ok()?;
        Some(line)
    });
    assert_eq!(reply.trim(), format!("ok {worker}"));
    assert_ne!(proc_state(worker).map(|s| s.0), Some(State::Zombie));
    drop(_cleanup);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn lab_processes_end_even_when_brood_is_killed_outright() {
    let mut brood = start_in_lab_view();
    brood.send_key(Key::Char('n'));
    let worker = lab_rows(&brood.wait_for(|text| lab_rows(text).len() == 1, PATIENCE))[0];
    brood.send_key(Key::Char('j'));
    brood.send_key(Key::Char('f'));
    let child = lab_rows(&brood.wait_for(|text| lab_rows(text).len() == 2, PATIENCE))[1];
    // A stopped process watches nothing: it must end all the same.
    support::signal(child, nix::sys::signal::Signal::SIGSTOP);
    wait_until("the child to stop", || {
        proc_state(child).filter(|s| s.0 == State::Stopped)
    });
    // Dropping the harness SIGKILLs brood, which gets no chance to clean up: the lifeline pipe
    // closing is what ends the lab.
    drop(brood);
    wait_until("the workers to notice brood is gone and exit", || {
        let dead = |pid| gone(pid) || proc_state(pid).is_some_and(|s| s.0 == State::Zombie);
        (dead(worker) && dead(child)).then_some(())
    });
}

#[test]
fn sigterm_to_brood_ends_its_lab_and_restores_the_terminal() {
    let mut brood = start_in_lab_view();
    brood.send_key(Key::Char('n'));
    let worker = lab_rows(&brood.wait_for(|text| lab_rows(text).len() == 1, PATIENCE))[0];
    brood.signal(libc::SIGTERM);
    assert_eq!(brood.wait_exit(PATIENCE), 143);
    assert!(brood.is_cooked(), "the terminal is back in cooked mode");
    wait_until("the worker to be gone", || gone(worker).then_some(()));
}

/// Every process that is brood's descendant or in the group its guard leads, by identity; and
/// the run directory named in a lab process's command line.
fn lab_of(snapshot: &Snapshot, brood: i32) -> (Vec<brood::proc::Identity>, Option<String>) {
    let by_pid: std::collections::HashMap<i32, &brood::proc::ProcInfo> =
        snapshot.procs.iter().map(|p| (p.pid(), p)).collect();
    let descends = |mut pid: i32| {
        for _ in 0..64 {
            match by_pid.get(&pid) {
                Some(p) if p.ppid == brood => return true,
                Some(p) => pid = p.ppid,
                None => return false,
            }
        }
        false
    };
    let guard = snapshot
        .procs
        .iter()
        .find(|p| p.ppid == brood && &*p.name == "brood-guard")
        .map(|p| p.pid());
    let members: Vec<&brood::proc::ProcInfo> = snapshot
        .procs
        .iter()
        .filter(|p| descends(p.pid()) || Some(p.pgrp) == guard)
        .collect();
    let dir = members
        .iter()
        .find_map(|p| p.cmdline.split_whitespace().nth(2).map(str::to_string));
    (members.iter().map(|p| p.id).collect(), dir)
}

#[test]
fn sigkill_to_brood_during_any_scenario_ends_its_whole_lab_and_run_directory() {
    use brood::lab::scenarios::ScenarioId;
    use strum::VariantArray;
    // One scanner for all: a scan of a busy machine in each of the many threads, each as
    // often as they wait, would starve the broods under test.
    let latest = Mutex::new(Arc::new(Snapshot::default()));
    let done = AtomicBool::new(false);
    std::thread::scope(|threads| {
        threads.spawn(|| {
            let mut scanner = Scanner::new(ScanOptions::default());
            while !done.load(Ordering::Relaxed) {
                if let Ok(snapshot) = scanner.scan() {
                    *latest.lock().unwrap() = Arc::new(snapshot);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let lessons: Vec<_> = ScenarioId::VARIANTS
            .iter()
            .map(|&id| {
                let latest = &latest;
                threads.spawn(move || (id, sigkill_during(id, latest)))
            })
            .collect();
        let ended: Vec<_> = lessons.into_iter().map(|l| l.join()).collect();
        done.store(true, Ordering::Relaxed);
        let ended: Vec<_> = ended.into_iter().flatten().collect();
        assert_eq!(
            ended.len(),
            ScenarioId::VARIANTS.len(),
            "lessons whose lab outlived brood's SIGKILL"
        );
        // How long the slowest took (the issue asks for 2 s; a timing is a figure to read, not
        // to assert on a machine as busy as this test makes it).
        let (slowest, took) = ended.iter().max_by_key(|(_, took)| *took).unwrap();
        eprintln!("slowest lab to end after SIGKILL: {slowest}, {took:?}");
    });
}

/// SIGKILL to brood during lesson `id`: how long until its last lab process was gone.
fn sigkill_during(
    id: brood::lab::scenarios::ScenarioId,
    latest: &Mutex<Arc<Snapshot>>,
) -> Duration {
    let brood = Brood::launch()
        .size(140, 40)
        .args(&["--scenario", id.name()])
        .start();
    let pid = brood.pid();
    // The moment does not matter (the lab must end at any step): once the guard and a process
    // of the lesson are there, brood is killed outright. (Some lessons keep only one: the
    // orphan's parent exits at once.)
    // 25 broods start their lessons at once: on a busy 2-core machine, some take a while.
    let (members, dir) = wait_within(4 * DEADLINE, &format!("{id}: the lesson under way"), || {
        let snapshot = latest.lock().unwrap().clone();
        let (members, dir) = lab_of(&snapshot, pid);
        (members.len() >= 2).then_some((members, dir))
    });
    let killed = std::time::Instant::now();
    drop(brood);
    wait_until(&format!("{id}: every lab process gone"), || {
        let dead = |id: &brood::proc::Identity| {
            read_identity(id.pid) != Some(*id)
                || proc_state(id.pid).is_some_and(|s| s.0 == State::Zombie)
        };
        members.iter().all(dead).then_some(())
    });
    let took = killed.elapsed();
    if let Some(dir) = dir {
        wait_until(&format!("{id}: the run directory removed"), || {
            (!std::path::Path::new(&dir).exists()).then_some(())
        });
        // Lab processes that left the tree and the group (a daemon, a job's session) are found
        // by what every lab process holds: a descriptor in the run directory (its lock).
        wait_until(&format!("{id}: nothing holding the run's files"), || {
            holders_of(&dir).is_empty().then_some(())
        });
    }
    took
}

/// Processes with a descriptor on a file in `dir` (removed or not).
fn holders_of(dir: &str) -> Vec<i32> {
    let inside = format!("{dir}/");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
                fds.flatten().any(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|target| target.to_string_lossy().starts_with(&inside))
                })
            })
        })
        .collect()
}

/// Starts a worker and a child of it, stops the child and asks to quit: the dialog warns.
fn lab_with_a_stopped_child() -> (Brood, i32, i32) {
    let mut brood = start_in_lab_view();
    brood.send_key(Key::Char('n'));
    let worker = lab_rows(&brood.wait_for(|text| lab_rows(text).len() == 1, PATIENCE))[0];
    brood.send_key(Key::Char('j'));
    brood.send_key(Key::Char('f'));
    let child = lab_rows(&brood.wait_for(|text| lab_rows(text).len() == 2, PATIENCE))[1];
    brood.send_key(Key::Char('j'));
    brood.send_key(Key::Char('T'));
    brood.wait_for(|text| text.contains("[stopped]"), PATIENCE);
    brood.send_key(Key::Char('q'));
    brood.wait_for(
        |text| text.contains("(1 stopped)") && text.contains("SIGHUP and SIGCONT"),
        PATIENCE,
    );
    (brood, worker, child)
}

#[test]
fn leaving_a_stopped_lab_running_continues_it_first_on_request() {
    let (mut brood, worker, child) = lab_with_a_stopped_child();
    let _cleanup = (support::Killed(worker), support::Killed(child));
    brood.send_key(Key::Char('c'));
    assert_eq!(brood.wait_exit(PATIENCE), 0);
    wait_until("the child to run again", || {
        proc_state(child).filter(|s| s.0 == State::Sleeping)
    });
    // Orphaned, but with no member stopped: the kernel leaves the group alone. Had it hung the
    // group up, it would have done so as brood exited, before `wait_exit` returned, and neither
    // could answer now (a pending SIGHUP kills before the process is back in user space).
    for pid in [worker, child] {
        assert_eq!(answer_to_ping(pid), Some(Reply::Ok(pid)), "{pid} lives on");
    }
}

/// What lab process `pid` answers to a ping on its control socket, found through the run
/// directory its command line names (`brood-lab __lab-worker DIR …`).
fn answer_to_ping(pid: i32) -> Option<Reply> {
    use std::io::{BufRead, BufReader, Write};
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let dir = cmdline.split(|&b| b == 0).nth(2)?;
    let dir = std::path::Path::new(std::str::from_utf8(dir).ok()?);
    let mut stream = std::os::unix::net::UnixStream::connect(socket_path(dir, pid)).ok()?;
    stream.set_read_timeout(Some(PATIENCE)).ok()?;
    writeln!(stream, "{}", Request::Ping).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    Reply::parse(line.trim()).ok()
}

#[test]
fn leaving_a_stopped_lab_running_as_is_lets_the_kernel_hang_it_up_as_the_dialog_warned() {
    let (mut brood, worker, child) = lab_with_a_stopped_child();
    brood.send_key(Key::Char('l'));
    assert_eq!(brood.wait_exit(PATIENCE), 0);
    wait_until("the kernel's SIGHUP to end both", || {
        let dead = |pid| gone(pid) || proc_state(pid).is_some_and(|s| s.0 == State::Zombie);
        (dead(worker) && dead(child)).then_some(())
    });
}
