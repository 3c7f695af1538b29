//! The lessons beyond the chapter's core, run for real like the others: how children are reaped,
//! write ends left open, lock cycles the kernel does and does not catch, a mutex whose holder
//! died, memory shared after fork, a pool that loses work, a daemon and a job; and that ending
//! brood ends their processes wherever they went.

use super::*;

#[test]
fn sigchld_zombies_pile_up_a_handler_reaps_coalesced_signals_and_sig_ign_leaves_none() {
    let run = Run::start(ScenarioId::Sigchld);
    let never = run.role("parent-never");
    let (handler, ignore) = (
        run.identity("parent-handler"),
        run.identity("parent-ignore"),
    );
    let ignored = run.roles("child-ignore", 3);
    // While it runs, no child of the SIG_IGN parent is ever seen as a zombie.
    let mut zombie_seen = None;
    let mut pending_seen = false;
    wait_until(
        "the handler to reap all three, the last two in one run",
        || {
            zombie_seen =
                zombie_seen.or(ignored.iter().copied().find(|&c| state_of(c) == Some('Z')));
            let figures = run.figures()?;
            pending_seen |= figures.value("handler_pending") == Some(1);
            let done = figures.value("handler_reaped") == Some(3)
                && figures.value("ignore_echild") == Some(1);
            done.then_some(())
        },
    );
    assert_eq!(
        zombie_seen, None,
        "a child of the SIG_IGN parent was a zombie"
    );
    assert!(
        pending_seen,
        "the panel never showed SIGCHLD blocked and pending"
    );
    let figures = run.figures().unwrap();
    // Two exits while SIGCHLD was blocked: one pending signal, one run for both.
    assert_eq!(
        figures.value("handler_runs"),
        Some(2),
        "{:?}",
        figures.lines
    );
    assert_eq!(
        figures.value("handler_last"),
        Some(2),
        "{:?}",
        figures.lines
    );
    run.note_until("a pending signal is a flag, not a count");
    run.note_until("failed with ECHILD");
    for parent in [handler, ignore] {
        run.wait_for_outcome("brood to reap the parent", exited(parent.pid, 0));
    }
    // The parent that never waits has all three as zombies, under it.
    let children = run.roles("child-never", 3);
    wait_until("three zombies under the parent that never waits", || {
        children
            .iter()
            .all(|&c| state_of(c) == Some('Z') && ppid_from_proc(c) == Some(never))
            .then_some(())
    });
    run.value_until("never_zombies", |v| v == 3);
    run.finish();
}

#[test]
fn pipe_leak_a_write_end_left_open_keeps_eof_away_until_its_holder_ends() {
    let run = Run::start(ScenarioId::PipeLeak);
    let (parent_a, producer) = (run.identity("parent-a"), run.role("producer-a"));
    let consumer_a = run.role("consumer-a");
    let (leaky, tidy, execs) = (
        run.role("consumer-leaky"),
        run.role("consumer-cloexec"),
        run.role("execs"),
    );
    // A: every message read, the producer gone, and still no end of file: the parent holds a
    // write end, as /proc says too.
    run.wait_for_outcome("the producer to exit", exited(producer, 0));
    run.value_until("writers_a", |v| v == 1);
    let line = run.line_until("A (the parent never closed its ends)");
    assert!(
        line.contains("read 3") && line.contains(&parent_a.pid.to_string()),
        "{line}"
    );
    let read = pipes_read(consumer_a);
    assert!(
        pipes_written(parent_a.pid).iter().any(|p| read.contains(p)),
        "the parent holds a write end of the consumer's pipe"
    );
    assert!(state_of(consumer_a) == Some('S') && waits(consumer_a, WaitKind::PipeRead));
    // B: the pipe made with O_CLOEXEC lost the exec'd child's ends; the other leaked into sleep.
    run.wait_for_outcome("the close-on-exec consumer to see EOF", exited(tidy, 0));
    wait_until("the child to exec sleep", || {
        (comm(execs) == "sleep").then_some(())
    });
    run.value_until("writers_leaky", |v| v == 1);
    let line = run.line_until("B (pipe without O_CLOEXEC)");
    assert!(line.contains(&execs.to_string()), "{line}");
    let read = pipes_read(leaky);
    assert!(
        pipes_written(execs).iter().any(|p| read.contains(p)),
        "sleep holds a write end of the leaky consumer's pipe"
    );
    // Ending each holder delivers end of file.
    let reply = run
        .lab
        .request(parent_a, Request::Exit(0), Some(brood::lab::REPLY_TIMEOUT));
    assert!(matches!(reply, Ok(Reply::Ok(_))), "{reply:?}");
    kill(execs, Signal::SIGKILL);
    for consumer in [consumer_a, leaky] {
        wait_until("the consumer to read end of file", || {
            let figures = run.figures()?;
            let status = figures
                .procs
                .into_iter()
                .find(|p| p.pid == consumer)?
                .status;
            status.contains("eof").then_some(())
        });
    }
    run.finish();
}

#[test]
fn fcntl_deadlock_gets_edeadlk_while_the_ofd_pair_hangs_and_only_it_is_flagged() {
    let run = Run::start(ScenarioId::DeadlockFcntl);
    let (posix_a, posix_b) = (run.role("posix-a"), run.role("posix-b"));
    let (ofd_a, ofd_b) = (run.role("ofd-a"), run.role("ofd-b"));
    // The POSIX pair: one got EDEADLK at once, backed off, and both finished.
    run.value_until("edeadlk", |v| v == 1);
    for locker in [posix_a, posix_b] {
        run.wait_for_outcome("each POSIX locker to get both locks", exited(locker, 0));
    }
    let after_us = run
        .figures()
        .unwrap()
        .procs
        .iter()
        .find_map(|p| {
            let word = p
                .status
                .split_whitespace()
                .find_map(|w| w.strip_prefix("edeadlk-after-us="))?;
            word.parse::<u64>().ok()
        })
        .expect("the locker that got EDEADLK says when");
    assert!(after_us < 500_000, "EDEADLK came after {after_us} µs");
    // The OFD pair: two held, two waiting, for ever.
    run.value_until("ofd_waiting", |v| v == 2);
    assert_eq!(run.figures().unwrap().value("ofd_held"), Some(2));
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    let ofd_waiters = locks.lines().filter(|l| l.contains("-> OFDLCK")).count();
    assert!(ofd_waiters >= 2, "{locks}");
    stuck_for_two_seconds(&[ofd_a, ofd_b]);
    // Only the OFD pair is flagged, by the panel and by the detector the tree's badges use.
    run.value_until("flagged_ofd", |v| v == 1);
    assert_eq!(run.figures().unwrap().value("flagged_posix"), Some(0));
    run.note_until("EDEADLK");
    let snapshot = scanner().scan().expect("a scan");
    let ipc = brood::proc::ipc::read_ipc(&snapshot, false);
    let cycles: Vec<Vec<Pid>> = brood::proc::ipc::find_deadlocks(&ipc.waits())
        .iter()
        .map(|d| {
            let mut members: Vec<Pid> = d.members().map(|m| m.pid).collect();
            members.sort_unstable();
            members
        })
        .filter(|m| {
            m.iter()
                .any(|p| [posix_a, posix_b, ofd_a, ofd_b].contains(p))
        })
        .collect();
    let mut pair = vec![ofd_a, ofd_b];
    pair.sort_unstable();
    assert_eq!(
        cycles,
        vec![pair],
        "brood's detector flags the OFD pair alone"
    );
    // Killing one lets the other take its second lock.
    kill(ofd_a, Signal::SIGKILL);
    run.wait_for_outcome("the other OFD locker to finish", exited(ofd_b, 0));
    run.finish();
}

#[test]
fn a_dead_holder_blocks_a_plain_mutex_for_ever_and_a_robust_one_is_repaired() {
    let run = Run::start(ScenarioId::RobustMutex);
    let plain = run.roles("plain", 3);
    let robust = run.roles("robust", 3);
    // brood kills each holder while it holds the mutex.
    let victim = |key: &str| -> Pid {
        let note = run.note_until(&format!("held the {key} mutex"));
        let pid = note.split_whitespace().nth(2).and_then(|w| w.parse().ok());
        pid.unwrap_or_else(|| panic!("no PID in {note:?}"))
    };
    let plain_victim = victim("plain");
    assert!(plain.contains(&plain_victim));
    // Plain: the holder is dead, and the two others wait on its futex for ever, using no CPU.
    run.value_until("plain_holder_dead", |v| v == 1);
    run.value_until("plain_waiting", |v| v == 2);
    let waiting: Vec<Pid> = plain
        .iter()
        .copied()
        .filter(|&p| p != plain_victim)
        .collect();
    for &pid in &waiting {
        assert!(
            waits(pid, WaitKind::Futex),
            "{pid} waits in {:?}",
            brood::proc::wchan::read(pid)
        );
    }
    stuck_for_two_seconds(&waiting);
    run.line_until("which is dead: nobody will ever unlock it");
    // Robust: the next locker got EOWNERDEAD, repaired it, and the two survivors finished.
    let robust_victim = victim("robust");
    run.value_until("robust_repairs", |v| v == 1);
    for &pid in robust.iter().filter(|&&p| p != robust_victim) {
        run.wait_for_outcome("each survivor to finish its rounds", exited(pid, 0));
    }
    run.note_until("EOWNERDEAD");
    run.finish();
}

#[test]
fn forked_children_share_the_touched_memory_until_one_writes_its_own_copy() {
    let run = Run::start(ScenarioId::CopyOnWrite);
    let mb = i64::from(TEST_PACE.memory_mb);
    let writer = run.role("writer");
    run.roles("sharer", 2);
    // Before the writer writes: each RSS counts the shared memory, PSS counts it once.
    let (rss, pss) = wait_until("the figures of all four, before any write", || {
        let figures = run.figures()?;
        let counted = figures.lines.iter().filter(|l| l.contains("RSS ")).count();
        (counted >= 5 && figures.value("rewritten") == Some(0))
            .then(|| (figures.value("rss_sum_mb"), figures.value("pss_sum_mb")))
    });
    let (rss, pss) = (rss.unwrap(), pss.unwrap());
    assert!(
        rss - pss >= 3 * mb * 9 / 10,
        "4 processes map {mb} MiB: RSS adds it up 4 times ({rss}), PSS once ({pss})"
    );
    // Once, not less: the touched memory is real, shared, and counted in full between them
    // (plus what each process has of its own, a few MiB at most).
    assert!(
        (mb * 9 / 10..=mb + 32).contains(&pss),
        "PSS adds up to the {mb} MiB touched, once ({pss})"
    );
    assert!(run.figures().unwrap().value("writer_private_mb").unwrap() < mb / 4);
    // As it writes, the writer's private memory climbs to the whole of it, as /proc says too.
    wait_until(
        "every page written, and the writer's private memory all of it",
        || {
            let figures = run.figures()?;
            let written = figures.value("rewritten") == figures.value("pages");
            (written && figures.value("writer_private_mb")? >= mb * 9 / 10).then_some(())
        },
    );
    let rollup = std::fs::read_to_string(format!("/proc/{writer}/smaps_rollup")).unwrap();
    let private_dirty: i64 = rollup
        .lines()
        .find_map(|l| l.strip_prefix("Private_Dirty:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(
        private_dirty >= mb * 1024 * 9 / 10,
        "{private_dirty} kB private"
    );
    run.finish();
}

#[test]
fn pool_results_come_back_out_of_order_and_a_task_lost_with_a_worker_is_done_again() {
    // A tenth of the lesson's pace: its workers are busy on a CPU for 21 s in all otherwise.
    let run = Run::paced(
        ScenarioId::PoolResults,
        Pace {
            percent: 10,
            ..TEST_PACE
        },
    );
    let master = run.role("master");
    let workers = run.roles("worker", 3);
    // brood kills a worker in the middle of a task; the pool says which task it lost.
    let note = run.note_until("in the middle of a task");
    let victim: Pid = note
        .split_whitespace()
        .nth(3)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no PID in {note:?}"));
    assert!(workers.contains(&victim), "{note}");
    let task = note
        .split_whitespace()
        .find_map(|w| w.strip_prefix("working=task"))
        .unwrap_or_else(|| panic!("no task in {note:?}"))
        .to_string();
    run.value_until("lost", |v| v == 1);
    let line = run.line_until("lost with a dead worker");
    assert!(
        line.contains(&format!("task {task} (worker {victim} ended, signal-9)")),
        "{line}"
    );
    run.note_until("queued the task again");
    // Every result arrives, the lost one too, out of order; the pool ends well.
    run.value_until("results", |v| v == 15);
    let figures = run.figures().unwrap();
    assert!(
        figures.value("overtaken").unwrap() > 0,
        "{:?}",
        figures.lines
    );
    let order = run.line_until("in the order they came");
    assert!(order.split_whitespace().any(|w| w == task), "{order}");
    run.wait_for_outcome("the pool's parent to exit 0", exited(master, 0));
    assert_eq!(state_of(victim), None, "the pool reaped the dead worker");
    run.finish();
}

#[test]
fn a_daemon_leads_no_session_has_no_terminal_lives_in_root_and_ends_with_the_lab() {
    let run = Run::start(ScenarioId::Daemon);
    let first = run.role("first");
    let daemon = run.role("daemon");
    run.wait_for_outcome("the first child to exit", exited(first, 0));
    let adopter = wait_until("the daemon to be adopted", || {
        ppid_from_proc(daemon).filter(|&p| p != first)
    });
    run.note_until(&format!("made {adopter} ("));
    let (group, session, tty) = group_session_tty(daemon).expect("the daemon lives");
    assert_eq!(
        (group, session),
        (first, first),
        "setsid() in the first child"
    );
    assert_ne!(
        session, daemon,
        "not a session leader: no terminal can become its own"
    );
    assert_eq!(tty, 0, "no controlling terminal");
    let cwd = std::fs::read_link(format!("/proc/{daemon}/cwd")).unwrap();
    assert_eq!(cwd, std::path::Path::new("/"));
    // Its descriptors: /dev/null on 0, 1, 2, and the lab's run lock, nothing else.
    let fds = descriptors(daemon);
    let lock = run.lab.dir().join(brood::lab::rundir::LOCK_FILE);
    let targets: Vec<&str> = fds.iter().map(|(_, t, _)| t.as_str()).collect();
    assert_eq!(targets.len(), 4, "{fds:?}");
    assert_eq!(&targets[..3], ["/dev/null"; 3], "{fds:?}");
    assert_eq!(targets[3], lock.to_string_lossy(), "{fds:?}");
    run.value_until("daemon_cwd_root", |v| v == 1);
    run.value_until("daemon_tty", |v| v == 0);
    // It left the lab's group and session, yet ending the lab ends it (checked by finish).
    run.finish();
}

/// The processes of the lab of the brood `brood`: every one runs brood's binary with the run
/// directory `brood-PID-N` in its command line, wherever it went (another group, session,
/// parent).
fn lab_processes_of(brood: Pid) -> Vec<(Pid, String)> {
    let marker = format!("/brood-{brood}-");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<Pid>().ok())
        .filter(|&pid| state_of(pid).is_some_and(|s| s != 'Z'))
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline.contains(&marker).then_some((pid, cmdline))
        })
        .collect()
}

#[test]
fn sigkill_to_brood_ends_the_lab_processes_that_left_its_group_and_session() {
    // The daemon (a session it does not lead, in /) and a job's stage (a group that is not its
    // session's) are outside the group brood's guard kills.
    let daemon = |pid: Pid, group: Pid, session: Pid| {
        pid != session
            && group == session
            && std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|d| d == std::path::Path::new("/"))
    };
    let stage = |_: Pid, group: Pid, session: Pid| group != session;
    type Outside<'a> = &'a (dyn Fn(Pid, Pid, Pid) -> bool + Sync);
    let cases: [(&str, Outside); 2] = [("daemon", &daemon), ("job-control", &stage)];
    std::thread::scope(|threads| {
        for (name, outside) in cases {
            threads.spawn(move || {
                let brood = pty::Brood::launch()
                    .size(140, 40)
                    .args(&["--scenario", name])
                    .start();
                let pid = brood.pid();
                let brood_session = group_session_tty(pid).map(|(_, s, _)| s);
                // Once such a process lives in a session of brood's lab's own, brood is killed
                // outright.
                let left = wait_until(
                    &format!("{name}: a lab process outside brood's session"),
                    || {
                        lab_processes_of(pid).into_iter().find(|(p, _)| {
                            group_session_tty(*p).is_some_and(|(group, session, _)| {
                                Some(session) != brood_session && outside(*p, group, session)
                            })
                        })
                    },
                );
                drop(brood);
                wait_until(
                    &format!("{name}: every lab process gone, {left:?} too"),
                    || lab_processes_of(pid).is_empty().then_some(()),
                );
            });
        }
    });
}

#[test]
fn a_job_is_stopped_as_a_group_stopped_by_sigttin_and_hung_up_when_orphaned() {
    let run = Run::start(ScenarioId::JobControl);
    let shell = run.role("shell");
    let stages = [
        run.role("stage-1"),
        run.role("stage-2"),
        run.role("stage-3"),
    ];
    // The shell leads a session with a terminal of its own; the job is a group of its own in it.
    wait_until("the job in a process group of its own", || {
        let (shell_group, shell_session, shell_tty) = group_session_tty(shell)?;
        let own = group_session_tty(own_pid())?.2;
        let ok = shell_session == shell
            && shell_group == shell
            && shell_tty != 0
            && shell_tty != own
            && stages
                .iter()
                .all(|&s| group_session_tty(s) == Some((stages[0], shell, shell_tty)));
        ok.then_some(())
    });
    // Each stop and continue reaches all three, and the shell hears of each.
    let seen = |what: &str, check: &dyn Fn(&WaitOutcome, Pid) -> bool| {
        for &stage in &stages {
            let waiter = run.wait_for_outcome(what, |o| check(o, stage));
            assert_eq!(waiter, shell);
        }
    };
    let stopped_by = |signal: Signal| {
        move |o: &WaitOutcome, stage: Pid| {
            *o == WaitOutcome::Stopped {
                pid: stage,
                signal: signal as i32,
            }
        }
    };
    seen(
        "each stage stopped by SIGTSTP",
        &stopped_by(Signal::SIGTSTP),
    );
    seen("each stage continued", &|o, stage| {
        *o == WaitOutcome::Continued { pid: stage }
    });
    seen(
        "each stage stopped by SIGTTIN",
        &stopped_by(Signal::SIGTTIN),
    );
    // The shell exits with its job stopped: the kernel sends the orphaned group SIGHUP, then
    // SIGCONT. Stages 1 and 2 die of it; stage 3, which blocks SIGHUP, runs on with it pending.
    run.wait_for_outcome("brood to reap the shell", exited(shell, 0));
    wait_until("stage 3 continued, with SIGHUP pending", || {
        let pending = signal_mask(stages[2], "ShdPnd")?;
        (state_of(stages[2]) != Some('T') && pending & 1 != 0).then_some(())
    });
    for stage in &stages[..2] {
        wait_until("stages 1 and 2 to die of the hang-up", || {
            state_of(*stage).is_none().then_some(())
        });
    }
    run.value_until("hup_pending", |v| v == 1);
    run.line_until("stage 3's read of its terminal returned");
    run.note_until("the kernel hung up the orphaned job");
    wait_until(
        "stage 3 to die of the pending SIGHUP once it unblocks it",
        || state_of(stages[2]).is_none().then_some(()),
    );
    run.finish();
}

#[test]
fn ending_a_lab_again_spares_a_newer_lab_that_took_its_directory_name() {
    use brood::lab::Lab;
    let test = "ending_a_lab_again_spares_a_newer_lab_that_took_its_directory_name";
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_brood"));
    let old = Lab::new(exe.clone()).expect("a lab");
    let gone = old.spawn().expect("a worker");
    old.shutdown(false);
    wait_until("the old lab's worker gone", || {
        state_of(gone.pid).is_none().then_some(())
    });
    // Labs of one process take the first free name: new ones are made (and kept, so each
    // takes the next name) until one has the old one's.
    let mut newer = Vec::new();
    while newer.len() < 100 {
        let lab = Lab::new(exe.clone()).expect("another lab");
        let same = lab.dir() == old.dir();
        newer.push(lab);
        if same {
            break;
        }
    }
    let Some(new) = newer.pop().filter(|lab| lab.dir() == old.dir()) else {
        skip(test, "another test took the old lab's name first");
        return;
    };
    let worker = new.spawn().expect("a worker");
    old.shutdown(false);
    let alive = new.request(worker, Request::Ping, Some(brood::lab::REPLY_TIMEOUT));
    assert!(matches!(alive, Ok(Reply::Ok(_))), "{alive:?}");
    new.shutdown(false);
}
