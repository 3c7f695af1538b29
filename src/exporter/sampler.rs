//! The exporter's clock: every interval, on a thread of its own, one scan of the process table
//! and one deadlock sweep, observed against the scans before and rendered; the result waits for
//! the scrapes. A scrape never scans, so two Prometheus servers cost what one does. A failed scan
//! leaves the last good metrics in place, with the failure counted.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::metrics::Exposition;
use super::observe::{Observer, Report};
use crate::proc::ipc::Sweeper;
use crate::proc::scan::{ScanOptions, Scanner};

/// One refresh after another: what the sampler thread runs, and what the benchmark measures.
pub struct Refresh {
    scanner: Scanner,
    sweeper: Sweeper,
    observer: Observer,
    report: Report,
}

impl Refresh {
    /// `threshold`: how long a process must stay in D to count as stuck.
    pub fn new(threshold: Duration) -> Refresh {
        Refresh {
            scanner: Scanner::new(ScanOptions::default()),
            sweeper: Sweeper::default(),
            observer: Observer::new(threshold),
            report: Report::default(),
        }
    }

    /// Scans, sweeps for deadlocks, and renders what they say. If /proc cannot be listed the
    /// last report stands, with one more error counted.
    pub fn run(&mut self) -> Result<Exposition, std::fmt::Error> {
        let started = Instant::now();
        let mut scan = self.report.scan;
        scan.scans += 1;
        match self.scanner.scan() {
            Ok(snapshot) => {
                // Descriptors are read only for processes blocked on a pipe (and, if those
                // seem to wait for each other, for everyone): no links are asked for.
                self.sweeper.observe(&snapshot);
                let ipc = self.sweeper.sweep(&snapshot, false);
                self.report = self.observer.observe(&snapshot, &ipc);
            }
            Err(_) => scan.errors += 1,
        }
        scan.duration_secs = started.elapsed().as_secs_f64();
        self.report.scan = scan;
        Exposition::render(&self.report)
    }
}

/// The latest exposition, swapped in whole by the sampler and read by every scrape.
#[derive(Clone)]
pub struct Latest(Arc<Mutex<Arc<Exposition>>>);

impl Latest {
    pub fn get(&self) -> Arc<Exposition> {
        // Only a pointer swap happens under the lock, so poisoning cannot leave it half written.
        Arc::clone(&self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn set(&self, exposition: Exposition) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(exposition);
    }
}

/// The sampler thread; stopped and joined on drop.
pub struct Sampler {
    latest: Latest,
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Runs the first refresh here, so that the metrics exist before anyone can scrape, then
    /// goes on every `interval` on a thread.
    pub fn start(interval: Duration, threshold: Duration) -> std::io::Result<Sampler> {
        let mut refresh = Refresh::new(threshold);
        let first = refresh.run().map_err(std::io::Error::other)?;
        let latest = Latest(Arc::new(Mutex::new(Arc::new(first))));
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = latest.clone();
        let thread = std::thread::Builder::new()
            .name("sampler".into())
            .spawn(move || {
                let mut next = Instant::now() + interval;
                // The wait is the stop channel's: a stop (or the exporter gone) ends it at once.
                while let Err(RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(next.saturating_duration_since(Instant::now()))
                {
                    if let Ok(exposition) = refresh.run() {
                        shared.set(exposition);
                    }
                    // On the beat, whatever a scan took; after a late one (a suspend, a scan
                    // longer than the interval), one interval on rather than a burst to catch up.
                    let now = Instant::now();
                    next += interval;
                    if next <= now {
                        next = now + interval;
                    }
                }
            })?;
        Ok(Sampler {
            latest,
            stop,
            thread: Some(thread),
        })
    }

    pub fn latest(&self) -> Latest {
        self.latest.clone()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
