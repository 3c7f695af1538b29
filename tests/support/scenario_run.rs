//! One scenario run for real in a lab of its own, for the scenario tests: the steps it reports,
//! waits on its figures and outcomes, and /proc read here, independently of brood's scanner.
//! Use it with `#[path = "support/scenario_run.rs"] mod scenario_run;` beside `mod support;`.
#![allow(dead_code)] // each test file uses its own subset

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brood::lab::Lab;
use brood::lab::protocol::WaitOutcome;
use brood::lab::scenarios::{Control, Figures, Pace, ScenarioId, Step};
use brood::proc::wchan::{self, WaitKind};
use brood::proc::{Identity, Pid};

use super::support::{DEADLINE, own_pid, ppid_from_proc, state_of, wait_until};

/// Lessons run at a third of their pace in tests, with 32 MiB for copy-on-write: the states
/// they show stay long enough to be seen, and the whole suite stays short.
pub const TEST_PACE: Pace = Pace {
    percent: 30,
    memory_mb: 32,
};

/// One scenario under test: its lab, the steps it reported, and a guard that ends it.
pub struct Run {
    pub lab: Arc<Lab>,
    pub control: Arc<Control>,
    inbox: Mutex<Receiver<Step>>,
    steps: Mutex<Vec<Step>>,
}

impl Run {
    pub fn start(id: ScenarioId) -> Run {
        Run::paced(id, TEST_PACE)
    }

    /// A run at another pace: lessons that keep CPUs busy for long go faster still.
    pub fn paced(id: ScenarioId, pace: Pace) -> Run {
        let lab = Arc::new(Lab::new(env!("CARGO_BIN_EXE_brood").into()).expect("a lab"));
        let (sender, inbox) = mpsc::channel();
        let sender = Mutex::new(sender);
        let control = Arc::new(Control::paced(pace));
        brood::runtime::scenario::start(
            lab.clone(),
            id,
            Arc::new(move |step| {
                if let Ok(sender) = sender.lock() {
                    let _ = sender.send(step);
                }
            }),
            control.clone(),
        );
        Run {
            lab,
            control,
            inbox: Mutex::new(inbox),
            steps: Mutex::new(Vec::new()),
        }
    }

    /// Every step so far.
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = self.steps.lock().unwrap();
        steps.extend(self.inbox.lock().unwrap().try_iter());
        steps.clone()
    }

    pub fn failure(&self) -> Option<String> {
        self.steps().into_iter().find_map(|s| match s {
            Step::Failed(why) => Some(why),
            _ => None,
        })
    }

    /// The PIDs that have the role `key`, once `count` of them were reported.
    pub fn roles(&self, key: &str, count: usize) -> Vec<Pid> {
        wait_until(&format!("{count} process(es) in the role {key}"), || {
            if let Some(why) = self.failure() {
                panic!("the scenario failed: {why}");
            }
            let pids: Vec<Pid> = self
                .steps()
                .into_iter()
                .filter_map(|s| match s {
                    Step::Role { pid, key: k, .. } if k == key => Some(pid),
                    _ => None,
                })
                .collect();
            (pids.len() >= count).then_some(pids)
        })
    }

    pub fn role(&self, key: &str) -> Pid {
        self.roles(key, 1)[0]
    }

    pub fn identity(&self, key: &str) -> Identity {
        brood::proc::lookup::read_identity(self.role(key)).expect("the process lives")
    }

    pub fn figures(&self) -> Option<Figures> {
        self.steps().into_iter().rev().find_map(|s| match s {
            Step::Figures(f) => Some(f),
            _ => None,
        })
    }

    /// Waits until the latest figures have `name` and `check` accepts its value.
    pub fn value_until(&self, name: &str, check: impl Fn(i64) -> bool) -> i64 {
        let start = Instant::now();
        loop {
            if let Some(why) = self.failure() {
                panic!("the scenario failed: {why}");
            }
            let figures = self.figures();
            if let Some(value) = figures
                .as_ref()
                .and_then(|f| f.value(name))
                .filter(|&v| check(v))
            {
                return value;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for the figure {name}; the last figures: {figures:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a line of the latest figures contains `text`, and returns it.
    pub fn line_until(&self, text: &str) -> String {
        wait_until(&format!("a panel line with {text:?}"), || {
            self.figures()?
                .lines
                .into_iter()
                .find(|line| line.contains(text))
        })
    }

    /// Waits for a note in the event log that contains `text`, and returns it.
    pub fn note_until(&self, text: &str) -> String {
        wait_until(&format!("a note with {text:?}"), || {
            self.steps().into_iter().find_map(|s| match s {
                Step::Note(note) if note.contains(text) => Some(note),
                _ => None,
            })
        })
    }

    pub fn waits(&self) -> Vec<(Pid, WaitOutcome)> {
        self.steps()
            .into_iter()
            .filter_map(|s| match s {
                Step::Waited { waiter, outcome } => Some((waiter, outcome)),
                _ => None,
            })
            .collect()
    }

    pub fn wait_for_outcome(&self, what: &str, check: impl Fn(&WaitOutcome) -> bool) -> Pid {
        let start = Instant::now();
        loop {
            let waits = self.waits();
            if let Some((waiter, _)) = waits.iter().find(|(_, outcome)| check(outcome)) {
                return *waiter;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for: {what}; the waits seen: {waits:?}; failure: {:?}; \
                 processes: {:?}",
                self.failure(),
                self.every_pid()
                    .into_iter()
                    .map(|p| (p, std::fs::read_to_string(format!("/proc/{p}/stat"))))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn every_pid(&self) -> Vec<Pid> {
        self.steps()
            .into_iter()
            .filter_map(|s| match s {
                Step::Role { pid, .. } => Some(pid),
                _ => None,
            })
            .collect()
    }

    /// Ends the lab and checks that none of the scenario's processes is still alive.
    pub fn finish(self) {
        let pids = self.every_pid();
        self.end();
        for pid in pids {
            wait_until(&format!("scenario process {pid} to be gone"), || {
                state_of(pid)
                    .is_none_or(|s| s == 'Z' && ppid_from_proc(pid) != Some(own_pid()))
                    .then_some(())
            });
            // A killed grandchild is a zombie only until its adopter reaps it.
            wait_until(&format!("scenario process {pid} to be reaped"), || {
                state_of(pid).is_none().then_some(())
            });
        }
    }

    pub fn end(&self) {
        self.control.stop();
        self.lab.shutdown(false);
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.end();
    }
}

/// Whether `pid` sleeps in a kernel function brood's wait-channel table knows as `kind` (whole
/// names, as kernels of every version spell them).
pub fn waits(pid: Pid, kind: WaitKind) -> bool {
    wchan::read(pid).is_some_and(|channel| channel.is(kind))
}

/// utime + stime in clock ticks.
pub fn cpu_ticks(pid: Pid) -> Option<u64> {
    let fields = stat_fields(pid)?;
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The fields of /proc/PID/stat after the command name, from the state (index 0) on.
pub fn stat_fields(pid: Pid) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// (process group, session, controlling terminal) from /proc/PID/stat.
pub fn group_session_tty(pid: Pid) -> Option<(Pid, Pid, i32)> {
    let fields = stat_fields(pid)?;
    let number = |i: usize| fields.get(i)?.parse().ok();
    Some((number(2)?, number(3)?, number(4)?))
}

pub fn comm(pid: Pid) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A hexadecimal mask from /proc/PID/status (`ShdPnd`, `SigBlk`, …).
pub fn signal_mask(pid: Pid, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?;
    u64::from_str_radix(value.trim(), 16).ok()
}

/// Where each descriptor of `pid` points, and its flags from fdinfo.
pub fn descriptors(pid: Pid) -> Vec<(i32, String, u32)> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut fds: Vec<(i32, String, u32)> = entries
        .flatten()
        .filter_map(|entry| {
            let fd: i32 = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
            let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
            let flags = u32::from_str_radix(flags.trim(), 8).ok()?;
            Some((fd, target.to_string_lossy().into_owned(), flags))
        })
        .collect();
    fds.sort();
    fds
}

/// The pipes `pid` can write to, as `pipe:[inode]`.
pub fn pipes_written(pid: Pid) -> Vec<String> {
    descriptors(pid)
        .into_iter()
        .filter(|(_, target, flags)| target.starts_with("pipe:") && flags & 0o3 != 0)
        .map(|(_, target, _)| target)
        .collect()
}

/// The pipes `pid` reads from, as `pipe:[inode]`.
pub fn pipes_read(pid: Pid) -> Vec<String> {
    descriptors(pid)
        .into_iter()
        .filter(|(_, target, flags)| target.starts_with("pipe:") && flags & 0o3 != 1)
        .map(|(_, target, _)| target)
        .collect()
}

pub fn in_state(pid: Pid, letter: char) -> Option<()> {
    (state_of(pid) == Some(letter)).then_some(())
}

pub fn exited(pid: Pid, code: i32) -> impl Fn(&WaitOutcome) -> bool {
    move |o| *o == WaitOutcome::Exited { pid, code }
}

/// The processes stay asleep and use no CPU for two seconds.
pub fn stuck_for_two_seconds(pids: &[Pid]) {
    let before: Vec<Option<u64>> = pids.iter().map(|&p| cpu_ticks(p)).collect();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        for &pid in pids {
            assert_eq!(state_of(pid), Some('S'), "{pid} is blocked in S");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let after: Vec<Option<u64>> = pids.iter().map(|&p| cpu_ticks(p)).collect();
    assert_eq!(before, after, "no CPU used while stuck");
}
