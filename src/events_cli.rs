//! `brood events`: the process event stream printed as it happens, one line (or one JSON object)
//! an event, for scripts and pipes. It owns the loop, stdout and the signals that end it; what an
//! event says comes from `proc::events`. It never needs a terminal and never draws.

use std::io::{self, BufWriter, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use crate::cli::{EventsArgs, SnapshotFormat};
use crate::proc::events::clock::time_of_day;
use crate::proc::events::filter::EventFilter;
use crate::proc::events::source::{EventSource, SourceOptions};
use crate::proc::events::{Kind, ProcEvent, Source};
use crate::proc::lookup::read_identity;

/// The longest wait between two looks at the clock (`--duration`) and at stdout (a reader that
/// went away while nothing was printed). Signals end a wait at once.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Runs until interrupted (SIGINT, SIGTERM, SIGHUP), `--duration` is over or stdout is closed:
/// all three end quietly with status 0.
pub fn run(args: &EventsArgs) -> ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        // The first asks the loop to end; a second ends brood at once, should the loop be stuck
        // (a write to a pipe nobody reads). Should registering fail, the signal still ends
        // brood, only with its default status.
        let _ = signal_hook::flag::register_conditional_default(signal, Arc::clone(&stop));
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    let root = match args.pid {
        Some(pid) => match read_identity(pid) {
            Some(id) => Some(id),
            None => return fail(&format!("no process with PID {pid}")),
        },
        None => None,
    };
    let options = SourceOptions {
        threads: args.threads,
        from_scans: args.from_scans,
        interval: args.interval,
        ..SourceOptions::default()
    };
    let (mut source, snapshot) = match EventSource::open(&options) {
        Ok(opened) => opened,
        Err(err) => return fail(&err.to_string()),
    };
    let mut filter = EventFilter::new(root, args.subtree, args.filter.as_deref());
    filter.seed(&snapshot);
    drop(snapshot);
    // Counted from here: subscribing and the first scan take a moment (a second, where the kernel
    // does not answer), and the time asked for is time spent watching.
    let deadline = args.duration.map(|d| Instant::now() + d);

    let mut out = BufWriter::new(io::stdout().lock());
    let mut batch = Vec::new();
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if stop.load(Ordering::Relaxed) || left.is_some_and(|l| l.is_zero()) || stdout_closed() {
            return ExitCode::SUCCESS;
        }
        batch.clear();
        if let Err(err) =
            source.next_batch(left.map_or(CHECK_EVERY, |l| l.min(CHECK_EVERY)), &mut batch)
        {
            return fail(&format!("cannot read process events: {err}"));
        }
        match print(&mut out, &batch, &mut filter, args.format) {
            Ok(()) => {}
            // The reader went away (`brood events | head -3`): what it wanted, it has.
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
            Err(err) => return fail(&format!("cannot write the events: {err}")),
        }
    }
}

fn print(
    out: &mut impl Write,
    batch: &[ProcEvent],
    filter: &mut EventFilter,
    format: SnapshotFormat,
) -> io::Result<()> {
    for event in batch {
        if let (Kind::Notice { text }, Source::Scan) = (&event.kind, event.source) {
            // Said once, plainly, where a person will see it even when stdout goes to a file.
            let _ = writeln!(io::stderr(), "brood: {text}");
        }
        if !filter.admits(event) {
            continue;
        }
        match format {
            SnapshotFormat::Text => writeln!(
                out,
                "{} {:<8} {}",
                time_of_day(event.at.unix_ns, local_offset_at(event.at.unix_ns), true),
                event.kind.label(),
                event.describe()
            )?,
            SnapshotFormat::Json => {
                serde_json::to_writer(&mut *out, event)?;
                out.write_all(b"\n")?;
            }
        }
    }
    // A line reaches a pipe as soon as it is known, not when a buffer fills.
    out.flush()
}

/// Local time minus UTC at a moment, as the zone said then (a long run may cross a change of
/// summer time).
fn local_offset_at(unix_ns: u64) -> i32 {
    use chrono::{Local, TimeZone};
    Local
        .timestamp_nanos(i64::try_from(unix_ns).unwrap_or(i64::MAX))
        .offset()
        .local_minus_utc()
}

/// Whether nobody reads stdout any more: a pipe whose reader closed reports an error, a
/// terminal that went away a hang-up.
fn stdout_closed() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let stdout = io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::empty())];
    poll(&mut fds, PollTimeout::ZERO).is_ok_and(|_| {
        fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
    })
}

/// One line on stderr (which may be gone too: then nothing) and status 1.
fn fail(what: &str) -> ExitCode {
    let _ = writeln!(io::stderr(), "brood: {what}");
    ExitCode::FAILURE
}
