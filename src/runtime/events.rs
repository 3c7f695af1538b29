//! The kernel's process events, on a thread of their own: subscribe (where that is refused, say
//! so once and end: the collector's scans stand in), then pass batches to the main loop, at most
//! one every `GATHER`, so a storm of forks costs a redraw per batch, not per event.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::message::Event;
use crate::proc::events::source::{EventSource, SourceOptions};
use crate::proc::events::{Clock, ExitStatus, Kind, ProcEvent, Source};
use crate::proc::kmsg::KernelLog;
use crate::proc::{Identity, Pid};

/// Events that come within this long of the first of a batch go with it.
const GATHER: Duration = Duration::from_millis(50);
/// The longest wait for the first event of a batch (the thread ends with brood, at any point).
const IDLE_WAIT: Duration = Duration::from_secs(60);

/// Starts the thread; `interval` is the collector's, for what the fallback notice says.
pub fn spawn(events: Sender<Event>, interval: Duration) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("brood-events".into())
        .spawn(move || run(&events, interval))?;
    Ok(())
}

fn run(events: &Sender<Event>, interval: Duration) {
    let options = SourceOptions {
        interval,
        ..SourceOptions::default()
    };
    let mut source = match EventSource::open_kernel(&options) {
        Ok((source, _)) => source,
        Err(notice) => {
            let _ = events.send(Event::ProcEvents(vec![*notice]));
            return;
        }
    };
    let mut oom = OomWatch {
        log: KernelLog::open(),
        victims: Vec::new(),
    };
    let mut batch = Vec::new();
    loop {
        let mut first: Option<Instant> = None;
        let mut wait = IDLE_WAIT;
        loop {
            if let Err(err) = source.next_batch(wait, &mut batch) {
                // What was gathered still goes, and the scans stand in from now on.
                let text = format!(
                    "the kernel's process events stopped ({err}): events from scans from now on; processes shorter than a refresh are not seen"
                );
                batch.push(ProcEvent::notice(Clock::read().now(), Source::Scan, text));
                let _ = events.send(Event::ProcEvents(batch));
                return;
            }
            if batch.is_empty() {
                continue;
            }
            let since = *first.get_or_insert_with(Instant::now);
            wait = GATHER.saturating_sub(since.elapsed());
            if wait.is_zero() {
                break;
            }
        }
        let victims = oom.victims_in(&batch);
        if events
            .send(Event::ProcEvents(std::mem::take(&mut batch)))
            .is_err()
        {
            return;
        }
        if !victims.is_empty() && events.send(Event::OomKilled(victims)).is_err() {
            return;
        }
    }
}

/// Processes the OOM killer ended, read from the kernel's log when one was killed.
struct OomWatch {
    log: Option<KernelLog>,
    /// Victims the log named whose exit has not come yet, and since when.
    victims: Vec<(Pid, Instant)>,
}

/// A victim named in the log waits this long for its exit.
const VICTIM_WAITS: Duration = Duration::from_secs(10);

impl OomWatch {
    /// The processes of `batch` that the OOM killer ended.
    fn victims_in(&mut self, batch: &[ProcEvent]) -> Vec<Identity> {
        let Some(log) = &mut self.log else {
            return Vec::new();
        };
        let killed = |event: &&ProcEvent| {
            matches!(
                event.kind,
                Kind::Exit {
                    status: Some(ExitStatus::Signal {
                        number: libc::SIGKILL,
                        ..
                    }),
                    ..
                }
            )
        };
        let exits: Vec<&ProcEvent> = batch.iter().filter(killed).collect();
        if exits.is_empty() && self.victims.is_empty() {
            return Vec::new();
        }
        let now = Instant::now();
        self.victims
            .extend(log.oom_victims().into_iter().map(|pid| (pid, now)));
        self.victims
            .retain(|(_, since)| now.duration_since(*since) < VICTIM_WAITS);
        let mut found = Vec::new();
        for exit in exits {
            let Some(id) = exit.task.as_ref().and_then(|t| t.identity()) else {
                continue;
            };
            if let Some(at) = self.victims.iter().position(|(pid, _)| *pid == id.pid) {
                self.victims.swap_remove(at);
                found.push(id);
            }
        }
        found
    }
}
