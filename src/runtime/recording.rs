//! Recording a session to a file. After each `App::update` the main loop hands over what
//! changed — a new scan, new or amended history entries — and a thread of its own encodes and
//! writes it, so a slow disk never holds up the screen: should the writer fall behind, scans
//! are left out (the next delta spans the gap) and entries wait for the next hand-over.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::app::App;
use crate::history::Entry;
use crate::history::record::{Encoder, Header, Scope, Stats};
use crate::proc::events::Clock;
use crate::proc::system::SystemStats;
use crate::proc::{Identity, Snapshot};

/// `brood-YYYYmmdd-HHMMSS.brood` in the current directory: where a recording goes unless told.
pub fn default_path() -> PathBuf {
    let now = chrono::Local::now().format("%Y%m%d-%H%M%S");
    PathBuf::from(format!("brood-{now}.brood"))
}

/// Hand-overs the writer may be behind by before scans are left out.
const QUEUE: usize = 16;

/// A recording under way.
pub struct Recording {
    path: PathBuf,
    queue: Option<SyncSender<Batch>>,
    writer: Option<JoinHandle<io::Result<Stats>>>,
    /// The app's count of scans seen at the last hand-over, the first entry number not handed
    /// over, and the place in the history's journal of amendments read up to.
    scans: u64,
    next_seq: u64,
    amendments: u64,
    /// When what was handed over last happened: the next hand-over is stamped no earlier.
    last_ns: u64,
    /// Entries the queue had no room for, handed over next time.
    backlog: Vec<Entry>,
    /// Scans left out because the writer was behind.
    skipped: u64,
    /// Scans only, no entries (the session's memory: the app keeps its history itself).
    scans_only: bool,
}

/// A recording held in memory, shared with its writer.
#[derive(Debug, Clone, Default)]
pub struct Memory(Arc<Mutex<Vec<u8>>>);

impl Memory {
    /// A copy of what was written so far, to read while the writing goes on.
    pub fn copy(&self) -> Vec<u8> {
        self.0.lock().map(|bytes| bytes.clone()).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |bytes| bytes.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a recording's bytes go.
enum Sink {
    File(File),
    Memory(Memory),
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(file) => file.write(bytes),
            Sink::Memory(memory) => {
                let mut held = memory.0.lock().map_err(|_| io::Error::other("poisoned"))?;
                held.extend_from_slice(bytes);
                Ok(bytes.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(file) => file.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }
}

impl Sink {
    /// Everything written is on the disk (for a file).
    fn close(self) -> io::Result<()> {
        match self {
            Sink::File(file) => file.sync_data(),
            Sink::Memory(_) => Ok(()),
        }
    }
}

/// One hand-over: a scan (when it was taken) and the entries new or amended by then.
struct Batch {
    frame: Option<(u64, Snapshot, Option<SystemStats>)>,
    at_ns: u64,
    entries: Vec<Entry>,
}

/// What the recording is of: everything, or one process (and its subtree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Only {
    pub root: Identity,
    pub subtree: bool,
}

impl Recording {
    /// Starts recording `app`'s session to `path`, a new file (one there already is never
    /// overwritten) readable by its owner only, as command lines may hold secrets. The scan the
    /// app shows now and its whole history come first.
    pub fn start(path: &Path, app: &App, only: Option<Only>) -> io::Result<Recording> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        let mut recording = Recording::to(Sink::File(file), path, app, only)?;
        recording.capture(app);
        Ok(recording)
    }

    /// Starts recording `app`'s scans (not its history, which the app keeps itself) into
    /// memory: what stepping back in time on the live screen reads.
    pub fn in_memory(app: &App) -> io::Result<(Recording, Memory)> {
        let memory = Memory::default();
        let sink = Sink::Memory(memory.clone());
        let mut recording = Recording::to(sink, Path::new("(this session)"), app, None)?;
        recording.scans_only = true;
        recording.capture(app);
        Ok((recording, memory))
    }

    fn to(sink: Sink, path: &Path, app: &App, only: Option<Only>) -> io::Result<Recording> {
        let header = Header {
            host: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ticks_per_sec: procfs::ticks_per_second().max(1),
            start_ns: Clock::read().now().unix_ns,
            brood_pid: app.self_pid,
            brood_version: env!("CARGO_PKG_VERSION").into(),
            root: only.map(|o| o.root),
            subtree: only.is_some_and(|o| o.subtree),
        };
        let scope = only.map(|o| Scope::new(o.root, o.subtree));
        let (queue, inbox) = mpsc::sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || write(sink, &header, scope, &inbox))?;
        Ok(Recording {
            path: path.to_path_buf(),
            queue: Some(queue),
            writer: Some(writer),
            scans: 0,
            next_seq: 1,
            amendments: app.history.amendments_end(),
            last_ns: 0,
            backlog: Vec::new(),
            skipped: 0,
            scans_only: false,
        })
    }

    /// Hands over what changed since the last call: call it after every `App::update` (a later
    /// event may change the tree the scan made, before the next scan). Never waits for the
    /// disk.
    pub fn capture(&mut self, app: &App) {
        let Some(queue) = &self.queue else {
            return;
        };
        let mut entries = std::mem::take(&mut self.backlog);
        if self.scans_only {
            // Nothing to take in from the history: it is the app's, in memory already.
            self.next_seq = app.history.next_seq();
            self.amendments = app.history.amendments_end();
        }
        let (amended, read_to) = app.history.amended_since(self.amendments);
        self.amendments = read_to;
        let written = self.next_seq;
        entries.extend(
            amended
                .into_iter()
                .filter(|&seq| seq < written)
                .filter_map(|seq| app.history.get(seq).cloned()),
        );
        entries.extend(app.history.range(false, written..).cloned());
        self.next_seq = app.history.next_seq();
        // The newest live scan, shown or not: a recording keeps recording while the screen is
        // paused or shows the past.
        let (snapshot, system) = app.latest_scan();
        let frame = (app.scans_seen != self.scans && app.scans_seen > 0).then(|| {
            self.scans = app.scans_seen;
            // When the scan was taken: its uptime is on the boot clock, in hundredths of a
            // second, so a scan read in the same hundredth as what was handed over last is put
            // a nanosecond after it: every record in order, each scan at a time of its own.
            let boot_ns = (snapshot.uptime_secs * 1e9) as u64;
            let taken_ns = Clock::read().from_boot(boot_ns).unix_ns;
            (taken_ns.max(self.last_ns + 1), snapshot.clone(), system)
        });
        if frame.is_none() && entries.is_empty() {
            return;
        }
        self.last_ns = match &frame {
            Some((at_ns, ..)) => *at_ns,
            None => Clock::read().now().unix_ns.max(self.last_ns),
        };
        let at_ns = self.last_ns;
        let batch = Batch {
            frame,
            at_ns,
            entries,
        };
        match queue.try_send(batch) {
            Ok(()) => {}
            Err(TrySendError::Full(batch)) => {
                self.skipped += u64::from(batch.frame.is_some());
                self.backlog = batch.entries;
            }
            // The writer stopped on an error, which `finish` tells.
            Err(TrySendError::Disconnected(_)) => self.queue = None,
        }
    }

    /// Whether the writer stopped on an error (`finish` says which).
    pub fn failed(&self) -> bool {
        self.queue.is_none()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Scans left out because the writer was behind.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Stops: what was handed over is written, and the file synced and closed. Returns what was
    /// written, or the first error.
    pub fn finish(mut self) -> io::Result<Stats> {
        if let (Some(queue), false) = (&self.queue, self.backlog.is_empty()) {
            let batch = Batch {
                frame: None,
                at_ns: self.last_ns.max(Clock::read().now().unix_ns),
                entries: std::mem::take(&mut self.backlog),
            };
            let _ = queue.send(batch);
        }
        self.queue = None;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) | None => Err(io::Error::other("the recording's writer failed")),
        }
    }
}

/// The writer thread: encodes each hand-over and appends it, flushed, so a crash loses at most
/// the last one.
fn write(
    sink: Sink,
    header: &Header,
    mut scope: Option<Scope>,
    inbox: &Receiver<Batch>,
) -> io::Result<Stats> {
    let (mut encoder, opening) = Encoder::start(header);
    let mut out = BufWriter::new(sink);
    out.write_all(&opening)?;
    out.flush()?;
    let mut bytes = Vec::new();
    for batch in inbox {
        bytes.clear();
        if let Some((at_ns, snapshot, system)) = batch.frame {
            let snapshot = match &mut scope {
                Some(scope) => scope.narrow(&snapshot),
                None => snapshot,
            };
            encoder.frame(at_ns, &snapshot, system.as_ref(), &mut bytes);
        }
        let mut entries = batch.entries;
        if let Some(scope) = &mut scope {
            entries.retain(|e| scope.admits(e));
        }
        encoder.entries(batch.at_ns, &entries, &mut bytes);
        out.write_all(&bytes)?;
        out.flush()?;
    }
    out.into_inner().map_err(|e| e.into_error())?.close()?;
    Ok(encoder.stats())
}
