//! `brood export`: a recording turned into a trace for Perfetto or chrome://tracing, or into
//! JSON lines. It owns the files and stdout; the recording is read by `history::record` and
//! told by `history::export`, through the same timeline the screen draws.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use crate::cli::{ExportArgs, ExportFormat};
use crate::history::Entry;
use crate::history::export::{EntryJson, chrome_trace};
use crate::history::record::{Item, Reader};
use crate::history::timeline::Timeline;

pub fn run(args: &ExportArgs) -> ExitCode {
    let mut reader = match Reader::open_path(&args.file) {
        Ok(reader) => reader,
        Err(why) => return fail(&why),
    };
    if reader.is_torn() {
        let _ = writeln!(
            io::stderr(),
            "brood: {} was cut short while written (a crash?): exported up to its last whole record",
            args.file.display()
        );
    }
    // A whole recording, not a window on one: no budget but the machine's memory.
    let mut timeline = Timeline::with_budgets(usize::MAX / 4, usize::MAX / 4);
    let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
    let replayed = reader.replay(|item| match item {
        Item::Frame(moment) => timeline.observe_snapshot(moment.at_ns, &moment.snapshot),
        Item::Entries { entries: batch, .. } => {
            for entry in batch {
                timeline.observe_entry(entry);
                entries.insert(entry.seq, entry.clone());
            }
        }
    });
    if let Err(err) = replayed {
        return fail(&format!("{}: {err}", args.file.display()));
    }
    let written = match &args.output {
        Some(path) => File::create(path).and_then(|file| {
            let mut out = BufWriter::new(file);
            write(&mut out, args.format, &reader, &timeline, &entries)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_data()
        }),
        None => write(
            &mut BufWriter::new(io::stdout().lock()),
            args.format,
            &reader,
            &timeline,
            &entries,
        ),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`brood export … | head`): what it wanted, it has.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => fail(&format!("cannot write the export: {err}")),
    }
}

fn write<R>(
    out: &mut impl Write,
    format: ExportFormat,
    reader: &Reader<R>,
    timeline: &Timeline,
    entries: &BTreeMap<u64, Entry>,
) -> io::Result<()> {
    match format {
        ExportFormat::ChromeTrace => {
            // The last thing recorded: a scan, or an entry (stamped when it happened, which may
            // be after the scan it was written with).
            let ends = [reader.span(), timeline.span()].into_iter().flatten();
            let end = ends
                .map(|(_, end)| end)
                .max()
                .unwrap_or(reader.header().start_ns);
            let trace = chrome_trace(timeline, entries, reader.header(), end);
            serde_json::to_writer(&mut *out, &trace)?;
            out.write_all(b"\n")?;
        }
        ExportFormat::Json => {
            for entry in entries.values() {
                serde_json::to_writer(&mut *out, &EntryJson::of(entry))?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()
}

/// One line on stderr and status 1.
fn fail(what: &str) -> ExitCode {
    let _ = writeln!(io::stderr(), "brood: {what}");
    ExitCode::FAILURE
}
