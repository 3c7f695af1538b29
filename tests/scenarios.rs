//! Every scenario run for real, each with its own lab: the states it promises are checked in
//! /proc (read here, independently of brood's scanner), and after each test none of its
//! processes is left alive.

#[path = "support/pty.rs"]
mod pty;
#[path = "support/scenario_run.rs"]
mod scenario_run;
mod support;

#[path = "scenarios/beyond_the_chapter.rs"]
mod beyond_the_chapter;

use std::time::Duration;

use brood::lab::protocol::{Reply, Request, WaitOutcome};
use brood::lab::scenarios::{Pace, ScenarioId, Step};
use brood::proc::Pid;
use brood::proc::wchan::WaitKind;
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
        (state_of(parent) == Some('S') && waits(parent, WaitKind::Child)).then_some(())
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
        (state_of(consumer) == Some('S') && waits(consumer, WaitKind::PipeRead)).then_some(())
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
        (state_of(producer) == Some('S') && waits(producer, WaitKind::PipeWrite))
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
            .all(|&w| state_of(w) == Some('S') && waits(w, WaitKind::PipeRead));
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
            .filter(|&&c| state_of(c) == Some('S') && waits(c, WaitKind::Futex))
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
            .all(|&p| state_of(p) == Some('S') && waits(p, WaitKind::PipeRead))
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
