use std::io::Cursor;
use std::sync::Arc;

use super::*;
use crate::history::{Entry, Fact, Kinds, Origin, Pair};
use crate::proc::builder::{SnapshotBuilder, id, population};
use crate::proc::events::ExitStatus;
use crate::proc::system::SystemStats;
use crate::proc::{ProcInfo, Snapshot, State, TaskKind};

const SEC: u64 = 1_000_000_000;
const START: u64 = 1_700_000_000 * SEC;

fn header() -> Header {
    Header {
        host: "testhost".into(),
        ticks_per_sec: 100,
        start_ns: START,
        brood_pid: 4242,
        brood_version: "0.1.0".into(),
        root: None,
        subtree: false,
    }
}

fn system(n: u64) -> SystemStats {
    SystemStats {
        cpu_percent: n as f32 * 1.5,
        cpus: 2,
        mem_used: 1 << 30 | n,
        mem_total: 24 << 30,
        load: [0.5, 0.25, 0.125],
        uptime_secs: 1_000 + n,
        ..SystemStats::default()
    }
}

/// Scan `n` of a changing machine: processes come, go, run, exec and change state.
fn scan(base: &Snapshot, n: usize) -> Snapshot {
    let mut procs: Vec<ProcInfo> = base
        .procs
        .iter()
        .filter(|p| !(p.pid() as usize + n).is_multiple_of(97))
        .cloned()
        .collect();
    for (i, proc) in procs.iter_mut().enumerate() {
        if (i + n).is_multiple_of(13) {
            proc.cpu_ticks += n as u64;
            proc.cpu_percent = n as f32 / 7.0;
            proc.rss_bytes += 4096 * n as u64;
            proc.state = [State::Running, State::Sleeping, State::Zombie][n % 3];
        }
        if (i + n).is_multiple_of(17) {
            // Every other field, now and then.
            proc.ran = !proc.ran;
            proc.threads += 1;
            proc.nice = (n % 5) as i64 - 2;
            proc.tracer = proc.tracer.xor(Some(n as i32));
            proc.ppid = 1;
            proc.pgrp = n as i32;
            proc.session = n as i32 + 1;
            proc.vsize_bytes = proc.vsize_bytes.saturating_sub(8192);
            proc.uid = Some(n as u32);
            proc.user = Arc::from(format!("user{}", n % 3).as_str());
            proc.kind = [TaskKind::Process, TaskKind::KernelThread][n % 2];
        }
        if (i + n).is_multiple_of(101) {
            proc.name = Arc::from(format!("exec-{n}").as_str());
            proc.cmdline = Arc::from(format!("/bin/exec-{n} --round {n}").as_str());
        }
    }
    let mut snapshot = Snapshot {
        procs: Arc::new(procs),
        uptime_secs: 100_000.0 + n as f64,
        ..base.clone()
    };
    for k in 0..n % 5 {
        let pid = 100_000 + (n * 10 + k) as i32;
        let built = SnapshotBuilder::default()
            .proc(pid, 1, &format!("new-{k}"))
            .build();
        Arc::make_mut(&mut snapshot.procs).push(built.procs[0].clone());
    }
    snapshot
}

/// A recording of `scans` scans of a 300-process machine, and the scans.
fn recording(scans: usize) -> (Vec<u8>, Vec<Snapshot>) {
    let base = population(300);
    let (mut encoder, mut out) = Encoder::start(&header());
    let mut taken = Vec::new();
    for n in 0..scans {
        let snapshot = scan(&base, n);
        encoder.frame(
            START + n as u64 * SEC,
            &snapshot,
            Some(&system(n as u64)),
            &mut out,
        );
        taken.push(snapshot);
    }
    (out, taken)
}

fn open(bytes: &[u8]) -> Reader<Cursor<&[u8]>> {
    Reader::open(Cursor::new(bytes)).expect("a recording")
}

#[test]
fn every_scan_reads_back_as_it_was_from_any_instant() {
    let (bytes, taken) = recording(60);
    let mut reader = open(&bytes);
    assert_eq!(reader.header(), &header());
    assert!(!reader.is_torn());
    assert_eq!(reader.frame_times().len(), 60);
    assert_eq!(reader.span(), Some((START, START + 59 * SEC)));
    for (n, snapshot) in taken.iter().enumerate().rev() {
        let at = START + n as u64 * SEC + SEC / 2;
        let moment = reader.state_at(at).unwrap().expect("a scan then");
        assert_eq!(moment.at_ns, START + n as u64 * SEC);
        assert_eq!(moment.snapshot.procs, snapshot.procs, "scan {n}");
        assert_eq!(moment.snapshot.uptime_secs, snapshot.uptime_secs);
        assert_eq!(moment.snapshot.ticks_per_sec, 100);
        assert_eq!(moment.system, Some(system(n as u64)));
    }
    assert!(
        reader.state_at(START - 1).unwrap().is_none(),
        "before the first"
    );
}

#[test]
fn deltas_fill_the_space_between_keyframes_and_keyframes_stay_a_fraction() {
    let base = population(2_000);
    let (mut encoder, mut out) = Encoder::start(&header());
    for n in 0..300 {
        encoder.frame(START + n * SEC, &scan(&base, n as usize), None, &mut out);
    }
    let stats = encoder.stats();
    assert_eq!(stats.bytes(), out.len() as u64);
    assert!(stats.keyframes > 1 && stats.keyframes < 50, "{stats:?}");
    assert!(
        stats.key_bytes <= stats.delta_bytes + stats.key_bytes / stats.keyframes,
        "{stats:?}"
    );
    let mut replayed = 0;
    open(&out)
        .replay(|item| {
            if let Item::Frame(moment) = item {
                assert_eq!(moment.snapshot.procs, scan(&base, replayed).procs);
                replayed += 1;
            }
        })
        .unwrap();
    assert_eq!(replayed, 300);
}

#[test]
fn a_table_in_another_order_is_written_whole() {
    let forwards = SnapshotBuilder::default()
        .proc(1, 0, "a")
        .proc(2, 1, "b")
        .build();
    let mut backwards = forwards.clone();
    Arc::make_mut(&mut backwards.procs).reverse();
    let (mut encoder, mut out) = Encoder::start(&header());
    encoder.frame(START, &forwards, None, &mut out);
    encoder.frame(START + SEC, &backwards, None, &mut out);
    assert_eq!(encoder.stats().keyframes, 2);
    let moment = open(&out).state_at(START + SEC).unwrap().unwrap();
    assert_eq!(moment.snapshot.procs, backwards.procs);
}

fn exit_entry(seq: u64, at: u64, origin: Origin, text: &str) -> Entry {
    let mut entry = Entry::new(at, Kinds::EXIT, origin, text)
        .about(id(42), Some(Pair::Exit))
        .parent(Some(id(41)))
        .uid(Some(1000))
        .lab(true)
        .then("a zombie until 41 waits");
    entry.seq = seq;
    entry
}

#[test]
fn entries_read_back_as_the_history_held_them_at_each_instant() {
    let (mut encoder, mut out) = Encoder::start(&header());
    let snapshot = SnapshotBuilder::default().proc(42, 41, "sleep").build();
    encoder.frame(START, &snapshot, None, &mut out);
    let seen = exit_entry(7, START + SEC, Origin::Scan, "42 (sleep) exited");
    let other = Entry::new(START, Kinds::BROOD, Origin::Brood, "brood started").lab(true);
    let other = Entry { seq: 6, ..other };
    encoder.entries(START + SEC, [&other, &seen], &mut out);
    let killed = ExitStatus::Signal {
        number: 9,
        core_dumped: false,
    };
    let mut told = exit_entry(7, START + SEC / 2, Origin::Kernel, "42 (sleep) was killed");
    told.fact = Some(Fact::Ended(killed));
    told.asked = Some("brood sent SIGKILL".into());
    encoder.entries(START + 2 * SEC, [&told], &mut out);
    let mut reader = open(&out);
    assert!(reader.entries_until(START).unwrap().is_empty());
    assert_eq!(
        reader.entries_until(START + SEC).unwrap(),
        [other.clone(), seen]
    );
    assert_eq!(reader.entries_until(u64::MAX).unwrap(), [other, told]);
    assert_eq!(reader.span(), Some((START, START + 2 * SEC)));
}

#[test]
fn a_file_cut_anywhere_reads_to_its_last_whole_record() {
    let (bytes, taken) = recording(12);
    let opening = MAGIC.len() + 2;
    // Every record's edges, one byte either side, and places inside records.
    let mut edges = vec![opening];
    while let Some(&at) = edges.last().filter(|&&at| at < bytes.len()) {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        edges.push(at + framing::FRAME_BYTES + len);
    }
    let cuts = edges.iter().flat_map(|&e| [e - 1, e, e + 1]);
    let cuts = cuts
        .chain((0..bytes.len()).step_by(97))
        .filter(|&c| c <= bytes.len());
    for cut in cuts {
        let part = &bytes[..cut];
        let mut reader = match Reader::open(Cursor::new(part)) {
            Ok(reader) => reader,
            Err(ReadError::NotARecording) if cut < opening => continue,
            Err(ReadError::Damaged(_)) if cut < 200 => continue,
            Err(err) => panic!("cut at {cut}: {err}"),
        };
        assert!(
            reader.is_torn() || reader.whole_bytes() == cut as u64,
            "cut at {cut}"
        );
        assert!(reader.whole_bytes() <= cut as u64);
        let frames = reader.frame_times().len();
        if let Some(last) = frames.checked_sub(1) {
            let moment = reader.state_at(u64::MAX).unwrap().unwrap();
            assert_eq!(moment.snapshot.procs, taken[last].procs, "cut at {cut}");
        }
    }
    // And garbage where the next record should be.
    let mut damaged = bytes.clone();
    let len = damaged.len();
    damaged[len - 3] ^= 0xff;
    let reader = open(&damaged);
    assert!(reader.is_torn());
    assert_eq!(reader.frame_times().len(), 11);
}

#[test]
fn not_a_recording_and_a_newer_format_are_refused() {
    assert!(matches!(
        Reader::open(Cursor::new(&b"hello, world"[..])),
        Err(ReadError::NotARecording)
    ));
    let (mut bytes, _) = recording(1);
    bytes[MAGIC.len()] = 9;
    assert!(matches!(
        Reader::open(Cursor::new(&bytes[..])),
        Err(ReadError::Version(9))
    ));
}

#[test]
fn the_format_is_what_version_1_says() {
    let snapshot = SnapshotBuilder::default()
        .with(7, 1, "sh", |p| {
            p.cmdline = "sh -c x".into();
            p.user = "root".into();
            p.rss_bytes = 4096;
            p.vsize_bytes = 8192;
        })
        .uptime(2.5)
        .build();
    let mut header = header();
    header.host = "h".into();
    let (mut encoder, mut out) = Encoder::start(&header);
    encoder.frame(1, &snapshot, None, &mut out);
    let entry = Entry::new(2, Kinds::FORK, Origin::Kernel, "x").about(id(7), Some(Pair::Fork));
    encoder.entries(3, [&Entry { seq: 1, ..entry }], &mut out);
    let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
    let records = [
        // Magic and version 1.
        "42524f4f445245430100",
        // Length, CRC, then tag 0 (header): host "h", 100 ticks, start, PID 4242 (zigzag),
        // "0.1.0", no root, not a subtree.
        "17000000ab85c7a9000168648080a8b1e39fe7cb17a44205302e312e300000",
        // Tag 1 (strings) from 0: "sh", "sh -c x", "root".
        "13000000f0c3be3d010003027368077368202d63207804726f6f74",
        // Tag 2 (keyframe) at 1 ns: uptime 2.5 (f64), no shortage, no figures, one process.
        "270000005573e0b3020100000000000004400000010e07020e020053000101e8070200000000008020804000020001",
        // Tag 4 (entries) at 3 ns: entry 1 at 2 ns, a fork (1), told by the kernel (2), about 7.
        "14000000ce40f70804030101020102010e0700000001780000010000",
    ];
    assert_eq!(hex, records.concat(), "a new format needs a new VERSION");
}

#[test]
fn a_subtree_is_followed_through_forks_and_adoptions_and_nothing_else_is_kept() {
    let mut scope = Scope::new(id(10), true);
    let machine = SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(10, 1, "make")
        .proc(11, 10, "cc")
        .with(12, 11, "cc", |p| p.kind = crate::proc::TaskKind::Thread)
        .proc(20, 1, "other")
        .build();
    let pids = |s: &Snapshot| s.procs.iter().map(|p| p.pid()).collect::<Vec<_>>();
    assert_eq!(pids(&scope.narrow(&machine)), [10, 11, 12]);
    // A fork told between scans makes a member; the machine's forks do not.
    let fork = |pid, parent| {
        Entry::new(0, Kinds::FORK, Origin::Kernel, "fork")
            .about(id(pid), Some(Pair::Fork))
            .parent(Some(id(parent)))
    };
    assert!(scope.admits(&fork(13, 11)));
    assert!(!scope.admits(&fork(21, 20)));
    let exit = Entry::new(0, Kinds::EXIT, Origin::Kernel, "exit").about(id(13), Some(Pair::Exit));
    assert!(scope.admits(&exit), "a member's exit");
    assert!(scope.admits(&Entry::new(
        0,
        Kinds::BROOD,
        Origin::Brood,
        "events from the kernel"
    )));
    // 11 dies: its child 14 is adopted by init, and still followed.
    let adopted = SnapshotBuilder::default()
        .proc(1, 0, "init")
        .proc(10, 1, "make")
        .proc(13, 11, "ld")
        .proc(14, 1, "ld")
        .proc(20, 1, "other")
        .build();
    let mut scope2 = scope.clone();
    assert_eq!(pids(&scope2.narrow(&adopted)), [10, 13]);
    assert!(scope.admits(&fork(14, 13)));
    assert_eq!(pids(&scope.narrow(&adopted)), [10, 13, 14]);
    // Without --subtree: the process and its threads only, and the forks it makes.
    let mut alone = Scope::new(id(11), false);
    assert_eq!(pids(&alone.narrow(&machine)), [11, 12]);
    assert!(alone.admits(&fork(15, 11)));
    assert!(!alone.admits(&Entry::new(0, Kinds::EXIT, Origin::Kernel, "x").about(id(15), None)));
}
