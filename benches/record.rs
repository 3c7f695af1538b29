//! What recording costs, and what reading a recording costs: a refresh encoded (a delta, and the
//! keyframes among them, as the writer thread makes them) at 500, 2 000 and 10 000 processes on
//! a quiet machine and a busy one; the timeline's take of a scan; opening a one-hour recording
//! of 2 000 processes, and seeking in it. The bytes an hour takes on real runs are measured by
//! `scripts/record-size.sh`.
//!
//! `cargo bench --bench record` measures; `cargo test --all-targets` runs each once, on a
//! one-minute "hour".

use std::fs::File;
use std::path::PathBuf;

use brood::history::Entry;
use brood::history::record::{Encoder, Header, Reader};
use brood::history::timeline::Timeline;
use brood::history::{Kinds, Origin, Pair};
use brood::proc::Snapshot;
use brood::proc::builder::{Rng, idle_refresh, next_refresh, population};
use brood::proc::system::SystemStats;
use divan::Bencher;

const SIZES: [usize; 3] = [500, 2_000, 10_000];
const SEC: u64 = 1_000_000_000;
const START: u64 = 1_700_000_000 * SEC;

fn main() {
    divan::main();
}

/// Under `cargo test` (no `--bench`), benches run once: the hour shrinks to a minute.
fn hour_in_scans() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        3_600
    } else {
        60
    }
}

fn header() -> Header {
    Header {
        host: "bench".into(),
        ticks_per_sec: 100,
        start_ns: START,
        brood_pid: 1,
        brood_version: env!("CARGO_PKG_VERSION").into(),
        root: None,
        subtree: false,
    }
}

/// Encodes scans one after another, taking turns between `scans` (each a delta against the one
/// before, and now and then a keyframe), as the writer thread does once a refresh.
fn bench_encoding(bencher: Bencher, scans: [Snapshot; 2]) {
    let (mut encoder, _) = Encoder::start(&header());
    let mut out = Vec::new();
    let mut round = 0u64;
    let system = SystemStats::default();
    bencher.bench_local(|| {
        out.clear();
        round += 1;
        let scan = &scans[(round % 2) as usize];
        encoder.frame(START + round * SEC, scan, Some(&system), &mut out);
        out.len()
    });
}

/// A quiet machine: one process in a hundred ran since the last scan.
#[divan::bench(args = SIZES)]
fn encode_quiet_refresh(bencher: Bencher, n: usize) {
    let before = idle_refresh(&population(n), 1);
    let after = idle_refresh(&before, 2);
    bench_encoding(bencher, [before, after]);
}

/// A busy machine: every process's CPU share changed, 2 % ended and 2 % started, 1 % changed
/// state or program.
#[divan::bench(args = SIZES)]
fn encode_busy_refresh(bencher: Bencher, n: usize) {
    let before = population(n);
    let after = next_refresh(&before);
    bench_encoding(bencher, [before, after]);
}

/// A keyframe alone: the whole table, its strings new.
#[divan::bench(args = SIZES)]
fn encode_keyframe(bencher: Bencher, n: usize) {
    let snapshot = population(n);
    bencher
        .with_inputs(|| Encoder::start(&header()).0)
        .bench_local_refs(|encoder| {
            let mut out = Vec::new();
            encoder.frame(START, &snapshot, None, &mut out);
            out
        });
}

/// The timeline taking in a scan of a quiet machine.
#[divan::bench(args = SIZES)]
fn timeline_scan(bencher: Bencher, n: usize) {
    let scans = [
        idle_refresh(&population(n), 1),
        idle_refresh(&population(n), 2),
    ];
    let mut timeline = Timeline::default();
    let mut round = 0u64;
    bencher.bench_local(|| {
        round += 1;
        timeline.observe_snapshot(START + round * SEC, &scans[(round % 2) as usize]);
    });
}

/// A recording of a quiet 2 000-process machine, a scan a second for an hour, with an entry
/// for each process that ends or starts; removed on drop.
struct Hour(PathBuf);

impl Hour {
    fn record() -> Hour {
        let path = std::env::temp_dir().join(format!("brood-bench-{}.brood", std::process::id()));
        let (mut encoder, mut out) = Encoder::start(&header());
        let mut scan = population(2_000);
        let system = SystemStats::default();
        for round in 0..hour_in_scans() {
            scan = idle_refresh(&scan, round);
            let at = START + round * SEC;
            encoder.frame(at, &scan, Some(&system), &mut out);
            if round.is_multiple_of(10) {
                let born = scan.procs.last().expect("a process");
                let mut entry = Entry::new(at, Kinds::FORK, Origin::Kernel, "1 (init) forked")
                    .about(born.id, Some(Pair::Fork));
                entry.seq = round + 1;
                encoder.entries(at, [&entry], &mut out);
            }
        }
        std::fs::write(&path, out).expect("a temporary file");
        Hour(path)
    }

    fn open(&self) -> Reader<File> {
        Reader::open(File::open(&self.0).expect("the recording")).expect("a recording")
    }
}

impl Drop for Hour {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Opening: the header, the strings, an index of every scan and entry.
#[divan::bench(sample_count = 20)]
fn open_hour(bencher: Bencher) {
    let hour = Hour::record();
    bencher.bench_local(|| hour.open());
}

/// The machine at a moment anywhere in the hour: the keyframe before it and the deltas after.
#[divan::bench(sample_count = 200)]
fn seek_hour(bencher: Bencher) {
    let hour = Hour::record();
    let mut reader = hour.open();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let scans = hour_in_scans() as usize;
    bencher
        .with_inputs(|| START + rng.below(scans) as u64 * SEC + SEC / 2)
        .bench_local_values(|at| reader.state_at(at).expect("a scan"));
}
