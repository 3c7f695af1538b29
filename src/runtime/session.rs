//! What the main loop keeps of the live session besides the screen: a recording to a file
//! while the user asks for one, the session's recent past in memory (scans only: the app keeps
//! its history itself) to step back into, and the seeks of a replay, of a file or of that past.

use std::sync::mpsc::Sender;

use super::recording::{self, Memory, Recording};
use super::replay;
use crate::app::App;
use crate::message::{Effect, Event, Outcome, RecordingNews};

/// Bytes of the session's past kept in memory: hours of a quiet machine. Past it, the memory
/// starts again from the newest scan.
const MEMORY_BYTES: usize = 16 << 20;

/// The session's own: recordings, its past in memory, and where seeks go.
pub struct Own {
    events: Sender<Event>,
    /// A file replayed (`brood replay`): its seeks.
    replay: Option<Sender<u64>>,
    recording: SessionRecording,
    /// The live session's past, while live.
    memory: Option<(Recording, Memory)>,
    /// Seeks into that past, while the app is back in it.
    travel: Option<Sender<u64>>,
}

impl Own {
    pub fn new(events: Sender<Event>, replay: Option<Sender<u64>>, app: &App) -> Own {
        // A replay has no live past to keep; a session that cannot keep one does without.
        let memory = if replay.is_none() {
            Recording::in_memory(app).ok()
        } else {
            None
        };
        Own {
            events,
            replay,
            recording: SessionRecording::default(),
            memory,
            travel: None,
        }
    }

    pub fn carry_out(&mut self, effect: Effect, app: &App) {
        match effect {
            Effect::Record(start) => {
                let _ = self
                    .events
                    .send(Event::Done(self.recording.toggle(start, app)));
            }
            Effect::Seek(at) => {
                if let Some(seeks) = self.travel.as_ref().or(self.replay.as_ref()) {
                    let _ = seeks.send(at);
                }
            }
            Effect::Travel(true) => {
                let past = self.memory.as_ref().map(|(_, memory)| memory.copy());
                let started = past.map(|past| replay::spawn_session(past, self.events.clone()));
                self.travel = match started {
                    Some(Ok(seeks)) => Some(seeks),
                    Some(Err(err)) => {
                        self.tell_failure(format!("cannot step back: {err}"));
                        None
                    }
                    None => {
                        self.tell_failure("cannot step back: this session keeps no past".into());
                        None
                    }
                };
            }
            // Its thread ends with the sender.
            Effect::Travel(false) => self.travel = None,
            _ => {}
        }
    }

    /// What changed in the app goes to the recording and to the memory of the past.
    pub fn after_update(&mut self, app: &App) {
        if let Some(news) = self.recording.capture(app) {
            let _ = self.events.send(Event::Done(news));
        }
        if let Some((past, memory)) = &mut self.memory {
            past.capture(app);
            if memory.len() > MEMORY_BYTES
                && let Ok(fresh) = Recording::in_memory(app)
            {
                self.memory = Some(fresh);
            }
        }
    }

    pub fn finish(&mut self) {
        self.recording.stop();
    }

    fn tell_failure(&self, why: String) {
        let news = crate::message::ReplayNews::NoPast(why);
        let _ = self.events.send(Event::Replay(news));
    }
}

/// The session's recording, while one runs: the app starts and stops it, and it takes what
/// changed after every update.
#[derive(Default)]
struct SessionRecording {
    current: Option<Recording>,
}

impl SessionRecording {
    fn toggle(&mut self, start: bool, app: &App) -> Outcome {
        match (start, self.current.take()) {
            (true, None) => {
                let path = recording::default_path();
                let shown = path.display().to_string();
                match Recording::start(&path, app, None) {
                    Ok(started) => {
                        self.current = Some(started);
                        recording_news(shown, RecordingNews::Started)
                    }
                    Err(err) => recording_news(shown, RecordingNews::Failed(err.to_string())),
                }
            }
            (_, Some(running)) => Self::finish(running),
            (false, None) => recording_news(
                String::new(),
                RecordingNews::Failed("no recording runs".into()),
            ),
        }
    }

    /// Hands what changed to the recording; news when it failed meanwhile.
    fn capture(&mut self, app: &App) -> Option<Outcome> {
        let running = self.current.as_mut()?;
        running.capture(app);
        if !running.failed() {
            return None;
        }
        self.current.take().map(Self::finish)
    }

    fn stop(&mut self) {
        if let Some(running) = self.current.take() {
            let _ = Self::finish(running);
        }
    }

    fn finish(running: Recording) -> Outcome {
        let path = running.path().display().to_string();
        let news = match running.finish() {
            Ok(stats) => RecordingNews::Ended {
                scans: stats.frames,
                entries: stats.entries,
                bytes: stats.bytes(),
            },
            Err(err) => RecordingNews::Failed(err.to_string()),
        };
        recording_news(path, news)
    }
}

fn recording_news(path: String, news: RecordingNews) -> Outcome {
    Outcome::Recording { path, news }
}
