//! The source of a replayed session (`brood replay FILE`, or the live session's own past kept in
//! memory): one thread answers the app's seeks with the machine at that moment (the newest seek
//! wins when several wait) and ticks while none comes, to move a playing cursor; for a file,
//! another reads it whole once in the background for the history and the timeline.

use std::fs::File;
use std::io::{Cursor, Read, Seek};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

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
        .spawn(move || match open(&file) {
            Ok(reader) => {
                let name = file.display().to_string();
                answer_seeks(reader, &name, false, &asked, &answering);
            }
            Err(why) => {
                let _ = answering.send(Event::Replay(ReplayNews::Failed(why)));
            }
        })?;
    let file = path.to_path_buf();
    std::thread::Builder::new()
        .name("replay-history".into())
        .spawn(move || load_history(&file, &events))?;
    Ok(seeks)
}

/// Steps back into the live session's own past: `recorded` is what its memory holds (scans
/// only; the app keeps the history). The thread ends when the returned sender is dropped.
pub fn spawn_session(recorded: Vec<u8>, events: Sender<Event>) -> std::io::Result<Sender<u64>> {
    let (seeks, asked) = mpsc::channel();
    std::thread::Builder::new()
        .name("travel".into())
        .spawn(move || match Reader::open(Cursor::new(recorded)) {
            Ok(reader) => answer_seeks(reader, "(this session)", true, &asked, &events),
            Err(err) => {
                let _ = events.send(Event::Replay(ReplayNews::NoPast(err.to_string())));
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
    Reader::open_path(path)
}

fn answer_seeks<R: Read + Seek>(
    mut reader: Reader<R>,
    path: &str,
    session: bool,
    asked: &Receiver<u64>,
    events: &Sender<Event>,
) {
    let header = reader.header().clone();
    let opened = ReplayFile {
        path: path.to_string(),
        host: header.host.clone(),
        brood_pid: header.brood_pid,
        frames: reader.frame_times().collect(),
        torn: reader.is_torn(),
        session,
    };
    // What goes wrong ends a file's replay, but never the live session stepping back.
    let failure = |why: String| match session {
        true => ReplayNews::NoPast(why),
        false => ReplayNews::Failed(why),
    };
    if opened.frames.is_empty() {
        let why = match session {
            true => "no scan kept yet to step back to".to_string(),
            false => format!("{path}: the recording holds no scan"),
        };
        let _ = events.send(Event::Replay(failure(why)));
        return;
    }
    let _ = events.send(Event::Replay(ReplayNews::Opened(opened)));
    let send_moment = |reader: &mut Reader<R>, at: u64| {
        let news = match reader.state_at(at) {
            Ok(Some(moment)) => ReplayNews::Moment(Box::new(moment)),
            Ok(None) => return true,
            Err(err) => failure(err.to_string()),
        };
        events.send(Event::Replay(news)).is_ok()
    };
    // A file opens at its start; the session's past is entered by the app's first seek.
    if !session
        && let Ok(first) = reader.frame(0)
        && events
            .send(Event::Replay(ReplayNews::Moment(Box::new(first))))
            .is_err()
    {
        return;
    }
    // Ticks keep their pace whatever the seeks cost: a playing cursor moves at its speed.
    let mut next_tick = Instant::now() + TICK;
    loop {
        match asked.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            Ok(mut at) => {
                // Only the newest of the seeks waiting matters: the cursor is already there.
                while let Ok(later) = asked.try_recv() {
                    at = later;
                }
                if !send_moment(&mut reader, at) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        if now >= next_tick {
            if events.send(Event::Tick).is_err() {
                return;
            }
            next_tick += TICK;
            if next_tick < now {
                // Behind by more than a tick (a slow seek): on from now, not in a burst.
                next_tick = now + TICK;
            }
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
