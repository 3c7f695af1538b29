//! Every scenario run for real, each with its own lab: the states it promises are checked in
//! /proc (read here, independently of brood's scanner), and after each test none of its
//! processes is left alive.

#[path = "support/pty.rs"]
mod pty;
#[path = "support/scenario_run.rs"]
mod scenario_run;
mod support;

use std::time::Duration;

use brood::lab::protocol::{Reply, Request, WaitOutcome};
use brood::lab::scenarios::{Pace, ScenarioId, Step};
use brood::proc::Pid;
use nix::sys::signal::Signal;
use scenario_run::*;
use support::*;

fn kill(pid: Pid, signal_to_send: Signal) {
    signal(pid, signal_to_send);
}

#[test]
fn single_child_works_in_r_while_its_parent_waits_in_do_wait_then_is_reaped() {
    let run = Run::start(ScenarioId::SingleChild);
    let (parent, child) = (run.role("parent"), run.role("child"));
    wait_until("the busy child in R", || in_state(child, 'R'));
    wait_until("the parent blocked in waitpid", || {
        (state_of(parent) == Some('S') && wchan(parent).contains("do_wait")).then_some(())
    });
    // Stopped longer than its whole work takes, it still has its work ahead when continued:
    // the parent hears of the continue before the exit.
    kill(child, Signal::SIGSTOP);
    run.wait_for_outcome(
        "the parent to see the stop",
        |o| matches!(o, WaitOutcome::Stopped { pid, .. } if *pid == child),
    );
    std::thread::sleep(Duration::from_millis(u64::from(TEST_PACE.ms(5000)) + 500));
    kill(child, Signal::SIGCONT);
    run.wait_for_outcome("the parent to see it continue", |o| {
        *o == WaitOutcome::Continued { pid: child }
    });
    let waiter = run.wait_for_outcome("the child's exit status", exited(child, 0));
    assert_eq!(waiter, parent);
    let outcomes: Vec<WaitOutcome> = run.waits().into_iter().map(|(_, o)| o).collect();
    assert!(
        matches!(
            outcomes.as_slice(),
            [
                WaitOutcome::Stopped { .. },
                WaitOutcome::Continued { .. },
                WaitOutcome::Exited { .. }
            ]
        ),
        "{outcomes:?}"
    );
    wait_until("the reaped child to be gone", || {
        state_of(child).is_none().then_some(())
    });
    run.finish();
}

#[test]
fn many_children_waited_in_creation_order_pile_up_as_zombies_then_drain() {
    let run = Run::start(ScenarioId::ManyChildrenInOrder);
    let parent = run.role("parent");
    let children = run.roles("child", 6);
    wait_until(
        "several zombies at once while the first child still sleeps",
        || {
            let zombies = children[1..]
                .iter()
                .filter(|&&c| state_of(c) == Some('Z') && ppid_from_proc(c) == Some(parent))
                .count();
            let first_lives = state_of(children[0]).is_some_and(|s| s != 'Z');
            (zombies >= 3 && first_lives).then_some(())
        },
    );
    // The panel says why they wait: the parent is blocked for child 1.
    run.line_until(&format!("blocked in waitpid({})", children[0]));
    wait_until("all six reaped", || (run.waits().len() == 6).then_some(()));
    let order: Vec<Pid> = run.waits().iter().map(|(_, o)| o.pid()).collect();
    assert_eq!(order, children, "reaped in creation order");
    for (i, (_, outcome)) in run.waits().iter().enumerate() {
        assert_eq!(
            *outcome,
            WaitOutcome::Exited {
                pid: children[i],
                code: i as i32 + 1
            }
        );
    }
    run.finish();
}

#[test]
fn many_children_waited_for_any_are_reaped_as_they_exit() {
    let run = Run::start(ScenarioId::ManyChildrenAny);
    let children = run.roles("child", 6);
    let mut most_zombies = 0;
    while run.waits().len() < 6 {
        let zombies = children
            .iter()
            .filter(|&&c| state_of(c) == Some('Z'))
            .count();
        most_zombies = most_zombies.max(zombies);
        assert!(
            run.steps().len() < 10_000 && run.failure().is_none(),
            "{:?}",
            run.failure()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(most_zombies <= 1, "zombies linger: {most_zombies} at once");
    let order: Vec<Pid> = run.waits().iter().map(|(_, o)| o.pid()).collect();
    let by_exit_time = [1, 2, 3, 4, 5, 0].map(|i| children[i]).to_vec();
    assert_eq!(order, by_exit_time, "reaped in the order they exited");
    run.finish();
}

#[test]
fn zombie_stays_z_under_its_parent_survives_sigkill_and_is_reaped_by_a_wait() {
    let run = Run::start(ScenarioId::Zombie);
    let (parent, child) = (run.role("parent"), run.role("child"));
    wait_until("a zombie under its parent", || {
        (state_of(child) == Some('Z') && ppid_from_proc(child) == Some(parent)).then_some(())
    });
    // SIGKILL changes nothing: the status its parent collects below still says it exited 0,
    // not that it was killed.
    kill(child, Signal::SIGKILL);
    // Cure 1: the parent is still a worker that serves requests, so it can be made to wait.
    let parent_id = brood::proc::lookup::read_identity(parent).expect("the parent lives");
    let reply = run.lab.request(
        parent_id,
        Request::Reap(child),
        Some(brood::lab::REPLY_TIMEOUT),
    );
    assert_eq!(
        reply.unwrap(),
        Reply::Waited(WaitOutcome::Exited {
            pid: child,
            code: 0
        })
    );
    wait_until("the reaped zombie gone", || {
        state_of(child).is_none().then_some(())
    });
    run.finish();
}

#[test]
fn orphan_is_reparented_to_the_adopter_proc_names_and_its_parent_reaped_by_brood() {
    let run = Run::start(ScenarioId::Orphan);
    let (parent, child) = (run.role("parent"), run.role("child"));
    let adopter = wait_until("the child to get a new parent", || {
        ppid_from_proc(child).filter(|&p| p != parent)
    });
    assert_ne!(state_of(child), Some('Z'), "the orphan lives on");
    let waiter = run.wait_for_outcome("brood to reap the parent", exited(parent, 0));
    assert_eq!(waiter, own_pid(), "brood reaps its own child");
    let note = wait_until("a note naming the adopter", || {
        run.steps().into_iter().find_map(|s| match s {
            Step::Note(text) if text.contains("its parent") => Some(text),
            _ => None,
        })
    });
    assert!(
        note.contains(&format!("made {adopter} (")),
        "{note} names {adopter}"
    );
    run.finish();
}

#[test]
fn exec_keeps_the_pid_and_changes_the_name_and_command_line() {
    let run = Run::start(ScenarioId::Exec);
    let child = run.role("child");
    // Before the exec the lab process can be seen as itself, saying when it will exec.
    wait_until("the child, still brood-lab, about to exec", || {
        let status = run
            .figures()?
            .procs
            .into_iter()
            .find(|p| p.pid == child)?
            .status;
        (comm(child) == "brood-lab" && status.starts_with("exec-after=")).then_some(())
    });
    wait_until("the same PID to run sleep", || {
        (comm(child) == "sleep").then_some(())
    });
    let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x0030\x00");
    run.finish();
}

#[test]
fn pipe_consumer_sleeps_in_pipe_read_between_messages_then_sees_eof() {
    let run = Run::start(ScenarioId::Pipe);
    let (producer, consumer) = (run.role("producer"), run.role("consumer"));
    wait_until("the consumer asleep in a pipe read", || {
        (state_of(consumer) == Some('S') && wchan(consumer).contains("pipe")).then_some(())
    });
    run.wait_for_outcome("the producer to finish", exited(producer, 0));
    run.wait_for_outcome("the consumer to see EOF and exit", exited(consumer, 0));
    run.value_until("received", |v| v == 5);
    wait_until("the panel to say end of file", || {
        run.figures()?
            .lines
            .iter()
            .any(|l| l.contains("end of file"))
            .then_some(())
    });
    run.finish();
}

#[test]
fn pipe_full_blocks_the_writer_in_pipe_write_and_sigpipe_ends_it() {
    let run = Run::start(ScenarioId::PipeFull);
    let (producer, consumer) = (run.role("producer"), run.role("consumer"));
    // The lab's bookkeeping never shows: filling the pipe, the producer is never in D.
    let full = wait_until("the writer blocked in a pipe write", || {
        assert_ne!(
            state_of(producer),
            Some('D'),
            "the producer waits for a disk"
        );
        (state_of(producer) == Some('S') && wchan(producer).contains("pipe_write"))
            .then(|| run.line_until("bytes short of the capacity"))
    });
    // The capacity the panel states is the kernel's, as a pipe of the test's own reports it;
    // what fits is a little less: the partly drained slot takes no new data.
    let (read, _write) = nix::unistd::pipe().expect("a pipe");
    let kernel = nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_GETPIPE_SZ).expect("its size");
    let figures = run.figures().unwrap();
    assert_eq!(figures.value("capacity"), Some(i64::from(kernel)), "{full}");
    let bytes = figures.value("bytes").unwrap();
    assert!(
        bytes <= i64::from(kernel) && bytes > i64::from(kernel) - 4096,
        "{bytes} bytes in a full pipe of {kernel}"
    );
    stuck_for_two_seconds(&[producer]);
    kill(consumer, Signal::SIGKILL);
    run.wait_for_outcome("the writer killed by SIGPIPE", |o| {
        *o == WaitOutcome::Killed {
            pid: producer,
            signal: Signal::SIGPIPE as i32,
            core_dumped: false,
        }
    });
    run.finish();
}

#[test]
fn queue_depth_rises_and_drains_and_the_sentinel_stops_the_consumer() {
    let run = Run::start(ScenarioId::Queue);
    let consumer = run.role("consumer");
    run.value_until("depth", |v| v >= 2);
    wait_until("the consumer asleep on an empty queue", || {
        let empty = run.figures()?.value("depth") == Some(0);
        let sent = run.figures()?.value("sent")?;
        (empty && sent > 0 && sent < 12 && state_of(consumer) == Some('S')).then_some(())
    });
    run.wait_for_outcome("the consumer to stop at the sentinel", exited(consumer, 0));
    wait_until("the sentinel seen", || {
        run.figures()?
            .lines
            .iter()
            .any(|l| l.contains("sentinel sent and received"))
            .then_some(())
    });
    assert_eq!(run.figures().unwrap().value("received"), Some(12));
    run.finish();
}

#[test]
fn shared_memory_with_the_mutex_is_exact_and_without_it_is_reported() {
    let run = Run::start(ScenarioId::SharedMemory);
    run.value_until("locked_done", |v| v == 4);
    run.value_until("unlocked_done", |v| v == 4);
    let figures = run.figures().unwrap();
    let expected = figures.value("expected").unwrap();
    assert_eq!(
        figures.value("locked"),
        Some(expected),
        "the mutex keeps it exact"
    );
    let unlocked = figures.value("unlocked").unwrap();
    assert!(unlocked <= expected && unlocked > 0, "{unlocked}");
    assert!(figures.lines.iter().any(|l| l.contains("A, no lock")));
    run.finish();
}

#[test]
fn pool_workers_keep_their_pids_and_share_the_ten_tasks() {
    let run = Run::start(ScenarioId::Pool);
    let workers = run.roles("worker", 3);
    wait_until("a worker at work", || {
        workers
            .iter()
            .any(|&w| state_of(w) == Some('R'))
            .then_some(())
    });
    wait_until("idle workers between waves", || {
        let idle = workers
            .iter()
            .all(|&w| state_of(w) == Some('S') && wchan(w).contains("pipe"));
        let done = run.figures()?.value("done")?;
        (idle && done > 0 && done < 10).then_some(())
    });
    run.value_until("done", |v| v == 10);
    for &worker in &workers {
        run.wait_for_outcome("each worker to exit at end of file", exited(worker, 0));
    }
    assert_eq!(run.roles("worker", 3).len(), 3, "no new worker was forked");
    run.finish();
}

#[test]
fn fork_per_task_uses_a_new_pid_for_every_task() {
    let run = Run::start(ScenarioId::ForkPerTask);
    let tasks = run.roles("task", 10);
    let mut distinct = tasks.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 10);
    for &task in &tasks {
        run.wait_for_outcome("each task reaped", exited(task, 0));
    }
    run.finish();
}

#[test]
fn semaphore_lets_at_most_three_in_while_the_rest_block() {
    let run = Run::start(ScenarioId::Semaphore);
    let children = run.roles("child", 10);
    wait_until("three inside and others blocked", || {
        let inside = run.figures()?.value("inside")?;
        let blocked = children
            .iter()
            .filter(|&&c| state_of(c) == Some('S') && wchan(c).contains("futex"))
            .count();
        (inside == 3 && blocked >= 1).then_some(())
    });
    run.value_until("done", |v| v == 10);
    assert_eq!(run.figures().unwrap().value("max_inside"), Some(3));
    run.finish();
}

#[test]
fn flock_deadlock_blocks_both_until_one_is_killed() {
    let run = Run::start(ScenarioId::DeadlockFlock);
    let (a, b) = (run.role("a"), run.role("b"));
    run.value_until("locks_waiting", |v| v == 2);
    assert_eq!(run.figures().unwrap().value("locks_held"), Some(2));
    stuck_for_two_seconds(&[a, b]);
    kill(a, Signal::SIGKILL);
    run.wait_for_outcome("the survivor to get both locks and exit", exited(b, 0));
    run.finish();
}

#[test]
fn pipe_deadlock_blocks_both_in_pipe_read_until_one_is_killed() {
    let run = Run::start(ScenarioId::DeadlockPipe);
    let (a, b) = (run.role("a"), run.role("b"));
    wait_until("both reading", || {
        [a, b]
            .iter()
            .all(|&p| state_of(p) == Some('S') && wchan(p).contains("pipe"))
            .then_some(())
    });
    stuck_for_two_seconds(&[a, b]);
    kill(b, Signal::SIGKILL);
    run.wait_for_outcome("the other to read end of file", exited(a, 1));
    run.finish();
}

#[test]
fn stop_freezes_the_ticking_child_and_its_parent_sees_stop_and_continue() {
    let run = Run::start(ScenarioId::StopContinue);
    let child = run.role("child");
    run.value_until("ticks", |v| v >= 2);
    kill(child, Signal::SIGSTOP);
    run.wait_for_outcome(
        "the parent to see the stop",
        |o| matches!(o, WaitOutcome::Stopped { pid, .. } if *pid == child),
    );
    // The count from a sample that saw the child stopped: it can tick no more.
    let frozen = wait_until("a sample of the stopped child", || {
        let figures = run.figures()?;
        let stopped = figures
            .procs
            .iter()
            .any(|p| p.pid == child && p.state == Some('T'));
        stopped.then(|| figures.value("ticks"))
    });
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        run.figures().unwrap().value("ticks"),
        frozen,
        "no ticks while stopped"
    );
    kill(child, Signal::SIGCONT);
    run.wait_for_outcome("the parent to see it continue", |o| {
        *o == WaitOutcome::Continued { pid: child }
    });
    run.value_until("ticks", |v| Some(v) > frozen);
    run.finish();
}

#[test]
fn sigterm_is_handled_and_exits_zero_while_sigkill_kills() {
    let run = Run::start(ScenarioId::Signals);
    let (gentle, hard) = (run.role("handles"), run.role("killed"));
    run.wait_for_outcome("exited 0 after SIGTERM", exited(gentle, 0));
    run.wait_for_outcome("killed by signal 9", |o| {
        *o == WaitOutcome::Killed {
            pid: hard,
            signal: 9,
            core_dumped: false,
        }
    });
    wait_until("the log note", || {
        run.steps().into_iter().find_map(|s| match s {
            Step::Note(t) if t.contains("after handling SIGTERM") => Some(()),
            _ => None,
        })
    });
    run.finish();
}

#[test]
fn a_scenario_replaced_by_another_ends_its_processes_and_brood_reaps_its_own() {
    let run = Run::start(ScenarioId::Orphan);
    let (parent, child) = (run.role("parent"), run.role("child"));
    wait_until("the orphan adopted", || {
        ppid_from_proc(child).filter(|&p| p != parent)
    });
    let zombie = Run::start(ScenarioId::Zombie);
    let (zombie_parent, zombie_child) = (zombie.role("parent"), zombie.role("child"));
    wait_until("a zombie", || in_state(zombie_child, 'Z'));
    zombie.control.end();
    run.control.end();
    for pid in [zombie_parent, zombie_child, child] {
        wait_until("each process of the ended scenarios gone", || {
            state_of(pid).is_none().then_some(())
        });
    }
    wait_until("a note saying so", || {
        zombie.steps().into_iter().find_map(|s| match s {
            Step::Note(t) if t.contains("ended: its 2 remaining") => Some(()),
            _ => None,
        })
    });
    zombie.finish();
    run.finish();
}

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
    assert!(state_of(consumer_a) == Some('S') && wchan(consumer_a).contains("pipe_read"));
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
            let mut members: Vec<Pid> = d.members().collect();
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
            wchan(pid).contains("futex"),
            "{pid} waits in {}",
            wchan(pid)
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
