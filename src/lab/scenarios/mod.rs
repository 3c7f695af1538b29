//! Scenarios: ready-made sets of lab processes, one per multiprocessing lesson. This file holds
//! the list and what a running scenario reports; `figures` sums up its live numbers, and the
//! texts live in `assets/scenarios.toml`. The runtime runs them (`runtime::scenario`). Nothing
//! here draws or decides for the UI.

pub mod figures;
mod texts;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use strum::{IntoStaticStr, VariantArray};

pub use texts::{Text, text};

use super::protocol::WaitOutcome;
use crate::proc::wchan::{WaitChannel, WaitKind};
use crate::proc::{Identity, Pid};

/// How many times each shared-memory child adds 1.
pub const ADDS_PER_CHILD: u32 = 200_000;
/// Children per group in the shared-memory scenario.
pub const ADDERS: u32 = 4;

/// Every scenario brood can start, in menu order. Its name, on the command line (`--scenario
/// NAME`) and in `assets/scenarios.toml`, is the variant's in kebab case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, IntoStaticStr, VariantArray, strum::Display)]
#[strum(serialize_all = "kebab-case")]
pub enum ScenarioId {
    SingleChild,
    ManyChildrenInOrder,
    ManyChildrenAny,
    Zombie,
    Sigchld,
    Orphan,
    Daemon,
    Exec,
    CopyOnWrite,
    Pipe,
    PipeLeak,
    PipeFull,
    Queue,
    SharedMemory,
    RobustMutex,
    Pool,
    PoolResults,
    ForkPerTask,
    Semaphore,
    DeadlockFlock,
    DeadlockFcntl,
    DeadlockPipe,
    StopContinue,
    JobControl,
    Signals,
}

impl ScenarioId {
    /// The name on the command line (`--scenario NAME`) and in `assets/scenarios.toml`.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The menu title, from the texts.
    pub fn title(self) -> &'static str {
        text(self).map_or(self.name(), |t| t.title.as_str())
    }

    /// Every name, comma-separated, for error messages.
    pub fn names() -> String {
        let names: Vec<&str> = ScenarioId::VARIANTS.iter().map(|id| id.name()).collect();
        names.join(", ")
    }
}

impl FromStr for ScenarioId {
    type Err = String;

    fn from_str(name: &str) -> Result<ScenarioId, String> {
        ScenarioId::VARIANTS
            .iter()
            .copied()
            .find(|id| id.name() == name.trim())
            .ok_or_else(|| {
                format!(
                    "unknown scenario {name:?}; choose one of: {}",
                    ScenarioId::names()
                )
            })
    }
}

/// How a scenario's durations and sizes are scaled: lessons run at [`Pace::LESSON`], for people
/// to watch; tests run them quicker and smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Every duration of the script and its tasks, in percent of the lesson's.
    pub percent: u32,
    /// The memory the copy-on-write parent touches, in MiB.
    pub memory_mb: u32,
}

impl Pace {
    pub const LESSON: Pace = Pace {
        percent: 100,
        memory_mb: 200,
    };

    /// `ms` of the lesson at this pace.
    pub fn ms(self, ms: u32) -> u32 {
        u32::try_from(u64::from(ms) * u64::from(self.percent) / 100).unwrap_or(u32::MAX)
    }
}

impl Default for Pace {
    fn default() -> Pace {
        Pace::LESSON
    }
}

/// How a running scenario is told to stop: [`Control::stop`] ends its script and its figures
/// and leaves its processes alone (brood is ending, `Lab::shutdown` decides about them);
/// [`Control::end`] also kills them, because another scenario replaces it. It also carries the
/// pace the scenario runs at.
#[derive(Debug, Default)]
pub struct Control {
    stop: AtomicBool,
    end: AtomicBool,
    pace: Pace,
}

impl Control {
    /// A control for a scenario run at `pace`.
    pub fn paced(pace: Pace) -> Control {
        Control {
            pace,
            ..Control::default()
        }
    }

    pub fn pace(&self) -> Pace {
        self.pace
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn end(&self) {
        self.end.store(true, Ordering::SeqCst);
        self.stop();
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Whether the scenario's processes are to be killed (another scenario replaces it).
    pub fn ends(&self) -> bool {
        self.end.load(Ordering::SeqCst)
    }
}

/// What a running scenario tells brood, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A lab worker was started as brood's child (this is how the app learns of it).
    Spawned {
        id: Identity,
        guard: Option<Identity>,
    },
    Forked {
        parent: Identity,
        child: Identity,
    },
    /// A process's part in the scenario; `key` is stable (`parent`, `child`, `producer`, …).
    Role {
        pid: Pid,
        key: String,
        label: String,
    },
    /// `waiter` collected a child or saw it stop or continue; `waiter` is brood for its own.
    Waited {
        waiter: Pid,
        outcome: WaitOutcome,
    },
    /// A sentence for the event log.
    Note(String),
    /// The live figures, a few times a second.
    Figures(Figures),
    /// Every process of the scenario is gone (or another scenario replaced it).
    Finished,
    Failed(String),
}

/// One process of a scenario as the watcher last read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcFigure {
    pub pid: Pid,
    pub key: String,
    pub label: String,
    /// Its state letter, `None` once it is gone (or its PID is another process's).
    pub state: Option<char>,
    pub ppid: Pid,
    /// Its process group and session.
    pub pgid: Pid,
    pub sid: Pid,
    /// Its controlling terminal's device number, 0 for none.
    pub tty: i32,
    /// Where it sleeps in the kernel (`/proc/PID/wchan`), `None` when running or gone.
    pub wchan: Option<WaitChannel>,
    /// What its task last published (`sent=3`, `inside`, …).
    pub status: String,
    /// Signals waiting for it, and signals it blocks (bit N-1 for signal N).
    pub pending: u64,
    pub blocked: u64,
}

impl ProcFigure {
    pub fn alive(&self) -> bool {
        self.state.is_some()
    }

    /// Whether it sleeps in a kernel function the wait-channel table knows as `kind`.
    pub fn waits(&self, kind: WaitKind) -> bool {
        self.wchan.as_ref().is_some_and(|channel| channel.is(kind))
    }
}

/// The live state of a scenario: its processes, and a few summary lines with their numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    pub procs: Vec<ProcFigure>,
    pub lines: Vec<String>,
    /// The numbers behind `lines`, by name (`depth`, `locked`, `expected`, …).
    pub values: Vec<(&'static str, i64)>,
}

impl Figures {
    pub fn value(&self, name: &str) -> Option<i64> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_has_its_texts_and_every_text_a_scenario() {
        for &id in ScenarioId::VARIANTS {
            let text = text(id).unwrap_or_else(|| panic!("{id} has no text"));
            for (field, value) in [
                ("title", &text.title),
                ("what", &text.what),
                ("syscalls", &text.syscalls),
                ("try", &text.try_next),
            ] {
                assert!(!value.trim().is_empty(), "{id}: empty {field}");
                assert!(!value.contains("  "), "{id}: double space in {field}");
            }
            // The menu gives a title 44 columns.
            assert!(text.title.chars().count() <= 44, "{id}: title too long");
        }
        for entry in texts::all() {
            assert!(
                entry.name.parse::<ScenarioId>().is_ok(),
                "{} in scenarios.toml is not a scenario",
                entry.name
            );
        }
        assert_eq!(
            texts::all().len(),
            ScenarioId::VARIANTS.len(),
            "one text each"
        );
    }

    #[test]
    fn names_parse_back_and_a_bogus_name_lists_the_valid_ones() {
        for &id in ScenarioId::VARIANTS {
            assert_eq!(id.name().parse::<ScenarioId>(), Ok(id));
        }
        let err = "bogus".parse::<ScenarioId>().unwrap_err();
        assert!(err.contains("unknown scenario \"bogus\""), "{err}");
        assert!(
            err.contains("zombie") && err.contains("deadlock-flock"),
            "{err}"
        );
    }

    #[test]
    fn the_texts_keep_the_facts_the_seed_chapter_got_wrong() {
        let all = |id: ScenarioId| {
            let t = text(id).unwrap();
            format!("{} {} {}", t.what, t.syscalls, t.try_next)
        };
        assert!(all(ScenarioId::Zombie).contains("cannot be killed"));
        assert!(!all(ScenarioId::Zombie).contains("slow"));
        assert!(all(ScenarioId::Orphan).contains("subreaper"));
        assert!(all(ScenarioId::SharedMemory).contains("copied on write"));
        assert!(all(ScenarioId::Pipe).contains("inherits every open"));
        assert!(all(ScenarioId::SingleChild).contains("runnable"));
        assert!(all(ScenarioId::DeadlockFlock).contains("EDEADLK"));
        for condition in [
            "mutual exclusion",
            "hold and wait",
            "no preemption",
            "circular wait",
        ] {
            assert!(all(ScenarioId::DeadlockFlock).contains(condition));
        }
        assert!(all(ScenarioId::Signals).contains("128+N"));
        // Said right on today's kernels (the review of #13).
        assert!(all(ScenarioId::Zombie).contains("no user memory"));
        assert!(all(ScenarioId::Zombie).contains("does not apply to root"));
        for id in [
            ScenarioId::Pipe,
            ScenarioId::PipeFull,
            ScenarioId::DeadlockPipe,
        ] {
            assert!(
                all(id).contains("pipe_") && all(id).contains("anon_pipe_"),
                "{id}"
            );
        }
        assert!(all(ScenarioId::PipeFull).contains("F_GETPIPE_SZ"));
        assert!(all(ScenarioId::DeadlockPipe).contains("code 1"));
        assert!(all(ScenarioId::SharedMemory).contains("on purpose"));
        assert!(all(ScenarioId::SingleChild).contains("_exit(0), not exit()"));
        // What the chapter gets wrong or leaves out.
        assert!(all(ScenarioId::Sigchld).contains("ECHILD"));
        assert!(all(ScenarioId::Sigchld).contains("a flag, not a count"));
        assert!(all(ScenarioId::PipeLeak).contains("O_CLOEXEC"));
        assert!(all(ScenarioId::DeadlockFcntl).contains("EDEADLK"));
        assert!(all(ScenarioId::DeadlockFcntl).contains("PID -1"));
        assert!(all(ScenarioId::RobustMutex).contains("EOWNERDEAD"));
        assert!(all(ScenarioId::CopyOnWrite).contains("PSS"));
        assert!(all(ScenarioId::Daemon).contains("second fork"));
        assert!(all(ScenarioId::JobControl).contains("SIGTTIN"));
        assert!(all(ScenarioId::JobControl).contains("SIGHUP, then SIGCONT"));
        assert!(all(ScenarioId::PoolResults).contains("BrokenProcessPool"));
        // Said exactly: Pool replaces a dead worker but not its task; EDEADLK refuses the wait
        // that would close a cycle; a flock lock goes with the last descriptor of its file.
        assert!(all(ScenarioId::PoolResults).contains("replaces a dead worker"));
        assert!(!all(ScenarioId::PoolResults).contains("does not notice a dead worker"));
        assert!(all(ScenarioId::DeadlockFcntl).contains("waiting for the second lock would close"));
        assert!(!all(ScenarioId::DeadlockFcntl).contains("granting"));
        assert!(all(ScenarioId::RobustMutex).contains("last descriptor of its open file"));
        // A try that needs work still to do says for how long there is.
        assert!(all(ScenarioId::PoolResults).contains("While tasks remain (the first ~9 s"));
        assert!(all(ScenarioId::RobustMutex).contains("rounds left (the first ~8 s"));
    }
}
