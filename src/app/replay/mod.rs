//! Replaying a recording (`brood replay FILE`): the same screens, at a time cursor. The tree
//! shows the machine as recorded at the cursor, the log the entries written by then, the
//! timeline the whole recording; keys step by scan, by event, by a second or ten, jump, and play
//! at 1×, 10× or 100×. Lab keys do nothing: they act on live processes.

use super::keymap::{Action, ReplayAction};
use super::{App, Exit, Prompt, PromptKind, Severity};
use crate::history::History;
use crate::history::record::Moment;
use crate::message::{Effect, ReplayFile, ReplayNews};
use crate::proc::Snapshot;
use crate::proc::lifecycle::Lifecycle;
use crate::proc::system::SystemStats;

/// How far a playing cursor moves per tick of the replay source (a tenth of a second).
const TICK_NS: u64 = 100_000_000;
const SECOND_NS: u64 = 1_000_000_000;

/// A recording being replayed, and where the cursor is.
#[derive(Debug)]
pub struct Replay {
    pub file: ReplayFile,
    /// The moment shown (nanoseconds since the epoch).
    pub cursor_ns: u64,
    /// Playing at this many times real speed; `None` while paused.
    pub playing: Option<u32>,
    /// The playing speed to resume at.
    pub speed: u32,
    /// The whole history has been read (until then the log and timeline are partial).
    pub loaded: bool,
    /// When the scan shown was taken.
    shown_ns: Option<u64>,
    /// What the lifecycle knows of the scans shown (how long a zombie has waited): apart from
    /// the live session's, which stepping back in time must not disturb.
    lifecycle: Lifecycle,
    /// For the session's own past: when the user stepped back (how long ago the cursor is).
    pub entered_ns: u64,
    /// For the session's own past: the live scan on screen when the user stepped back, shown
    /// again on return unless a newer one waits.
    live: Option<(Snapshot, Option<SystemStats>)>,
}

impl Replay {
    pub fn span(&self) -> (u64, u64) {
        let first = self.file.frames.first().copied().unwrap_or_default();
        (first, self.file.frames.last().copied().unwrap_or(first))
    }

    /// The scan shown at `at_ns` (the last taken then or before), as an index into the frames.
    pub fn frame_at(&self, at_ns: u64) -> usize {
        self.file
            .frames
            .partition_point(|&f| f <= at_ns)
            .saturating_sub(1)
    }
}

impl App {
    pub(super) fn on_replay(&mut self, news: ReplayNews) -> Vec<Effect> {
        match news {
            // A past asked for and given up (Esc) before it came: its source ends.
            ReplayNews::Opened(file) if file.session && self.stepping_back == 0 => {
                return vec![Effect::Travel(false)];
            }
            ReplayNews::Opened(file) if file.session => {
                // Into the session's own past: a scan back from the latest for each `b`, the
                // history the app's own.
                let steps = std::mem::take(&mut self.stepping_back);
                let Some(&latest) = file.frames.last() else {
                    return vec![Effect::Travel(false)];
                };
                let back = file.frames[file.frames.len().saturating_sub(1 + steps)];
                self.replay = Some(Replay {
                    cursor_ns: latest,
                    file,
                    playing: None,
                    speed: 1,
                    loaded: true,
                    shown_ns: None,
                    lifecycle: Lifecycle::default(),
                    entered_ns: self.now_ns(),
                    live: Some((self.snapshot.clone(), self.system)),
                });
                let esc = self.keymap.main.first(Action::Close);
                let back_key = self.keymap.main.first(Action::StepBack);
                let forward = self.keymap.replay.first(ReplayAction::NextScan);
                self.set_status(
                    Severity::Info,
                    format!("back in time: {back_key} steps further back, {forward} forward, {esc} returns to live (nothing is lost meanwhile)"),
                );
                return self.move_replay_cursor(back);
            }
            ReplayNews::Opened(file) => {
                self.self_pid = file.brood_pid;
                let torn = file.torn;
                let path = file.path.clone();
                let cursor_ns = file.frames.first().copied().unwrap_or_default();
                self.replay = Some(Replay {
                    file,
                    cursor_ns,
                    playing: None,
                    speed: 1,
                    loaded: false,
                    shown_ns: None,
                    lifecycle: Lifecycle::default(),
                    entered_ns: 0,
                    live: None,
                });
                self.log.until_ns = Some(cursor_ns);
                let keys = &self.keymap.replay;
                let (play, back, on) = (
                    keys.first(ReplayAction::Play),
                    keys.first(ReplayAction::PreviousScan),
                    keys.first(ReplayAction::NextScan),
                );
                let mut text =
                    format!("replaying {path}: {play} plays, {back} and {on} step by scan");
                if torn {
                    text.push_str("; the file ends mid-record (cut short) and is read up to its last whole record");
                }
                self.set_status(Severity::Info, text);
            }
            ReplayNews::Moment(moment) => self.show_moment(*moment),
            ReplayNews::Loaded { entries, timeline } => {
                let mut history = History::with_budgets(usize::MAX, usize::MAX);
                for entry in entries {
                    if entry.lab
                        && let Some(subject) = entry.subject
                    {
                        self.lab.add(subject);
                    }
                    history.insert_recorded(entry);
                }
                self.history = history;
                self.timeline = *timeline;
                // The timeline is the recording's: nothing live to feed it.
                self.timeline_next_seq = self.history.next_seq();
                self.timeline_amendments = self.history.amendments_end();
                if let Some(replay) = &mut self.replay {
                    replay.loaded = true;
                }
                self.rebuild_rows(None);
            }
            ReplayNews::Failed(why) if self.replay.is_none() => {
                self.exit = Some(Exit::Failed(why));
            }
            ReplayNews::Failed(why) => self.set_status(Severity::Error, why),
            // The session goes on where it is: live, or in the past already shown.
            ReplayNews::NoPast(why) => {
                self.stepping_back = 0;
                self.set_status(Severity::Info, why);
            }
        }
        Vec::new()
    }

    /// The machine as recorded at a moment: the tree, its badges and the header's figures. One
    /// scan after the other keeps what the lifecycle knows (how long a zombie has waited); a
    /// jump starts it anew.
    fn show_moment(&mut self, moment: Moment) {
        let Some(replay) = &mut self.replay else {
            return;
        };
        let next = replay.shown_ns.is_some_and(|shown| {
            let at = replay.frame_at(shown);
            replay.file.frames.get(at + 1) == Some(&moment.at_ns)
        });
        replay.shown_ns = Some(moment.at_ns);
        if !next {
            replay.lifecycle = Lifecycle::default();
        }
        let index = moment.snapshot.index_by_pid();
        replay.lifecycle.observe(&moment.snapshot);
        let marks = replay.lifecycle.marks(&moment.snapshot, &index);
        if !replay.file.session {
            // A file's scans are the only ones: they age the status line as live scans do.
            self.scan_count += 1;
        }
        self.show_snapshot(moment.snapshot, index, marks, moment.system);
    }

    /// Puts a scan on screen as it is, without taking it in (the lifecycle, the history and the
    /// timeline have seen it, or are not to).
    fn show_snapshot(
        &mut self,
        snapshot: Snapshot,
        index: crate::proc::PidIndex,
        marks: Vec<crate::proc::lifecycle::Marks>,
        system: Option<SystemStats>,
    ) {
        self.marks = marks;
        self.pid_index = index;
        self.snapshot = snapshot;
        self.system = system.or(self.system);
        self.counts = super::refresh::count_states(&self.snapshot, &self.marks, &self.lab);
        self.rebuild_rows(None);
    }

    /// A tick of the replay source: a playing cursor moves on, and the machine is read again
    /// when it reaches another scan.
    pub(super) fn on_tick(&mut self) -> Vec<Effect> {
        let Some(replay) = &self.replay else {
            return Vec::new();
        };
        let Some(speed) = replay.playing else {
            return Vec::new();
        };
        let (_, end) = replay.span();
        let at = replay.cursor_ns.saturating_add(TICK_NS * u64::from(speed));
        if at >= end
            && let Some(replay) = &mut self.replay
        {
            replay.playing = None;
        }
        self.move_replay_cursor(at.min(end))
    }

    /// Keys of the replay layer; `None` when the key is none of them.
    pub(super) fn on_replay_key(&mut self, action: ReplayAction) -> Vec<Effect> {
        let Some(replay) = &self.replay else {
            return Vec::new();
        };
        let cursor = replay.cursor_ns;
        let frames = &replay.file.frames;
        let at = replay.frame_at(cursor);
        let to = match action {
            ReplayAction::PreviousScan => {
                // From between two scans, the one shown is the one before.
                let back = if frames.get(at) == Some(&cursor) {
                    at.saturating_sub(1)
                } else {
                    at
                };
                frames[back]
            }
            ReplayAction::NextScan => frames.get(at + 1).copied().unwrap_or(cursor),
            ReplayAction::PreviousEvent => {
                self.event_near(cursor, false).unwrap_or(replay.span().0)
            }
            ReplayAction::NextEvent => self.event_near(cursor, true).unwrap_or(cursor),
            ReplayAction::SecondBack => cursor.saturating_sub(SECOND_NS),
            ReplayAction::SecondOn => cursor.saturating_add(SECOND_NS),
            ReplayAction::TenBack => cursor.saturating_sub(10 * SECOND_NS),
            ReplayAction::TenOn => cursor.saturating_add(10 * SECOND_NS),
            ReplayAction::Play => {
                let replay = self.replay.as_mut().expect("replaying");
                replay.playing = match replay.playing {
                    Some(_) => None,
                    None => Some(replay.speed),
                };
                return Vec::new();
            }
            ReplayAction::Speed1 | ReplayAction::Speed10 | ReplayAction::Speed100 => {
                let speed = match action {
                    ReplayAction::Speed1 => 1,
                    ReplayAction::Speed10 => 10,
                    _ => 100,
                };
                let replay = self.replay.as_mut().expect("replaying");
                replay.speed = speed;
                replay.playing = Some(speed);
                return Vec::new();
            }
            ReplayAction::Jump => {
                self.prompt = Some(Prompt::new(PromptKind::Jump, String::new()));
                return Vec::new();
            }
        };
        self.move_replay_cursor(to)
    }

    /// The time of the nearest entry after (`later`) or before `cursor`, as far as read.
    fn event_near(&self, cursor: u64, later: bool) -> Option<u64> {
        let times = self.history.entries(self.lab_view).map(|e| e.at_ns);
        if later {
            times.filter(|&t| t > cursor).min()
        } else {
            times.filter(|&t| t < cursor).max()
        }
    }

    /// Puts the replay cursor at `at_ns` (within the recording); the log follows it at once,
    /// the tree when its scan has been read.
    pub(super) fn move_replay_cursor(&mut self, at_ns: u64) -> Vec<Effect> {
        let columns = super::layout::timeline_page(self.screen_rect()).axis_columns();
        let Some(replay) = &mut self.replay else {
            return Vec::new();
        };
        let (start, end) = replay.span();
        let at_ns = at_ns.clamp(start, end);
        let frame_before = replay.frame_at(replay.cursor_ns);
        replay.cursor_ns = at_ns;
        let frame_now = replay.frame_at(at_ns);
        let shown = replay.shown_ns.is_some();
        self.log.until_ns = Some(at_ns);
        self.timeline_view
            .put_cursor(&self.timeline, at_ns, columns);
        if frame_now == frame_before && shown {
            return Vec::new();
        }
        vec![Effect::Seek(at_ns)]
    }

    /// `J`: a time of day `HH:MM:SS[.mmm]` on the recording's first day, or seconds from its
    /// start.
    pub(super) fn jump_to(&mut self, typed: &str) -> Vec<Effect> {
        let Some(replay) = &self.replay else {
            return Vec::new();
        };
        let (start, _) = replay.span();
        match parse_moment(typed.trim(), start, self.utc_offset_secs) {
            Some(at) => self.move_replay_cursor(at),
            None => {
                self.set_status(
                    Severity::Error,
                    format!("not a time: {typed:?} (HH:MM:SS, or seconds from the start)"),
                );
                Vec::new()
            }
        }
    }

    /// Whether scans that come are held back rather than shown: while paused, and while the
    /// screen shows the session's past (what happens meanwhile still reaches the history).
    pub(super) fn holds_scans(&self) -> bool {
        self.paused || self.in_the_past()
    }

    /// Whether the screen shows the live session's own past (stepped back into with `b`).
    pub fn in_the_past(&self) -> bool {
        self.replay.as_ref().is_some_and(|r| r.file.session)
    }

    /// `b`: into the session's past (a scan back), or a scan further back when there already.
    /// The past is asked for once; each `b` before it comes is a scan further back.
    pub(super) fn step_back(&mut self) -> Vec<Effect> {
        if self.replay.is_some() {
            return self.on_replay_key(ReplayAction::PreviousScan);
        }
        self.stepping_back += 1;
        if self.stepping_back > 1 {
            return Vec::new();
        }
        vec![Effect::Travel(true)]
    }

    /// Out of the session's past (or out of asking for it): the screen is live again, with
    /// what came meanwhile.
    pub(super) fn back_to_live(&mut self) -> Vec<Effect> {
        self.stepping_back = 0;
        let live = match self.replay.take() {
            Some(replay) => replay.live,
            None => return vec![Effect::Travel(false)],
        };
        self.log.until_ns = None;
        self.timeline_view.follow();
        self.set_status(Severity::Info, "live again");
        let mut effects = vec![Effect::Travel(false)];
        match (self.pending.take(), live) {
            (Some((snapshot, system)), _) if !self.paused => {
                self.take_system(system);
                effects.extend(self.take_snapshot(*snapshot));
            }
            // Paused, or nothing newer: the live screen as it was left.
            (held, Some((snapshot, system))) => {
                self.pending = held;
                let index = snapshot.index_by_pid();
                let marks = self.lifecycle.marks(&snapshot, &index);
                self.show_snapshot(snapshot, index, marks, system);
            }
            (held, None) => self.pending = held,
        }
        effects
    }

    /// The newest live scan brood has, shown or held back (while paused, or while the screen
    /// shows the past): what a recording takes, and what a held scan is compared with.
    pub fn latest_scan(&self) -> (&Snapshot, Option<SystemStats>) {
        if let Some((snapshot, system)) = &self.pending {
            return (snapshot, Some(*system));
        }
        match self.replay.as_ref().and_then(|r| r.live.as_ref()) {
            Some((snapshot, system)) => (snapshot, *system),
            None => (&self.snapshot, self.system),
        }
    }

    /// What a key does while replaying, where the live session would act on processes.
    pub(super) fn refused_in_replay(&mut self, action: Action) -> bool {
        use Action::*;
        if self.replay.is_none() {
            return false;
        }
        let refused = matches!(
            action,
            Spawn
                | Fork
                | Exit
                | Wait
                | SignalMenu
                | Stop
                | Continue
                | Kill
                | AutoReap
                | Subreaper
                | Scenarios
                | Record
                | Pause
                | Threads
        );
        if refused {
            let text = if self.in_the_past() {
                let esc = self.keymap.main.first(Action::Close);
                format!(
                    "the screen shows the past: this key acts on live processes; {esc} returns to live first"
                )
            } else {
                "a recording is replayed: this key acts on live processes, and does nothing here"
                    .to_string()
            };
            self.set_status(Severity::Info, text);
        }
        refused
    }
}

/// Nanoseconds since the epoch for `typed`: seconds from `start`, or a local time of day on
/// `start`'s day (or the next, for a recording that runs past midnight).
fn parse_moment(typed: &str, start: u64, utc_offset_secs: i32) -> Option<u64> {
    const SEC: u64 = 1_000_000_000;
    if let Ok(seconds) = typed.parse::<f64>() {
        return (seconds >= 0.0).then(|| start + (seconds * SEC as f64) as u64);
    }
    let (hms, millis) = typed.split_once('.').unwrap_or((typed, "0"));
    let parts: Vec<u64> = hms
        .split(':')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [h, m, s] = parts[..] else {
        return None;
    };
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let millis: u64 = format!("{millis:0<3}").get(..3)?.parse().ok()?;
    let offset = i64::from(utc_offset_secs) * SEC as i64;
    let local_start = (start as i64 + offset) as u64;
    let day = local_start - local_start % (86_400 * SEC);
    let at_local = day + (h * 3_600 + m * 60 + s) * SEC + millis * 1_000_000;
    let at_local = if at_local < local_start.saturating_sub(60 * SEC) {
        at_local + 86_400 * SEC
    } else {
        at_local
    };
    Some((at_local as i64 - offset) as u64)
}

#[cfg(test)]
mod tests;
