//! Reading a recording: an index of its frames and entries made once at open (the first bytes
//! of each record are enough), then any instant rebuilt from the keyframe before it and the
//! deltas after that. A file cut short reads up to its last whole record.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

use super::wire::{Kind, Proc, Record, proc_from_wire};
use super::{Header, MAGIC, VERSION, delta, framing};
use crate::history::Entry;
use crate::proc::system::SystemStats;
use crate::proc::{ProcInfo, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read the recording: {0}")]
    Io(#[from] io::Error),
    #[error("not a brood recording")]
    NotARecording,
    #[error("a recording in format {0}, which this brood (format {VERSION}) cannot read")]
    Version(u16),
    #[error("the recording is damaged: {0}")]
    Damaged(&'static str),
}

/// The machine at one instant of a recording: the scan then current, and the figures with it.
#[derive(Debug, Clone)]
pub struct Moment {
    /// When that scan was taken (nanoseconds since the Unix epoch).
    pub at_ns: u64,
    pub snapshot: Snapshot,
    pub system: Option<SystemStats>,
}

/// What a recording holds, in the order it was written.
#[derive(Debug)]
pub enum Item<'a> {
    Frame(&'a Moment),
    /// Entries new or amended at `at_ns` (an amended one comes again, whole, with its number).
    Entries {
        at_ns: u64,
        entries: &'a [Entry],
    },
}

/// Where a record is: when it was written, its bytes in the file (frame included), and for a
/// frame the index of the keyframe it builds on.
#[derive(Debug, Clone, Copy)]
struct Place {
    at_ns: u64,
    offset: u64,
    len: u64,
    key: usize,
}

/// An open recording.
#[derive(Debug)]
pub struct Reader<R> {
    source: R,
    header: Header,
    index: Index,
}

/// What opening a recording learns: its strings, where its frames and entries are, where its
/// whole records end.
#[derive(Debug, Default)]
struct Index {
    strings: Vec<Arc<str>>,
    frames: Vec<Place>,
    entries: Vec<Place>,
    whole_bytes: u64,
    /// After the whole records came a torn or damaged one.
    torn: bool,
}

const OPENING: usize = MAGIC.len() + 2;

impl<R> Reader<R> {
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// From the first scan to the last thing recorded; `None` when no scan was.
    pub fn span(&self) -> Option<(u64, u64)> {
        let first = self.index.frames.first()?.at_ns;
        let last = [self.index.frames.last(), self.index.entries.last()]
            .into_iter()
            .flatten()
            .map(|p| p.at_ns)
            .max()
            .unwrap_or(first);
        Some((first, last))
    }

    /// When each scan was taken, in order: the steps of stepping by scan.
    pub fn frame_times(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        self.index.frames.iter().map(|f| f.at_ns)
    }

    /// Whether the file ends in a torn or damaged record (a crash while writing): what came
    /// before it reads as usual.
    pub fn is_torn(&self) -> bool {
        self.index.torn
    }

    /// Bytes of whole records, the opening included.
    pub fn whole_bytes(&self) -> u64 {
        self.index.whole_bytes
    }
}

impl Reader<std::fs::File> {
    /// Opens the recording at `path`; what is wrong is said in one line that names it. Only a
    /// regular file is read: a FIFO would wait for a writer, a device never end.
    pub fn open_path(path: &std::path::Path) -> Result<Reader<std::fs::File>, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let shown = path.display();
        // Opened without waiting (a FIFO's open would wait for a writer), then looked at.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path)
            .map_err(|err| format!("cannot open {shown}: {err}"))?;
        let meta = file
            .metadata()
            .map_err(|err| format!("cannot open {shown}: {err}"))?;
        if !meta.is_file() {
            return Err(format!(
                "{shown}: not a brood recording (not a regular file)"
            ));
        }
        Reader::open(file).map_err(|err| format!("{shown}: {err}"))
    }
}

impl<R: Read + Seek> Reader<R> {
    /// Opens a recording: checks its opening, reads its strings and indexes every frame and
    /// every batch of entries, up to the last whole record.
    pub fn open(mut source: R) -> Result<Reader<R>, ReadError> {
        source.seek(SeekFrom::Start(0))?;
        let mut input = BufReader::with_capacity(1 << 16, &mut source);
        let mut opening = [0u8; OPENING];
        input
            .read_exact(&mut opening)
            .map_err(|_| ReadError::NotARecording)?;
        if opening[..MAGIC.len()] != MAGIC[..] {
            return Err(ReadError::NotARecording);
        }
        let version = u16::from_le_bytes([opening[MAGIC.len()], opening[MAGIC.len() + 1]]);
        if version != VERSION {
            return Err(ReadError::Version(version));
        }
        let mut buf = Vec::new();
        let mut offset = OPENING as u64;
        if framing::read_next(&mut input, &mut buf)? != framing::Next::Record {
            return Err(ReadError::Damaged("its header is cut short"));
        }
        let Ok(Record::Header(header)) = postcard::from_bytes(&buf) else {
            return Err(ReadError::Damaged("it does not begin with a header"));
        };
        offset += (framing::FRAME_BYTES + buf.len()) as u64;
        let index = Index::read(&mut input, &mut buf, offset)?;
        drop(input);
        Ok(Reader {
            source,
            header,
            index,
        })
    }

    /// The machine at `at_ns`: the last scan taken then or before, rebuilt from the keyframe
    /// before it; `None` before the first scan.
    pub fn state_at(&mut self, at_ns: u64) -> Result<Option<Moment>, ReadError> {
        let after = self.index.frames.partition_point(|f| f.at_ns <= at_ns);
        match after.checked_sub(1) {
            Some(last) => self.frame(last).map(Some),
            None => Ok(None),
        }
    }

    /// Scan number `index` (0 is the first, as [`frame_times`](Reader::frame_times) counts),
    /// for stepping scan by scan.
    pub fn frame(&mut self, index: usize) -> Result<Moment, ReadError> {
        let frames = &self.index.frames;
        let place = frames
            .get(index)
            .ok_or(ReadError::Damaged("no such scan"))?;
        let chain = &frames[place.key..=index];
        let (start, end) = (chain[0].offset, place.end());
        let mut bytes = vec![0; (end - start) as usize];
        self.source.seek(SeekFrom::Start(start))?;
        self.source.read_exact(&mut bytes)?;
        let mut moment = None;
        for place in chain {
            let at = (place.offset - start) as usize;
            let body = framing::unframe(&bytes[at..])
                .ok_or(ReadError::Damaged("a record changed since it was indexed"))?;
            let record = postcard::from_bytes(body).map_err(|_| ReadError::Damaged("a frame"))?;
            moment = Some(self.step(moment, record)?);
        }
        moment.ok_or(ReadError::Damaged("no such scan"))
    }

    /// The history as it stood at `at_ns`: every entry written by then, in its latest form then,
    /// by number.
    pub fn entries_until(&mut self, at_ns: u64) -> Result<Vec<Entry>, ReadError> {
        let written = self.index.entries.partition_point(|e| e.at_ns <= at_ns);
        let mut by_seq = BTreeMap::new();
        let mut bytes = Vec::new();
        for place in &self.index.entries[..written] {
            bytes.resize(place.len as usize, 0);
            self.source.seek(SeekFrom::Start(place.offset))?;
            self.source.read_exact(&mut bytes)?;
            let body = framing::unframe(&bytes)
                .ok_or(ReadError::Damaged("a record changed since it was indexed"))?;
            let Ok(Record::Entries { entries, .. }) = postcard::from_bytes(body) else {
                return Err(ReadError::Damaged("entries"));
            };
            for entry in entries {
                by_seq.insert(entry.seq, Entry::from(entry));
            }
        }
        Ok(by_seq.into_values().collect())
    }

    /// Goes through the whole recording in the order it was written: each scan as the machine
    /// then, each batch of entries.
    pub fn replay(&mut self, mut visit: impl FnMut(Item<'_>)) -> Result<(), ReadError> {
        self.source.seek(SeekFrom::Start(OPENING as u64))?;
        let mut input =
            BufReader::with_capacity(1 << 16, (&mut self.source).take(self.index.whole_bytes));
        let mut buf = Vec::new();
        let mut moment: Option<Moment> = None;
        // The header again, then everything after it.
        framing::read_next(&mut input, &mut buf)?;
        while framing::read_next(&mut input, &mut buf)? == framing::Next::Record {
            let record = postcard::from_bytes(&buf).map_err(|_| ReadError::Damaged("a record"))?;
            match record {
                Record::Key(_) | Record::Delta(_) => {
                    let next = step_with(
                        &self.index.strings,
                        self.header.ticks_per_sec,
                        moment,
                        record,
                    )?;
                    visit(Item::Frame(&next));
                    moment = Some(next);
                }
                Record::Entries { at_ns, entries } => {
                    let entries: Vec<Entry> = entries.into_iter().map(Entry::from).collect();
                    visit(Item::Entries {
                        at_ns,
                        entries: &entries,
                    });
                }
                Record::Header(_) | Record::Strings { .. } => {}
            }
        }
        Ok(())
    }

    fn step(&self, moment: Option<Moment>, record: Record) -> Result<Moment, ReadError> {
        step_with(
            &self.index.strings,
            self.header.ticks_per_sec,
            moment,
            record,
        )
    }
}

impl Index {
    /// Reads every record after the header (which ends at `offset`): strings into the table,
    /// frames and entries into the index, up to the first that is not whole.
    fn read(input: &mut impl Read, buf: &mut Vec<u8>, offset: u64) -> Result<Index, ReadError> {
        let mut index = Index {
            whole_bytes: offset,
            ..Index::default()
        };
        let mut key = None;
        loop {
            match framing::read_next(input, buf)? {
                framing::Next::Record => {}
                framing::Next::End => return Ok(index),
                framing::Next::Torn => break,
            }
            let place = Place {
                at_ns: 0,
                offset: index.whole_bytes,
                len: (framing::FRAME_BYTES + buf.len()) as u64,
                key: 0,
            };
            let Ok((kind, _)) = postcard::take_from_bytes::<Kind>(buf) else {
                break;
            };
            match kind {
                Kind::Header(()) => break,
                Kind::Strings(()) => {
                    let Ok(Record::Strings { first, strings }) = postcard::from_bytes(buf) else {
                        break;
                    };
                    if first as usize != index.strings.len() {
                        break;
                    }
                    index.strings.extend(strings);
                }
                Kind::Key(at_ns) => {
                    key = Some(index.frames.len());
                    index.frames.push(Place { at_ns, ..place });
                }
                Kind::Delta(at_ns) => {
                    let Some(key) = key else {
                        break;
                    };
                    index.frames.push(Place {
                        at_ns,
                        key,
                        ..place
                    });
                }
                Kind::Entries(at_ns) => index.entries.push(Place { at_ns, ..place }),
            }
            index.whole_bytes += place.len;
        }
        index.torn = true;
        Ok(index)
    }
}

impl Place {
    fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// The moment after `record` (a frame), given the one before.
fn step_with(
    strings: &[Arc<str>],
    ticks_per_sec: u64,
    before: Option<Moment>,
    record: Record,
) -> Result<Moment, ReadError> {
    let string = |n: u32| strings.get(n as usize).cloned();
    let (frame, procs) = match record {
        Record::Key(frame) => {
            let procs: Option<Vec<ProcInfo>> = frame
                .procs
                .iter()
                .map(|p: &Proc| proc_from_wire(p, string))
                .collect();
            let procs = procs.ok_or(ReadError::Damaged("a string never written"))?;
            (frame.map(|_| ()), procs)
        }
        Record::Delta(frame) => {
            let before = before.ok_or(ReadError::Damaged("a delta before any keyframe"))?;
            // The only owner once the visitor is done with it: no copy.
            let table = Arc::try_unwrap(before.snapshot.procs).unwrap_or_else(|t| (*t).clone());
            let procs = delta::apply(table, &frame.procs, string)
                .ok_or(ReadError::Damaged("a delta that does not fit"))?;
            (frame.map(|_| ()), procs)
        }
        _ => return Err(ReadError::Damaged("a frame expected")),
    };
    Ok(Moment {
        at_ns: frame.at_ns,
        snapshot: Snapshot {
            procs: Arc::new(procs),
            uptime_secs: frame.uptime_secs,
            ticks_per_sec,
            descriptors_short: frame.descriptors_short,
        },
        system: frame.system,
    })
}
