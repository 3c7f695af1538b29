//! Where process events come from: the kernel's connector where it is allowed, else consecutive
//! scans, both told as [`ProcEvent`]s. The I/O of events (socket, /proc reads, scans) happens
//! here, in calls that block for at most the time given; it owns no thread, so the caller chooses
//! where it runs and how it is stopped (a signal, or the timeout, ends every wait).

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use nix::poll::PollTimeout;

use super::clock::Clock;
use super::facts::{self, FactReader};
use super::polled;
use super::tracker::{Facts, Tracker};
use super::{ProcEvent, Source, Stamp};
use crate::proc::Snapshot;
use crate::proc::connector::{Connector, ConnectorError, Received};
use crate::proc::lifecycle::{Change, Lifecycle};
use crate::proc::scan::{ScanError, ScanOptions, Scanner};

/// After events were lost, what brood knows is checked against a scan, at most this often.
const RESYNC_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Tell the events of threads too (kernel events only: scans compare processes).
    pub threads: bool,
    /// Take events from scans even where the kernel's are allowed.
    pub from_scans: bool,
    /// How often to scan, when events come from scans.
    pub interval: Duration,
    /// Bytes of kernel buffer for events not yet read; a storm beyond it loses events (counted).
    pub receive_buffer: usize,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            threads: false,
            from_scans: false,
            interval: Duration::from_secs(1),
            // The kernel grants twice this, room for about 10 000 events: seconds of a storm.
            receive_buffer: 4 << 20,
        }
    }
}

/// A stream of process events. The first batch starts with a notice that says where they come
/// from (and, from scans, what that misses and why).
pub struct EventSource {
    feed: Feed,
    pending: Vec<ProcEvent>,
}

enum Feed {
    Kernel(Box<KernelFeed>),
    Scans(Box<ScanFeed>),
}

struct KernelFeed {
    connector: Connector,
    tracker: Tracker,
    facts: FactReader,
    received: Vec<Received>,
    threads: bool,
    resync_wanted: bool,
    last_resync: Instant,
}

struct ScanFeed {
    scanner: Scanner,
    lifecycle: Lifecycle,
    before: Snapshot,
    interval: Duration,
    next_scan: Instant,
}

impl EventSource {
    /// Subscribes to the kernel's events (or falls back to scans) and scans once, after
    /// subscribing, so that every process is known: returns that scan too.
    pub fn open(options: &SourceOptions) -> Result<(EventSource, Snapshot), ScanError> {
        // The notice is stamped before subscribing: every event comes after it.
        let start = Clock::read().now();
        let refused = if options.from_scans {
            None
        } else {
            match Connector::open(options.receive_buffer) {
                Ok(connector) => return EventSource::from_kernel(connector, options, start),
                Err(err) => Some(err),
            }
        };
        let mut scanner = Scanner::new(ScanOptions::default());
        let snapshot = scanner.scan()?;
        let mut lifecycle = Lifecycle::default();
        lifecycle.observe(&snapshot);
        let text = scans_notice(options.interval, refused.as_ref());
        let feed = ScanFeed {
            scanner,
            lifecycle,
            before: snapshot.clone(),
            interval: options.interval,
            next_scan: Instant::now() + options.interval,
        };
        let source = EventSource {
            feed: Feed::Scans(Box::new(feed)),
            pending: vec![ProcEvent::notice(start, Source::Scan, text)],
        };
        Ok((source, snapshot))
    }

    /// The kernel's events only. `Err` is the notice that says why they are refused, and what
    /// scans every `options.interval` (the caller's own) miss.
    pub fn open_kernel(options: &SourceOptions) -> Result<(EventSource, Snapshot), Box<ProcEvent>> {
        let start = Clock::read().now();
        let notice = |text| Box::new(ProcEvent::notice(start, Source::Scan, text));
        let connector = Connector::open(options.receive_buffer)
            .map_err(|err| notice(scans_notice(options.interval, Some(&err))))?;
        EventSource::from_kernel(connector, options, start)
            .map_err(|err| notice(format!("cannot read /proc for process events: {err}")))
    }

    fn from_kernel(
        connector: Connector,
        options: &SourceOptions,
        start: Stamp,
    ) -> Result<(EventSource, Snapshot), ScanError> {
        let snapshot = scan_once(options.threads)?;
        let mut tracker = Tracker::new(options.threads, snapshot.ticks_per_sec);
        tracker.seed(&snapshot);
        let feed = KernelFeed {
            connector,
            tracker,
            facts: FactReader::default(),
            received: Vec::new(),
            threads: options.threads,
            resync_wanted: false,
            last_resync: Instant::now(),
        };
        let text = "events from the kernel: every fork, exec and exit is seen".to_string();
        let source = EventSource {
            feed: Feed::Kernel(Box::new(feed)),
            pending: vec![ProcEvent::notice(start, Source::Kernel, text)],
        };
        Ok((source, snapshot))
    }

    /// Whether events come from the kernel (else from scans).
    pub fn is_kernel(&self) -> bool {
        matches!(self.feed, Feed::Kernel(_))
    }

    /// Changes the kernel's buffer for unread events and returns what it granted; `None` when
    /// events come from scans.
    pub fn set_receive_buffer(&self, bytes: usize) -> Option<io::Result<usize>> {
        match &self.feed {
            Feed::Kernel(feed) => Some(feed.connector.set_receive_buffer(bytes)),
            Feed::Scans(_) => None,
        }
    }

    /// Waits up to `timeout` for events and appends them to `out`, in order. Returns sooner, maybe
    /// with none, when a signal arrives.
    pub fn next_batch(&mut self, timeout: Duration, out: &mut Vec<ProcEvent>) -> io::Result<()> {
        // The notice first, and the events already there with it.
        let timeout = if self.pending.is_empty() {
            timeout
        } else {
            out.append(&mut self.pending);
            Duration::ZERO
        };
        match &mut self.feed {
            Feed::Kernel(feed) => feed.next_batch(timeout, out),
            Feed::Scans(feed) => feed.next_batch(timeout, out),
        }
    }
}

fn scan_once(threads: bool) -> Result<Snapshot, ScanError> {
    // One scan keeps nothing for a next one: each stat file is read and closed at once.
    Scanner::new(ScanOptions {
        threads,
        max_open_files: Some(0),
        ..ScanOptions::default()
    })
    .scan()
}

fn scans_notice(interval: Duration, refused: Option<&ConnectorError>) -> String {
    let every = super::text::duration(interval.as_nanos() as u64);
    let mut text =
        format!("events from scans every {every}: processes shorter than a refresh are not seen");
    match refused {
        Some(ConnectorError::NotPermitted) => {
            text.push_str(" — run as root to catch every one (");
            text.push_str(&ConnectorError::NotPermitted.to_string());
            text.push(')');
        }
        Some(other) => text.push_str(&format!(" ({other})")),
        None => text.push_str(" (asked for)"),
    }
    text
}

impl KernelFeed {
    fn next_batch(&mut self, timeout: Duration, out: &mut Vec<ProcEvent>) -> io::Result<()> {
        let mut received = std::mem::take(&mut self.received);
        received.clear();
        let result = self.connector.receive(Some(timeout), &mut received);
        let clock = Clock::read();
        for item in &received {
            match item {
                Received::Event(message) => {
                    let facts = match self.tracker.wants(&message.event) {
                        Some(want) => self.facts.read(&want),
                        None => Facts::default(),
                    };
                    out.extend(self.tracker.apply(message, &facts, &clock));
                }
                Received::Lost(count) => {
                    out.push(self.tracker.lost(*count, &clock));
                    self.resync_wanted = true;
                }
            }
        }
        self.received = received;
        if self.resync_wanted && self.last_resync.elapsed() >= RESYNC_EVERY {
            // Exits and forks were lost: what brood knows is checked against /proc again.
            if let Ok(snapshot) = scan_once(self.threads) {
                self.tracker.seed(&snapshot);
            }
            self.resync_wanted = false;
            self.last_resync = Instant::now();
        }
        result
    }
}

impl ScanFeed {
    fn next_batch(&mut self, timeout: Duration, out: &mut Vec<ProcEvent>) -> io::Result<()> {
        let wait = self.next_scan.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            // poll() with no descriptors: a sleep that a signal ends (std's sleep resumes).
            let wait = PollTimeout::try_from(wait.min(timeout)).unwrap_or(PollTimeout::MAX);
            let _ = nix::poll::poll(&mut [], wait);
            if Instant::now() < self.next_scan {
                return Ok(());
            }
        }
        self.next_scan = Instant::now() + self.interval;
        let after = self.scanner.scan().map_err(io::Error::other)?;
        let changes = self.lifecycle.observe(&after);
        let statuses: HashMap<_, _> = changes
            .iter()
            .filter_map(|change| match change {
                Change::BecameZombie { id, .. } => {
                    facts::read_zombie_status(*id).map(|status| (*id, status))
                }
                _ => None,
            })
            .collect();
        polled::from_changes(
            &changes,
            &self.before,
            &after,
            &statuses,
            &Clock::read(),
            out,
        );
        self.before = after;
        Ok(())
    }
}
