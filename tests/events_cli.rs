//! `brood events` run as a script would: its JSON lines parsed, a child's subtree followed, the
//! fallback to scans forced or imposed by a PID namespace, and every way it ends (a closed pipe,
//! a signal, `--duration`). Each test looks only at processes it made.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use support::{DEADLINE, Reaped, brood, signal};

/// `brood events ARGS` with its output read line by line on a thread.
struct Running {
    child: Reaped,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        Running::reading(args, usize::MAX)
    }

    /// Reads at most `lines` lines, then closes its end of the pipe.
    fn reading(args: &[&str], lines: usize) -> Running {
        let mut child = Reaped(brood(args).spawn().expect("brood events"));
        let stdout = child.0.stdout.take().expect("piped stdout");
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().take(lines) {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            child,
            lines: received,
        }
    }

    fn next_json(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("brood events printed a line in time");
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
    }

    /// Interrupts it and returns its exit status and stderr.
    fn stop(mut self, with: Signal) -> (std::process::ExitStatus, String) {
        signal(self.child.pid(), with);
        wait_with_deadline(&mut self.child.0)
    }
}

fn wait_with_deadline(child: &mut Child) -> (std::process::ExitStatus, String) {
    let status = support::wait_until("brood events to end", || child.try_wait().ok().flatten());
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    (status, stderr)
}

/// A shell that waits for a line on stdin, then does `script`.
fn waiting_shell(script: &str) -> Reaped {
    Reaped::from_command(
        std::process::Command::new("sh")
            .args(["-c", &format!("read go; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    )
}

fn go(shell: &mut Reaped) {
    let stdin = shell.0.stdin.as_mut().expect("piped stdin");
    stdin.write_all(b"go\n").expect("the shell reads its line");
}

#[test]
fn events_json_tells_the_fork_exec_and_exits_of_a_childs_subtree() {
    let mut shell = waiting_shell("sleep 0.2; exit 5");
    let shell_pid = shell.pid().to_string();
    let run = Running::start(&[
        "events",
        "--format",
        "json",
        "--pid",
        &shell_pid,
        "--subtree",
    ]);
    let notice = run.next_json();
    assert_eq!(notice["kind"], "notice", "{notice}");
    if notice["source"] != "kernel" {
        eprintln!(
            "skipping the kernel half of the JSON test: {}",
            notice["text"]
        );
        return;
    }
    go(&mut shell);
    let mut events = Vec::new();
    while !events
        .iter()
        .any(|e: &Value| e["kind"] == "exit" && e["task"]["pid"] == shell.pid())
    {
        events.push(run.next_json());
    }
    let (status, stderr) = run.stop(Signal::SIGINT);
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.is_empty(), "quiet on SIGINT: {stderr}");

    let fork = events
        .iter()
        .find(|e| e["kind"] == "fork")
        .expect("the shell's fork");
    assert_eq!(fork["parent"]["pid"], shell.pid());
    assert_eq!(fork["source"], "kernel");
    let sleeper = fork["task"]["pid"].clone();
    let exec = events
        .iter()
        .find(|e| e["kind"] == "exec" && e["task"]["pid"] == sleeper)
        .expect("the exec of sleep");
    assert_eq!(exec["task"]["name"], "sleep");
    assert_eq!(exec["task"]["cmdline"], "sleep 0.2");
    let slept = events
        .iter()
        .find(|e| e["kind"] == "exit" && e["task"]["pid"] == sleeper)
        .expect("the exit of sleep");
    assert_eq!(slept["status"]["code"], 0);
    assert!(
        slept["lifetime_ns"]
            .as_u64()
            .is_some_and(|ns| ns >= 200_000_000)
    );
    let last = events.last().expect("the shell's exit");
    assert_eq!(last["status"]["code"], 5);
    for event in &events {
        let pid = &event["task"]["pid"];
        assert!(
            *pid == shell.pid() || *pid == sleeper,
            "only the subtree's events: {event}"
        );
        assert!(
            event["unix_ns"].is_u64() && event["boot_ns"].is_u64(),
            "{event}"
        );
    }
}

#[test]
fn from_scans_says_it_polls_and_reads_a_zombies_exit_code() {
    let mut shell = waiting_shell("exit 7");
    let shell_pid = shell.pid().to_string();
    let run = Running::start(&[
        "events",
        "--from-scans",
        "-d",
        "0.2",
        "--format",
        "json",
        "--pid",
        &shell_pid,
    ]);
    let notice = run.next_json();
    assert_eq!(
        (&notice["kind"], &notice["source"]),
        (&"notice".into(), &"scan".into())
    );
    go(&mut shell);
    // Not reaped: it stays a zombie, whose stat holds its exit status.
    let exit = loop {
        let event = run.next_json();
        if event["kind"] == "exit" {
            break event;
        }
    };
    assert_eq!(exit["task"]["pid"], shell.pid());
    assert_eq!(exit["source"], "scan");
    assert_eq!(exit["status"]["code"], 7, "{exit}");
    let (status, stderr) = run.stop(Signal::SIGTERM);
    assert!(status.success(), "{status:?}");
    assert_eq!(
        stderr.matches("events from scans").count(),
        1,
        "said once, plainly: {stderr}"
    );
    assert!(stderr.contains("processes shorter than a refresh are not seen"));
}

#[test]
fn refused_in_a_pid_namespace_it_falls_back_to_scans_and_says_why() {
    // The kernel ignores a subscription from any PID namespace but the first: `unshare --fork`
    // starts brood in a new one (root only; skipped where it cannot).
    let brood_bin = env!("CARGO_BIN_EXE_brood");
    let output = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", brood_bin, "events"])
        .args(["--format", "json", "--duration", "0.5"])
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) if !String::from_utf8_lossy(&output.stderr).contains("unshare:") => output,
        other => {
            eprintln!("skipping the PID namespace test: cannot make one here ({other:?})");
            return;
        }
    };
    assert!(output.status.success(), "{output:?}");
    let first = String::from_utf8_lossy(&output.stdout);
    let notice: Value = serde_json::from_str(first.lines().next().unwrap_or_default())
        .unwrap_or_else(|err| panic!("not JSON ({err}): {first}"));
    assert_eq!(notice["source"], "scan", "{notice}");
    let text = notice["text"].as_str().unwrap_or_default();
    assert!(text.contains("namespace"), "says why: {text}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("events from scans"), "{stderr}");
}

#[test]
fn a_closed_pipe_ends_brood_events_quietly() {
    // One line read, then the pipe is closed, as `| head -1` does.
    let mut run = Running::reading(&["events"], 1);
    run.lines
        .recv_timeout(DEADLINE)
        .expect("brood events printed its first line");
    let start = Instant::now();
    let (status, stderr) = wait_with_deadline(&mut run.child.0);
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(
        !stderr.contains("error") && !stderr.contains("panic"),
        "{stderr}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    let brood_bin = env!("CARGO_BIN_EXE_brood");
    let output = std::process::Command::new("bash")
        .args([
            "-c",
            &format!("set -o pipefail; \"{brood_bin}\" events --format json | head -1"),
        ])
        .output()
        .expect("bash");
    assert!(output.status.success(), "{output:?}");
    let line: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(line["kind"], "notice");
}

#[test]
fn duration_ends_brood_events_on_time() {
    let start = Instant::now();
    let mut child = brood(&["events", "--duration", "1"])
        .stdout(Stdio::null())
        .spawn()
        .expect("brood events");
    let (status, _) = wait_with_deadline(&mut child);
    let took = start.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

#[test]
fn an_unknown_pid_is_refused_with_one_line() {
    let output = brood(&["events", "--pid", "9999999"])
        .output()
        .expect("brood events");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "brood: no process with PID 9999999\n"
    );
}

#[test]
fn text_lines_carry_time_kind_and_sentence() {
    let mut shell = waiting_shell("exit 3");
    let shell_pid = shell.pid().to_string();
    let run = Running::start(&["events", "--from-scans", "-d", "0.2", "--pid", &shell_pid]);
    let first = run.lines.recv_timeout(DEADLINE).expect("the notice");
    assert!(first.contains(" notice   events from scans"), "{first}");
    go(&mut shell);
    let exit = run.lines.recv_timeout(DEADLINE).expect("the exit");
    let (time, rest) = exit.split_once(' ').expect("time first");
    assert_eq!(time.len(), "12:34:56.789".len(), "{exit}");
    assert!(
        rest.starts_with(&format!(
            "exit     {shell_pid} (sh) exited with code 3 within "
        )),
        "{exit}"
    );
    let (status, _) = run.stop(Signal::SIGINT);
    assert!(status.success());
}
