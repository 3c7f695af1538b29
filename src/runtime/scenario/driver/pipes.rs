//! Scripts of the pipe lessons: producer and consumer, a full pipe, a queue, a leaked write
//! end, processes reading each other, pools of workers and a process per task.

use super::{Driver, Result};
use crate::lab::scenarios::ScenarioId;
use crate::lab::tasks::Task;

/// A parent with one pipe, a producer and a consumer; the parent closes its ends.
pub(super) fn pipe(d: &Driver, id: ScenarioId) -> Result<()> {
    let (producer, consumer, labels) = match id {
        ScenarioId::PipeFull => (
            Task::Produce {
                pipe: 0,
                count: 1_000_000,
                burst: 64,
                every_ms: d.ms(10),
                sentinel: false,
            },
            Task::Consume {
                pipe: 0,
                each_ms: 0,
                stop_after: 20,
            },
            (
                "producer: writes until the pipe is full",
                "consumer: stops reading after 20",
            ),
        ),
        ScenarioId::Queue => (
            Task::Produce {
                pipe: 0,
                count: 12,
                burst: 4,
                every_ms: d.ms(4000),
                sentinel: true,
            },
            Task::Consume {
                pipe: 0,
                each_ms: d.ms(600),
                stop_after: 0,
            },
            (
                "producer: 12 items in bursts of 4, then the sentinel",
                "consumer: 0.6 s an item, stops at the sentinel",
            ),
        ),
        _ => (
            Task::Produce {
                pipe: 0,
                count: 5,
                burst: 1,
                every_ms: d.ms(1000),
                sentinel: false,
            },
            Task::Consume {
                pipe: 0,
                each_ms: 0,
                stop_after: 0,
            },
            ("producer: 5 messages, 1 a second", "consumer: reads to EOF"),
        ),
    };
    let parent = d.spawn("parent", "parent: made the pipe, closed its ends")?;
    d.task(parent, Task::Pipe { cloexec: true })?;
    let writer = d.fork(parent, "producer", labels.0)?;
    let reader = d.fork(parent, "consumer", labels.1)?;
    // Without this the consumer would never see end of file: the parent holds a write end.
    d.task(parent, Task::ClosePipes)?;
    d.task(reader, consumer)?;
    d.task(writer, producer)?;
    d.wait_any(parent, 2);
    Ok(())
}

/// A: the chapter's single_pipe bug, a parent that never closes its ends. B: a child execs
/// while it holds the write ends of two pipes, one without close-on-exec, which leaks.
pub(super) fn leak(d: &Driver) -> Result<()> {
    let a = d.spawn("parent-a", "A: made a pipe, forked, never closed its ends")?;
    d.task(a, Task::Pipe { cloexec: true })?;
    let producer = d.fork(a, "producer-a", "A: producer, 3 messages, then exits")?;
    let consumer = d.fork(a, "consumer-a", "A: consumer, reads to end of file")?;
    let reads_to_end = |pipe| Task::Consume {
        pipe,
        each_ms: 0,
        stop_after: 0,
    };
    d.task(consumer, reads_to_end(0))?;
    d.task(
        producer,
        Task::Produce {
            pipe: 0,
            count: 3,
            burst: 1,
            every_ms: d.ms(1000),
            sentinel: false,
        },
    )?;
    // It reaps the producer, then serves requests again (x ends it).
    d.wait_any(a, 1);

    let b = d.spawn("parent-b", "B: made two pipes, forked, closed its ends")?;
    d.task(b, Task::Pipe { cloexec: false })?;
    d.task(b, Task::Pipe { cloexec: true })?;
    let leaky = d.fork(
        b,
        "consumer-leaky",
        "B: reads pipe 0 (no O_CLOEXEC) to end of file",
    )?;
    let tidy = d.fork(
        b,
        "consumer-cloexec",
        "B: reads pipe 1 (O_CLOEXEC) to end of file",
    )?;
    let execs = d.fork(b, "execs", "B: holds both write ends, 2 s later exec sleep")?;
    d.task(b, Task::ClosePipes)?;
    d.task(leaky, reads_to_end(0))?;
    d.task(tidy, reads_to_end(1))?;
    d.task(
        execs,
        Task::ExecSleep {
            secs: 3600,
            delay_ms: d.ms(2000),
        },
    )?;
    d.wait_any(b, 1);
    Ok(())
}

pub(super) fn deadlock(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: made two pipes, waits for both")?;
    d.task(parent, Task::Pipe { cloexec: true })?;
    d.task(parent, Task::Pipe { cloexec: true })?;
    let a = d.fork(parent, "a", "A: reads pipe 0, then writes pipe 1")?;
    let b = d.fork(parent, "b", "B: reads pipe 1, then writes pipe 0")?;
    d.task(parent, Task::ClosePipes)?;
    d.task(a, Task::ReadThenWrite { read: 0, write: 1 })?;
    d.task(b, Task::ReadThenWrite { read: 1, write: 0 })?;
    d.wait_any(parent, 2);
    Ok(())
}

pub(super) fn pool(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: feeds tasks through a pipe")?;
    d.task(parent, Task::Pipe { cloexec: true })?;
    let mut workers = Vec::new();
    for n in 1..=3 {
        workers.push(d.fork(parent, "worker", &format!("pool worker {n}"))?);
    }
    d.task_all(
        &workers,
        Task::PoolWorker {
            pipe: 0,
            work_ms: d.ms(800),
        },
    )?;
    // Each wave once the last one is done and the workers have been idle a while, so the
    // pause shows whatever the machine's speed.
    let mut fed = 0;
    for (wave, count) in [4, 3, 3].into_iter().enumerate() {
        if wave > 0 && !(d.until(|| done(d, &workers) >= fed) && d.pause(2500)) {
            return Ok(());
        }
        d.task(parent, Task::Feed { pipe: 0, count })?;
        fed += count;
        d.note(format!(
            "{parent} put {count} tasks into the pool's pipe (wave {})",
            wave + 1
        ));
    }
    if !(d.until(|| done(d, &workers) >= fed) && d.pause(2000)) {
        return Ok(());
    }
    d.task(parent, Task::ClosePipes)?;
    d.note(format!(
        "{parent} closed the pipe: the workers read end of file when it is empty, and exit"
    ));
    d.wait_any(parent, workers.len());
    Ok(())
}

/// How many tasks the pool's workers say they finished.
fn done(d: &Driver, workers: &[crate::proc::Identity]) -> u32 {
    workers
        .iter()
        .filter_map(|w| {
            let status = d.status(w.pid);
            status
                .split_whitespace()
                .find_map(|word| word.strip_prefix("done=")?.parse::<u32>().ok())
        })
        .sum()
}

/// A pool whose results come back on a second pipe; after a while brood kills a worker in the
/// middle of a task, as X would, and the pool notices.
pub(super) fn pool_results(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: waits for the pool")?;
    let master = d.fork(
        parent,
        "master",
        "pool: queues 15 tasks, collects the results",
    )?;
    d.task(master, Task::Pipe { cloexec: true })?;
    d.task(master, Task::Pipe { cloexec: true })?;
    let mut workers = Vec::new();
    for n in 1..=3 {
        workers.push(d.fork(master, "worker", &format!("worker {n}: says what it took"))?);
    }
    d.task_all(&workers, Task::ResultWorker { work_ms: d.ms(700) })?;
    d.task(master, Task::PoolMaster { tasks: 15 })?;
    d.wait_any(parent, 1);
    if !d.pause(4000) {
        return Ok(());
    }
    // A worker caught busy (it is stopped first, so it cannot finish its task meanwhile);
    // tried again until one is, or the pool is done.
    let mut killed = None;
    d.until(|| {
        if d.status(master.pid).contains("all-done") {
            return true;
        }
        killed = workers
            .iter()
            .copied()
            .find(|&worker| d.kill_while(worker, || d.status(worker.pid).contains("working=")));
        killed.is_some()
    });
    if let Some(worker) = killed {
        d.note(format!(
            "brood killed worker {worker} in the middle of a task, as X would: {}",
            d.status(worker.pid)
        ));
    }
    Ok(())
}

pub(super) fn fork_per_task(d: &Driver) -> Result<()> {
    let parent = d.spawn("parent", "parent: forks one child per task")?;
    let mut task_number = 0;
    for (wave, size) in [3, 3, 3, 1].into_iter().enumerate() {
        let mut children = Vec::new();
        for _ in 0..size {
            task_number += 1;
            let label = format!("task {task_number} (wave {})", wave + 1);
            children.push(d.fork(parent, "task", &label)?);
        }
        d.task_all(
            &children,
            Task::Work {
                ms: d.ms(800),
                busy: true,
                code: 0,
            },
        )?;
        d.wait_any(parent, children.len())
            .join()
            .map_err(|_| "a wait thread panicked")?;
        if !d.pause(1000) {
            return Ok(());
        }
    }
    Ok(())
}
