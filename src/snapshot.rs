//! `brood snapshot`: one scan printed as an indented tree or as JSON, for scripts and pipes.
//! Pure: a [`Snapshot`] in, a `String` out. Scanning and writing to stdout belong to `main`; the
//! tree is the TUI's own ([`build_rows`]), so both show the same parents and the same order.

use std::collections::HashSet;
use std::fmt::Write;

use serde::Serialize;

use crate::proc::lifecycle::is_probable_orphan;
use crate::proc::tree::{Row, TreeOptions, build_rows, by_pid};
use crate::proc::{Pid, ProcInfo, Snapshot, State, TaskKind};

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
    /// Any of `zombie`, `stopped`, `traced`, `orphan?`.
    pub badges: Vec<&'static str>,
    /// PIDs of the children printed with it.
    pub children: Vec<Pid>,
}

/// The indented tree: `PID STATE  guides command [badges]`, one process a line, no colour.
pub fn text(snapshot: &Snapshot, options: &Options) -> Result<String, SnapshotError> {
    let rows = selected_rows(snapshot, options)?;
    let by_pid = snapshot.index_by_pid();
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
        match (proc.kind, proc.cmdline.is_empty()) {
            (TaskKind::KernelThread, _) => {
                let _ = write!(out, "[{}]", proc.name);
            }
            (_, true) => out.push_str(&proc.name),
            (_, false) => out.push_str(&proc.cmdline),
        }
        for badge in badges(proc, parent_of(snapshot, &by_pid, proc)) {
            let _ = write!(out, " [{badge}]");
        }
        out.push('\n');
    }
    Ok(out)
}

/// A JSON array of [`Record`]s in tree order, one object a line.
pub fn json(snapshot: &Snapshot, options: &Options) -> Result<String, SnapshotError> {
    let rows = selected_rows(snapshot, options)?;
    let by_pid = snapshot.index_by_pid();
    let mut children: Vec<Vec<Pid>> = vec![Vec::new(); rows.len()];
    for row in &rows {
        if let Some(parent) = row.parent_row {
            children[parent].push(snapshot.procs[row.proc_index].pid());
        }
    }
    let ticks = snapshot.ticks_per_sec.max(1) as f64;
    let mut out = String::with_capacity(rows.len() * 256 + 4);
    out.push('[');
    for (i, (row, children)) in rows.iter().zip(children).enumerate() {
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
            badges: badges(proc, parent_of(snapshot, &by_pid, proc)),
            children,
        };
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        // Serialising plain strings and numbers into a String cannot fail.
        if let Ok(line) = serde_json::to_string(&record) {
            out.push_str(&line);
        }
    }
    out.push_str(if rows.is_empty() { "]\n" } else { "\n]\n" });
    Ok(out)
}

/// Word badges, the same words the TUI shows. A single scan cannot have seen a reparenting, so
/// an orphan is always the labelled guess.
pub fn badges(proc: &ProcInfo, parent: Option<&ProcInfo>) -> Vec<&'static str> {
    let mut badges = Vec::new();
    match proc.state {
        State::Zombie => badges.push("zombie"),
        State::Stopped => badges.push("stopped"),
        State::Traced => badges.push("traced"),
        _ => {}
    }
    if is_probable_orphan(proc, parent) {
        badges.push("orphan?");
    }
    badges
}

fn parent_of<'a>(
    snapshot: &'a Snapshot,
    by_pid: &crate::proc::PidIndex,
    proc: &ProcInfo,
) -> Option<&'a ProcInfo> {
    by_pid.get(proc.ppid).map(|i| &snapshot.procs[i])
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
    use crate::proc::Identity;

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

    /// init ─┬─ shell ─┬─ zombie, stopped; init ─ daemon (another session, not a leader: orphan?)
    fn sample() -> Snapshot {
        let mut daemon = task(40, 1, 'S', "daemon --fork");
        daemon.session = 30;
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
                daemon,
            ]),
            uptime_secs: 5000.0,
            ticks_per_sec: 100,
            descriptors_short: false,
        }
    }

    #[test]
    fn text_is_an_indented_tree_with_states_and_badges() {
        let out = text(&sample(), &Options::default()).unwrap();
        assert_eq!(
            out,
            "      1 S  init\n\
             \x20    10 S  ├─ sh -l\n\
             \x20    11 Z  │  ├─ true [zombie]\n\
             \x20    12 T  │  └─ sleep 60 [stopped]\n\
             \x20    40 S  └─ daemon --fork [orphan?]\n"
        );
    }

    #[test]
    fn kernel_threads_are_hidden_unless_asked_for_or_chosen_as_root() {
        let shown = Options {
            kernel_threads: true,
            ..Options::default()
        };
        let out = text(&sample(), &shown).unwrap();
        assert!(out.contains("      2 I  [kthreadd]\n"), "{out}");
        assert!(out.contains("└─ [kworker/0:1]"), "{out}");

        let rooted = Options {
            root: Some(2),
            ..Options::default()
        };
        assert_eq!(
            text(&sample(), &rooted).unwrap(),
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
            text(&sample(), &rooted).unwrap(),
            "     10 S  sh -l\n     11 Z  ├─ true [zombie]\n     12 T  └─ sleep 60 [stopped]\n"
        );
        let missing = Options {
            root: Some(999),
            ..Options::default()
        };
        assert_eq!(
            text(&sample(), &missing),
            Err(SnapshotError::NoSuchPid(999))
        );
    }

    #[test]
    fn json_has_one_documented_object_per_process_with_its_children() {
        let rooted = Options {
            root: Some(10),
            ..Options::default()
        };
        let out = json(&sample(), &rooted).unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let procs = value.as_array().unwrap();
        assert_eq!(procs.len(), 3);
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
        assert_eq!(shell["children"], serde_json::json!([11, 12]));
        assert_eq!(shell["start_time"], 10.1);
        assert_eq!(shell["cpu_time_secs"], 2.5);
        assert_eq!(procs[1]["state"], "Z");
        assert_eq!(procs[1]["badges"], serde_json::json!(["zombie"]));
        assert_eq!(procs[2]["state"], "T");
        assert_eq!(procs[2]["cmdline"], "sleep 60");
    }

    #[test]
    fn an_empty_selection_is_an_empty_array() {
        let empty = Snapshot::default();
        assert_eq!(json(&empty, &Options::default()).unwrap(), "[]\n");
        assert_eq!(text(&empty, &Options::default()).unwrap(), "");
    }
}
