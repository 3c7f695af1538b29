//! The source of a replayed session (`brood replay FILE`), in place of the collector and the
//! kernel's events: one thread answers the app's seeks with the machine at that moment (the
//! newest seek wins when several wait), another reads the whole file once in the background for
//! the history and the timeline, and a ticker moves a playing cursor.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use crate::history::Entry;
use crate::history::record::{Item, Reader};
use crate::history::timeline::Timeline;
use crate::history::timeline::{LAB_BYTES, MACHINE_BYTES};
use crate::message::{Event, ReplayFile, ReplayNews};

/// How often a playing cursor moves.
pub const TICK: Duration = Duration::from_millis(100);

/// Opens `path` and starts the threads; the app hears of the file, then its first moment. Seeks
/// go to the returned sender.
pub fn spawn(path: &Path, events: Sender<Event>) -> std::io::Result<Sender<u64>> {
    let (seeks, asked) = mpsc::channel();
    let file = path.to_path_buf();
    let answering = events.clone();
    std::thread::Builder::new()
        .name("replay".into())
        .spawn(move || answer_seeks(&file, &asked, &answering))?;
    let file = path.to_path_buf();
    let loading = events.clone();
    std::thread::Builder::new()
        .name("replay-history".into())
        .spawn(move || load_history(&file, &loading))?;
    std::thread::Builder::new()
        .name("replay-ticks".into())
        .spawn(move || {
            while events.send(Event::Tick).is_ok() {
                std::thread::sleep(TICK);
            }
        })?;
    Ok(seeks)
}

/// Whether `path` can be replayed: said before the screen is taken, so a wrong file is one
/// clear line.
pub fn check(path: &Path) -> Result<(), String> {
    open(path).map(drop)
}

fn open(path: &Path) -> Result<Reader<File>, String> {
    let file = File::open(path).map_err(|err| format!("cannot open {}: {err}", path.display()))?;
    Reader::open(file).map_err(|err| format!("{}: {err}", path.display()))
}

fn answer_seeks(path: &Path, asked: &Receiver<u64>, events: &Sender<Event>) {
    let mut reader = match open(path) {
        Ok(reader) => reader,
        Err(why) => {
            let _ = events.send(Event::Replay(ReplayNews::Failed(why)));
            return;
        }
    };
    let header = reader.header().clone();
    let opened = ReplayFile {
        path: path.display().to_string(),
        host: header.host.clone(),
        brood_pid: header.brood_pid,
        frames: reader.frame_times().collect(),
        torn: reader.is_torn(),
    };
    if opened.frames.is_empty() {
        let why = format!("{}: the recording holds no scan", path.display());
        let _ = events.send(Event::Replay(ReplayNews::Failed(why)));
        return;
    }
    let _ = events.send(Event::Replay(ReplayNews::Opened(opened)));
    let send_moment = |reader: &mut Reader<File>, at: u64| {
        let news = match reader.state_at(at) {
            Ok(Some(moment)) => ReplayNews::Moment(Box::new(moment)),
            Ok(None) => return true,
            Err(err) => ReplayNews::Failed(err.to_string()),
        };
        events.send(Event::Replay(news)).is_ok()
    };
    if let Ok(first) = reader.frame(0)
        && events
            .send(Event::Replay(ReplayNews::Moment(Box::new(first))))
            .is_err()
    {
        return;
    }
    while let Ok(mut at) = asked.recv() {
        // Only the newest of the seeks waiting matters: the cursor is already there.
        while let Ok(later) = asked.try_recv() {
            at = later;
        }
        if !send_moment(&mut reader, at) {
            return;
        }
    }
}

/// Reads the whole recording once: every entry in its final form, and the timeline built from
/// every scan and entry in the order they were written.
fn load_history(path: &Path, events: &Sender<Event>) {
    let Ok(mut reader) = open(path) else {
        return; // The seek thread says why.
    };
    // A recording is read whole: room for all of it rather than the live session's bounds.
    let mut timeline = Timeline::with_budgets(LAB_BYTES * 8, MACHINE_BYTES * 8);
    let mut entries: Vec<Entry> = Vec::new();
    let read = reader.replay(|item| match item {
        Item::Frame(moment) => timeline.observe_snapshot(moment.at_ns, &moment.snapshot),
        Item::Entries { entries: batch, .. } => {
            for entry in batch {
                timeline.observe_entry(entry);
                entries.push(entry.clone());
            }
        }
    });
    if let Err(err) = read {
        let _ = events.send(Event::Replay(ReplayNews::Failed(err.to_string())));
        return;
    }
    // An amended entry came again with its number: the last form of each is the one kept.
    entries.reverse();
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e| seen.insert(e.seq));
    entries.sort_by_key(|e| e.seq);
    let _ = events.send(Event::Replay(ReplayNews::Loaded {
        entries,
        timeline: Box::new(timeline),
    }));
}
