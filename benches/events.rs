//! What the kernel's process events cost brood, without the kernel: about 100 000 synthetic events (a
//! storm of short children forking, renaming themselves and exiting among 2 000 processes) parsed,
//! told by the tracker, and written as JSON lines. The /proc reads a real storm adds are measured
//! on the real binary by `scripts/events-storm.py`.
//!
//! `cargo bench --bench events` measures; `cargo bench --bench events -- --test` runs each once.

use brood::proc::Snapshot;
use brood::proc::builder::{Rng, population};
use brood::proc::connector::wire::{KernelEvent, Message, TaskIds, encode, messages};
use brood::proc::events::ProcEvent;
use brood::proc::events::clock::Clock;
use brood::proc::events::tracker::{Facts, Tracker};
use divan::counter::ItemsCount;
use divan::{Bencher, black_box};

/// A fork, a rename and an exit each: 100 002 events.
const CHILDREN: usize = 33_334;
const EVENTS: usize = 3 * CHILDREN;
const PROCESSES: usize = 2_000;

fn main() {
    divan::main();
}

/// The storm as the kernel would send it: a fork, a rename and an exit for each child, 10 µs
/// apart, from two CPUs.
fn storm(snapshot: &Snapshot) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let first_pid = snapshot.procs.iter().map(|p| p.pid()).max().unwrap_or(1) + 1;
    let mut seq = [0u32; 2];
    let mut out = Vec::with_capacity(EVENTS);
    let mut send = |event: KernelEvent, out: &mut Vec<Vec<u8>>| {
        let cpu = out.len() % 2;
        seq[cpu] += 1;
        out.push(encode(&Message {
            seq: seq[cpu],
            ack: 0,
            cpu: cpu as u32,
            timestamp_ns: 100_000_000_000 + out.len() as u64 * 10_000,
            event,
        }));
    };
    for child in (first_pid..).take(CHILDREN) {
        let parent = snapshot.procs[rng.below(snapshot.procs.len())].pid();
        let parent = TaskIds {
            pid: parent,
            tgid: parent,
        };
        let child = TaskIds {
            pid: child,
            tgid: child,
        };
        let mut comm = [0u8; 16];
        comm[..8].copy_from_slice(b"worker-7");
        send(KernelEvent::Fork { parent, child }, &mut out);
        send(KernelEvent::Comm { task: child, comm }, &mut out);
        let exit = KernelEvent::Exit {
            task: child,
            exit_code: (rng.below(4) as u32) << 8,
            exit_signal: 17,
            parent: Some(parent),
        };
        send(exit, &mut out);
    }
    out
}

fn tracker(snapshot: &Snapshot) -> Tracker {
    let mut tracker = Tracker::new(false, snapshot.ticks_per_sec);
    tracker.seed(snapshot);
    tracker
}

/// Every event told, as the tracker would tell it with /proc saying nothing.
fn told(snapshot: &Snapshot, datagrams: &[Vec<u8>]) -> Vec<ProcEvent> {
    let mut tracker = tracker(snapshot);
    let clock = Clock::at(0, 0, 1_700_000_000_000_000_000);
    datagrams
        .iter()
        .flat_map(|d| messages(d).flatten().collect::<Vec<_>>())
        .filter_map(|m| tracker.apply(&m, &Facts::default(), &clock))
        .collect()
}

#[divan::bench]
fn parse(bencher: Bencher) {
    let datagrams = storm(&population(PROCESSES));
    bencher.counter(ItemsCount::new(EVENTS)).bench_local(|| {
        for datagram in &datagrams {
            for message in messages(black_box(datagram)) {
                black_box(message.ok());
            }
        }
    });
}

#[divan::bench]
fn parse_and_track(bencher: Bencher) {
    let snapshot = population(PROCESSES);
    let datagrams = storm(&snapshot);
    let clock = Clock::at(0, 0, 1_700_000_000_000_000_000);
    bencher
        .counter(ItemsCount::new(EVENTS))
        .with_inputs(|| tracker(&snapshot))
        .bench_local_refs(|tracker| {
            for datagram in &datagrams {
                for message in messages(datagram).flatten() {
                    black_box(tracker.apply(&message, &Facts::default(), &clock));
                }
            }
            // Every child exited: the tracker holds what it was seeded with, no more.
            assert_eq!(tracker.len(), PROCESSES);
        });
}

#[divan::bench]
fn json_lines(bencher: Bencher) {
    let snapshot = population(PROCESSES);
    let events = told(&snapshot, &storm(&snapshot));
    let mut out = Vec::with_capacity(EVENTS * 400);
    bencher.counter(ItemsCount::new(EVENTS)).bench_local(|| {
        out.clear();
        for event in &events {
            let _ = serde_json::to_writer(&mut out, event);
            out.push(b'\n');
        }
        black_box(out.len())
    });
}

#[divan::bench]
fn text_lines(bencher: Bencher) {
    let snapshot = population(PROCESSES);
    let events = told(&snapshot, &storm(&snapshot));
    bencher
        .counter(ItemsCount::new(EVENTS))
        .bench_local(|| events.iter().map(|e| e.describe().len()).sum::<usize>());
}
