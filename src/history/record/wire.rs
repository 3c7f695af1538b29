//! The records as they are written: postcard (serde, varints) of these types. The order of
//! every field and variant is the format: change it only with a new format version (a test
//! holds the bytes of one of each record).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Header;
use crate::history::{Entry, Fact, Kinds, Origin, Pair};
use crate::proc::events::ExitStatus;
use crate::proc::system::SystemStats;
use crate::proc::{Identity, Pid, ProcInfo, State, TaskKind};

/// One record of the file. Every variant but the header and strings starts with its time, so
/// the reader indexes a record by its first bytes alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum Record {
    Header(Header),
    /// Strings numbered `first`, `first + 1`, …: numbered once, named by number from then on.
    Strings {
        first: u32,
        strings: Vec<Arc<str>>,
    },
    /// The whole process table: a point to seek to.
    Key(Frame<Vec<Proc>>),
    /// The process table against the frame before.
    Delta(Frame<Delta>),
    /// History entries, new or amended (the last copy of a number wins), as of `at_ns`.
    Entries {
        at_ns: u64,
        entries: Vec<WireEntry>,
    },
}

/// A scan: when (nanoseconds since the Unix epoch), its clock, the system figures read with it,
/// and its processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Frame<P> {
    pub at_ns: u64,
    pub uptime_secs: f64,
    pub descriptors_short: bool,
    pub system: Option<SystemStats>,
    pub procs: P,
}

impl<P> Frame<P> {
    /// The same frame with other processes (or none).
    pub fn map<Q>(self, procs: impl FnOnce(P) -> Q) -> Frame<Q> {
        Frame {
            at_ns: self.at_ns,
            uptime_secs: self.uptime_secs,
            descriptors_short: self.descriptors_short,
            system: self.system,
            procs: procs(self.procs),
        }
    }
}

/// What kind a record is, and when (but for the header and strings): its first bytes, enough
/// to index it. Its variants mirror [`Record`]'s, in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum Kind {
    Header(()),
    Strings(()),
    Key(u64),
    Delta(u64),
    Entries(u64),
}

/// A process as written whole; strings by number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Proc {
    pub id: Identity,
    pub ppid: Pid,
    pub pgrp: Pid,
    pub session: Pid,
    pub kind: u8,
    pub state: u8,
    pub name: u32,
    pub cmdline: u32,
    pub uid: Option<u32>,
    pub user: u32,
    pub cpu_ticks: u64,
    pub cpu_percent: f32,
    pub rss_bytes: u64,
    pub vsize_bytes: u64,
    pub nice: i64,
    pub threads: i64,
    pub tracer: Option<Pid>,
    pub ran: bool,
}

/// What changed since the frame before. Positions are indexes into a frame's process table;
/// `gone` and `changed` count from the previous one, each as the gap after the one before
/// (mostly one byte), `added` gives each new process's place in this one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Delta {
    pub gone: Vec<u32>,
    pub changed: Vec<(u32, Vec<Field>)>,
    pub added: Vec<(u32, Proc)>,
}

/// One changed field of a process. Figures that mostly grow a little are written as the
/// difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum Field {
    Ppid(Pid),
    Pgrp(Pid),
    Session(Pid),
    Kind(u8),
    State(u8),
    Name(u32),
    Cmdline(u32),
    Uid(Option<u32>),
    User(u32),
    CpuTicks(i64),
    CpuPercent(f32),
    RssBytes(i64),
    VsizeBytes(i64),
    Nice(i64),
    Threads(i64),
    Tracer(Option<Pid>),
    Ran(bool),
}

/// A history entry as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct WireEntry {
    pub seq: u64,
    pub at_ns: u64,
    pub kinds: u16,
    pub origin: Origin,
    pub subject: Option<Identity>,
    pub parent: Option<Identity>,
    pub uid: Option<u32>,
    pub lab: bool,
    pub text: Box<str>,
    pub asked: Option<Box<str>>,
    pub then: Option<Box<str>>,
    pub pair: Option<Pair>,
    pub fact: Option<WireFact>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) enum WireFact {
    Exec(Arc<str>),
    /// An exit code, or a signal (and whether it dumped core).
    Code(i32),
    Killed(i32, bool),
    Signal(i32),
}

impl From<&Entry> for WireEntry {
    fn from(entry: &Entry) -> WireEntry {
        WireEntry {
            seq: entry.seq,
            at_ns: entry.at_ns,
            kinds: entry.kinds.bits(),
            origin: entry.origin,
            subject: entry.subject,
            parent: entry.parent,
            uid: entry.uid,
            lab: entry.lab,
            text: entry.text.clone(),
            asked: entry.asked.clone(),
            then: entry.then.clone(),
            pair: entry.pair,
            fact: entry.fact.as_ref().map(|fact| match fact {
                Fact::Exec(name) => WireFact::Exec(name.clone()),
                Fact::Ended(ExitStatus::Code(code)) => WireFact::Code(*code),
                Fact::Ended(ExitStatus::Signal {
                    number,
                    core_dumped,
                }) => WireFact::Killed(*number, *core_dumped),
                Fact::Signal(number) => WireFact::Signal(*number),
            }),
        }
    }
}

impl From<WireEntry> for Entry {
    fn from(wire: WireEntry) -> Entry {
        let mut entry = Entry::new(
            wire.at_ns,
            Kinds::from_bits_retain(wire.kinds),
            wire.origin,
            wire.text,
        );
        entry.seq = wire.seq;
        entry.subject = wire.subject;
        entry.parent = wire.parent;
        entry.uid = wire.uid;
        entry.lab = wire.lab;
        entry.asked = wire.asked;
        entry.then = wire.then;
        entry.pair = wire.pair;
        entry.fact = wire.fact.map(|fact| match fact {
            WireFact::Exec(name) => Fact::Exec(name),
            WireFact::Code(code) => Fact::Ended(ExitStatus::Code(code)),
            WireFact::Killed(number, core_dumped) => Fact::Ended(ExitStatus::Signal {
                number,
                core_dumped,
            }),
            WireFact::Signal(number) => Fact::Signal(number),
        });
        entry
    }
}

pub(super) fn kind_byte(kind: TaskKind) -> u8 {
    match kind {
        TaskKind::Process => 0,
        TaskKind::Thread => 1,
        TaskKind::KernelThread => 2,
    }
}

pub(super) fn kind_of(byte: u8) -> TaskKind {
    match byte {
        1 => TaskKind::Thread,
        2 => TaskKind::KernelThread,
        _ => TaskKind::Process,
    }
}

/// A state as its letter's byte (a state the kernel added keeps its own).
pub(super) fn state_byte(state: State) -> u8 {
    match state {
        State::Other(byte) => byte,
        known => known.letter() as u8,
    }
}

/// A process as written, its strings numbered by `number`.
pub(super) fn proc_to_wire(proc: &ProcInfo, mut number: impl FnMut(&Arc<str>) -> u32) -> Proc {
    Proc {
        id: proc.id,
        ppid: proc.ppid,
        pgrp: proc.pgrp,
        session: proc.session,
        kind: kind_byte(proc.kind),
        state: state_byte(proc.state),
        name: number(&proc.name),
        cmdline: number(&proc.cmdline),
        uid: proc.uid,
        user: number(&proc.user),
        cpu_ticks: proc.cpu_ticks,
        cpu_percent: proc.cpu_percent,
        rss_bytes: proc.rss_bytes,
        vsize_bytes: proc.vsize_bytes,
        nice: proc.nice,
        threads: proc.threads,
        tracer: proc.tracer,
        ran: proc.ran,
    }
}

/// A process read back, its strings looked up by `string` (`None` for a number never written).
pub(super) fn proc_from_wire(
    wire: &Proc,
    string: impl Fn(u32) -> Option<Arc<str>>,
) -> Option<ProcInfo> {
    Some(ProcInfo {
        id: wire.id,
        ppid: wire.ppid,
        pgrp: wire.pgrp,
        session: wire.session,
        kind: kind_of(wire.kind),
        state: State::from_letter(wire.state),
        name: string(wire.name)?,
        cmdline: string(wire.cmdline)?,
        uid: wire.uid,
        user: string(wire.user)?,
        cpu_ticks: wire.cpu_ticks,
        cpu_percent: wire.cpu_percent,
        rss_bytes: wire.rss_bytes,
        vsize_bytes: wire.vsize_bytes,
        nice: wire.nice,
        threads: wire.threads,
        tracer: wire.tracer,
        ran: wire.ran,
    })
}
