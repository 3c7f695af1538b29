//! The kernel's process events, on a thread of their own: subscribe (where that is refused, say
//! so once and end: the collector's scans stand in), then pass batches to the main loop, at most
//! one every `GATHER`, so a storm of forks costs a redraw per batch, not per event.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::message::Event;
use crate::proc::events::source::{EventSource, SourceOptions};
use crate::proc::events::{Clock, ProcEvent, Source};

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
        if events
            .send(Event::ProcEvents(std::mem::take(&mut batch)))
            .is_err()
        {
            return;
        }
    }
}
