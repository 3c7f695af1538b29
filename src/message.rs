//! What crosses a boundary: the [`Event`]s every source sends to the main loop, the [`Effect`]s
//! `App::update` asks the runtime to carry out, and the [`Outcome`]s that come back. Plain data
//! and the names of things; no decisions and no I/O.

use crossterm::event::{KeyEvent, MouseEvent};
use nix::sys::signal::Signal;

use crate::history::Entry;
use crate::history::record::Moment;
use crate::history::timeline::Timeline;
use crate::lab::protocol::{Reply, Request, WaitOutcome};
use crate::lab::scenarios::{ScenarioId, Step};
use crate::proc::details::Details;
use crate::proc::events::ProcEvent;
use crate::proc::ipc::IpcState;
use crate::proc::signal::SignalError;
pub use crate::proc::system::SystemStats;
use crate::proc::{Identity, Pid, ProcInfo, Snapshot};
use crate::signals::Dispositions;

/// Everything the main loop reacts to, from every thread, on one channel.
#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize {
        width: u16,
        height: u16,
    },
    /// A fresh scan of /proc and the system figures read with it.
    Snapshot(Box<Snapshot>, SystemStats),
    /// Wait channels, locks and IPC ends, read on a slower cadence than snapshots.
    Ipc(Box<IpcState>),
    /// The kernel's process events, in order (the first a notice of where they come from; a
    /// notice from scans says the kernel's are refused, and no more follow).
    ProcEvents(Vec<ProcEvent>),
    /// The kernel's log says its OOM killer ended these processes (sent after their exits).
    OomKilled(Vec<Identity>),
    /// What a recording being replayed holds (`brood replay`).
    Replay(ReplayNews),
    /// A tenth of a second passed (only while replaying: it moves a playing cursor).
    Tick,
    /// /proc could not be read at all (it is normal for single processes to fail; this is not that).
    ScanFailed(String),
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT reached brood.
    Terminate(i32),
    /// SIGTSTP reached brood from outside (`kill -TSTP`): it must give the terminal back first.
    Stopping,
    /// SIGCONT: brood runs again after a stop, and the terminal may have been changed meanwhile.
    Continued,
    /// The terminal's input cannot be read any more (why): brood could never be quit by a key.
    InputLost(String),
    /// What /proc says about the process the details pane shows (read by the collector).
    Details(Box<Details>),
    /// An effect finished (a lab request answered, a signal sent, …).
    Done(Outcome),
}

/// What the collector thread is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectorCommand {
    ScanNow,
    ScanThreads(bool),
    /// Read the details of this process now and after every scan (for the details pane), or
    /// stop reading them.
    Inspect(Option<Identity>),
    /// Read IPC links every scan (a view shows them) instead of only on the slow cadence.
    IpcLinks(bool),
    /// Read wait channels every scan (the table shows or sorts by them) instead of only on the
    /// slow cadence.
    WaitChannels(bool),
    Stop,
}

/// A process an effect is aimed at: its identity (so a reused PID is refused) and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: Identity,
    pub name: String,
    /// Its process group, for signals to the whole group.
    pub group: Pid,
}

impl Target {
    pub fn of(proc: &ProcInfo) -> Target {
        Target {
            id: proc.id,
            name: proc.name.to_string(),
            group: proc.pgrp,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.id.pid, self.name)
    }
}

/// Which processes a signal reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalScope {
    Process,
    /// The process and all its descendants.
    Subtree,
    /// Every member of the process's process group.
    Group,
}

impl SignalScope {
    pub fn describe(self) -> &'static str {
        match self {
            SignalScope::Process => "the process",
            SignalScope::Subtree => "its whole subtree",
            SignalScope::Group => "its process group",
        }
    }

    pub fn next(self) -> SignalScope {
        match self {
            SignalScope::Process => SignalScope::Subtree,
            SignalScope::Subtree => SignalScope::Group,
            SignalScope::Group => SignalScope::Process,
        }
    }
}

/// A side effect `update` asks the runtime to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Tell the collector something (scan now, read threads, links or details).
    Collector(CollectorCommand),
    /// Start a new lab worker as brood's child.
    Spawn,
    /// Send a request to the lab worker `target` (refused if its PID now holds another process).
    Lab {
        target: Identity,
        request: Request,
    },
    /// brood collects its own exited child (any, with `None`) without blocking. A bare PID is
    /// safe here: a child's PID is not reused before its parent, brood, has reaped it.
    ReapOwn(Option<Pid>),
    Signal {
        targets: Vec<Target>,
        signal: Signal,
        scope: SignalScope,
    },
    /// Read how the target treats each signal, for the signal menu.
    ReadDispositions(Identity),
    SetSubreaper(bool),
    /// Start a scenario; `run` tells its reports apart from an earlier run's.
    Scenario {
        id: ScenarioId,
        run: u64,
    },
    /// Give the terminal back to the shell and stop brood (Ctrl-Z).
    Suspend,
    /// Take the terminal back (raw mode, the alternate screen) and draw the whole screen anew.
    RetakeTerminal,
    /// Start (`true`) or stop recording the session to a file.
    Record(bool),
    /// Read the machine at this moment (nanoseconds since the epoch) of the recording replayed.
    Seek(u64),
    /// Step back into the live session's past, kept in memory (`true`), or back to live.
    Travel(bool),
}

/// The result of an effect, reported back to `App::update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// brood started the lab worker `id`, in the group its guard leads.
    Spawned {
        id: Identity,
        guard: Option<Identity>,
    },
    /// The lab worker `target` answered `request` (or could not be reached: the reason).
    LabReply {
        target: Identity,
        request: Request,
        reply: Result<Reply, String>,
    },
    /// brood collected (or saw stop/continue of) its own child.
    Waited {
        waiter: Pid,
        outcome: WaitOutcome,
    },
    NothingToReap {
        waiter: Pid,
        child: Option<Pid>,
    },
    Signalled {
        signal: Signal,
        scope: SignalScope,
        results: Vec<(Target, Result<(), SignalError>)>,
    },
    Dispositions {
        target: Identity,
        dispositions: Option<Dispositions>,
    },
    Subreaper(bool),
    /// What a running scenario reported; `run` is the number its start was given.
    Scenario {
        run: u64,
        step: Step,
    },
    Failed {
        what: String,
        why: String,
    },
    /// A recording of the session to the file `path` started, ended, or failed.
    Recording {
        path: String,
        news: RecordingNews,
    },
}

/// What the replay source tells the app, in this order: what the file is, the machine at its
/// start, then its whole history (read in the background); then the machine at each moment
/// asked for.
#[derive(Debug)]
pub enum ReplayNews {
    Opened(ReplayFile),
    Moment(Box<Moment>),
    /// Every entry (each in its final form) and the timeline of the whole recording.
    Loaded {
        entries: Vec<Entry>,
        timeline: Box<Timeline>,
    },
    /// The file cannot be read (why): nothing more comes.
    Failed(String),
    /// The live session cannot step back (why): it goes on live.
    NoPast(String),
}

/// A recording opened for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayFile {
    /// As the user named it.
    pub path: String,
    pub host: String,
    /// brood's own PID in it (its row is `[this brood]`).
    pub brood_pid: Pid,
    /// When each scan was taken, in order (nanoseconds since the epoch).
    pub frames: Vec<u64>,
    /// The file ends mid-record (a crash, SIGKILL): it is read up to its last whole record.
    pub torn: bool,
    /// The live session's own past, from memory (its history is the app's own).
    pub session: bool,
}

/// What became of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingNews {
    Started,
    /// Ended, the file whole: how many scans and entries it holds, and its size.
    Ended {
        scans: u64,
        entries: u64,
        bytes: u64,
    },
    /// Could not start, or stopped on an error: why.
    Failed(String),
}
