//! Recording and replay end to end: `brood record` while real processes come and go, then
//! `brood replay` in a pseudo-terminal, driven by its keys; a recording cut short replays too.

#[path = "support/pty.rs"]
mod pty;
mod support;

use std::io::Cursor;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use brood::history::record::Reader;
use pty::{Brood, Key};
use support::{brood, run, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);

fn scratch(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Three seconds of this machine recorded, during which a shell of its own name sleeps a
/// second and exits with code 4.
fn record(path: &PathBuf, name: &str) {
    let link = path.with_file_name(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/bin/sh", &link).expect("a link to /bin/sh");
    let mut recorder = brood(&["record", "-o"]);
    recorder.arg(path).args(["--duration", "3", "-d", "0.2"]);
    let recorder = recorder
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("brood record");
    wait_until("the recording to begin", || {
        std::fs::metadata(path).is_ok().then_some(())
    });
    let status = Command::new(&link)
        .args(["-c", "sleep 1; exit 4"])
        .status()
        .expect("the shell");
    assert_eq!(status.code(), Some(4));
    let output = recorder.wait_with_output().expect("brood record ends");
    assert!(output.status.success(), "{output:?}");
}

/// The recording cut inside a record, early enough to lose its last scan. Where a fixed fraction
/// would fall depends on the machine (a first snapshot of many processes can outweigh the rest).
fn torn_before_its_last_scan(bytes: &[u8]) -> &[u8] {
    let scans = |end: usize| {
        Reader::open(Cursor::new(&bytes[..end])).map_or(0, |reader| reader.frame_times().len())
    };
    let whole = scans(bytes.len());
    // The shortest prefix that holds every scan ends with the last one; a byte less tears it.
    let last_scan_end = (0..bytes.len())
        .collect::<Vec<_>>()
        .partition_point(|&end| scans(end) < whole);
    &bytes[..last_scan_end - 1]
}

/// "scan 3 of 15" on the header: (3, 15).
fn scan_of(text: &str) -> Option<(usize, usize)> {
    let header = text.lines().next()?;
    let (_, after) = header.split_once("scan ")?;
    let mut words = after.split_whitespace();
    let at = words.next()?.parse().ok()?;
    words.next()?; // "of"
    let of = words.next()?.parse().ok()?;
    Some((at, of))
}

#[test]
fn a_recording_replays_with_its_keys_and_a_cut_one_up_to_its_last_whole_record() {
    let name = format!("rp{}", std::process::id());
    let path = scratch("session.brood");
    record(&path, &name);

    let mut replay = Brood::launch()
        .args(&["replay", path.to_str().unwrap()])
        .size(150, 40)
        .start();
    let text = replay.wait_for(|t| scan_of(t).is_some_and(|(at, _)| at == 1), PATIENCE);
    let (_, scans) = scan_of(&text).unwrap();
    assert!(scans >= 5, "a scan every 0.2 s for 3 s: {text}");
    assert!(text.contains("REPLAY") && text.contains("paused"), "{text}");

    // One scan on, then play at 100× to the end.
    replay.send_key(Key::Char('.'));
    replay.wait_for(|t| scan_of(t) == Some((2, scans)), PATIENCE);
    replay.send_key(Key::Char('3'));
    replay.wait_for(
        |t| scan_of(t) == Some((scans, scans)) && t.contains("paused"),
        PATIENCE,
    );
    // At the end, the log holds the shell's exit.
    replay.send_key(Key::Char('v'));
    replay.wait_for(|t| t.contains("event log"), PATIENCE);
    replay.send_key(Key::Char('\\'));
    for c in name.chars() {
        replay.send_key(Key::Char(c));
    }
    replay.send_key(Key::Enter);
    replay.wait_for(
        |t| t.lines().any(|l| l.contains(&format!("({name}) exited"))),
        PATIENCE,
    );
    replay.send_key(Key::Esc);
    replay.wait_for(|t| t.contains("PID USER"), PATIENCE);
    // Back to the start by a jump.
    replay.send_key(Key::Char('J'));
    replay.wait_for(|t| t.contains("Jump to:"), PATIENCE);
    replay.send_key(Key::Char('0'));
    replay.send_key(Key::Enter);
    replay.wait_for(|t| scan_of(t) == Some((1, scans)), PATIENCE);
    // The details are what the recording holds of the selected process.
    replay.send_key(Key::Char('d'));
    replay.wait_for(
        |t| t.contains("details:") && t.contains("as recorded"),
        PATIENCE,
    );
    replay.send_key(Key::Char('d'));
    replay.wait_for(|t| !t.contains("details:"), PATIENCE);
    // What is read live only says it was not recorded.
    replay.send_key(Key::Char('i'));
    replay.wait_for(|t| t.contains("not recorded: wait channels"), PATIENCE);
    replay.send_key(Key::Char('i'));
    replay.wait_for(|t| !t.contains("not recorded: wait channels"), PATIENCE);
    // Nothing here is live: a lab key says so and does nothing.
    replay.send_key(Key::Char('n'));
    replay.wait_for(|t| t.contains("does nothing here"), PATIENCE);
    replay.send_key(Key::Char('q'));
    assert_eq!(replay.wait_exit(PATIENCE), 0);
    assert!(replay.is_cooked(), "the terminal is given back");

    // Cut short mid-record (a crash, SIGKILL): it still opens, with fewer scans, and says so.
    let bytes = std::fs::read(&path).expect("the recording");
    let cut = scratch("cut.brood");
    std::fs::write(&cut, torn_before_its_last_scan(&bytes)).expect("a cut copy");
    let mut replay = Brood::launch()
        .args(&["replay", cut.to_str().unwrap()])
        .size(150, 40)
        .start();
    let text = replay.wait_for(
        |t| scan_of(t).is_some() && t.contains("cut short"),
        PATIENCE,
    );
    let (_, fewer) = scan_of(&text).unwrap();
    assert!(
        (1..scans).contains(&fewer),
        "{fewer} of {scans} scans: {text}"
    );
    replay.send_key(Key::Char('q'));
    assert_eq!(replay.wait_exit(PATIENCE), 0);
}

#[test]
fn a_file_that_is_no_recording_is_a_clear_error() {
    let text = scratch("not-a-recording.brood");
    std::fs::write(&text, "hello").unwrap();
    // A FIFO would wait for a writer forever, a device never end: neither is opened.
    let fifo = scratch("a-fifo.brood");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("a FIFO");
    for path in [&text, &fifo, &PathBuf::from("/dev/zero")] {
        for command in [&["replay"][..], &["export", "--format", "json"][..]] {
            let mut args = command.to_vec();
            args.insert(1, path.to_str().unwrap());
            let output = run(brood(&args));
            assert_eq!(output.status.code(), Some(1), "{args:?}");
            let said = String::from_utf8_lossy(&output.stderr);
            assert!(said.contains("not a brood recording"), "{args:?}: {said}");
            assert_eq!(said.lines().count(), 1, "{said}");
        }
    }
}

/// The state letter of `pid`'s row.
fn state_of(text: &str, pid: i32) -> Option<&str> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == pid.to_string()).then(|| words.nth(1))?
    })
}

/// The PIDs in the tree's rows.
fn rows(text: &str) -> Vec<i32> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn stepping_back_shows_a_process_that_has_ended_and_esc_comes_back_to_live() {
    let mut brood = Brood::launch().args(&["-d", "0.2"]).size(150, 40).start();
    brood.wait_for(|t| t.contains("[this brood]"), PATIENCE);
    let mut child = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .spawn()
        .expect("a sleeper");
    let pid = child.id() as i32;
    // Asleep, as a scan read it (the kernel's fork event alone shows it running): the past
    // kept is made of scans.
    brood.wait_for(|t| state_of(t, pid) == Some("S"), PATIENCE);
    let _ = child.kill();
    let _ = child.wait();
    brood.wait_for(|t| !rows(t).contains(&pid), PATIENCE);
    // Back a scan at a time until the sleeper is there again.
    let mut found = false;
    for _ in 0..50 {
        brood.send_key(Key::Char('b'));
        if brood
            .poll_screen(
                |s| {
                    let text = s.contents();
                    text.contains("BACK IN TIME") && rows(&text).contains(&pid)
                },
                Duration::from_millis(300),
            )
            .is_ok()
        {
            found = true;
            break;
        }
    }
    let text = brood.screen().contents();
    assert!(found, "the sleeper in the past: {text}");
    assert!(text.contains("BACK IN TIME"), "{text}");
    // The IPC panel is of now, and says so.
    brood.send_key(Key::Char('i'));
    brood.wait_for(|t| t.contains("IPC (now)"), PATIENCE);
    brood.send_key(Key::Esc);
    brood.wait_for(
        |t| !t.contains("BACK IN TIME") && !rows(t).contains(&pid),
        PATIENCE,
    );
    brood.send_key(Key::Char('q'));
    assert_eq!(brood.wait_exit(PATIENCE), 0);
}

/// `r` records the session on screen into the directory brood runs in, `r` again ends it, and
/// the file reads back with the scans of that while.
#[test]
fn r_records_the_session_on_screen_until_pressed_again() {
    let dir = scratch("session-dir");
    std::fs::create_dir_all(&dir).expect("a directory to record in");
    let mut brood = Brood::launch()
        .args(&["-d", "0.2"])
        .cwd(&dir)
        .size(150, 40)
        .start();
    brood.wait_for(|t| t.contains("[this brood]"), PATIENCE);
    brood.send_key(Key::Char('r'));
    brood.wait_for(|t| t.contains("● REC"), PATIENCE);
    let file = wait_until("the recording's file", || {
        std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "brood"))
    });
    // Back in time it goes on, and says so.
    brood.send_key(Key::Char('b'));
    brood.wait_for(
        |t| t.contains("● REC") && t.contains("BACK IN TIME"),
        PATIENCE,
    );
    brood.send_key(Key::Esc);
    brood.wait_for(
        |t| t.contains("● REC") && !t.contains("BACK IN TIME"),
        PATIENCE,
    );
    // A few scans in, then stopped.
    wait_until("scans recorded", || {
        let bytes = std::fs::read(&file).ok()?;
        let reader = Reader::open(Cursor::new(bytes)).ok()?;
        (reader.frame_times().len() >= 3).then_some(())
    });
    brood.send_key(Key::Char('r'));
    brood.wait_for(|t| t.contains("recorded") && !t.contains("● REC"), PATIENCE);
    brood.send_key(Key::Char('q'));
    assert_eq!(brood.wait_exit(PATIENCE), 0);
    let reader = Reader::open(std::fs::File::open(&file).unwrap()).expect("a recording");
    assert!(!reader.is_torn(), "ended whole");
    assert!(reader.frame_times().len() >= 3);
    let _ = std::fs::remove_dir_all(&dir);
}
