//! What one refresh costs at 500, 2 000 and 10 000 processes: the /proc scan (on a real population
//! of sleeping children), the tree build, the lifecycle diff, the App update and a whole frame.
//!
//! `cargo bench --bench brood` measures; `cargo bench --bench brood -- --test` runs each once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use brood::app::App;
use brood::app::keymap::Keymap;
use brood::collector::SystemStats;
use brood::event::Event;
use brood::proc::lifecycle::Lifecycle;
use brood::proc::scan::{ScanOptions, Scanner};
use brood::proc::tree::{TreeOptions, build_rows, by_pid};
use brood::proc::{Identity, Pid, ProcInfo, Snapshot, State, TaskKind};
use divan::Bencher;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

// The real-process helpers of the tests: sleeping children, killed and reaped on drop.
#[path = "../tests/real_procs/mod.rs"]
mod real_procs;
use real_procs::Children;

const SIZES: [usize; 3] = [500, 2_000, 10_000];
/// Real processes cost real memory and fork time, so the scan stops at 2 000.
const REAL_SIZES: [usize; 2] = [500, 2_000];

fn main() {
    divan::main();
}

// ---- synthetic snapshots -------------------------------------------------------------------

/// Deterministic pseudo-random numbers (xorshift), so every run benches the same tree.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Builds a snapshot shaped like a busy server: init, kernel threads under kthreadd, a few wide
/// worker pools, some deep chains (nested shells, build tools), and a random tree for the rest.
struct Builder {
    procs: Vec<ProcInfo>,
    sessions: HashMap<Pid, Pid>,
    next_pid: Pid,
}

impl Builder {
    fn add(&mut self, ppid: Pid, name: &str, kind: TaskKind) -> Pid {
        let pid = self.next_pid;
        self.next_pid += 1 + (pid % 7 == 0) as Pid; // leave gaps, as a live PID space has
        let session = match kind {
            TaskKind::KernelThread => 0,
            _ => self.sessions.get(&ppid).copied().unwrap_or(pid),
        };
        self.sessions.insert(pid, session);
        let cmdline = match kind {
            TaskKind::KernelThread => String::new(),
            _ => format!("/usr/bin/{name} --id {pid} --config /etc/{name}/{name}.conf"),
        };
        self.procs.push(ProcInfo {
            id: Identity {
                pid,
                start_ticks: 10_000 + pid as u64 * 3,
            },
            ppid,
            pgrp: pid,
            session,
            kind,
            state: State::Sleeping,
            name: Arc::from(name),
            cmdline: Arc::from(cmdline),
            uid: Some(1000),
            user: Arc::from("builder"),
            cpu_ticks: pid as u64 * 17 % 5_000,
            cpu_percent: (pid % 13) as f32 * 0.7,
            rss_bytes: 4096 * (100 + pid as u64 % 20_000),
            vsize_bytes: 1 << 26,
            nice: 0,
            threads: 1 + (pid % 5) as i64,
            tracer: None,
        });
        pid
    }
}

fn synthetic(n: usize) -> Snapshot {
    let mut b = Builder {
        procs: Vec::with_capacity(n),
        sessions: HashMap::new(),
        next_pid: 1,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let init = b.add(0, "init", TaskKind::Process);
    let kthreadd = b.add(0, "kthreadd", TaskKind::KernelThread);
    for _ in 0..n / 20 {
        b.add(kthreadd, "kworker/0:1", TaskKind::KernelThread);
    }
    // Wide fan-outs: worker pools.
    for (pool, share) in [("nginx", 10), ("postgres", 20), ("php-fpm", 25)] {
        let master = b.add(init, pool, TaskKind::Process);
        for _ in 0..n / share {
            b.add(master, pool, TaskKind::Process);
        }
    }
    // Deep chains: nested shells and build tools.
    for _ in 0..4 {
        let mut parent = b.add(init, "sshd", TaskKind::Process);
        for _ in 0..(n / 40).min(300) {
            parent = b.add(parent, "bash", TaskKind::Process);
        }
    }
    // The rest: each under a random earlier user process.
    let users: Vec<Pid> = b
        .procs
        .iter()
        .filter(|p| p.kind == TaskKind::Process)
        .map(ProcInfo::pid)
        .collect();
    let mut parents = users;
    while b.procs.len() < n {
        let parent = parents[rng.below(parents.len())];
        let name = ["python3", "node", "cc1", "make", "sleep", "cargo"][rng.below(6)];
        let pid = b.add(parent, name, TaskKind::Process);
        parents.push(pid);
    }
    // A few of every state the UI marks.
    for i in 0..b.procs.len() / 50 {
        let proc = &mut b.procs[rng.below(n)];
        if proc.kind != TaskKind::Process || proc.pid() == init {
            continue;
        }
        proc.state = [
            State::Running,
            State::Zombie,
            State::Stopped,
            State::DiskSleep,
        ][i % 4];
        if i % 7 == 0 {
            proc.session = proc.pid() + 1; // a different session than its parent: orphan?
        }
    }
    Snapshot {
        procs: b.procs,
        uptime_secs: 100_000.0,
        ticks_per_sec: 100,
    }
}

/// The next refresh: 2 % exited, 2 % new, 1 % changed state, 1 % exec'd, orphans reparented.
fn next_refresh(before: &Snapshot) -> Snapshot {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let n = before.procs.len();
    let exited: HashSet<Pid> = (0..n / 50)
        .map(|_| before.procs[rng.below(n)].pid())
        .filter(|&pid| pid > 2)
        .collect();
    let mut procs: Vec<ProcInfo> = before
        .procs
        .iter()
        .filter(|p| !exited.contains(&p.pid()))
        .cloned()
        .collect();
    for proc in &mut procs {
        if exited.contains(&proc.ppid) {
            proc.ppid = 1;
        }
        proc.cpu_percent = (proc.cpu_percent + 1.3) % 100.0;
    }
    for i in 0..n / 100 {
        let k = rng.below(procs.len());
        if procs[k].kind != TaskKind::Process {
            continue;
        }
        if i % 2 == 0 {
            procs[k].state = [State::Zombie, State::Stopped, State::Sleeping][i % 3];
        } else {
            procs[k].name = Arc::from("exec'd");
        }
    }
    let mut b = Builder {
        sessions: procs.iter().map(|p| (p.pid(), p.session)).collect(),
        procs,
        next_pid: before.procs.iter().map(ProcInfo::pid).max().unwrap_or(1) + 1,
    };
    for _ in 0..n / 50 {
        let parent = b.procs[rng.below(b.procs.len())].pid();
        b.add(parent, "new", TaskKind::Process);
    }
    Snapshot {
        procs: b.procs,
        uptime_secs: before.uptime_secs + 1.0,
        ticks_per_sec: before.ticks_per_sec,
    }
}

// ---- the pure layers -----------------------------------------------------------------------

#[divan::bench(args = SIZES)]
fn tree_build(bencher: Bencher, n: usize) {
    let snapshot = synthetic(n);
    let collapsed = HashSet::new();
    let options = TreeOptions {
        show_kernel_threads: false,
        collapsed: &collapsed,
    };
    bencher.bench_local(|| build_rows(&snapshot, &options, by_pid));
}

#[divan::bench(args = SIZES)]
fn lifecycle_diff(bencher: Bencher, n: usize) {
    let before = synthetic(n);
    let after = next_refresh(&before);
    bencher
        .with_inputs(|| {
            let mut lifecycle = Lifecycle::default();
            lifecycle.observe(&before);
            lifecycle
        })
        .bench_local_refs(|lifecycle| lifecycle.observe(&after));
}

const SCREEN: (u16, u16) = (160, 48);

fn app_with(snapshot: &Snapshot) -> App {
    let mut app = App::new(Keymap::default(), true, 0);
    app.update(Event::Resize {
        width: SCREEN.0,
        height: SCREEN.1,
    });
    app.update(Event::Snapshot(
        Box::new(snapshot.clone()),
        SystemStats::default(),
    ));
    app
}

/// Everything `App::update` does with a fresh scan: diff, marks, counts, rows, selection.
#[divan::bench(args = SIZES)]
fn app_update(bencher: Bencher, n: usize) {
    let before = synthetic(n);
    let after = next_refresh(&before);
    bencher
        .with_inputs(|| {
            let event = Event::Snapshot(Box::new(after.clone()), SystemStats::default());
            (app_with(&before), event)
        })
        .bench_local_values(|(mut app, event)| {
            app.update(event);
            app
        });
}

/// One whole frame of the tree screen, drawn into a TestBackend.
#[divan::bench(args = SIZES)]
fn frame_render(bencher: Bencher, n: usize) {
    let app = app_with(&synthetic(n));
    let mut terminal = Terminal::new(TestBackend::new(SCREEN.0, SCREEN.1)).expect("TestBackend");
    bencher.bench_local(|| {
        terminal
            .draw(|frame| brood::ui::draw(frame, &app))
            .map(|_| ())
    });
}

// ---- the /proc scan, on real processes -----------------------------------------------------

/// A refresh: the scanner already knows every process and holds their stat files open.
#[divan::bench(args = REAL_SIZES, sample_count = 30)]
fn scan_refresh(bencher: Bencher, n: usize) {
    let mut population = Children::default();
    population.sleepers(n);
    let mut scanner = Scanner::new(ScanOptions::default());
    for _ in 0..2 {
        scanner.scan().expect("scan");
    }
    bencher.bench_local(|| scanner.scan().expect("scan"));
}

/// A first scan, as `brood snapshot` does: every command line and owner read, nothing kept.
#[divan::bench(args = REAL_SIZES, sample_count = 10)]
fn scan_first(bencher: Bencher, n: usize) {
    let mut population = Children::default();
    population.sleepers(n);
    let options = ScanOptions {
        max_open_files: Some(0),
        ..ScanOptions::default()
    };
    bencher
        .with_inputs(|| Scanner::new(options.clone()))
        .bench_local_refs(|scanner| scanner.scan().expect("scan"));
}
