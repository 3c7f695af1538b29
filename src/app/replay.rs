//! Replaying a recording (`brood replay FILE`): the same screens, at a time cursor. The tree
//! shows the machine as recorded at the cursor, the log the entries written by then, the
//! timeline the whole recording; keys step by scan, by event or by ten seconds, jump, and play
//! at 1×, 10× or 100×. Lab keys do nothing: they act on live processes.

use super::keymap::{Action, ReplayAction};
use super::{App, Exit, Prompt, PromptKind, Severity};
use crate::history::History;
use crate::history::record::Moment;
use crate::message::{Effect, ReplayFile, ReplayNews};
use crate::proc::lifecycle::Lifecycle;

/// How far a playing cursor moves per tick of the replay source (a tenth of a second).
const TICK_NS: u64 = 100_000_000;
/// What `<` and `>` move.
const STEP_NS: u64 = 10_000_000_000;

/// A recording being replayed, and where the cursor is.
#[derive(Debug, Clone, PartialEq, Eq)]
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
                });
                self.log.until_ns = Some(cursor_ns);
                let play = self.keymap.replay.first(ReplayAction::Play);
                let mut text = format!("replaying {path}: {play} plays, , and . step by scan");
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
            self.lifecycle = Lifecycle::default();
        }
        self.scan_count += 1;
        let index = moment.snapshot.index_by_pid();
        self.lifecycle.observe(&moment.snapshot);
        self.marks = self.lifecycle.marks(&moment.snapshot, &index);
        self.pid_index = index;
        self.snapshot = moment.snapshot;
        self.system = moment.system.or(self.system);
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
            ReplayAction::Back => cursor.saturating_sub(STEP_NS),
            ReplayAction::Forward => cursor.saturating_add(STEP_NS),
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
                | Details
        );
        if refused {
            self.set_status(
                Severity::Info,
                "a recording is replayed: this key acts on live processes, and does nothing here",
            );
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
mod tests {
    use super::super::tests::{key, press, shown_log, sized_app};
    use super::*;
    use crate::history::timeline::Timeline;
    use crate::history::{Entry, Kinds, Origin};
    use crate::message::Event;
    use crate::proc::builder::SnapshotBuilder;
    use crossterm::event::KeyCode;

    const SEC: u64 = 1_000_000_000;
    const T0: u64 = 1_700_000_000 * SEC;

    fn moment(second: u64, pids: &[i32]) -> Moment {
        let mut builder = SnapshotBuilder::default().proc(1, 0, "init");
        for &pid in pids {
            builder = builder.proc(pid, 1, "worker");
        }
        Moment {
            at_ns: T0 + second * SEC,
            snapshot: builder.build(),
            system: None,
        }
    }

    /// A recording of scans at 0, 1, 2 and 3 s (process 10 from 1 s, 11 from 2 s) and entries at
    /// 1.5 and 2.5 s, opened, its first scan shown and its history read.
    fn replaying() -> App {
        let mut app = sized_app(1);
        let file = ReplayFile {
            path: "lab.brood".into(),
            host: "here".into(),
            brood_pid: 1,
            frames: (0..4).map(|s| T0 + s * SEC).collect(),
            torn: false,
        };
        app.update(Event::Replay(ReplayNews::Opened(file)));
        app.update(Event::Replay(ReplayNews::Moment(Box::new(moment(0, &[])))));
        let entry = |seq, at, text: &str| {
            let mut e = Entry::new(at, Kinds::FORK, Origin::Kernel, text);
            e.seq = seq;
            e
        };
        let entries = vec![
            entry(1, T0 + 3 * SEC / 2, "1 forked 10"),
            entry(2, T0 + 5 * SEC / 2, "1 forked 11"),
        ];
        app.update(Event::Replay(ReplayNews::Loaded {
            entries,
            timeline: Box::new(Timeline::default()),
        }));
        app
    }

    fn seeks(effects: Vec<Effect>) -> Vec<u64> {
        effects
            .into_iter()
            .filter_map(|e| match e {
                Effect::Seek(at) => Some((at - T0) / (SEC / 2)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn stepping_by_scan_and_by_event_asks_for_the_machine_then() {
        let mut app = replaying();
        assert!(
            shown_log(&app).is_empty(),
            "nothing written at the first scan"
        );
        // Half-seconds from the start: scan 1 is at 2, the first event at 3.
        assert_eq!(seeks(press(&mut app, '.')), [2]);
        assert_eq!(
            seeks(press(&mut app, '}')),
            Vec::<u64>::new(),
            "1.5 s is still scan 1's"
        );
        assert_eq!(
            shown_log(&app),
            ["1 forked 10"],
            "the log follows the cursor at once"
        );
        assert_eq!(seeks(press(&mut app, '}')), [5]);
        // From between two scans, back to the one shown (no need to read it again), then on.
        assert!(seeks(press(&mut app, ',')).is_empty());
        assert_eq!(app.replay.as_ref().unwrap().cursor_ns, T0 + 2 * SEC);
        assert_eq!(seeks(press(&mut app, ',')), [2]);
        assert!(
            seeks(press(&mut app, '}')).is_empty(),
            "1.5 s: scan 1's again"
        );
        assert_eq!(app.replay.as_ref().unwrap().cursor_ns, T0 + 3 * SEC / 2);
        assert_eq!(seeks(press(&mut app, '<')), [0], "not before the start");
        assert_eq!(seeks(press(&mut app, '>')), [6], "nor after the end");
    }

    #[test]
    fn the_machine_shown_is_the_moment_read() {
        let mut app = replaying();
        press(&mut app, '.');
        app.update(Event::Replay(ReplayNews::Moment(Box::new(moment(
            1,
            &[10],
        )))));
        assert!(app.proc_by_pid(10).is_some());
        app.update(Event::Replay(ReplayNews::Moment(Box::new(moment(
            2,
            &[10, 11],
        )))));
        assert_eq!(app.counts.total, 3);
    }

    #[test]
    fn playing_moves_the_cursor_each_tick_at_its_speed_and_stops_at_the_end() {
        let mut app = replaying();
        assert!(app.update(Event::Tick).is_empty(), "paused: nothing moves");
        press(&mut app, '2');
        let mut asked = Vec::new();
        for _ in 0..10 {
            asked.extend(seeks(app.update(Event::Tick)));
        }
        // Ten ticks of a tenth of a second at 10×: ten seconds, capped at the end (3 s).
        assert_eq!(asked, [2, 4, 6]);
        assert_eq!(
            app.replay.as_ref().unwrap().playing,
            None,
            "stopped at the end"
        );
        press(&mut app, 'p');
        assert_eq!(app.replay.as_ref().unwrap().playing, Some(10));
    }

    #[test]
    fn jump_takes_a_time_and_lab_keys_do_nothing() {
        let mut app = replaying();
        press(&mut app, 'J');
        for c in "2.5".chars() {
            press(&mut app, c);
        }
        assert_eq!(seeks(key(&mut app, KeyCode::Enter)), [5]);
        press(&mut app, 'J');
        for c in "later".chars() {
            press(&mut app, c);
        }
        key(&mut app, KeyCode::Enter);
        assert!(app.status.as_ref().unwrap().text.contains("not a time"));
        for c in ['n', 'X', 's', 'r'] {
            assert!(press(&mut app, c).is_empty(), "{c} acts on live processes");
        }
        assert!(
            app.status
                .as_ref()
                .unwrap()
                .text
                .contains("does nothing here")
        );
        press(&mut app, 'q');
        assert!(app.exit.is_some(), "q quits a replay at once");
    }

    #[test]
    fn a_moment_is_seconds_from_the_start_or_a_time_of_day() {
        let sec = 1_000_000_000u64;
        // 1 700 000 000 s is 22:13:20 UTC.
        let start = 1_700_000_000 * sec;
        assert_eq!(parse_moment("90", start, 0), Some(start + 90 * sec));
        assert_eq!(parse_moment("1.5", start, 0), Some(start + 1_500_000_000));
        assert_eq!(parse_moment("22:14:00", start, 0), Some(start + 40 * sec));
        assert_eq!(
            parse_moment("22:14:00.25", start, 0),
            Some(start + 40 * sec + 250_000_000)
        );
        // 23:14:00 at an hour east of UTC is 22:14:00 UTC.
        assert_eq!(
            parse_moment("23:14:00", start, 3_600),
            Some(start + 40 * sec)
        );
        // Past midnight: the next day.
        assert_eq!(
            parse_moment("00:00:10", start, 0),
            Some(start + (6_400 + 10) * sec)
        );
        assert_eq!(parse_moment("25:00:00", start, 0), None);
        assert_eq!(parse_moment("soon", start, 0), None);
        assert_eq!(parse_moment("-3", start, 0), None);
    }
}
