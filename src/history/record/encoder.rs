//! Writing a recording: the bytes to append for each scan and each batch of entries. Pure: it
//! owns no file, so the caller decides where and when the bytes go (the runtime's writer
//! thread).

use std::collections::HashMap;
use std::sync::Arc;

use super::wire::{Frame, Record, WireEntry, proc_to_wire};
use super::{Header, MAGIC, VERSION, delta, framing};
use crate::history::Entry;
use crate::proc::system::SystemStats;
use crate::proc::{ProcInfo, Snapshot};

/// Strings numbered at most before the table starts afresh (about 2 MiB of map, the strings
/// themselves shared with the snapshots): a string seen again after that is numbered anew.
const MAX_STRINGS: usize = 1 << 16;

/// Turns scans and entries into records, deltas between keyframes.
#[derive(Debug)]
pub struct Encoder {
    strings: HashMap<Arc<str>, u32>,
    next_string: u32,
    /// Strings numbered for the record being made, written just before it.
    new_strings: Vec<Arc<str>>,
    /// The last frame's processes, for the next delta.
    previous: Option<Arc<Vec<ProcInfo>>>,
    /// Bytes of deltas since the last keyframe, and that keyframe's: a keyframe comes when the
    /// first catch up with the second, so a seek never decodes much more than two keyframes'
    /// worth, and the file holds at most twice its deltas.
    since_key: usize,
    key_bytes: usize,
    stats: Stats,
}

/// What went into a recording, in bytes and counts (for `brood record`'s last words and the
/// benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames: u64,
    pub keyframes: u64,
    pub key_bytes: u64,
    pub delta_bytes: u64,
    pub strings: u64,
    pub string_bytes: u64,
    pub entries: u64,
    pub entry_bytes: u64,
    /// The opening: magic, version and header.
    pub header_bytes: u64,
}

impl Stats {
    pub fn bytes(&self) -> u64 {
        self.header_bytes + self.key_bytes + self.delta_bytes + self.string_bytes + self.entry_bytes
    }
}

impl Encoder {
    /// A new recording: the encoder, and the file's first bytes (magic, version, header).
    pub fn start(header: &Header) -> (Encoder, Vec<u8>) {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        framing::append(&mut out, &Record::Header(header.clone()));
        let encoder = Encoder {
            strings: HashMap::new(),
            next_string: 0,
            new_strings: Vec::new(),
            previous: None,
            since_key: 0,
            key_bytes: 0,
            stats: Stats {
                header_bytes: out.len() as u64,
                ..Stats::default()
            },
        };
        (encoder, out)
    }

    /// Appends to `out` the records for a scan taken at `at_ns` (nanoseconds since the Unix
    /// epoch): a keyframe, or a delta against the scan before.
    pub fn frame(
        &mut self,
        at_ns: u64,
        snapshot: &Snapshot,
        system: Option<&SystemStats>,
        out: &mut Vec<u8>,
    ) {
        let previous = self
            .previous
            .take()
            .filter(|_| self.since_key < self.key_bytes);
        let delta = previous
            .as_deref()
            .and_then(|before| delta::diff(before, &snapshot.procs, |s| self.number(s)));
        let record = match delta {
            Some(delta) => Record::Delta(frame(at_ns, snapshot, system, delta)),
            None => {
                let procs = snapshot.procs.iter();
                let procs = procs.map(|p| proc_to_wire(p, |s| self.number(s))).collect();
                Record::Key(frame(at_ns, snapshot, system, procs))
            }
        };
        self.write_strings(out);
        let bytes = framing::append(out, &record);
        match record {
            Record::Key(_) => {
                self.key_bytes = bytes;
                self.since_key = 0;
                self.stats.keyframes += 1;
                self.stats.key_bytes += bytes as u64;
            }
            _ => {
                self.since_key += bytes;
                self.stats.delta_bytes += bytes as u64;
            }
        }
        self.stats.frames += 1;
        self.previous = Some(Arc::clone(&snapshot.procs));
    }

    /// Appends to `out` a record of `entries` (new, or amended since they were written), as the
    /// history held them at `at_ns`.
    pub fn entries<'a>(
        &mut self,
        at_ns: u64,
        entries: impl IntoIterator<Item = &'a Entry>,
        out: &mut Vec<u8>,
    ) {
        let entries: Vec<WireEntry> = entries.into_iter().map(WireEntry::from).collect();
        if entries.is_empty() {
            return;
        }
        self.stats.entries += entries.len() as u64;
        let record = Record::Entries { at_ns, entries };
        self.stats.entry_bytes += framing::append(out, &record) as u64;
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The number of string `s`, numbering it if it is new.
    fn number(&mut self, s: &Arc<str>) -> u32 {
        if let Some(&n) = self.strings.get(s) {
            return n;
        }
        if self.strings.len() >= MAX_STRINGS {
            self.strings.clear();
        }
        let n = self.next_string;
        self.next_string += 1;
        self.strings.insert(Arc::clone(s), n);
        self.new_strings.push(Arc::clone(s));
        n
    }

    fn write_strings(&mut self, out: &mut Vec<u8>) {
        if self.new_strings.is_empty() {
            return;
        }
        let strings = std::mem::take(&mut self.new_strings);
        let first = self.next_string - strings.len() as u32;
        self.stats.strings += strings.len() as u64;
        let record = Record::Strings { first, strings };
        self.stats.string_bytes += framing::append(out, &record) as u64;
    }
}

fn frame<P>(at_ns: u64, snapshot: &Snapshot, system: Option<&SystemStats>, procs: P) -> Frame<P> {
    Frame {
        at_ns,
        uptime_secs: snapshot.uptime_secs,
        descriptors_short: snapshot.descriptors_short,
        system: system.copied(),
        procs,
    }
}
