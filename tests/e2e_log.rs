//! The event log end to end: the real binary in a pseudo-terminal, real processes coming and
//! going, and the full-screen log scrolled, searched and filtered with keys.

#[path = "support/pty.rs"]
mod pty;
mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use pty::{Brood, Key};
use support::skip;

const PATIENCE: Duration = Duration::from_secs(20);

/// A shell under a name of its own (a link to /bin/sh called `name`), so its lines in the log
/// are this test's alone.
fn named_shell(test: &str, name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let link = dir.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/bin/sh", &link).expect("a link to /bin/sh");
    link
}

/// Runs `program -c script` `times` times at once and waits for all of them.
fn run_shells(program: &PathBuf, script: &str, times: usize) {
    let children: Vec<_> = (0..times)
        .map(|_| {
            Command::new(program)
                .args(["-c", script])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("a shell")
        })
        .collect();
    for mut child in children {
        let _ = child.wait();
    }
}

fn start() -> Brood {
    let brood = Brood::launch().args(&["-d", "0.2"]).size(150, 40).start();
    brood.wait_for(|text| text.contains("[this brood]"), PATIENCE);
    brood
}

/// The list's lines (between the title line and the detail box) of the full-screen log.
fn list_lines(text: &str) -> Vec<String> {
    text.lines()
        .skip(3)
        .take_while(|line| !line.starts_with('─'))
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn title(text: &str) -> String {
    text.lines().nth(2).unwrap_or_default().to_string()
}

fn type_text(brood: &mut Brood, text: &str) {
    for c in text.chars() {
        brood.send_key(Key::Char(c));
    }
}

#[test]
fn the_full_log_scrolls_searches_and_filters() {
    let name = format!("lg{}", std::process::id());
    let shell = named_shell("log-filters", &name);
    let mut brood = start();
    // They live longer than a refresh, so a scan sees them where the kernel's events are refused.
    run_shells(&shell, "sleep 1; exit 7", 3);
    // More lines than a page, whatever else the machine does (each lives a refresh too).
    let filler = named_shell("log-filler", &format!("fill{}", std::process::id()));
    run_shells(&filler, "sleep 0.3", 20);
    brood.send_key(Key::Char('v'));
    brood.wait_for(|text| title(text).starts_with(" event log"), PATIENCE);

    // Only the lines that hold the name: the three exits (and their births).
    brood.send_key(Key::Char('\\'));
    type_text(&mut brood, &name);
    brood.send_key(Key::Enter);
    let exits = |text: &str| {
        list_lines(text)
            .iter()
            .filter(|l| l.contains(&format!("({name}) exited")))
            .count()
    };
    // Waited for whole: a screen read while it is redrawn may hold lines of the one before,
    // and one read while the name is typed shows a part of it (a part matches the same lines).
    brood.wait_for(
        |text| {
            exits(text) == 3
                && list_lines(text).iter().all(|l| l.contains(&name))
                && title(text).contains(&format!("\"{name}\""))
        },
        PATIENCE,
    );

    // Only exits: each line is listed as one.
    brood.send_key(Key::Char('f'));
    brood.wait_for(|text| text.contains("show in the log"), PATIENCE);
    for _ in 0..3 {
        brood.send_key(Key::Down);
    }
    brood.send_key(Key::Enter);
    let only_exits = |text: &str| {
        let lines = list_lines(text);
        title(text).contains("exit ·")
            && !text.contains("show in the log")
            && lines
                .iter()
                .all(|l| l.split_whitespace().nth(1) == Some("exit"))
            && exits(text) == 3
    };
    let text = brood.wait_for(only_exits, PATIENCE);
    let lines = list_lines(&text);

    // The process under the cursor (the newest exit) and its descendants only.
    let newest: i32 = lines
        .last()
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|pid| pid.parse().ok())
        .expect("a PID after the kind");
    brood.send_key(Key::Char('s'));
    let text = brood.wait_for(
        |text| title(text).contains(&format!("subtree of {newest}")),
        PATIENCE,
    );
    let lines = list_lines(&text);
    assert!(!lines.is_empty(), "{text}");
    assert!(
        lines.iter().all(|l| l.contains(&newest.to_string())),
        "{text}"
    );

    // Everything again, then the oldest entries: the page starts at the first entry kept, and
    // the title says how many are newer than the page.
    brood.send_key(Key::Char('c'));
    brood.wait_for(
        |text| title(text).contains("entries ·") && !title(text).contains(&name),
        PATIENCE,
    );
    brood.send_key(Key::Char('g'));
    brood.wait_for(
        |text| {
            let figure = |after: &str| -> Option<usize> {
                let title = title(text);
                let before = title.split(after).next()?;
                before.rsplit(' ').find(|w| !w.is_empty())?.parse().ok()
            };
            match (figure(" entries"), figure(" newer below")) {
                (Some(all), Some(newer)) => all == newer + list_lines(text).len(),
                _ => false,
            }
        },
        PATIENCE,
    );
    // A search from there finds the exits (wrapping around to the newest first).
    brood.send_key(Key::Char('/'));
    type_text(&mut brood, &format!("({name}) exited"));
    // (Esc is read as a key of its own only when nothing follows it at once.)
    brood.send_key(Key::Esc);
    // The entry under the cursor, in full below the list.
    let detail = |text: &str| {
        text.lines()
            .rev()
            .skip(1)
            .take(2)
            .collect::<Vec<_>>()
            .join("\n")
    };
    // The box closed: the last line shows the page's keys again.
    let closed = |text: &str| text.lines().last().is_some_and(|l| l.contains("search"));
    brood.wait_for(
        |text| detail(text).contains(&format!("({name}) exited")) && closed(text),
        PATIENCE,
    );
    // End follows again.
    brood.send_key(Key::Char('G'));
    brood.wait_for(
        |text| !title(text).contains("newer below") && !title(text).contains("stopped"),
        PATIENCE,
    );
    // Lab only, and back to the tree.
    brood.send_key(Key::Char('L'));
    brood.wait_for(|text| title(text).contains("the lab"), PATIENCE);
    brood.send_key(Key::Esc);
    brood.wait_for(|text| text.contains("[this brood]"), PATIENCE);
}

#[test]
fn every_short_lived_child_is_in_the_log_with_its_exit_code_and_lifetime() {
    let name = format!("sl{}", std::process::id());
    let shell = named_shell("log-short", &name);
    let mut brood = start();
    brood.send_key(Key::Char('v'));
    let text = brood.wait_for(|text| title(text).contains("events from"), PATIENCE);
    if title(&text).contains("events from scans") {
        skip(
            "every_short_lived_child_is_in_the_log_with_its_exit_code_and_lifetime",
            "the kernel's process events are refused here (not root, or in a container)",
        );
        return;
    }
    run_shells(&shell, "exit 5", 20);
    // Each with its parent (this test), lifetime and code. (A child that ends before brood can
    // read its new name, on a busy machine, is told by the name it had before its exec.)
    brood.send_key(Key::Char('\\'));
    type_text(&mut brood, "exited with code 5 after");
    brood.send_key(Key::Enter);
    let parent = format!("; parent {} (", std::process::id());
    let ours = |text: &str| {
        list_lines(text)
            .into_iter()
            .filter(|l| l.contains(&parent))
            .collect::<Vec<_>>()
    };
    brood.wait_for(|text| ours(text).len() == 20, PATIENCE);
}

/// A memory cgroup of 32 MiB to run a hog in, removed on drop.
struct SmallCgroup(PathBuf);

impl SmallCgroup {
    fn new() -> Option<SmallCgroup> {
        let name = format!("brood-oom-{}", std::process::id());
        let (dir, limit) = [
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes"),
            ("/sys/fs/cgroup", "memory.max"),
        ]
        .into_iter()
        .find(|(root, limit)| {
            let dir = PathBuf::from(root).join(&name);
            std::fs::create_dir(&dir).is_ok()
                && (std::fs::write(dir.join(limit), (32 << 20).to_string()).is_ok()
                    || std::fs::remove_dir(&dir).is_err())
        })?;
        let _ = limit;
        Some(SmallCgroup(PathBuf::from(dir).join(name)))
    }
}

impl Drop for SmallCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn an_oom_kill_says_the_oom_killer_did_it() {
    let test = "an_oom_kill_says_the_oom_killer_did_it";
    let Some(cgroup) = SmallCgroup::new() else {
        skip(
            test,
            "no memory cgroup can be made here (not root, or no memory controller)",
        );
        return;
    };
    if std::fs::File::open("/dev/kmsg").is_err() {
        skip(test, "the kernel's log cannot be read here");
        return;
    }
    let name = format!("oo{}", std::process::id());
    let shell = named_shell("log-oom", &name);
    let mut brood = start();
    brood.send_key(Key::Char('v'));
    let text = brood.wait_for(|text| title(text).contains("events from"), PATIENCE);
    if title(&text).contains("events from scans") {
        skip(test, "the kernel's process events are refused here");
        return;
    }
    // The shell joins the cgroup; its child dd then fills a buffer four times its limit.
    let script = format!(
        "echo $$ > {}/cgroup.procs && dd if=/dev/zero of=/dev/null bs=128M count=1",
        cgroup.0.display()
    );
    run_shells(&shell, &script, 1);
    brood.send_key(Key::Char('\\'));
    type_text(&mut brood, "(dd) was killed by sigkill");
    brood.send_key(Key::Enter);
    // The kernel's log tells the OOM kill apart from the exit, and may tell it later.
    brood.wait_for(
        |text| {
            list_lines(text)
                .iter()
                .any(|l| l.contains(&format!("({name})")))
                && text.contains("the kernel's OOM killer ended it")
        },
        PATIENCE,
    );
}
