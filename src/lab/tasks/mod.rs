//! Scripted tasks a lab worker runs for the scenarios: the list, its one-line text form, and what
//! a worker holds for them (the [`Kit`]). Each kind lives in its own file. Tasks run inside the
//! single-threaded worker (so forking around them stays safe) and say what they are doing on the
//! run's status board, never on a terminal.

mod locks;
mod memory;
mod pipes;
mod pool;
mod session;
mod shared;
mod signals;
mod work;

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::Path;

pub use locks::{LockKind, lock_path};
pub use pipes::MESSAGE_BYTES;
pub use shared::{SharedFigures, read_shared};
use work::spend;

use crate::proc::Pid;

/// A task a worker runs on request. Setup tasks ([`Task::is_setup`]) finish at once and the
/// worker goes on serving; every other task ends the worker with an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Spend `ms` of work busy on a CPU (R) or asleep (S), then `_exit(code)`.
    Work { ms: u32, busy: bool, code: u8 },
    /// Wait `delay_ms`, then replace this process with `sleep SECS` (execvp): same PID, new
    /// program and command line.
    ExecSleep { secs: u32, delay_ms: u32 },
    /// Count up every `every_ms`, `ticks` times, publishing the count; exit 0.
    Tick { every_ms: u32, ticks: u32 },
    /// Setup: make a pipe that this worker and every child it forks from now on hold; without
    /// `cloexec` its ends also survive an exec.
    Pipe { cloexec: bool },
    /// Setup: close every pipe end this worker holds, so readers can see end of file.
    ClosePipes,
    /// Setup: write `count` numbered messages into pipe `pipe` (the pipe buffers them).
    Feed { pipe: u8, count: u32 },
    /// Write `count` messages into pipe `pipe`, `burst` at a time and `every_ms` apart, then
    /// the sentinel if asked, close and exit 0.
    Produce {
        pipe: u8,
        count: u32,
        burst: u32,
        every_ms: u32,
        sentinel: bool,
    },
    /// Read messages from pipe `pipe`, spending `each_ms` on each, until end of file or the
    /// sentinel, then exit 0. With `stop_after` > 0: stop reading after that many and sleep on,
    /// holding the read end open.
    Consume {
        pipe: u8,
        each_ms: u32,
        stop_after: u32,
    },
    /// A pool worker: take task numbers from pipe `pipe`, `work_ms` busy each, until end of file.
    PoolWorker { pipe: u8, work_ms: u32 },
    /// Read one message from pipe `read`, then write one to pipe `write`; exit 0 (1 on EOF).
    ReadThenWrite { read: u8, write: u8 },
    /// A pipeline stage: copy every message from pipe `read` to pipe `write` until end of file.
    Relay { read: u8, write: u8 },
    /// A pool's parent: queue `tasks` numbered tasks on pipe 0, collect results from pipe 1 in
    /// whatever order they come, and notice a worker that dies with a task (it queues it again).
    PoolMaster { tasks: u32 },
    /// A pool worker that says which task it takes and sends each result back on pipe 1; task n
    /// costs `work_ms` times 1 to 3.
    ResultWorker { work_ms: u32 },
    /// Setup: map a shared region (a file in the run directory, `MAP_SHARED`) holding counters,
    /// a process-shared mutex (robust if asked) and a semaphore with `permits` permits.
    Share { permits: u32, robust: bool },
    /// Add 1 to the shared counter `count` times, with or without the shared mutex, spread over
    /// `spread_ms`; exit 0.
    Add {
        count: u32,
        locked: bool,
        spread_ms: u32,
    },
    /// Take the shared semaphore, stay inside `work_ms` busy, give it back; exit 0.
    Enter { work_ms: u32 },
    /// `rounds` times: take the shared mutex, hold it `hold_ms`, let it go; exit 0. A robust
    /// mutex whose holder died is repaired (`pthread_mutex_consistent`).
    HoldMutex { rounds: u32, hold_ms: u32 },
    /// Lock the parent's lock file `first`, wait at pipe `barrier` until the other locker holds
    /// its first lock too, then lock `second`; exit 0 once both were held.
    LockPair {
        kind: LockKind,
        first: u8,
        second: u8,
        barrier: u8,
    },
    /// Catch SIGTERM, then wait up to `ms`; on SIGTERM clean up and exit 0.
    HandleTerm { ms: u32 },
    /// Reap children in a SIGCHLD handler; after the first, keep SIGCHLD blocked until the
    /// others have all exited and `hold_ms` more, so their signals arrive as one; exit 0.
    ReapInHandler { hold_ms: u32 },
    /// Set SIGCHLD to SIG_IGN and call wait(): it returns ECHILD once no child is left; exit 0.
    IgnoreChildren,
    /// Setup: start a new session with a pseudo-terminal of its own as controlling terminal.
    Terminal,
    /// Setup: join process group `leader` (0: lead a new one), as a shell puts a job's processes
    /// in the job's group, and drop the terminal's master side.
    JoinGroup { leader: u32 },
    /// Copy `after` messages from pipe `pipe`, then read the controlling terminal (from a
    /// background group: SIGTTIN). With SIGHUP blocked, so a hang-up stays pending; once the read
    /// fails, wait `linger_ms` and let the pending SIGHUP in.
    ReadTerminal {
        pipe: u8,
        after: u32,
        linger_ms: u32,
    },
    /// `setsid()`, fork, and leave the grandchild running as a daemon (new session, `/`, no
    /// inherited descriptors) that counts every `every_ms`; exit 0 after `linger_ms`.
    Daemonize { every_ms: u32, linger_ms: u32 },
    /// Setup: map `mb` MiB of private memory and write every page of it.
    Touch { mb: u32 },
    /// After `after_ms`, write every page of the memory touched before the fork, spread over
    /// `over_ms`, then hold it `hold_ms`; exit 0.
    Rewrite {
        after_ms: u32,
        over_ms: u32,
        hold_ms: u32,
    },
}

impl Task {
    /// Setup tasks finish at once and leave the worker serving requests.
    pub fn is_setup(self) -> bool {
        matches!(
            self,
            Task::Pipe { .. }
                | Task::ClosePipes
                | Task::Feed { .. }
                | Task::Share { .. }
                | Task::Terminal
                | Task::JoinGroup { .. }
                | Task::Touch { .. }
        )
    }

    /// The task's name and numbers, as they go over the control channel.
    fn words(self) -> (&'static str, Vec<u32>) {
        let flag = u32::from;
        let small = u32::from;
        match self {
            Task::Work { ms, busy, code } => ("work", vec![ms, flag(busy), small(code)]),
            Task::ExecSleep { secs, delay_ms } => ("exec-sleep", vec![secs, delay_ms]),
            Task::Tick { every_ms, ticks } => ("tick", vec![every_ms, ticks]),
            Task::Pipe { cloexec } => ("pipe", vec![flag(cloexec)]),
            Task::ClosePipes => ("close-pipes", vec![]),
            Task::Feed { pipe, count } => ("feed", vec![small(pipe), count]),
            Task::Produce {
                pipe,
                count,
                burst,
                every_ms,
                sentinel,
            } => (
                "produce",
                vec![small(pipe), count, burst, every_ms, flag(sentinel)],
            ),
            Task::Consume {
                pipe,
                each_ms,
                stop_after,
            } => ("consume", vec![small(pipe), each_ms, stop_after]),
            Task::PoolWorker { pipe, work_ms } => ("pool-worker", vec![small(pipe), work_ms]),
            Task::ReadThenWrite { read, write } => {
                ("read-then-write", vec![small(read), small(write)])
            }
            Task::Relay { read, write } => ("relay", vec![small(read), small(write)]),
            Task::PoolMaster { tasks } => ("pool-master", vec![tasks]),
            Task::ResultWorker { work_ms } => ("result-worker", vec![work_ms]),
            Task::Share { permits, robust } => ("share", vec![permits, flag(robust)]),
            Task::Add {
                count,
                locked,
                spread_ms,
            } => ("add", vec![count, flag(locked), spread_ms]),
            Task::Enter { work_ms } => ("enter", vec![work_ms]),
            Task::HoldMutex { rounds, hold_ms } => ("hold-mutex", vec![rounds, hold_ms]),
            Task::LockPair {
                kind,
                first,
                second,
                barrier,
            } => (
                "lock-pair",
                vec![kind as u32, small(first), small(second), small(barrier)],
            ),
            Task::HandleTerm { ms } => ("handle-term", vec![ms]),
            Task::ReapInHandler { hold_ms } => ("reap-in-handler", vec![hold_ms]),
            Task::IgnoreChildren => ("ignore-children", vec![]),
            Task::Terminal => ("terminal", vec![]),
            Task::JoinGroup { leader } => ("join-group", vec![leader]),
            Task::ReadTerminal {
                pipe,
                after,
                linger_ms,
            } => ("read-terminal", vec![small(pipe), after, linger_ms]),
            Task::Daemonize {
                every_ms,
                linger_ms,
            } => ("daemonize", vec![every_ms, linger_ms]),
            Task::Touch { mb } => ("touch", vec![mb]),
            Task::Rewrite {
                after_ms,
                over_ms,
                hold_ms,
            } => ("rewrite", vec![after_ms, over_ms, hold_ms]),
        }
    }

    /// Parses the words after `task` in a request line.
    pub fn parse(words: &[&str]) -> Result<Task, String> {
        let (&name, args) = words.split_first().ok_or("task needs a name")?;
        let a = Args { name, words: args };
        let task = match name {
            "work" => Task::Work {
                ms: a.n(0)?,
                busy: a.flag(1)?,
                code: a.small(2)?,
            },
            "exec-sleep" => Task::ExecSleep {
                secs: a.n(0)?,
                delay_ms: a.n(1)?,
            },
            "tick" => Task::Tick {
                every_ms: a.n(0)?,
                ticks: a.n(1)?,
            },
            "pipe" => Task::Pipe {
                cloexec: a.flag(0)?,
            },
            "close-pipes" => Task::ClosePipes,
            "feed" => Task::Feed {
                pipe: a.small(0)?,
                count: a.n(1)?,
            },
            "produce" => Task::Produce {
                pipe: a.small(0)?,
                count: a.n(1)?,
                burst: a.n(2)?.max(1),
                every_ms: a.n(3)?,
                sentinel: a.flag(4)?,
            },
            "consume" => Task::Consume {
                pipe: a.small(0)?,
                each_ms: a.n(1)?,
                stop_after: a.n(2)?,
            },
            "pool-worker" => Task::PoolWorker {
                pipe: a.small(0)?,
                work_ms: a.n(1)?,
            },
            "read-then-write" => Task::ReadThenWrite {
                read: a.small(0)?,
                write: a.small(1)?,
            },
            "relay" => Task::Relay {
                read: a.small(0)?,
                write: a.small(1)?,
            },
            "pool-master" => Task::PoolMaster { tasks: a.n(0)? },
            "result-worker" => Task::ResultWorker { work_ms: a.n(0)? },
            "share" => Task::Share {
                permits: a.n(0)?,
                robust: a.flag(1)?,
            },
            "add" => Task::Add {
                count: a.n(0)?,
                locked: a.flag(1)?,
                spread_ms: a.n(2)?,
            },
            "enter" => Task::Enter { work_ms: a.n(0)? },
            "hold-mutex" => Task::HoldMutex {
                rounds: a.n(0)?,
                hold_ms: a.n(1)?,
            },
            "lock-pair" => Task::LockPair {
                kind: LockKind::from_number(a.n(0)?)
                    .ok_or("task lock-pair: the kind is 0 (flock), 1 (POSIX) or 2 (OFD)")?,
                first: a.small(1)?,
                second: a.small(2)?,
                barrier: a.small(3)?,
            },
            "handle-term" => Task::HandleTerm { ms: a.n(0)? },
            "reap-in-handler" => Task::ReapInHandler { hold_ms: a.n(0)? },
            "ignore-children" => Task::IgnoreChildren,
            "terminal" => Task::Terminal,
            "join-group" => Task::JoinGroup { leader: a.n(0)? },
            "read-terminal" => Task::ReadTerminal {
                pipe: a.small(0)?,
                after: a.n(1)?,
                linger_ms: a.n(2)?,
            },
            "daemonize" => Task::Daemonize {
                every_ms: a.n(0)?,
                linger_ms: a.n(1)?,
            },
            "touch" => Task::Touch { mb: a.n(0)? },
            "rewrite" => Task::Rewrite {
                after_ms: a.n(0)?,
                over_ms: a.n(1)?,
                hold_ms: a.n(2)?,
            },
            _ => {
                let shown: String = name.chars().take(32).collect();
                return Err(format!("unknown task {shown:?}"));
            }
        };
        let expected = task.words().1.len();
        if expected != args.len() {
            return Err(format!("task {name} takes {expected} numbers"));
        }
        Ok(task)
    }
}

/// A task's numbers, read by position with the checks each kind of field needs.
struct Args<'a> {
    name: &'a str,
    words: &'a [&'a str],
}

impl Args<'_> {
    fn n(&self, i: usize) -> Result<u32, String> {
        let word = self.words.get(i).ok_or_else(|| {
            format!(
                "task {} takes more than {} numbers",
                self.name,
                self.words.len()
            )
        })?;
        word.parse()
            .map_err(|_| format!("task {}: {word:?} is not a number", self.name))
    }

    fn small(&self, i: usize) -> Result<u8, String> {
        let n = self.n(i)?;
        u8::try_from(n).map_err(|_| format!("task {}: {n} is over 255", self.name))
    }

    fn flag(&self, i: usize) -> Result<bool, String> {
        match self.n(i)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(format!("task {}: a flag is 0 or 1", self.name)),
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, values) = self.words();
        f.write_str(name)?;
        values.iter().try_for_each(|v| write!(f, " {v}"))
    }
}

/// What a worker holds for the tasks. A forked child gets a copy of the kit: fork duplicates
/// file descriptors, keeps shared mappings shared and private memory copied on write.
#[derive(Default)]
pub struct Kit {
    pipes: Vec<(Option<OwnedFd>, Option<OwnedFd>)>,
    shared: Option<shared::Mapping>,
    /// The children this worker forked on request, oldest first.
    pub children: Vec<Pid>,
    /// A pseudo-terminal made by [`Task::Terminal`]: (master, slave).
    terminal: Option<(Option<OwnedFd>, OwnedFd)>,
    memory: Option<memory::Touched>,
}

/// Runs a setup task; the worker then goes on serving.
pub fn setup(task: Task, kit: &mut Kit, dir: &Path) -> Result<(), String> {
    match task {
        Task::Pipe { .. } | Task::ClosePipes | Task::Feed { .. } => pipes::setup(task, kit),
        Task::Share { permits, robust } => {
            kit.shared = Some(shared::map(dir, permits, robust)?);
            Ok(())
        }
        Task::Terminal => session::terminal(kit),
        Task::JoinGroup { leader } => session::join_group(kit, leader),
        Task::Touch { mb } => {
            kit.memory = Some(memory::touch(mb)?);
            Ok(())
        }
        other => Err(format!("{other} is not a setup task")),
    }
}

/// Runs a task to its end and returns the exit code for the worker. A task may block for ever
/// (that is what a deadlock is); if brood is killed meanwhile, the lab's guard ends it.
pub fn run(task: Task, kit: &mut Kit, dir: &Path) -> i32 {
    match task {
        Task::Work { ms, busy, code } => work::work(ms, busy, code),
        Task::ExecSleep { secs, delay_ms } => work::exec_sleep(secs, delay_ms),
        Task::Tick { every_ms, ticks } => work::tick(every_ms, ticks),
        Task::Produce {
            pipe,
            count,
            burst,
            every_ms,
            sentinel,
        } => pipes::produce(kit, pipe, count, burst, every_ms, sentinel),
        Task::Consume {
            pipe,
            each_ms,
            stop_after,
        } => pipes::consume(kit, pipe, each_ms, stop_after),
        Task::PoolWorker { pipe, work_ms } => pipes::pool_worker(kit, pipe, work_ms),
        Task::ReadThenWrite { read, write } => pipes::read_then_write(kit, read, write),
        Task::Relay { read, write } => pipes::relay(kit, read, write),
        Task::PoolMaster { tasks } => pool::master(kit, tasks),
        Task::ResultWorker { work_ms } => pool::worker(kit, work_ms),
        Task::Add {
            count,
            locked,
            spread_ms,
        } => shared::add(kit, count, locked, spread_ms),
        Task::Enter { work_ms } => shared::enter(kit, work_ms),
        Task::HoldMutex { rounds, hold_ms } => shared::hold_mutex(kit, rounds, hold_ms),
        Task::LockPair {
            kind,
            first,
            second,
            barrier,
        } => locks::lock_pair(kit, dir, kind, [first, second], barrier),
        Task::HandleTerm { ms } => signals::handle_term(ms),
        Task::ReapInHandler { hold_ms } => signals::reap_in_handler(kit, hold_ms),
        Task::IgnoreChildren => signals::ignore_children(),
        Task::ReadTerminal {
            pipe,
            after,
            linger_ms,
        } => session::read_terminal(kit, pipe, after, linger_ms),
        Task::Daemonize {
            every_ms,
            linger_ms,
        } => session::daemonize(dir, every_ms, linger_ms),
        Task::Rewrite {
            after_ms,
            over_ms,
            hold_ms,
        } => memory::rewrite(kit, after_ms, over_ms, hold_ms),
        setup_task => match setup(setup_task, kit, dir) {
            Ok(()) => 0,
            Err(_) => 1,
        },
    }
}

/// Says what this process is doing now, on the run's status board.
fn publish(text: &str) {
    super::board::publish(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_round_trip_through_their_text() {
        let tasks = [
            Task::Work {
                ms: 5000,
                busy: true,
                code: 3,
            },
            Task::ExecSleep {
                secs: 30,
                delay_ms: 2000,
            },
            Task::Tick {
                every_ms: 200,
                ticks: 10,
            },
            Task::Pipe { cloexec: false },
            Task::ClosePipes,
            Task::Feed { pipe: 1, count: 4 },
            Task::Produce {
                pipe: 0,
                count: 5,
                burst: 1,
                every_ms: 1000,
                sentinel: true,
            },
            Task::Consume {
                pipe: 0,
                each_ms: 600,
                stop_after: 0,
            },
            Task::PoolWorker {
                pipe: 0,
                work_ms: 800,
            },
            Task::ReadThenWrite { read: 0, write: 1 },
            Task::Relay { read: 1, write: 0 },
            Task::PoolMaster { tasks: 12 },
            Task::ResultWorker { work_ms: 700 },
            Task::Share {
                permits: 3,
                robust: true,
            },
            Task::Add {
                count: 100,
                locked: false,
                spread_ms: 3000,
            },
            Task::Enter { work_ms: 900 },
            Task::HoldMutex {
                rounds: 4,
                hold_ms: 800,
            },
            Task::LockPair {
                kind: LockKind::Ofd,
                first: 0,
                second: 1,
                barrier: 2,
            },
            Task::HandleTerm { ms: 60_000 },
            Task::ReapInHandler { hold_ms: 1000 },
            Task::IgnoreChildren,
            Task::Terminal,
            Task::JoinGroup { leader: 4711 },
            Task::ReadTerminal {
                pipe: 1,
                after: 8,
                linger_ms: 5000,
            },
            Task::Daemonize {
                every_ms: 1000,
                linger_ms: 2000,
            },
            Task::Touch { mb: 200 },
            Task::Rewrite {
                after_ms: 3000,
                over_ms: 5000,
                hold_ms: 20_000,
            },
        ];
        for task in tasks {
            let text = task.to_string();
            let words: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(Task::parse(&words), Ok(task), "{text}");
        }
    }

    #[test]
    fn bad_tasks_are_refused_with_a_reason() {
        assert!(Task::parse(&[]).is_err());
        assert!(
            Task::parse(&["rm", "-rf"])
                .unwrap_err()
                .contains("unknown task")
        );
        assert!(
            Task::parse(&["work", "x", "0", "1"])
                .unwrap_err()
                .contains("not a number")
        );
        assert!(Task::parse(&["work", "1"]).unwrap_err().contains("numbers"));
        assert!(
            Task::parse(&["work", "1", "2", "3"])
                .unwrap_err()
                .contains("0 or 1")
        );
        assert!(
            Task::parse(&["work", "1", "0", "3", "4"])
                .unwrap_err()
                .contains("takes 3 numbers")
        );
        assert!(
            Task::parse(&["feed", "300", "1"])
                .unwrap_err()
                .contains("over 255")
        );
        assert!(Task::parse(&["lock-pair", "7", "0", "1", "2"]).is_err());
    }
}
