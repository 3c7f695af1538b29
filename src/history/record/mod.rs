//! Recordings: the history written down, for replay and export. A compact, versioned,
//! append-only file: the scans (keyframes as seek points, deltas between them) with the system
//! figures, and the history's entries as they are recorded. Pure: the encoder makes bytes, the
//! reader reads any `Read + Seek`; files and threads are the runtime's.
//!
//! The file: the magic `BROODREC`, the format version (u16, little-endian), then records, each
//! framed by its length and a CRC-32 (`framing`), so a file cut short by a crash reads up to its
//! last whole record. A record is postcard (serde, integers as varints) of `wire::Record`: the
//! header first; strings, numbered once and named by number after (names, command lines and
//! users repeat in every keyframe); frames; entries. A keyframe is the whole process table; a
//! delta, the processes gone, the fields changed and the processes new since the frame before.
//! A keyframe comes whenever the deltas since the last one have grown as large as it, so seeking
//! decodes at most about two keyframes' worth and keyframes take at most half the file. An entry
//! amended after it was written (merged with a later witness) is written again, whole: the last
//! copy of a number wins.

mod delta;
mod encoder;
mod framing;
mod reader;
mod scope;
#[cfg(test)]
mod tests;
mod wire;

use serde::{Deserialize, Serialize};

pub use encoder::{Encoder, Stats};
pub use reader::{Item, Moment, ReadError, Reader};
pub use scope::Scope;

use crate::proc::{Identity, Pid};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"BROODREC";
/// The format written; a reader refuses another, rather than misread it.
pub const VERSION: u16 = 1;

/// What a recording says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The machine recorded.
    pub host: String,
    /// Clock ticks per second of its start times (field 22 of /proc/PID/stat).
    pub ticks_per_sec: u64,
    /// When recording began, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// The recording brood's own PID (its row is `[this brood]`).
    pub brood_pid: Pid,
    /// The brood that wrote it.
    pub brood_version: String,
    /// Only this process was recorded (with `subtree`, and its descendants).
    pub root: Option<Identity>,
    pub subtree: bool,
}
