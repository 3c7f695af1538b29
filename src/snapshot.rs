//! `brood snapshot`: one scan printed as an indented tree or as JSON, for scripts and pipes.
//! Pure: a [`Snapshot`] (and the deadlocks found in it) in, a `String` out. Scanning and writing
//! to stdout belong to `main`; the tree is the TUI's own ([`build_rows`]) and so are the badges
//! ([`crate::proc::badges`]), so both show the same parents, order and words.

use std::collections::HashSet;
use std::fmt::Write;

use serde::Serialize;

use crate::proc::badges::{Badge, Known};
use crate::proc::ipc::Deadlock;
use crate::proc::lifecycle::{Lifecycle, Marks};
use crate::proc::tree::{Row, TreeOptions, build_rows, by_pid};
use crate::proc::{Identity, Pid, PidIndex, Snapshot, State, TaskKind};

/// What to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Print only this process and its descendants.
    pub root: Option<Pid>,
    /// Include kernel threads; hidden by default, as `pstree` does. Always on when `root` is one.
    pub kernel_threads: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("no process with PID {0}")]
    NoSuchPid(Pid),
    /// Skipping the record would print invalid or incomplete JSON: nothing is printed instead.
    #[error("cannot write process {pid} as JSON: {reason}")]
    Json { pid: Pid, reason: String },
}

/// The fields of every [`Record`], in the order they are written.
pub const JSON_FIELDS: [&str; 13] = [
    "pid",
    "ppid",
    "name",
    "cmdline",
    "state",
    "user",
    "uid",
    "start_time",
    "rss_bytes",
    "cpu_time_secs",
    "threads",
    "badges",
    "children",
];

/// One process in `--format json`. These names are brood's interface to scripts: add fields,
/// never rename or remove one.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub pid: Pid,
    pub ppid: Pid,
    /// `comm`, escaped like everything brood prints (`\n`, `\x1b`, `\u{202e}`).
    pub name: &'a str,
    /// Arguments joined by spaces, escaped; empty for kernel threads and zombies.
    pub cmdline: &'a str,
    /// The kernel's state letter: R S D T t Z X I.
    pub state: char,
    pub user: &'a str,
    /// Effective UID; `null` when it could not be read.
    pub uid: Option<u32>,
    /// Seconds after boot the process started.
    pub start_time: f64,
    pub rss_bytes: u64,
    /// User plus system CPU time so far.
    pub cpu_time_secs: f64,
    pub threads: i64,
    /// Any of `zombie`, `stopped`, `traced`, `orphan?`, `deadlock` (the words of the text
    /// output's badges).
    pub badges: Vec<&'static str>,
    /// PIDs of the children printed with it.
    pub children: Vec<Pid>,
}

/// The indented tree, one process a line, no colour: `PID STATE  guides name [badges] arguments`,
/// as the TUI's rows read.
pub fn text(
    snapshot: &Snapshot,
    deadlocks: &[Deadlock],
    options: &Options,
) -> Result<String, SnapshotError> {
    let rows = selected_rows(snapshot, options)?;
    let seen = Seen::new(snapshot, deadlocks);
    let mut out = String::with_capacity(rows.len() * 64);
    // For each level above the current row: does that ancestor have siblings still to come?
    let mut open: Vec<bool> = Vec::new();
    for row in &rows {
        let proc = &snapshot.procs[row.proc_index];
        let _ = write!(out, "{:>7} {}  ", proc.pid(), proc.state.letter());
        let depth = row.depth as usize;
        if depth > 0 {
            open.truncate(depth - 1);
            for &more in &open {
                out.push_str(if more { "│  " } else { "   " });
            }
            out.push_str(if row.is_last { "└─ " } else { "├─ " });
            open.push(!row.is_last);
        }
        if proc.kind == TaskKind::KernelThread {
            let _ = write!(out, "[{}]", proc.name);
        } else {
            out.push_str(&proc.name);
        }
        for badge in seen.badges(snapshot, row.proc_index) {
            let _ = write!(out, " {}", badge.text);
        }
        if proc.state == State::Zombie {
            out.push_str(" <defunct>");
        } else if let Some(args) = proc.arguments() {
            let _ = write!(out, " {args}");
        }
        out.push('\n');
    }
    Ok(out)
}

/// A JSON array of [`Record`]s in tree order, one object a line; a record that cannot be
/// written fails it all, never leaving a gap ([`SnapshotError::Json`]).
pub fn json(
    snapshot: &Snapshot,
    deadlocks: &[Deadlock],
    options: &Options,
) -> Result<String, SnapshotError> {
    let rows = selected_rows(snapshot, options)?;
    let seen = Seen::new(snapshot, deadlocks);
    let mut children: Vec<Vec<Pid>> = vec![Vec::new(); rows.len()];
    for row in &rows {
        if let Some(parent) = row.parent_row {
            children[parent].push(snapshot.procs[row.proc_index].pid());
        }
    }
    let ticks = snapshot.ticks_per_sec.max(1) as f64;
    let records = rows.iter().zip(children).map(|(row, children)| {
        let proc = &snapshot.procs[row.proc_index];
        let record = Record {
            pid: proc.pid(),
            ppid: proc.ppid,
            name: &proc.name,
            cmdline: &proc.cmdline,
            state: proc.state.letter(),
            user: &proc.user,
            uid: proc.uid,
            start_time: proc.id.start_ticks as f64 / ticks,
            rss_bytes: proc.rss_bytes,
            cpu_time_secs: proc.cpu_ticks as f64 / ticks,
            threads: proc.threads,
            badges: seen
                .badges(snapshot, row.proc_index)
                .iter()
                .map(|b| b.kind.key())
                .collect(),
            children,
        };
        (record.pid, record)
    });
    json_array(records)
}

/// Each record as one line of a JSON array; the first that fails to serialise fails the whole.
fn json_array<R: Serialize>(
    records: impl ExactSizeIterator<Item = (Pid, R)>,
) -> Result<String, SnapshotError> {
    let empty = records.len() == 0;
    let mut out = String::with_capacity(records.len() * 256 + 4);
    out.push('[');
    for (i, (pid, record)) in records.enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let line = serde_json::to_string(&record).map_err(|err| SnapshotError::Json {
            pid,
            reason: err.to_string(),
        })?;
        out.push_str(&line);
    }
    out.push_str(if empty { "]\n" } else { "\n]\n" });
    Ok(out)
}

/// What one scan tells beyond each process's own row. A single scan cannot have seen a
/// reparenting or a death: an orphan is always the labelled guess, and a zombie's age unknown.
struct Seen {
    marks: Vec<Marks>,
    by_pid: PidIndex,
    deadlocked: HashSet<Identity>,
}

impl Seen {
    fn new(snapshot: &Snapshot, deadlocks: &[Deadlock]) -> Seen {
        let by_pid = snapshot.index_by_pid();
        let mut lifecycle = Lifecycle::default();
        lifecycle.observe(snapshot);
        Seen {
            marks: lifecycle.marks(snapshot, &by_pid),
            by_pid,
            deadlocked: deadlocks.iter().flat_map(Deadlock::members).collect(),
        }
    }

    /// The badges of the process at `index` in `snapshot`, worded as on the screen.
    fn badges(&self, snapshot: &Snapshot, index: usize) -> Vec<Badge> {
        let proc = &snapshot.procs[index];
        let known = Known {
            marks: self.marks.get(index).copied().unwrap_or_default(),
            tracer_name: proc
                .tracer
                .and_then(|t| self.by_pid.get(t))
                .map(|i| &*snapshot.procs[i].name),
            in_deadlock: self.deadlocked.contains(&proc.id),
            ..Known::default()
        };
        crate::proc::badges::badges(proc, &known)
    }
}

/// The rows to print: the whole forest, or the subtree under `options.root` with depths and
/// parent rows renumbered from it.
fn selected_rows(snapshot: &Snapshot, options: &Options) -> Result<Vec<Row>, SnapshotError> {
    let root = match options.root {
        Some(pid) => Some(
            snapshot
                .procs
                .iter()
                .position(|p| p.pid() == pid && p.kind != TaskKind::Thread)
                .ok_or(SnapshotError::NoSuchPid(pid))?,
        ),
        None => None,
    };
    let root_is_kernel = root.is_some_and(|i| snapshot.procs[i].kind == TaskKind::KernelThread);
    let collapsed = HashSet::new();
    let tree = TreeOptions {
        show_kernel_threads: options.kernel_threads || root_is_kernel,
        ..TreeOptions::new(&collapsed)
    };
    let rows = build_rows(snapshot, &tree, by_pid);
    let Some(root) = root else {
        return Ok(rows);
    };
    let start = rows
        .iter()
        .position(|r| r.proc_index == root)
        .ok_or(SnapshotError::NoSuchPid(snapshot.procs[root].pid()))?;
    // Rows are in pre-order, so a subtree is the run of deeper rows after its root.
    let base = rows[start].depth;
    let end = rows[start + 1..]
        .iter()
        .position(|r| r.depth <= base)
        .map_or(rows.len(), |n| start + 1 + n);
    Ok(rows[start..end]
        .iter()
        .map(|r| Row {
            depth: r.depth - base,
            is_last: r.is_last || r.depth == base,
            parent_row: r.parent_row.filter(|&p| p >= start).map(|p| p - start),
            ..*r
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::proc::{Identity, ProcInfo};

    fn task(pid: Pid, ppid: Pid, state: char, cmdline: &str) -> ProcInfo {
        let name = cmdline.split(' ').next().unwrap_or_default();
        ProcInfo {
            id: Identity {
                pid,
                start_ticks: 1000 + pid as u64,
            },
            ppid,
            pgrp: pid,
            session: 1,
            kind: TaskKind::Process,
            state: State::from_letter(state as u8),
            name: Arc::from(name),
            cmdline: Arc::from(cmdline),
            uid: Some(1000),
            user: Arc::from("ann"),
            cpu_ticks: 250,
            cpu_percent: 0.0,
            rss_bytes: 4096,
            vsize_bytes: 8192,
            nice: 0,
            threads: 1,
            tracer: None,
            ran: true,
        }
    }

    fn kernel(pid: Pid, ppid: Pid, name: &str) -> ProcInfo {
        ProcInfo {
            kind: TaskKind::KernelThread,
            session: 0,
            cmdline: Arc::from(""),
            ..task(pid, ppid, 'I', name)
        }
    }

    /// init ─┬─ shell ─┬─ zombie, stopped, python (traced by the shell while it sleeps);
    /// init ─ daemon (another session, not a leader: orphan?)
    fn sample() -> Snapshot {
        let mut daemon = task(40, 1, 'S', "daemon --fork");
        daemon.session = 30;
        let mut python = task(13, 10, 'S', "/usr/bin/python3 -u app.py");
        python.name = Arc::from("python3");
        python.tracer = Some(10);
        Snapshot {
            procs: std::sync::Arc::new(vec![
                task(1, 0, 'S', "init"),
                kernel(2, 0, "kthreadd"),
                kernel(3, 2, "kworker/0:1"),
                task(10, 1, 'S', "sh -l"),
                ProcInfo {
                    cmdline: Arc::from(""),
                    ..task(11, 10, 'Z', "true")
                },
                task(12, 10, 'T', "sleep 60"),
                python,
                daemon,
            ]),
            uptime_secs: 5000.0,
            ticks_per_sec: 100,
            descriptors_short: false,
        }
    }

    /// The stopped sleep and the daemon, each waiting for the other's pipe.
    fn deadlock() -> Deadlock {
        use crate::proc::ipc::WaitReason;
        let (sleep, daemon) = (sample().procs[5].id, sample().procs[7].id);
        Deadlock {
            cycle: vec![
                (sleep, WaitReason::PipeRead(1), daemon),
                (daemon, WaitReason::PipeRead(2), sleep),
            ],
        }
    }

    #[test]
    fn text_shows_names_states_and_the_screens_badges() {
        let out = text(&sample(), &[deadlock()], &Options::default()).unwrap();
        assert_eq!(
            out,
            "      1 S  init\n\
             \x20    10 S  ├─ sh -l\n\
             \x20    11 Z  │  ├─ true [zombie, parent 10] <defunct>\n\
             \x20    12 T  │  ├─ sleep [stopped] [deadlock] 60\n\
             \x20    13 S  │  └─ python3 [traced by 10 sh] -u app.py\n\
             \x20    40 S  └─ daemon [orphan?] [deadlock] --fork\n"
        );
    }

    #[test]
    fn kernel_threads_are_hidden_unless_asked_for_or_chosen_as_root() {
        let shown = Options {
            kernel_threads: true,
            ..Options::default()
        };
        let out = text(&sample(), &[], &shown).unwrap();
        assert!(out.contains("      2 I  [kthreadd]\n"), "{out}");
        assert!(out.contains("└─ [kworker/0:1]"), "{out}");

        let rooted = Options {
            root: Some(2),
            ..Options::default()
        };
        assert_eq!(
            text(&sample(), &[], &rooted).unwrap(),
            "      2 I  [kthreadd]\n      3 I  └─ [kworker/0:1]\n"
        );
    }

    #[test]
    fn a_root_pid_prints_its_subtree_from_depth_zero() {
        let rooted = Options {
            root: Some(10),
            ..Options::default()
        };
        assert_eq!(
            text(&sample(), &[], &rooted).unwrap(),
            "     10 S  sh -l\n     11 Z  ├─ true [zombie, parent 10] <defunct>\n     12 T  ├─ sleep [stopped] 60\n     13 S  └─ python3 [traced by 10 sh] -u app.py\n"
        );
        let missing = Options {
            root: Some(999),
            ..Options::default()
        };
        assert_eq!(
            text(&sample(), &[], &missing),
            Err(SnapshotError::NoSuchPid(999))
        );
    }

    #[test]
    fn json_has_one_documented_object_per_process_with_its_children() {
        let rooted = Options {
            root: Some(10),
            ..Options::default()
        };
        let out = json(&sample(), &[deadlock()], &rooted).unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let procs = value.as_array().unwrap();
        assert_eq!(procs.len(), 4);
        let shell = &procs[0];
        // Each line is written in declaration order; a parsed object may sort its keys.
        let first_line = out.lines().nth(1).unwrap();
        let positions: Vec<usize> = JSON_FIELDS
            .iter()
            .map(|f| first_line.find(&format!("\"{f}\":")).unwrap())
            .collect();
        assert!(positions.is_sorted(), "fields out of order: {first_line}");
        assert_eq!(shell.as_object().unwrap().len(), JSON_FIELDS.len());
        assert_eq!(shell["pid"], 10);
        assert_eq!(shell["children"], serde_json::json!([11, 12, 13]));
        assert_eq!(shell["start_time"], 10.1);
        assert_eq!(shell["cpu_time_secs"], 2.5);
        assert_eq!(procs[1]["state"], "Z");
        assert_eq!(procs[1]["badges"], serde_json::json!(["zombie"]));
        assert_eq!(procs[2]["state"], "T");
        assert_eq!(procs[2]["cmdline"], "sleep 60");
        assert_eq!(
            procs[2]["badges"],
            serde_json::json!(["stopped", "deadlock"])
        );
        assert_eq!(procs[3]["name"], "python3");
        assert_eq!(procs[3]["badges"], serde_json::json!(["traced"]));
    }

    /// A record serde_json writes (`true`) or refuses, as it would a map whose keys are not
    /// strings.
    struct Writable(bool);

    impl Serialize for Writable {
        fn serialize<S: serde::Serializer>(&self, to: S) -> Result<S::Ok, S::Error> {
            if self.0 {
                to.serialize_bool(true)
            } else {
                Err(serde::ser::Error::custom("a key must be a string"))
            }
        }
    }

    #[test]
    fn a_record_that_cannot_be_written_fails_the_whole_output_and_names_its_process() {
        let records = [
            (1, Writable(true)),
            (7, Writable(false)),
            (8, Writable(true)),
        ];
        let err = json_array(records.into_iter()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot write process 7 as JSON: a key must be a string"
        );
        let fine = [(1, Writable(true)), (8, Writable(true))];
        assert_eq!(json_array(fine.into_iter()).unwrap(), "[\ntrue,\ntrue\n]\n");
    }

    #[test]
    fn an_empty_selection_is_an_empty_array() {
        let empty = Snapshot::default();
        assert_eq!(json(&empty, &[], &Options::default()).unwrap(), "[]\n");
        assert_eq!(text(&empty, &[], &Options::default()).unwrap(), "");
    }
}
