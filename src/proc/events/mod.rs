//! Process events told in full: what happened (fork, exec, exit…), to which process (identity,
//! name, command, user), when, and for an exit how it ended and how long the process lived. One
//! type for the kernel's events and for those inferred from scans: `brood events` prints it, the
//! TUI's history keeps it. `tracker`, `polled`, `filter` and `text` are pure; `facts` reads /proc
//! and `source` ties socket, scans and /proc together. Nothing here draws or owns a thread.

pub mod clock;
pub mod facts;
pub mod filter;
pub mod polled;
pub mod source;
pub mod text;
pub mod tracker;

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use clock::{Clock, Stamp};

use super::{Identity, Pid, ProcInfo, TaskKind};

/// One event. Serialised (serde) it is a line of `brood events --format json`: add fields, never
/// rename or remove one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcEvent {
    #[serde(flatten)]
    pub at: Stamp,
    pub source: Source,
    #[serde(flatten)]
    pub kind: Kind,
    /// The process (or thread) it happened to: the child, for a fork. `None` for what is about
    /// the stream itself (dropped, notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// Its parent when the event happened, as far as brood knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<TaskRef>,
}

/// Where an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The kernel's process events: every one, as it happens.
    Kernel,
    /// The difference between two scans: what lived less than a refresh is missed, and times are
    /// those of the scan that noticed.
    Scan,
}

/// What happened, with what only that kind of event has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Kind {
    /// `task` was born, a copy of `parent` (a thread of it, if `task` is a thread).
    Fork,
    /// `task` runs a new program; `task.name` and `task.cmdline` are the new ones.
    Exec {
        previous_name: Arc<str>,
    },
    /// `task` ended. The status is missing where a scan found it already reaped; the lifetime is
    /// exact (to the microsecond) when its fork was seen, else from its start time (to a clock
    /// tick), and for scans an upper bound.
    Exit {
        status: Option<ExitStatus>,
        lifetime_ns: Option<u64>,
    },
    /// `task` renamed itself (prctl PR_SET_NAME, /proc/PID/comm); `task.name` is the new name.
    Comm {
        previous_name: Arc<str>,
    },
    /// A tracer (a debugger, strace) attached to `task`, or detached when `tracer` is `None`.
    Ptrace {
        tracer: Option<TaskRef>,
    },
    /// Real and effective user IDs changed (setuid and friends).
    Uid {
        ruid: u32,
        euid: u32,
    },
    Gid {
        rgid: u32,
        egid: u32,
    },
    /// `task` called `setsid()` and leads a new session.
    Sid,
    /// `task` is dumping core (its exit follows).
    Coredump,
    /// Events the kernel could not deliver: brood's receive buffer was full. `count` is missing
    /// when the kernel said so but no later event has told how many yet.
    Dropped {
        count: Option<u64>,
    },
    /// Something about the stream itself, in words (where events come from, a fallback).
    Notice {
        text: String,
    },
}

impl Kind {
    /// The kind's name, as `--format json` writes it in `"kind"`.
    pub fn label(&self) -> &'static str {
        self.into()
    }
}

/// A process or thread as brood knew it at the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its own ID (a thread ID for a thread).
    pub pid: Pid,
    /// Its process (thread group); equal to `pid` for a process.
    pub tgid: Pid,
    /// Field 22 of /proc/PID/stat. Missing only for a task brood never saw alive (its fork was
    /// among dropped events and it was reaped before /proc could be read).
    pub start_ticks: Option<u64>,
    /// `start_ticks` was worked out from the fork's time because the task was gone before /proc
    /// could be read: exact, or one tick late when a tick began during the fork.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub start_estimated: bool,
    /// `comm`, made safe to print; empty when never learnt.
    pub name: Arc<str>,
    /// Arguments joined by spaces, made safe to print; empty when gone before it could be read.
    pub cmdline: Arc<str>,
    pub uid: Option<u32>,
    /// The name of `uid` (or the number, if it has none); empty when unknown.
    pub user: Arc<str>,
}

impl Task {
    /// Its identity, `(pid, start ticks)`, when its start is known.
    pub fn identity(&self) -> Option<Identity> {
        self.start_ticks.map(|start_ticks| Identity {
            pid: self.pid,
            start_ticks,
        })
    }

    pub fn is_thread(&self) -> bool {
        self.pid != self.tgid
    }

    /// How a scan saw it.
    pub fn from_proc(proc: &ProcInfo) -> Task {
        Task {
            pid: proc.pid(),
            tgid: if proc.kind == TaskKind::Thread {
                proc.ppid
            } else {
                proc.pid()
            },
            start_ticks: Some(proc.id.start_ticks),
            start_estimated: false,
            name: proc.name.clone(),
            cmdline: proc.cmdline.clone(),
            uid: proc.uid,
            user: proc.user.clone(),
        }
    }
}

/// Another process an event names (a parent, a tracer): enough to say who, and to find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    pub pid: Pid,
    pub start_ticks: Option<u64>,
    /// Empty when brood does not know it.
    pub name: Arc<str>,
}

/// How a process ended, as `wait()` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "StatusFields", from = "StatusFields")]
pub enum ExitStatus {
    /// It called `exit(code)` (or returned it from main).
    Code(i32),
    /// A signal ended it.
    Signal { number: i32, core_dumped: bool },
}

impl ExitStatus {
    /// From a status in `wait()` form: the kernel's exit events and field 52 of /proc/PID/stat.
    pub fn from_wait_status(status: u32) -> ExitStatus {
        match status & 0x7f {
            0 => ExitStatus::Code(((status >> 8) & 0xff) as i32),
            signal => ExitStatus::Signal {
                number: signal as i32,
                core_dumped: status & 0x80 != 0,
            },
        }
    }
}

/// `SIGKILL`, `SIGRTMIN+3`, or `signal 70` for a number with no name.
pub fn signal_name(number: i32) -> Cow<'static, str> {
    if let Ok(signal) = nix::sys::signal::Signal::try_from(number) {
        return Cow::Borrowed(signal.as_str());
    }
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if (min..=max).contains(&number) {
        return Cow::Owned(format!("SIGRTMIN+{}", number - min));
    }
    Cow::Owned(format!("signal {number}"))
}

/// An exit status as JSON: `{"code": 3}` or `{"signal": 9, "signal_name": "SIGKILL",
/// "core_dumped": false}`.
#[derive(Serialize, Deserialize)]
struct StatusFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal_name: Option<Cow<'static, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    core_dumped: Option<bool>,
}

impl From<ExitStatus> for StatusFields {
    fn from(status: ExitStatus) -> StatusFields {
        match status {
            ExitStatus::Code(code) => StatusFields {
                code: Some(code),
                signal: None,
                signal_name: None,
                core_dumped: None,
            },
            ExitStatus::Signal {
                number,
                core_dumped,
            } => StatusFields {
                code: None,
                signal: Some(number),
                signal_name: Some(signal_name(number)),
                core_dumped: Some(core_dumped),
            },
        }
    }
}

impl From<StatusFields> for ExitStatus {
    fn from(fields: StatusFields) -> ExitStatus {
        match fields.signal {
            Some(number) => ExitStatus::Signal {
                number,
                core_dumped: fields.core_dumped.unwrap_or(false),
            },
            None => ExitStatus::Code(fields.code.unwrap_or(0)),
        }
    }
}

impl ProcEvent {
    /// An event about the stream itself.
    pub fn notice(at: Stamp, source: Source, text: String) -> ProcEvent {
        ProcEvent {
            at,
            source,
            kind: Kind::Notice { text },
            task: None,
            parent: None,
        }
    }

    pub fn dropped(at: Stamp, count: Option<u64>) -> ProcEvent {
        ProcEvent {
            at,
            source: Source::Kernel,
            kind: Kind::Dropped { count },
            task: None,
            parent: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_decode_like_waitpid() {
        assert_eq!(ExitStatus::from_wait_status(3 << 8), ExitStatus::Code(3));
        assert_eq!(ExitStatus::from_wait_status(0), ExitStatus::Code(0));
        assert_eq!(
            ExitStatus::from_wait_status(9),
            ExitStatus::Signal {
                number: 9,
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::from_wait_status(11 | 0x80),
            ExitStatus::Signal {
                number: 11,
                core_dumped: true
            }
        );
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
        assert_eq!(signal_name(99), "signal 99");
    }

    fn task(pid: Pid) -> Task {
        Task {
            pid,
            tgid: pid,
            start_ticks: Some(500),
            start_estimated: true,
            name: "bev-7".into(),
            cmdline: "bev-7 --now".into(),
            uid: Some(0),
            user: "root".into(),
        }
    }

    #[test]
    fn an_exit_is_one_flat_json_object_and_reads_back() {
        let event = ProcEvent {
            at: Stamp {
                boot_ns: 12,
                unix_ns: 34,
            },
            source: Source::Kernel,
            kind: Kind::Exit {
                status: Some(ExitStatus::Signal {
                    number: 6,
                    core_dumped: true,
                }),
                lifetime_ns: Some(1_500_000),
            },
            task: Some(task(42)),
            parent: Some(TaskRef {
                pid: 41,
                start_ticks: None,
                name: "sh".into(),
            }),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "exit");
        assert_eq!(json["source"], "kernel");
        assert_eq!(json["boot_ns"], 12);
        assert_eq!(json["unix_ns"], 34);
        assert_eq!(json["status"]["signal_name"], "SIGABRT");
        assert_eq!(json["status"]["core_dumped"], true);
        assert_eq!(json["lifetime_ns"], 1_500_000);
        assert_eq!(json["task"]["pid"], 42);
        assert_eq!(json["task"]["start_estimated"], true);
        assert_eq!(json["parent"]["name"], "sh");
        let back: ProcEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn every_kind_reads_back() {
        let kinds = [
            Kind::Fork,
            Kind::Exec {
                previous_name: "sh".into(),
            },
            Kind::Exit {
                status: Some(ExitStatus::Code(7)),
                lifetime_ns: None,
            },
            Kind::Comm {
                previous_name: "x".into(),
            },
            Kind::Ptrace { tracer: None },
            Kind::Uid { ruid: 1, euid: 2 },
            Kind::Gid { rgid: 3, egid: 4 },
            Kind::Sid,
            Kind::Coredump,
            Kind::Dropped { count: Some(12) },
            Kind::Notice {
                text: "hello".into(),
            },
        ];
        for kind in kinds {
            let event = ProcEvent {
                at: Stamp::default(),
                source: Source::Scan,
                kind,
                task: Some(task(5)),
                parent: None,
            };
            let line = serde_json::to_string(&event).unwrap();
            assert!(!line.contains('\n'));
            assert!(line.contains(&format!("\"kind\":\"{}\"", event.kind.label())));
            let back: ProcEvent = serde_json::from_str(&line).unwrap();
            assert_eq!(back, event, "{line}");
        }
    }
}
