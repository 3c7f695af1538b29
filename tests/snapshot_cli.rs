//! `brood snapshot` run as a script would: no terminal, real children in known states.

#[path = "support/fork.rs"]
mod fork;
mod support;

use serde_json::Value;
use support::{Children, Reaped, brood, find_json, run, snapshot_json, wait_until};

fn own_pid() -> i32 {
    std::process::id() as i32
}

#[test]
fn json_lists_a_zombie_and_a_stopped_child_under_their_parent() {
    let mut children = Children::default();
    let zombie = children.zombie();
    let stopped = children.stopped();
    let me = own_pid().to_string();

    let procs = snapshot_json(brood(&["snapshot", "--format", "json", "--pid", &me]));

    assert_eq!(procs[0]["pid"], own_pid(), "the root comes first");
    for proc in &procs {
        assert_schema(proc);
    }
    let listed: Vec<&Value> = procs[0]["children"].as_array().unwrap().iter().collect();
    assert!(listed.contains(&&Value::from(zombie)), "{listed:?}");
    assert!(listed.contains(&&Value::from(stopped)), "{listed:?}");

    let z = find_json(&procs, zombie).expect("zombie listed");
    assert_eq!(z["state"], "Z");
    assert_eq!(z["ppid"], own_pid());
    assert_eq!(z["name"], "true");
    assert_eq!(z["badges"], serde_json::json!(["zombie"]));
    assert_eq!(z["cmdline"], "");

    let t = find_json(&procs, stopped).expect("stopped child listed");
    assert_eq!(t["state"], "T");
    assert_eq!(t["ppid"], own_pid());
    assert_eq!(t["cmdline"], "sleep 60");
    assert_eq!(t["badges"], serde_json::json!(["stopped"]));
}

/// Every documented field, with its type; nothing else.
fn assert_schema(proc: &Value) {
    let object = proc.as_object().expect("each process is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut documented = brood::snapshot::JSON_FIELDS;
    keys.sort_unstable();
    documented.sort_unstable();
    assert_eq!(keys, documented);
    assert!(proc["pid"].is_i64() && proc["ppid"].is_i64(), "{proc}");
    assert!(
        proc["name"].is_string() && proc["cmdline"].is_string(),
        "{proc}"
    );
    assert_eq!(proc["state"].as_str().map(|s| s.chars().count()), Some(1));
    assert!(proc["user"].is_string(), "{proc}");
    assert!(proc["uid"].is_u64() || proc["uid"].is_null(), "{proc}");
    assert!(
        proc["start_time"].is_f64() && proc["cpu_time_secs"].is_f64(),
        "{proc}"
    );
    assert!(
        proc["rss_bytes"].is_u64() && proc["threads"].is_i64(),
        "{proc}"
    );
    assert!(
        proc["badges"]
            .as_array()
            .is_some_and(|b| b.iter().all(Value::is_string))
    );
    assert!(
        proc["children"]
            .as_array()
            .is_some_and(|c| c.iter().all(Value::is_i64))
    );
}

/// The tree as the TUI draws it, without colour: names (not `argv[0]`), states and the
/// screen's badges, here a zombie with its parent, a stopped child, and two children deadlocked
/// on crossed `flock`s.
#[test]
fn text_is_an_indented_tree_of_names_states_and_the_screens_badges() {
    use std::os::unix::process::CommandExt;
    let mut children = Children::default();
    let zombie = children.zombie();
    let stopped = children.stopped();
    let renamed = Reaped::from_command(
        std::process::Command::new("sleep")
            .arg0("an-argv0-that-is-not-the-name")
            .arg("60")
            .stdin(std::process::Stdio::null()),
    );
    let locks = fork::CrossedLocks::start("snapshot-text");
    let traced = Reaped::spawn("sleep", &["60"]);
    let tracer = fork::trace_like_strace(traced.pid());
    let me = own_pid().to_string();

    let text = wait_until("both lock holders to be seen deadlocked", || {
        let output = run(brood(&["snapshot", "--pid", &me]));
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8(output.stdout).expect("UTF-8 output");
        let deadlocked = text.lines().filter(|l| l.contains("[deadlock]")).count();
        (deadlocked == 2).then_some(text)
    });
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{me:>7} ")),
        "the root is the first line, unindented: {text}"
    );
    let line_of = |pid: i32| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{pid:>7} ")))
            .unwrap_or_else(|| panic!("{pid} not listed in:\n{text}"))
    };
    let z = line_of(zombie);
    assert!(
        z.contains(" Z  ") && z.ends_with(&format!("─ true [zombie, parent {me}] <defunct>")),
        "{z}"
    );
    let t = line_of(stopped);
    assert!(
        t.contains(" T  ") && t.ends_with("─ sleep [stopped] 60"),
        "{t}"
    );
    let r = line_of(renamed.pid());
    assert!(r.ends_with("─ sleep 60"), "the name, not argv[0]: {r}");
    match &tracer {
        Some(tracer) => {
            let s = line_of(traced.pid());
            assert!(
                s.contains(" S  ")
                    && s.ends_with(&format!("─ sleep [traced by {} brood-tracer] 60", tracer.0)),
                "traced while it sleeps: {s}"
            );
        }
        None => support::skip(
            "text_is_an_indented_tree_of_names_states_and_the_screens_badges (traced part)",
            "ptrace is not allowed here",
        ),
    }
    for holder in [locks.one.0, locks.two.0] {
        let d = line_of(holder);
        assert!(d.contains(" S  ") && d.contains("[deadlock]"), "{d}");
    }
    assert!(!text.contains('\x1b'), "no colour codes in text output");
}

#[test]
fn an_unknown_pid_is_one_line_on_stderr_and_exit_1() {
    let output = run(brood(&["snapshot", "--pid", "999999999"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "brood: no process with PID 999999999\n"
    );
}

#[test]
fn a_closed_stdout_ends_the_snapshot_quietly() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader); // every write now fails with EPIPE, as after `| head -1` has read its line
    let mut command = brood(&["snapshot", "--kernel-threads"]);
    command.stdout(writer);
    let output = run(command);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn head_reads_one_line_and_brood_exits_quietly() {
    let brood_bin = env!("CARGO_BIN_EXE_brood");
    // Several snapshots in one pipe, so brood is still writing when head has gone.
    let script = format!(
        "set -o pipefail; for i in 1 2 3 4 5 6 7 8; do \"{brood_bin}\" snapshot --format json; done | head -1"
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
        .expect("bash");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "[\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
