//! The lab's control protocol: one request line, one reply line, over a worker's Unix socket.
//! Both ends parse with the code below; anything else gets an `error` reply, never a crash.

use std::fmt;

use super::tasks::Task;
use crate::proc::{Identity, Pid};

/// The longest request a worker reads; longer input is refused.
pub const MAX_LINE: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Are you alive? Answered with the worker's PID.
    Ping,
    /// Call `fork()`; the child becomes a worker too.
    Fork,
    /// `_exit(code)`.
    Exit(u8),
    /// Block in `waitpid(-1, WUNTRACED | WCONTINUED)` until a child changes state.
    Wait,
    /// `waitpid(-1, WNOHANG | WUNTRACED | WCONTINUED)`: report a change if there is one, never
    /// block (so the worker stays free to answer).
    Check,
    /// `waitpid(pid, WNOHANG)`: collect this child if it is a zombie.
    Reap(Pid),
    /// Block in `waitpid(pid, 0)` until this one child ends.
    WaitPid(Pid),
    /// Run a scripted task (see [`Task`]): setup tasks answer when done, the others answer
    /// at once and end the worker when they finish.
    Task(Task),
}

/// How a child changed, as `waitpid` said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    Exited {
        pid: Pid,
        code: i32,
    },
    Killed {
        pid: Pid,
        signal: i32,
        core_dumped: bool,
    },
    Stopped {
        pid: Pid,
        signal: i32,
    },
    Continued {
        pid: Pid,
    },
}

impl WaitOutcome {
    pub fn pid(self) -> Pid {
        match self {
            WaitOutcome::Exited { pid, .. }
            | WaitOutcome::Killed { pid, .. }
            | WaitOutcome::Stopped { pid, .. }
            | WaitOutcome::Continued { pid } => pid,
        }
    }

    /// Whether the child is gone (reaped), rather than only stopped or continued.
    pub fn reaped(self) -> bool {
        matches!(
            self,
            WaitOutcome::Exited { .. } | WaitOutcome::Killed { .. }
        )
    }

    pub fn from_status(status: nix::sys::wait::WaitStatus) -> Option<WaitOutcome> {
        use nix::sys::wait::WaitStatus as W;
        Some(match status {
            W::Exited(pid, code) => WaitOutcome::Exited {
                pid: pid.as_raw(),
                code,
            },
            W::Signaled(pid, signal, core_dumped) => WaitOutcome::Killed {
                pid: pid.as_raw(),
                signal: signal as i32,
                core_dumped,
            },
            W::Stopped(pid, signal) => WaitOutcome::Stopped {
                pid: pid.as_raw(),
                signal: signal as i32,
            },
            W::Continued(pid) => WaitOutcome::Continued { pid: pid.as_raw() },
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done; the PID is the worker's own (ping, exit, task).
    Ok(Pid),
    /// `fork` made this child (read by its parent, before the child could be reaped).
    Forked(Identity),
    Waited(WaitOutcome),
    /// `Reap` found the child still running.
    NotYet,
    Error(String),
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Ping => f.write_str("ping"),
            Request::Fork => f.write_str("fork"),
            Request::Exit(code) => write!(f, "exit {code}"),
            Request::Wait => f.write_str("wait"),
            Request::Check => f.write_str("check"),
            Request::Reap(pid) => write!(f, "reap {pid}"),
            Request::WaitPid(pid) => write!(f, "waitpid {pid}"),
            Request::Task(task) => write!(f, "task {task}"),
        }
    }
}

impl Request {
    pub fn parse(line: &str) -> Result<Request, String> {
        let mut words = line.split_whitespace();
        let verb = words.next().ok_or("empty request")?;
        if verb == "task" {
            return Task::parse(&words.collect::<Vec<_>>()).map(Request::Task);
        }
        if !["ping", "fork", "wait", "check", "exit", "reap", "waitpid"].contains(&verb) {
            return Err(format!(
                "unknown command {:?}",
                verb.chars().take(32).collect::<String>()
            ));
        }
        let arg = words.next();
        if words.next().is_some() {
            return Err(format!("too many arguments for {verb:?}"));
        }
        let number = |what: &str| -> Result<i64, String> {
            arg.ok_or(format!("{verb} needs {what}"))?
                .parse()
                .map_err(|_| format!("{verb}: {what} must be a number"))
        };
        let request = match verb {
            "ping" if arg.is_none() => Request::Ping,
            "fork" if arg.is_none() => Request::Fork,
            "wait" if arg.is_none() => Request::Wait,
            "check" if arg.is_none() => Request::Check,
            "exit" => Request::Exit(
                u8::try_from(number("an exit code")?).map_err(|_| "exit codes are 0 to 255")?,
            ),
            "reap" | "waitpid" => {
                let pid = Pid::try_from(number("a PID")?)
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or("not a PID")?;
                if verb == "reap" {
                    Request::Reap(pid)
                } else {
                    Request::WaitPid(pid)
                }
            }
            _ => return Err(format!("{verb} takes no argument")),
        };
        Ok(request)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok(pid) => write!(f, "ok {pid}"),
            Reply::Forked(child) => write!(f, "forked {} {}", child.pid, child.start_ticks),
            Reply::Waited(WaitOutcome::Exited { pid, code }) => write!(f, "exited {pid} {code}"),
            Reply::Waited(WaitOutcome::Killed {
                pid,
                signal,
                core_dumped,
            }) => {
                write!(
                    f,
                    "killed {pid} {signal} {}",
                    if *core_dumped { "core" } else { "nocore" }
                )
            }
            Reply::Waited(WaitOutcome::Stopped { pid, signal }) => {
                write!(f, "stopped {pid} {signal}")
            }
            Reply::Waited(WaitOutcome::Continued { pid }) => write!(f, "continued {pid}"),
            Reply::NotYet => f.write_str("notyet"),
            // Keep the reply one line whatever the message holds.
            Reply::Error(text) => write!(f, "error {}", text.replace(['\n', '\r'], " ")),
        }
    }
}

impl Reply {
    pub fn parse(line: &str) -> Result<Reply, String> {
        let line = line.trim_end();
        if let Some(text) = line.strip_prefix("error ") {
            return Ok(Reply::Error(text.to_string()));
        }
        let words: Vec<&str> = line.split(' ').collect();
        let int = |i: usize| -> Result<i32, String> {
            words
                .get(i)
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| format!("malformed reply {line:?}"))
        };
        let reply = match words[0] {
            "ok" => Reply::Ok(int(1)?),
            "forked" => Reply::Forked(Identity {
                pid: int(1)?,
                start_ticks: words
                    .get(2)
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| format!("malformed reply {line:?}"))?,
            }),
            "exited" => Reply::Waited(WaitOutcome::Exited {
                pid: int(1)?,
                code: int(2)?,
            }),
            "killed" => Reply::Waited(WaitOutcome::Killed {
                pid: int(1)?,
                signal: int(2)?,
                core_dumped: words.get(3) == Some(&"core"),
            }),
            "stopped" => Reply::Waited(WaitOutcome::Stopped {
                pid: int(1)?,
                signal: int(2)?,
            }),
            "continued" => Reply::Waited(WaitOutcome::Continued { pid: int(1)? }),
            "notyet" => Reply::NotYet,
            _ => return Err(format!("malformed reply {line:?}")),
        };
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_round_trip() {
        for request in [
            Request::Ping,
            Request::Fork,
            Request::Exit(3),
            Request::Wait,
            Request::Check,
            Request::Reap(42),
            Request::WaitPid(43),
            Request::Task(Task::Tick {
                every_ms: 200,
                ticks: 5,
            }),
        ] {
            assert_eq!(Request::parse(&request.to_string()), Ok(request));
        }
    }

    #[test]
    fn replies_round_trip() {
        let replies = [
            Reply::Ok(7),
            Reply::Forked(Identity {
                pid: 8,
                start_ticks: 12_345,
            }),
            Reply::Waited(WaitOutcome::Exited { pid: 5, code: 3 }),
            Reply::Waited(WaitOutcome::Killed {
                pid: 5,
                signal: 9,
                core_dumped: false,
            }),
            Reply::Waited(WaitOutcome::Killed {
                pid: 5,
                signal: 11,
                core_dumped: true,
            }),
            Reply::Waited(WaitOutcome::Stopped { pid: 5, signal: 19 }),
            Reply::Waited(WaitOutcome::Continued { pid: 5 }),
            Reply::NotYet,
            Reply::Error("no child processes".into()),
        ];
        for reply in replies {
            assert_eq!(Reply::parse(&reply.to_string()), Ok(reply));
        }
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(Request::parse("").unwrap_err().contains("empty"));
        assert!(Request::parse("exit 300").unwrap_err().contains("0 to 255"));
        assert!(Request::parse("reap -4").is_err());
        assert!(
            Request::parse("fork now")
                .unwrap_err()
                .contains("no argument")
        );
        assert!(
            Request::parse("rm -rf /")
                .unwrap_err()
                .contains("unknown command")
        );
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics(text in ".{0,80}") {
            let _ = Request::parse(&text);
            let _ = Reply::parse(&text);
        }
    }
}
