//! `brood record`: the session without a terminal, written to a file. The same collector and
//! process events feed an `App` as on screen, and the recording takes what it keeps after each
//! update; SIGINT, SIGTERM, SIGHUP or `--duration` end it with the file whole.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use super::collector::Collector;
use super::recording::{Only, Recording};
use crate::app::{App, Settings};
use crate::cli::RecordArgs;
use crate::message::{Effect, Event};
use crate::proc::events::{Kind, Source};
use crate::proc::lookup::read_identity;
use crate::proc::scan::{ScanOptions, Tracers};

/// The longest wait between two looks at `--duration`.
const CHECK_EVERY: Duration = Duration::from_millis(250);

pub fn run(args: &RecordArgs) -> ExitCode {
    // First, before any thread starts (see `reserve_descriptors`).
    crate::proc::scan::reserve_descriptors();
    let only = match args.pid {
        Some(pid) => match read_identity(pid) {
            Some(root) => Some(Only {
                root,
                subtree: args.subtree,
            }),
            None => return fail(&format!("no process with PID {pid}")),
        },
        None => None,
    };
    let path = args
        .output
        .clone()
        .unwrap_or_else(super::recording::default_path);
    let (events, inbox) = mpsc::channel();
    if let Err(err) = spawn_signal_thread(events.clone()) {
        return fail(&format!("cannot handle signals: {err}"));
    }
    let scan = ScanOptions {
        tracers: Tracers::Followed,
        ..ScanOptions::default()
    };
    let collector = Collector::start(args.interval, scan, events.clone());
    if let Err(err) = super::events::spawn(events, args.interval) {
        return fail(&format!("cannot read process events: {err}"));
    }
    let mut app = App::new(Settings::new(std::process::id() as i32));
    let mut recording = match Recording::start(&path, &app, only) {
        Ok(recording) => recording,
        Err(err) => return fail(&format!("cannot record to {}: {err}", path.display())),
    };
    let _ = writeln!(
        std::io::stderr(),
        "brood: recording to {} (SIGINT or SIGTERM ends it)",
        path.display()
    );
    // Counted from here, as `brood events` does: the time asked for is time spent recording.
    let deadline = args.duration.map(|d| Instant::now() + d);
    let started = Instant::now();
    for effect in app.start() {
        run_effect(&collector, effect);
    }
    while app.exit.is_none() && !recording.failed() {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            break;
        }
        let wait = left.map_or(CHECK_EVERY, |l| l.min(CHECK_EVERY));
        match inbox.recv_timeout(wait) {
            Ok(event) => {
                say_where_events_come_from(&event);
                for effect in app.update(event) {
                    run_effect(&collector, effect);
                }
                recording.capture(&app);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(collector);
    let skipped = recording.skipped();
    match recording.finish() {
        Ok(stats) => {
            let skipped = match skipped {
                0 => String::new(),
                n => format!(" ({n} left out: the disk was slower than the scans)"),
            };
            let _ = writeln!(
                std::io::stderr(),
                "brood: recorded {} scans{skipped} and {} entries in {:.1} s, {} bytes, to {}",
                stats.frames,
                stats.entries,
                started.elapsed().as_secs_f64(),
                stats.bytes(),
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => fail(&format!("cannot write {}: {err}", path.display())),
    }
}

/// Where the kernel refuses its events, says so on stderr, as `brood events` does: a person
/// should know that processes shorter than a refresh will be missing from the recording.
fn say_where_events_come_from(event: &Event) {
    let Event::ProcEvents(batch) = event else {
        return;
    };
    for event in batch {
        if let (Kind::Notice { text }, Source::Scan) = (&event.kind, event.source) {
            let _ = writeln!(std::io::stderr(), "brood: {text}");
        }
    }
}

/// A headless session has only the collector to tell: no lab, no terminal.
fn run_effect(collector: &Collector, effect: Effect) {
    if let Effect::Collector(command) = effect {
        collector.send(command);
    }
}

/// The signals that end a recording arrive as [`Event::Terminate`], so the loop ends and the
/// file is finished; a second one ends brood at once, should finishing hang (a stuck disk).
fn spawn_signal_thread(events: mpsc::Sender<Event>) -> std::io::Result<()> {
    let asked = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&asked))?;
        signal_hook::flag::register(signal, Arc::clone(&asked))?;
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if events.send(Event::Terminate(signal)).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// One line on stderr and status 1.
fn fail(what: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "brood: {what}");
    ExitCode::FAILURE
}
