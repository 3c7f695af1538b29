//! What one refresh costs at 500, 2 000 and 10 000 processes: the /proc scan (on a real population
//! of sleeping children), the tree build, the lifecycle diff, the App update and a whole frame;
//! and what `brood exporter` costs: its refresh every interval, and one scrape.
//!
//! `cargo bench --bench brood` measures; `cargo bench --bench brood -- --test` runs each once.

use std::collections::HashSet;
use std::time::Duration;

use brood::app::{App, Settings};
use brood::cli::ExporterArgs;
use brood::exporter::Exporter;
use brood::exporter::sampler::Refresh;
use brood::message::{Event, SystemStats};
use brood::proc::Snapshot;
use brood::proc::builder::{next_refresh, population};
use brood::proc::ipc::Sweeper;
use brood::proc::lifecycle::Lifecycle;
use brood::proc::scan::{ScanOptions, Scanner};
use brood::proc::tree::{TreeOptions, build_rows, by_pid};
use divan::Bencher;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

// The real-process helpers of the tests: sleeping children, killed and reaped on drop.
#[path = "../tests/support/mod.rs"]
mod support;
use support::Children;
#[path = "../tests/support/scrape.rs"]
mod scrape;

const SIZES: [usize; 3] = [500, 2_000, 10_000];
/// Real processes cost real memory and fork time, so the scan stops at 2 000.
const REAL_SIZES: [usize; 2] = [500, 2_000];

fn main() {
    divan::main();
}

// ---- synthetic snapshots -------------------------------------------------------------------

// ---- the pure layers -----------------------------------------------------------------------

#[divan::bench(args = SIZES)]
fn tree_build(bencher: Bencher, n: usize) {
    let snapshot = population(n);
    let collapsed = HashSet::new();
    let options = TreeOptions::new(&collapsed);
    bencher.bench_local(|| build_rows(&snapshot, &options, by_pid));
}

#[divan::bench(args = SIZES)]
fn lifecycle_diff(bencher: Bencher, n: usize) {
    let before = population(n);
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
    let mut app = App::new(Settings::new(0));
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
    let before = population(n);
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
    let app = app_with(&population(n));
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

/// A first scan, the one brood's first frame waits for: every command line and owner read
/// (ahead, on two threads), every stat file kept open.
#[divan::bench(args = REAL_SIZES, sample_count = 10)]
fn scan_first(bencher: Bencher, n: usize) {
    let mut population = Children::default();
    population.sleepers(n);
    brood::proc::scan::reserve_descriptors();
    bencher
        .with_inputs(|| Scanner::new(ScanOptions::default()))
        .bench_local_refs(|scanner| scanner.scan().expect("scan"));
}

/// A scan plus the IPC sweep, as the collector does them with the IPC panel closed (every fifth
/// scan sweeps, with no links: `panel_open = false`) and open (every scan, links and all).
#[divan::bench(args = [false, true], sample_count = 30)]
fn scan_with_ipc(bencher: Bencher, panel_open: bool) {
    let mut population = Children::default();
    population.sleepers(2_000);
    let mut scanner = Scanner::new(ScanOptions::default());
    let mut sweeper = Sweeper::default();
    let mut scans = 0u64;
    let mut refresh = || {
        let snapshot = scanner.scan().expect("scan");
        sweeper.observe(&snapshot);
        scans += 1;
        (panel_open || scans.is_multiple_of(5)).then(|| {
            sweeper.skip_own_files(scanner.held_files());
            sweeper.sweep(&snapshot, panel_open)
        })
    };
    for _ in 0..12 {
        refresh();
    }
    bencher.bench_local(refresh);
}

// ---- the Prometheus exporter, on real processes ------------------------------------------------

/// What the exporter does every interval: a scan, the deadlock sweep, the comparison with the
/// scan before, and the metrics encoded in both formats.
#[divan::bench(args = REAL_SIZES, sample_count = 30)]
fn exporter_refresh(bencher: Bencher, n: usize) {
    let mut population = Children::default();
    population.sleepers(n);
    let mut refresh = Refresh::new(Duration::from_secs(30));
    for _ in 0..2 {
        refresh.run().expect("metrics");
    }
    bencher.bench_local(|| refresh.run().expect("metrics"));
}

/// One scrape as Prometheus makes it (a new connection, OpenMetrics asked for) at 2 000
/// processes: answered from the last refresh, so it never scans.
#[divan::bench(sample_count = 100)]
fn exporter_scrape(bencher: Bencher) {
    let mut population = Children::default();
    population.sleepers(2_000);
    let args = ExporterArgs {
        listen: ([127, 0, 0, 1], 0).into(),
        interval: Duration::from_secs(3600),
        d_state_threshold: Duration::from_secs(30),
    };
    let exporter = Exporter::start(&args).expect("an exporter on loopback");
    let (address, stopper) = (exporter.address(), exporter.stopper());
    let server = std::thread::spawn(move || exporter.serve());
    bencher.bench_local(|| {
        scrape::get(address, "/metrics", Some(scrape::PROMETHEUS_ACCEPT)).expect("a scrape")
    });
    stopper.stop();
    let _ = server.join();
}
