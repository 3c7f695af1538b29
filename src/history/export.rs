//! A recording's history for other tools: the timeline as a trace in the Trace Event Format
//! (the JSON that Perfetto's UI and chrome://tracing open) and the entries as JSON lines.
//! Pure: data in, JSON out.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Value, json};

use super::record::Header;
use super::timeline::{Edge, Mark, MarkKind, Row, Timeline, Which};
use super::{Entry, Fact, Kinds, Origin};
use crate::proc::events::{ExitStatus, signal_name};
use crate::proc::{Identity, Pid, State};

/// Trace process numbers for a PID the recording saw used again: its later processes are moved
/// past every real PID (Linux's largest is 2^22), each by one more such step.
const PID_SPACE: i64 = 1 << 22;

/// The trace of `timeline` from the recording's start to `end_ns`: one track per process,
/// named `PID name`, ordered as the tree (each after its parent, siblings by birth) and
/// labelled with its parent; its states as slices, named by letter and word; fork, exec,
/// signal, exit and reap as instants, with the history's line (from `entries`, by number);
/// and an arrow from each fork to the child's track.
pub fn chrome_trace(
    timeline: &Timeline,
    entries: &BTreeMap<u64, Entry>,
    header: &Header,
    end_ns: u64,
) -> Value {
    let start = header.start_ns;
    let end = end_ns.max(start);
    let lines = timeline.rows(Which::All, start..end.saturating_add(1));
    let mut used: HashMap<Pid, i64> = HashMap::new();
    let track: HashMap<Identity, i64> = lines
        .iter()
        .map(|line| {
            let again = used.entry(line.row.id.pid).or_default();
            let number = i64::from(line.row.id.pid) + *again * PID_SPACE;
            *again += 1;
            (line.row.id, number)
        })
        .collect();
    let ts = |at_ns: u64| at_ns.saturating_sub(start) as f64 / 1_000.0;
    let mut events = Vec::new();
    let mut flows = 0u64;
    for (order, line) in lines.iter().enumerate() {
        let row = line.row;
        let pid = track[&row.id];
        let name = format!("{} {}", row.id.pid, row.name);
        let parent = row.parent.and_then(|p| timeline.row(p));
        let label = match parent {
            Some(parent) => format!("child of {} {}", parent.id.pid, parent.name),
            None => "no parent recorded".into(),
        };
        events.extend([
            json!({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": name}}),
            json!({"ph": "M", "pid": pid, "name": "process_sort_index", "args": {"sort_index": order}}),
            json!({"ph": "M", "pid": pid, "name": "process_labels", "args": {"labels": label}}),
            json!({"ph": "M", "pid": pid, "tid": pid, "name": "thread_name", "args": {"name": name}}),
        ]);
        for segment in row.segments_in(start..end) {
            let from = segment.from_ns.max(start);
            let to = segment.to_ns.unwrap_or(end).clamp(from, end);
            let ends = match segment.to_ns {
                None => "still so when the recording ended",
                Some(to) if ended_exactly(row, to) => "exact",
                Some(_) => "sampled",
            };
            events.push(json!({
                "ph": "X", "cat": "state", "pid": pid, "tid": pid,
                "ts": ts(from), "dur": ts(to) - ts(from),
                "name": format!("{} {}", segment.state.letter(), word(segment.state)),
                "args": {
                    "state": segment.state.letter().to_string(),
                    "meaning": segment.state.meaning(),
                    "start": if segment.exact { "exact" } else { "sampled" },
                    "end": ends,
                },
            }));
        }
        for mark in row.marks().filter(|m| (start..=end).contains(&m.at_ns)) {
            let line = entries.get(&mark.seq).map(Entry::line);
            events.push(json!({
                "ph": "i", "s": "t", "cat": category(mark), "pid": pid, "tid": pid,
                "ts": ts(mark.at_ns), "name": mark_name(mark),
                "args": {"exact": mark.exact, "entry": line},
            }));
            if let MarkKind::Fork { child } = mark.kind
                && let Some(&to) = track.get(&child)
            {
                flows += 1;
                let at = ts(mark.at_ns);
                events.extend([
                    json!({"ph": "s", "cat": "fork", "name": "fork", "id": flows, "pid": pid, "tid": pid, "ts": at}),
                    json!({"ph": "f", "bp": "e", "cat": "fork", "name": "fork", "id": flows, "pid": to, "tid": to, "ts": at}),
                ]);
            }
        }
    }
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "host": header.host,
            "recorded_by": format!("brood {}", header.brood_version),
            "start_unix_ns": header.start_ns,
        },
    })
}

/// Whether the segment ending at `to_ns` ended at a moment known exactly: the next change, or
/// the row's end.
fn ended_exactly(row: &Row, to_ns: u64) -> bool {
    let next = row.segments().find(|s| s.from_ns == to_ns);
    next.map(|s| s.exact)
        .or(row.end.filter(|e| e.at_ns == to_ns).map(|e: Edge| e.exact))
        .unwrap_or(false)
}

/// A state in a word, for slice names (the letter leads them).
fn word(state: State) -> &'static str {
    match state {
        State::Running => "running",
        State::Sleeping => "sleeping",
        State::DiskSleep => "disk sleep",
        State::Stopped => "stopped",
        State::Traced => "traced",
        State::Zombie => "zombie",
        State::Dead => "dead",
        State::Idle => "idle",
        State::Other(_) => "unknown",
    }
}

fn category(mark: &Mark) -> &'static str {
    match mark.kind {
        MarkKind::Fork { .. } => "fork",
        MarkKind::Exec { .. } => "exec",
        MarkKind::Signal { .. } => "signal",
        MarkKind::Exit { .. } => "exit",
        MarkKind::Reap { .. } => "reap",
    }
}

fn mark_name(mark: &Mark) -> String {
    match &mark.kind {
        MarkKind::Fork { child } => format!("fork {}", child.pid),
        MarkKind::Exec { name: Some(name) } => format!("exec {name}"),
        MarkKind::Exec { name: None } => "exec".into(),
        MarkKind::Signal {
            number: Some(number),
        } => signal_name(*number).into_owned(),
        MarkKind::Signal { number: None } => "signal".into(),
        MarkKind::Exit { status } => match status {
            Some(status) => ended(*status),
            None => "exit".into(),
        },
        MarkKind::Reap { by, .. } => match by {
            Some(by) => format!("reaped by {}", by.pid),
            None => "reaped".into(),
        },
    }
}

fn ended(status: ExitStatus) -> String {
    match status {
        ExitStatus::Code(code) => format!("exit {code}"),
        ExitStatus::Signal { number, .. } => format!("killed by {}", signal_name(number)),
    }
}

/// One entry as a JSON line, with the field names of `brood events --format json` where they
/// mean the same: `unix_ns`, `task` and `parent` (`pid`, `start_ticks`), `status`.
#[derive(Debug, Serialize)]
pub struct EntryJson<'a> {
    seq: u64,
    unix_ns: u64,
    /// Any of fork, exec, exit, signal, state_change, reparent, deadlock, brood.
    kinds: Vec<String>,
    /// asked, scan, kernel or brood.
    origin: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    task: Option<Identity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<Identity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    lab: bool,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    asked: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    then: Option<&'a str>,
    /// The line the log shows: text, who asked, what follows.
    line: String,
    /// The program an exec started.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<ExitStatus>,
    /// The signal brood sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal_name: Option<Cow<'static, str>>,
}

impl<'a> EntryJson<'a> {
    pub fn of(entry: &'a Entry) -> EntryJson<'a> {
        let kinds = Kinds::NAMED
            .iter()
            .filter(|(kind, _)| entry.kinds.contains(*kind))
            .map(|(_, name)| name.replace(' ', "_"))
            .collect();
        let signal = match entry.fact {
            Some(Fact::Signal(number)) => Some(number),
            _ => None,
        };
        EntryJson {
            seq: entry.seq,
            unix_ns: entry.at_ns,
            kinds,
            origin: match entry.origin {
                Origin::Asked => "asked",
                Origin::Scan => "scan",
                Origin::Kernel => "kernel",
                Origin::Brood => "brood",
            },
            task: entry.subject,
            parent: entry.parent,
            uid: entry.uid,
            lab: entry.lab,
            text: &entry.text,
            asked: entry.asked.as_deref(),
            then: entry.then.as_deref(),
            line: entry.line(),
            name: match &entry.fact {
                Some(Fact::Exec(name)) => Some(name),
                _ => None,
            },
            status: match entry.fact {
                Some(Fact::Ended(status)) => Some(status),
                _ => None,
            },
            signal,
            signal_name: signal.map(signal_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Pair;
    use crate::proc::builder::{SnapshotBuilder, id};

    const SEC: u64 = 1_000_000_000;

    fn header() -> Header {
        Header {
            host: "h".into(),
            ticks_per_sec: 100,
            start_ns: 10 * SEC,
            brood_pid: 1,
            brood_version: "0".into(),
            root: None,
            subtree: false,
        }
    }

    fn told(seq: u64, at: u64, kinds: Kinds, pid: i32, pair: Pair) -> Entry {
        let entry = Entry::new(at, kinds, Origin::Kernel, format!("entry {seq}"));
        Entry {
            seq,
            ..entry.about(id(pid), Some(pair))
        }
    }

    /// A shell (7) forks 8 at 11 s, which exits with code 3 at 12 s, a zombie until the shell's
    /// wait at 13 s; the recording ends at 14 s.
    fn a_short_life() -> (Timeline, BTreeMap<u64, Entry>) {
        let mut timeline = Timeline::default();
        let scan = |timeline: &mut Timeline, at: u64, child: Option<State>| {
            let mut builder = SnapshotBuilder::default().uptime(at as f64 / SEC as f64);
            builder = builder.proc(7, 1, "sh");
            if let Some(state) = child {
                builder = builder.with(8, 7, "sleep", |p| p.state = state);
            }
            timeline.observe_snapshot(at, &builder.build());
        };
        scan(&mut timeline, 10 * SEC, None);
        let entries = [
            told(1, 11 * SEC, Kinds::FORK, 8, Pair::Fork).parent(Some(id(7))),
            told(2, 12 * SEC, Kinds::EXIT, 8, Pair::Exit).fact(Fact::Ended(ExitStatus::Code(3))),
            Entry {
                origin: Origin::Brood,
                ..told(3, 13 * SEC, Kinds::EXIT, 8, Pair::Reap).parent(Some(id(7)))
            },
        ];
        timeline.observe_entry(&entries[0]);
        scan(&mut timeline, 11 * SEC + SEC / 2, Some(State::Sleeping));
        for entry in &entries[1..] {
            timeline.observe_entry(entry);
        }
        scan(&mut timeline, 14 * SEC, None);
        let entries = entries.into_iter().map(|e| (e.seq, e)).collect();
        (timeline, entries)
    }

    #[test]
    fn a_short_life_is_a_track_of_slices_with_its_fork_exit_and_reap_marked() {
        let (timeline, entries) = a_short_life();
        let trace = chrome_trace(&timeline, &entries, &header(), 14 * SEC);
        let events = trace["traceEvents"].as_array().unwrap();
        let of = |ph: &str, pid: i64| -> Vec<&Value> {
            events
                .iter()
                .filter(|e| e["ph"] == ph && e["pid"] == pid)
                .collect()
        };
        let names: Vec<&Value> = events
            .iter()
            .filter(|e| e["name"] == "process_name")
            .map(|e| &e["args"]["name"])
            .collect();
        assert_eq!(names, ["7 sh", "8 sleep"], "tracks in tree order");
        let slices: Vec<(String, f64, f64)> = of("X", 8)
            .iter()
            .map(|e| {
                let name = e["name"].as_str().unwrap().to_string();
                (name, e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap())
            })
            .collect();
        assert_eq!(
            slices,
            [
                ("R running".into(), 1e6, 0.5e6),
                ("S sleeping".into(), 1.5e6, 0.5e6),
                ("Z zombie".into(), 2e6, 1e6)
            ]
        );
        let instants = |pid| -> Vec<&str> {
            of("i", pid)
                .iter()
                .map(|e| e["name"].as_str().unwrap())
                .collect()
        };
        assert_eq!(instants(7), ["fork 8"]);
        assert_eq!(instants(8), ["exit 3", "reaped by 7"]);
        assert_eq!(of("i", 8)[0]["args"]["entry"], "entry 2");
        assert_eq!(of("s", 7).len(), 1, "an arrow from the fork");
        assert_eq!(of("f", 8)[0]["id"], of("s", 7)[0]["id"]);
        assert_eq!(of("M", 8).len(), 4);
        let label = of("M", 8)
            .into_iter()
            .find(|e| e["name"] == "process_labels");
        assert_eq!(label.unwrap()["args"]["labels"], "child of 7 sh");
    }

    #[test]
    fn a_pid_used_again_gets_a_track_of_its_own() {
        let mut timeline = Timeline::default();
        let first = SnapshotBuilder::default().proc(5, 1, "a").build();
        let mut again = SnapshotBuilder::default().proc(5, 1, "b").build();
        std::sync::Arc::make_mut(&mut again.procs)[0].id.start_ticks = 99;
        timeline.observe_snapshot(10 * SEC, &first);
        timeline.observe_snapshot(11 * SEC, &again);
        let trace = chrome_trace(&timeline, &BTreeMap::new(), &header(), 12 * SEC);
        let mut pids: Vec<i64> = trace["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == "process_name")
            .map(|e| e["pid"].as_i64().unwrap())
            .collect();
        pids.sort();
        assert_eq!(pids, [5, 5 + PID_SPACE]);
    }

    #[test]
    fn an_entry_is_one_json_object_with_the_events_field_names() {
        let entry = told(2, 12 * SEC, Kinds::EXIT | Kinds::SIGNAL, 8, Pair::Exit)
            .parent(Some(id(7)))
            .then("a zombie until 7 waits")
            .fact(Fact::Ended(ExitStatus::Signal {
                number: 9,
                core_dumped: false,
            }));
        let line = serde_json::to_string(&EntryJson::of(&entry)).unwrap();
        let json: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["seq"], 2);
        assert_eq!(json["unix_ns"], 12 * SEC);
        assert_eq!(json["kinds"], json!(["exit", "signal"]));
        assert_eq!(json["origin"], "kernel");
        assert_eq!(json["task"], json!({"pid": 8, "start_ticks": 8}));
        assert_eq!(json["parent"]["pid"], 7);
        assert_eq!(json["status"]["signal_name"], "SIGKILL");
        assert_eq!(json["line"], "entry 2; a zombie until 7 waits");
        assert!(json.get("asked").is_none() && json.get("signal").is_none());
    }
}
