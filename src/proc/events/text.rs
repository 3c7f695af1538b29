//! Events in words, one line each, for `brood events` and the TUI's log. Pure: names were made
//! safe to print when they were read; nothing here reads /proc.

use std::fmt::Write;

use super::{ExitStatus, Kind, ProcEvent, Source, Task, TaskRef, signal_name};
use crate::proc::Pid;

impl ProcEvent {
    /// The event as a sentence, without its time, e.g. "4712 (true) exited with code 0 after
    /// 1.2 ms; parent 4711 (sh)".
    pub fn describe(&self) -> String {
        let mut out = String::with_capacity(96);
        let Some(task) = &self.task else {
            match &self.kind {
                Kind::Dropped { count: Some(1) } => {
                    out.push_str("1 event lost: brood's receive buffer was full");
                }
                Kind::Dropped { count: Some(n) } => {
                    let _ = write!(out, "{n} events lost: brood's receive buffer was full");
                }
                Kind::Dropped { count: None } => {
                    out.push_str("events lost: brood's receive buffer overflowed");
                }
                Kind::Notice { text } => out.push_str(text),
                other => out.push_str(other.label()),
            }
            return out;
        };
        let me = who(task.pid, &task.name);
        let parent = self.parent.as_ref();
        match &self.kind {
            Kind::Fork => match (parent, task.is_thread()) {
                (Some(p), true) => {
                    let _ = write!(out, "{} started thread {}", ref_who(p), task.pid);
                }
                (Some(p), false) => {
                    let _ = write!(out, "{} forked {}", ref_who(p), task.pid);
                }
                (None, _) => {
                    let _ = write!(out, "{me} was forked");
                }
            },
            Kind::Exec { previous_name } => {
                let name = if task.name.is_empty() {
                    "?"
                } else {
                    &task.name
                };
                let _ = write!(out, "{} exec'd {name}", task.pid);
                if !task.cmdline.is_empty() {
                    let _ = write!(out, ": {}", shortened(&task.cmdline));
                }
                if !previous_name.is_empty() && **previous_name != *task.name {
                    let _ = write!(out, " (was {previous_name})");
                }
            }
            Kind::Exit {
                status,
                lifetime_ns,
            } => {
                out.push_str(&exit_sentence(
                    task,
                    status.as_ref(),
                    *lifetime_ns,
                    self.source,
                ));
                if let Some(p) = parent.filter(|_| !task.is_thread()) {
                    let _ = write!(out, "; parent {}", ref_who(p));
                }
            }
            Kind::Comm { previous_name } => {
                let _ = write!(
                    out,
                    "{} renamed itself {}",
                    who(task.pid, previous_name),
                    task.name
                );
            }
            Kind::Ptrace { tracer: Some(t) } => {
                let _ = write!(out, "{me} is traced by {}", ref_who(t));
            }
            Kind::Ptrace { tracer: None } => {
                let _ = write!(out, "{me} is no longer traced");
            }
            Kind::Uid { ruid, euid } => {
                let _ = write!(out, "{me} now runs as {} (uid {euid}", task.user);
                if ruid != euid {
                    let _ = write!(out, ", real uid {ruid}");
                }
                out.push(')');
            }
            Kind::Gid { rgid, egid } => {
                let _ = write!(out, "{me} now runs with group {egid}");
                if rgid != egid {
                    let _ = write!(out, " (real group {rgid})");
                }
            }
            Kind::Sid => {
                let _ = write!(out, "{me} leads a new session (setsid)");
            }
            Kind::Coredump => {
                let _ = write!(out, "{me} is dumping core");
            }
            Kind::Dropped { .. } | Kind::Notice { .. } => out.push_str(&me),
        }
        out
    }
}

/// How `task` ended and after how long, e.g. "4712 (true) exited with code 0 after 1.2 ms".
pub fn exit_sentence(
    task: &Task,
    status: Option<&ExitStatus>,
    lifetime_ns: Option<u64>,
    source: Source,
) -> String {
    let mut out = String::with_capacity(64);
    if task.is_thread() {
        let _ = write!(
            out,
            "thread {} of {} ended",
            task.pid,
            who(task.tgid, &task.name)
        );
    } else {
        out.push_str(&who(task.pid, &task.name));
        match status {
            Some(ExitStatus::Code(code)) => {
                let _ = write!(out, " exited with code {code}");
            }
            Some(ExitStatus::Signal {
                number,
                core_dumped,
            }) => {
                let _ = write!(out, " was killed by {}", signal_name(*number));
                if *core_dumped {
                    out.push_str(" (core dumped)");
                }
            }
            None => out.push_str(" exited (status not seen: reaped between two scans)"),
        }
    }
    if let Some(ns) = lifetime_ns {
        // A scan only bounds it: the process may have died up to a refresh before.
        let within = if source == Source::Scan {
            " within"
        } else {
            " after"
        };
        let _ = write!(out, "{within} {}", duration(ns));
    }
    out
}

/// A command line cut to what one line can hold (JSON keeps all of it).
fn shortened(cmdline: &str) -> std::borrow::Cow<'_, str> {
    const MAX_CHARS: usize = 200;
    match cmdline.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &cmdline[..cut]).into(),
        None => cmdline.into(),
    }
}

/// "4712 (true)", or "4712" when the name is not known.
pub fn who(pid: Pid, name: &str) -> String {
    if name.is_empty() {
        pid.to_string()
    } else {
        format!("{pid} ({name})")
    }
}

fn ref_who(task: &TaskRef) -> String {
    who(task.pid, &task.name)
}

/// A lifetime, as precise as it is short: "850 µs", "1.2 ms", "3.40 s", "2 min 03 s",
/// "1 h 02 min", "3 d 04 h".
pub fn duration(ns: u64) -> String {
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    match ns {
        0..MS => format!("{} µs", ns / US),
        MS..S => format!("{:.1} ms", ns as f64 / MS as f64),
        _ => {
            let secs = ns / S;
            match secs {
                0..60 => format!("{:.2} s", ns as f64 / S as f64),
                60..3_600 => format!("{} min {:02} s", secs / 60, secs % 60),
                3_600..86_400 => format!("{} h {:02} min", secs / 3_600, secs % 3_600 / 60),
                _ => format!("{} d {:02} h", secs / 86_400, secs % 86_400 / 3_600),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::events::Stamp;

    fn task(pid: Pid, name: &str) -> Task {
        Task {
            pid,
            tgid: pid,
            start_ticks: Some(9),
            start_estimated: false,
            name: name.into(),
            cmdline: "".into(),
            uid: Some(1000),
            user: "alice".into(),
        }
    }

    fn parent(pid: Pid, name: &str) -> Option<TaskRef> {
        Some(TaskRef {
            pid,
            start_ticks: None,
            name: name.into(),
        })
    }

    fn told(kind: Kind, task: Task, parent: Option<TaskRef>) -> String {
        ProcEvent {
            at: Stamp::default(),
            source: Source::Kernel,
            kind,
            task: Some(task),
            parent,
        }
        .describe()
    }

    #[test]
    fn exits_say_how_it_ended_how_long_it_lived_and_who_the_parent_was() {
        let exit = |status, lifetime_ns| Kind::Exit {
            status,
            lifetime_ns,
        };
        assert_eq!(
            told(
                exit(Some(ExitStatus::Code(3)), Some(1_234_000)),
                task(4712, "true"),
                parent(4711, "sh")
            ),
            "4712 (true) exited with code 3 after 1.2 ms; parent 4711 (sh)"
        );
        let segv = ExitStatus::Signal {
            number: 11,
            core_dumped: true,
        };
        assert_eq!(
            told(exit(Some(segv), Some(3_400_000_000)), task(5, "x"), None),
            "5 (x) was killed by SIGSEGV (core dumped) after 3.40 s"
        );
        let mut thread = task(4790, "worker");
        thread.tgid = 4711;
        assert_eq!(
            told(exit(None, Some(90_000)), thread, parent(4711, "firefox")),
            "thread 4790 of 4711 (worker) ended after 90 µs"
        );
    }

    #[test]
    fn forks_execs_and_renames_read_as_sentences() {
        assert_eq!(
            told(Kind::Fork, task(12, "sh"), parent(11, "sh")),
            "11 (sh) forked 12"
        );
        let mut exec = task(12, "ls");
        exec.cmdline = "ls -l".into();
        let kind = Kind::Exec {
            previous_name: "sh".into(),
        };
        assert_eq!(
            told(kind.clone(), exec, None),
            "12 exec'd ls: ls -l (was sh)"
        );
        let mut long = task(12, "cc");
        long.cmdline = "x".repeat(300).into();
        let line = told(kind, long, None);
        assert!(
            line.ends_with("x… (was sh)") && line.chars().count() < 240,
            "{line}"
        );
        let kind = Kind::Comm {
            previous_name: "sh".into(),
        };
        assert_eq!(
            told(kind, task(12, "bev-1"), None),
            "12 (sh) renamed itself bev-1"
        );
        let kind = Kind::Uid {
            ruid: 0,
            euid: 1000,
        };
        assert_eq!(
            told(kind, task(12, "su"), None),
            "12 (su) now runs as alice (uid 1000, real uid 0)"
        );
        let lost = ProcEvent::dropped(Stamp::default(), Some(17)).describe();
        assert_eq!(lost, "17 events lost: brood's receive buffer was full");
    }

    #[test]
    fn durations_keep_the_precision_that_matters() {
        assert_eq!(duration(850_000), "850 µs");
        assert_eq!(duration(1_240_000), "1.2 ms");
        assert_eq!(duration(125 * 1_000_000_000), "2 min 05 s");
        assert_eq!(duration(3_720 * 1_000_000_000), "1 h 02 min");
        assert_eq!(duration(2 * 86_400 * 1_000_000_000), "2 d 00 h");
    }
}
