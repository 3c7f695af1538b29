//! Recordings with real processes: a lab run recorded through the App as the screen records it,
//! read back instant by instant; `brood record` on a subtree the test forks, ended by SIGINT, cut
//! short, and exported.

mod support;
#[path = "support/lab.rs"]
mod test_lab;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brood::app::{App, Settings};
use brood::history::record::{Item, Reader};
use brood::history::timeline::{MarkKind, Timeline};
use brood::history::{Entry, Kinds};
use brood::lab::protocol::{Reply, Request, WaitOutcome};
use brood::message::{Event, Outcome, SystemStats};
use brood::proc::lookup::read_identity;
use brood::proc::{Identity, Pid, Snapshot, State};
use brood::runtime::recording::Recording;
use support::*;
use test_lab::TestLab;

/// A scan taken into the app as the collector sends it, then handed to the recording; returns
/// the table the app shows, as live.
fn scan_and_capture(app: &mut App, recording: &mut Recording) -> Snapshot {
    let snapshot = scanner().scan().expect("a scan");
    app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
    recording.capture(app);
    app.snapshot.clone()
}

fn uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").expect("/proc/uptime");
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("seconds")
}

/// The first process two tables differ in, said briefly (a whole table is too long to read).
fn difference(recorded: &Snapshot, live: &Snapshot) -> Option<String> {
    if recorded.procs.len() != live.procs.len() {
        return Some(format!(
            "{} processes, live {}",
            recorded.procs.len(),
            live.procs.len()
        ));
    }
    let (a, b) = recorded
        .procs
        .iter()
        .zip(live.procs.iter())
        .find(|(a, b)| a != b)?;
    Some(format!("recorded {a:?}\nlive {b:?}"))
}

fn proc_in(snapshot: &Snapshot, id: Identity) -> Option<(Pid, State)> {
    find(snapshot, id.pid)
        .filter(|p| p.id == id)
        .map(|p| (p.ppid, p.state))
}

#[test]
fn a_recorded_lab_run_reads_back_as_the_tree_was_live_at_each_instant() {
    let dir = std::env::temp_dir().join(format!("brood-record-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lab.brood");
    let lab = TestLab::new();
    let mut app = App::new(Settings::new(own_pid()));
    let mut recording = Recording::start(&path, &app, None).expect("a new recording");
    let mut live = Vec::new();

    let worker = lab.spawn();
    app.update(Event::Done(Outcome::Spawned {
        id: worker,
        guard: None,
    }));
    live.push(scan_and_capture(&mut app, &mut recording));

    let child = lab.fork(worker);
    app.update(Event::Done(Outcome::LabReply {
        target: worker,
        request: Request::Fork,
        reply: Ok(Reply::Forked(child)),
    }));
    // A scan's time is read from /proc/uptime, in hundredths: one in the same hundredth as the
    // fork could not tell which came first.
    let forked = uptime();
    wait_until("the clock of scans to pass the fork", || {
        (uptime() > forked + 0.02).then_some(())
    });
    live.push(scan_and_capture(&mut app, &mut recording));

    lab.exit(child, 3);
    app.update(Event::Done(Outcome::LabReply {
        target: child,
        request: Request::Exit(3),
        reply: Ok(Reply::Ok(child.pid)),
    }));
    // Written as asked; the scan that sees the zombie amends that entry, written again.
    recording.capture(&app);
    wait_until("the child to be a zombie", || {
        (state_of(child.pid) == Some('Z')).then_some(())
    });
    live.push(scan_and_capture(&mut app, &mut recording));

    let reply = lab.0.request(worker, Request::Wait, None);
    assert_eq!(
        reply.as_ref().ok(),
        Some(&Reply::Waited(WaitOutcome::Exited {
            pid: child.pid,
            code: 3
        }))
    );
    app.update(Event::Done(Outcome::LabReply {
        target: worker,
        request: Request::Wait,
        reply: reply.map_err(|e| e.to_string()),
    }));
    wait_until("the reaped child to be gone", || {
        (read_identity(child.pid) != Some(child)).then_some(())
    });
    live.push(scan_and_capture(&mut app, &mut recording));
    assert_eq!(recording.skipped(), 0, "the writer kept up");
    let stats = recording.finish().expect("the recording is written");
    assert_eq!(stats.frames, 4);

    let mut reader = Reader::open(File::open(&path).unwrap()).expect("a recording");
    assert!(!reader.is_torn());
    assert_eq!(reader.header().brood_pid, own_pid());
    let times: Vec<u64> = reader.frame_times().collect();
    assert_eq!(times.len(), 4);
    let mut recorded = Vec::new();
    for (index, was) in live.iter().enumerate() {
        let moment = reader.frame(index).expect("a scan");
        let then = reader.state_at(times[index]).unwrap().expect("a scan then");
        assert_eq!(then.at_ns, moment.at_ns, "each scan at a time of its own");
        assert_eq!(
            difference(&moment.snapshot, was),
            None,
            "the whole table, as live"
        );
        recorded.push(moment.snapshot);
    }
    // Alive, a worker sleeps or (on a busy machine, just started) runs: the tree is what counts.
    let parent = |scan: &Snapshot, id| proc_in(scan, id).map(|(ppid, _)| ppid);
    assert_eq!(parent(&recorded[0], worker), Some(own_pid()));
    assert_eq!(proc_in(&recorded[0], child), None, "not forked yet");
    assert_eq!(parent(&recorded[1], child), Some(worker.pid));
    assert_ne!(
        proc_in(&recorded[1], child).map(|p| p.1),
        Some(State::Zombie)
    );
    assert_eq!(
        proc_in(&recorded[2], child),
        Some((worker.pid, State::Zombie))
    );
    assert_eq!(proc_in(&recorded[3], child), None, "reaped");

    // The log up to each instant: the reap is not there before it happened.
    let lines = |entries: Vec<Entry>| -> Vec<String> { entries.iter().map(Entry::line).collect() };
    let reaped = format!("{worker} reaped {child}: exited with code 3");
    let before = lines(reader.entries_until(times[2]).unwrap());
    assert!(
        before.iter().any(|l| l.contains("called fork(): child")),
        "{before:?}"
    );
    assert!(!before.iter().any(|l| l.contains(&reaped)), "{before:?}");
    let exit = format!("{} (brood-lab) exited", child.pid);
    let exits: Vec<&String> = before.iter().filter(|l| l.contains(&exit)).collect();
    assert_eq!(
        exits.len(),
        1,
        "the request and its outcome, one line: {before:?}"
    );
    assert!(exits[0].contains("brood asked it to"), "{exits:?}");
    assert!(
        !before
            .iter()
            .any(|l| l.contains("asked") && l.contains("to exit with code 3"))
    );
    let after = lines(reader.entries_until(times[3]).unwrap());
    assert!(after.iter().any(|l| l.contains(&reaped)), "{after:?}");

    // Replayed through the timeline: the child's life, forked, asleep, a zombie, reaped.
    let mut timeline = Timeline::default();
    reader
        .replay(|item| match item {
            Item::Frame(moment) => timeline.observe_snapshot(moment.at_ns, &moment.snapshot),
            Item::Entries { entries, .. } => entries.iter().for_each(|e| timeline.observe_entry(e)),
        })
        .unwrap();
    let row = timeline.row(child).expect("the child's row");
    let segments: Vec<_> = row.segments().collect();
    let first = segments.first().expect("a state");
    let last = segments.last().expect("a state");
    assert!(
        first.state == State::Running && first.exact,
        "forked: {segments:?}"
    );
    assert_eq!(last.state, State::Zombie, "{segments:?}");
    assert!(segments.len() >= 2, "{segments:?}");
    assert!(row.born.is_some_and(|b| b.exact) && row.end.is_some_and(|e| e.exact));
    let forked = timeline
        .row(worker)
        .unwrap()
        .marks()
        .any(|m| m.kind == MarkKind::Fork { child });
    assert!(forked, "the fork is marked on the worker's row");
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A shell in a process group of its own that forks `sleep`s after a moment; the whole group is
/// killed and the shell reaped on drop.
struct Family(Child);

impl Family {
    fn start() -> Family {
        let child = Command::new("sh")
            .args(["-c", "sleep 0.6; sleep 60 & sleep 0.3; sleep 60"])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("sh");
        Family(child)
    }

    fn pid(&self) -> Pid {
        self.0.id() as Pid
    }
}

impl Drop for Family {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-self.pid());
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit, at most [`DEADLINE`].
fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(start.elapsed() < DEADLINE, "brood record did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The frames of the recording at `path` as it is now (it may be growing: read to its last
/// whole record).
fn frames(path: &std::path::Path) -> Vec<Snapshot> {
    let Ok(mut reader) = File::open(path)
        .map_err(|_| ())
        .and_then(|f| Reader::open(f).map_err(|_| ()))
    else {
        return Vec::new();
    };
    let mut frames = Vec::new();
    let _ = reader.replay(|item| {
        if let Item::Frame(moment) = item {
            frames.push(moment.snapshot.clone());
        }
    });
    frames
}

#[test]
fn brood_record_follows_a_subtree_until_sigint_and_the_file_reads_back_whole_or_cut() {
    let dir = std::env::temp_dir().join(format!("brood-record-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("family.brood");
    let family = Family::start();
    let sh = read_identity(family.pid()).expect("the shell");
    let pid = sh.pid.to_string();
    let path_arg = path.to_str().unwrap();
    let mut recorder = Reaped(
        brood(&[
            "record",
            "-o",
            path_arg,
            "--pid",
            &pid,
            "--subtree",
            "-d",
            "0.2",
        ])
        .spawn()
        .expect("brood record"),
    );
    // Until a scan shows two of the shell's sleeps (it forks three, the first before brood starts).
    wait_until("the family's sleeps in the recording", || {
        let last = frames(&path).pop()?;
        let sleeps = last
            .procs
            .iter()
            .filter(|p| p.ppid == sh.pid && p.name.as_ref() == "sleep");
        (sleeps.count() >= 2).then_some(())
    });
    signal(recorder.pid(), nix::sys::signal::Signal::SIGINT);
    let status = wait_exit(&mut recorder.0);
    let mut stderr = String::new();
    let mut pipe = recorder.0.stderr.take().expect("stderr");
    std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(
        stderr.contains("brood: recording to") && stderr.contains("brood: recorded"),
        "{stderr}"
    );

    let mut reader = Reader::open(File::open(&path).unwrap()).unwrap();
    assert!(!reader.is_torn(), "SIGINT leaves the file whole");
    assert_eq!(reader.header().root, Some(sh));
    let all = frames(&path);
    assert!(all.len() >= 3);
    for frame in &all {
        for proc in frame.procs.iter() {
            let ours = proc.id == sh || proc.ppid == sh.pid;
            assert!(
                ours,
                "only the subtree is recorded: {} ({})",
                proc.pid(),
                proc.name
            );
        }
    }
    let entries = reader.entries_until(u64::MAX).unwrap();
    let forks = entries
        .iter()
        .filter(|e| e.kinds.contains(Kinds::FORK) && e.parent == Some(sh))
        .count();
    assert!(
        forks >= 2,
        "the shell's forks: {:?}",
        entries.iter().map(Entry::line).collect::<Vec<_>>()
    );

    // Cut short anywhere, it reads to its last whole record.
    let bytes = std::fs::read(&path).unwrap();
    let whole_frames = all.len();
    for cut in [bytes.len() - 1, bytes.len() * 2 / 3, bytes.len() / 2 + 3] {
        let cut_path = dir.join(format!("cut-{cut}.brood"));
        std::fs::write(&cut_path, &bytes[..cut]).unwrap();
        let cut_frames = frames(&cut_path);
        assert!(cut_frames.len() <= whole_frames);
        let last = cut_frames
            .len()
            .checked_sub(1)
            .expect("some frames survive");
        assert_eq!(cut_frames[last].procs, all[last].procs, "cut at {cut}");
        assert!(
            Reader::open(File::open(&cut_path).unwrap())
                .unwrap()
                .is_torn()
                || cut == bytes.len()
        );
    }

    // Exported: a trace Perfetto opens, a track per process named `PID name`; and JSON lines.
    let output = run(brood(&["export", path_arg, "--format", "chrome-trace"]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let trace: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let tracks: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(
        tracks.contains(&format!("{} sh", sh.pid).as_str()),
        "{tracks:?}"
    );
    assert!(
        tracks.iter().filter(|t| t.ends_with(" sleep")).count() >= 2,
        "{tracks:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "X" && e["name"] == "S sleeping")
    );
    assert!(events.iter().any(|e| e["ph"] == "i" && e["cat"] == "fork"));
    let output = run(brood(&["export", path_arg, "--format", "json"]));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), entries.len());
    assert!(
        lines
            .iter()
            .all(|l| l["unix_ns"].is_u64() && l["kinds"].is_array())
    );
    drop(family);
    let _ = std::fs::remove_dir_all(&dir);
}
