//! `brood exporter` against real processes: the real binary on loopback with a short interval,
//! zombies, a stopped process, a flock deadlock and a process held in D made here, scraped over
//! TCP and read back. The machine runs other processes, so assertions are about this test's own
//! processes, or relative to a scan made before them; never a global exact count.

#[path = "support/fork.rs"]
mod fork;
#[path = "support/scrape.rs"]
mod scrape;
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use brood::exporter::metrics::{Exposition, Format};
use brood::exporter::observe::Report;
use brood::proc::ipc::{IpcState, find_deadlocks};
use brood::proc::locks::read_locks;
use nix::sys::signal::Signal;
use scrape::{PROMETHEUS_ACCEPT, Sample, get, parse, value};
use support::*;

/// A running `brood exporter`, killed and reaped on drop.
struct Exporter {
    process: Reaped,
    address: SocketAddr,
}

impl Exporter {
    /// Starts the exporter on a free loopback port, scanning every 0.2 s, and reads the port
    /// from the line it prints.
    fn start(extra: &[&str]) -> Exporter {
        let mut args = vec!["exporter", "--listen", "127.0.0.1:0", "--interval", "0.2"];
        args.extend_from_slice(extra);
        let mut process = Reaped::from_command(&mut brood(&args));
        let stdout = process.0.stdout.take().expect("piped stdout");
        let (lines, line) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = lines.send(first);
        });
        let first = line
            .recv_timeout(DEADLINE)
            .expect("the exporter says where it listens");
        let address = first
            .trim()
            .strip_prefix("brood exporter: serving http://")
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .and_then(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("not the line expected: {first:?}"));
        Exporter { process, address }
    }

    /// Scrapes `/metrics` as Prometheus does; a failed or unparsable scrape fails the test.
    fn scrape(&self) -> Vec<Sample> {
        let reply = get(self.address, "/metrics", Some(PROMETHEUS_ACCEPT)).expect("a scrape");
        assert_eq!(reply.status, 200, "{reply:?}");
        parse(&reply.body).unwrap_or_else(|err| panic!("{err}:\n{}", reply.body))
    }

    /// Scrapes until `check` finds what it wants.
    fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&[Sample]) -> Option<T>) -> T {
        wait_until(what, || check(&self.scrape()))
    }

    /// A scrape of a scan that started after this call (two scans on: the one published next
    /// may have begun before).
    fn scrape_after_next_scan(&self) -> Vec<Sample> {
        let before = scans(&self.scrape());
        self.wait_for("two more scans", |samples| {
            (scans(samples) >= before + 2.0).then(|| samples.to_vec())
        })
    }
}

fn scans(samples: &[Sample]) -> f64 {
    value(samples, "brood_scans_total").expect("brood_scans_total")
}

fn in_state(samples: &[Sample], state: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.name == "brood_processes" && s.label("state") == Some(state))
        .map(|s| s.value)
        .unwrap_or_else(|| panic!("no brood_processes{{state={state:?}}}"))
}

fn must(samples: &[Sample], name: &str) -> f64 {
    value(samples, name).unwrap_or_else(|| panic!("no {name}"))
}

/// The zombie age bucket with upper bound `le` (written `1` or `1.0` depending on the format).
fn zombie_bucket(samples: &[Sample], le: f64) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == "brood_zombie_age_seconds_bucket")
        .find(|s| s.label("le").and_then(|v| v.parse::<f64>().ok()) == Some(le))
        .map(|s| s.value)
        .unwrap_or_else(|| panic!("no zombie age bucket le={le}"))
}

#[test]
fn zombies_are_counted_aged_and_listed_under_the_parent_that_leaves_them() {
    let exporter = Exporter::start(&[]);
    // sh starts three children and becomes `sleep`, which never waits: three zombies of its.
    let parent = Reaped::spawn("sh", &["-c", "true & true & true & exec sleep 60"]);
    let pid = parent.pid().to_string();
    let ours = |samples: &[Sample]| {
        samples
            .iter()
            .find(|s| s.name == "brood_zombies_by_parent" && s.label("parent_pid") == Some(&pid))
            .cloned()
    };
    let series = wait_until("the parent's three zombies, under its exec'd name", || {
        ours(&exporter.scrape())
            .filter(|s| s.value == 3.0 && s.label("parent_comm") == Some("sleep"))
    });
    let seen = Instant::now();
    assert_eq!(
        series.labels.len(),
        2,
        "parent_pid and parent_comm only: {series:?}"
    );

    // Aged from when they were first seen: over a second later, none of the three is under a
    // second old any more, and none is a minute old yet.
    wait_until("a second and a half to pass", || {
        (seen.elapsed() > Duration::from_millis(1500)).then_some(())
    });
    let samples = exporter.scrape_after_next_scan();
    let total = must(&samples, "brood_zombie_age_seconds_count");
    assert_eq!(zombie_bucket(&samples, f64::INFINITY), total);
    assert!(
        total >= 3.0 && in_state(&samples, "zombie") >= 3.0,
        "{samples:?}"
    );
    assert!(
        total - zombie_bucket(&samples, 1.0) >= 3.0,
        "three zombies over a second old: {samples:?}"
    );
    assert!(
        zombie_bucket(&samples, 60.0) >= 3.0,
        "three zombies under a minute old: {samples:?}"
    );
    assert!(must(&samples, "brood_zombie_oldest_age_seconds") >= 1.0);
    assert!(must(&samples, "brood_zombie_parents") >= 1.0);

    // Its end hands the zombies to an adopter, which reaps them: the series goes.
    drop(parent);
    exporter.wait_for("the parent's series to go", |samples| {
        ours(samples).is_none().then_some(())
    });
}

#[test]
fn a_stopped_process_is_counted_until_it_continues() {
    let exporter = Exporter::start(&[]);
    let mut children = Children::default();
    let pid = children.stopped();
    let stopped = in_state(&exporter.scrape_after_next_scan(), "stopped");
    assert!(stopped >= 1.0, "{stopped}");
    signal(pid, Signal::SIGCONT);
    exporter.wait_for("one stopped process less", |samples| {
        (in_state(samples, "stopped") <= stopped - 1.0).then_some(())
    });
}

/// Read-only: while it scans and is scraped, the exporter has started no process and has no
/// file open for writing (sockets, pipes and its terminal aside).
#[test]
fn the_exporter_writes_no_file_and_starts_no_process() {
    let exporter = Exporter::start(&[]);
    exporter.scrape_after_next_scan();
    exporter.scrape_after_next_scan();
    let pid = exporter.process.pid();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("its threads");
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children"))
            .expect("its children (CONFIG_PROC_CHILDREN)");
        assert!(children.trim().is_empty(), "a child: {children}");
    }
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("its files")
        .flatten()
    {
        let Ok(target) = std::fs::read_link(fd.path()) else {
            continue; // closed meanwhile
        };
        let target = target.to_string_lossy().into_owned();
        let special = ["socket:", "pipe:", "anon_inode:", "/dev/"];
        if special.iter().any(|s| target.starts_with(s)) {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            .unwrap_or(0);
        assert_eq!(
            flags & libc::O_ACCMODE as u32,
            libc::O_RDONLY as u32,
            "{target} open for writing"
        );
    }
}

/// A child whose parent exits is adopted, and the counter of adoptions moves. (It counts the
/// whole machine's: another adoption at the same moment could move it too, never back.)
#[test]
fn an_orphan_adopted_is_counted() {
    use std::io::Write;
    use std::process::Stdio;
    let exporter = Exporter::start(&[]);
    let mut parent = Command::new("sh")
        .args(["-c", "sleep 60 & echo $!; read _"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("a parent");
    let mut said = String::new();
    BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    let _orphan = Killed(said.trim().parse().expect("the child's PID"));
    // Seen with its parent first.
    let before = must(
        &exporter.scrape_after_next_scan(),
        "brood_orphans_adopted_total",
    );
    writeln!(parent.stdin.take().unwrap()).unwrap();
    parent.wait().unwrap();
    exporter.wait_for("the adoption counted", |samples| {
        (must(samples, "brood_orphans_adopted_total") > before).then_some(())
    });
}

#[test]
fn a_crossed_flock_pair_is_one_deadlock_cycle_of_two() {
    let exporter = Exporter::start(&[]);
    let locks = fork::CrossedLocks::start("exporter");
    // Known stuck by brood's detector itself first, so that the next scan must see it.
    wait_until("both children to block on each other's lock", || {
        let state = IpcState {
            locks: read_locks(),
            ..IpcState::default()
        };
        find_deadlocks(&state.waits())
            .into_iter()
            .find(|d| d.members().any(|m| m.pid == locks.one.0))
    });
    let during = exporter.scrape_after_next_scan();
    let (cycles, processes) = (
        must(&during, "brood_deadlock_cycles"),
        must(&during, "brood_deadlocked_processes"),
    );
    assert!(cycles >= 1.0 && processes >= 2.0, "{cycles} {processes}");
    drop(locks);
    exporter.wait_for("one cycle of two processes less", |samples| {
        let now = (
            must(samples, "brood_deadlock_cycles"),
            must(samples, "brood_deadlocked_processes"),
        );
        (now == (cycles - 1.0, processes - 2.0)).then_some(())
    });
}

#[test]
fn a_process_held_in_d_counts_as_stuck_after_the_threshold() {
    let exporter = Exporter::start(&["--d-state-threshold", "0.5"]);
    // A parent in vfork() waits in D (killable) until its child execs or exits. This child,
    // on a stack of its own made before the fork, sleeps; it dies with its parent
    // (PR_SET_PDEATHSIG) when the guard kills that.
    extern "C" fn sleep_a_minute(_: *mut libc::c_void) -> libc::c_int {
        let pause = libc::timespec {
            tv_sec: 60,
            tv_nsec: 0,
        };
        // SAFETY: raw syscalls with valid arguments.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::nanosleep(&pause, std::ptr::null_mut());
        }
        0
    }
    let mut stack = vec![0u8; 64 * 1024];
    let top = stack.as_mut_ptr_range().end.cast::<libc::c_void>();
    // SAFETY: clone() with CLONE_VFORK and no CLONE_VM runs the child on its own copy of
    // `stack` (allocated before the fork, so no allocation in the forked child).
    let held = fork::fork_child(&[], move || unsafe {
        libc::clone(
            sleep_a_minute,
            top,
            libc::CLONE_VFORK | libc::SIGCHLD,
            std::ptr::null_mut(),
        );
    });
    wait_for_state(held.0, 'D');
    let blocked = Instant::now();
    wait_until("the threshold and a scan to pass", || {
        (blocked.elapsed() > Duration::from_millis(800)).then_some(())
    });
    let during = exporter.scrape_after_next_scan();
    let stuck = must(&during, "brood_disk_sleep_stuck_processes");
    assert!(stuck >= 1.0, "{during:?}");
    assert!(must(&during, "brood_disk_sleep_longest_seconds") >= 0.5);
    assert_eq!(must(&during, "brood_disk_sleep_threshold_seconds"), 0.5);
    drop(held);
    exporter.wait_for("one stuck process less", |samples| {
        (must(samples, "brood_disk_sleep_stuck_processes") <= stuck - 1.0).then_some(())
    });
}

/// Starts and reaps `true` in a loop until dropped.
struct Churn {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Churn {
    fn start() -> Churn {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut born = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Ok(mut child) = Command::new("true").spawn() {
                    let _ = child.wait();
                    born += 1;
                }
            }
            born
        });
        Churn {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the churn and says how many processes it made.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |thread| thread.join().unwrap_or(0))
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn scrapes_never_fail_while_processes_come_and_go() {
    let exporter = Exporter::start(&[]);
    let churn = Churn::start();
    let before = scans(&exporter.scrape());
    let mut last = Vec::new();
    for i in 0..200 {
        let accept = (i % 2 == 0).then_some(PROMETHEUS_ACCEPT);
        let reply = get(exporter.address, "/metrics", accept)
            .unwrap_or_else(|err| panic!("scrape {i} failed: {err}"));
        assert_eq!(reply.status, 200, "scrape {i}: {reply:?}");
        last = parse(&reply.body).unwrap_or_else(|err| panic!("scrape {i}: {err}"));
    }
    let born = churn.finish();
    assert!(born > 0, "the churn made no process");
    // The scrapes overlapped scans of the churning table, not one frozen result.
    let after = exporter.scrape_after_next_scan();
    assert!(scans(&after) > before + 1.0, "{before} {after:?}");
    assert_eq!(must(&last, "brood_scan_errors_total"), 0.0);
}

#[test]
fn metrics_come_in_the_format_asked_for_and_only_at_metrics() {
    let exporter = Exporter::start(&[]);
    let text = get(exporter.address, "/metrics", None).unwrap();
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!text.body.contains("# EOF"));
    assert!(
        text.body
            .contains("# TYPE brood_orphans_adopted_total counter\n")
    );
    parse(&text.body).unwrap();

    let open = get(exporter.address, "/metrics", Some(PROMETHEUS_ACCEPT)).unwrap();
    assert_eq!(
        open.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    parse(&open.body).unwrap();

    let index = get(exporter.address, "/", None).unwrap();
    assert_eq!(index.status, 200);
    assert!(index.body.contains("href=\"/metrics\""), "{}", index.body);
    assert_eq!(get(exporter.address, "/nope", None).unwrap().status, 404);
}

#[test]
fn sigterm_ends_the_exporter_cleanly() {
    let mut exporter = Exporter::start(&[]);
    exporter.scrape();
    signal(exporter.process.pid(), Signal::SIGTERM);
    let status = wait_until("the exporter to exit", || {
        exporter.process.0.try_wait().ok().flatten()
    });
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_listen_address_is_a_one_line_error_and_status_2() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    for (listen, says) in [
        ("127.0.0.1", "invalid socket address"),
        ("localhost:9", "invalid socket address"),
        (taken.as_str(), "the port is in use"),
        // TEST-NET-1: no machine has it, so binding fails without a packet sent.
        ("192.0.2.1:9", "not one of this machine's"),
    ] {
        let output = run(brood(&["exporter", "--listen", listen]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{listen}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{listen}: {stderr}");
        assert!(
            stderr.starts_with("brood: ") && stderr.contains(listen) && stderr.contains(says),
            "{listen}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{listen}: nothing served");
    }
}

// ---- what the README and assets/ say about the metrics ----------------------------------------

fn repo_file(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{full}: {err}"))
}

/// The metric families the exporter serves, as named in the text format.
fn served() -> Vec<String> {
    let exposition = Exposition::render(&Report::default()).unwrap();
    let text = String::from_utf8(exposition.body(Format::Text).to_vec()).unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .map(str::to_string)
        .collect()
}

/// Every `brood_…` word in `text`, reduced to its family (a histogram's series to its name).
fn metrics_named_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("brood_"))
        .map(|word| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| word.strip_suffix(suffix))
                .unwrap_or(word)
                .to_string()
        })
        .collect()
}

fn assert_all_served(names: &[String], place: &str) {
    let served = served();
    for name in names {
        assert!(
            served.contains(name),
            "{place} names {name}, which is not served"
        );
    }
}

#[test]
fn the_readme_documents_every_metric_and_no_other() {
    let readme = repo_file("README.md");
    let section = readme
        .split("## Prometheus exporter")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a Prometheus exporter section");
    let named = metrics_named_in(section);
    assert_all_served(&named, "the README");
    for name in served() {
        assert!(
            section.contains(&format!("`{name}")),
            "the README does not document {name}"
        );
    }
}

#[derive(Debug, serde::Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleGroup {
    name: String,
    rules: Vec<AlertRule>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertRule {
    alert: String,
    expr: String,
    #[serde(rename = "for")]
    pending: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

#[test]
fn the_alert_rules_parse_and_watch_served_metrics() {
    let rules: RuleFile = serde_yaml_ng::from_str(&repo_file("assets/brood-alerts.yml"))
        .expect("assets/brood-alerts.yml is a Prometheus rule file");
    assert!(rules.groups.iter().all(|g| !g.name.is_empty()));
    let rules: Vec<&AlertRule> = rules.groups.iter().flat_map(|g| &g.rules).collect();
    let rule = |alert: &str| {
        *rules
            .iter()
            .find(|r| r.alert == alert)
            .unwrap_or_else(|| panic!("no alert {alert}"))
    };
    let zombie = rule("BroodZombieOlderThan10Minutes");
    assert_eq!(zombie.expr, "brood_zombie_oldest_age_seconds > 600");
    let deadlock = rule("BroodDeadlock");
    assert_eq!(deadlock.expr, "brood_deadlock_cycles > 0");
    assert!(
        deadlock.pending.is_some(),
        "a lock changing hands can look like a cycle for one sweep"
    );
    let disk_sleep = rule("BroodProcessInDiskSleep5Minutes");
    assert_eq!(disk_sleep.expr, "brood_disk_sleep_longest_seconds >= 300");
    for rule in &rules {
        assert_all_served(&metrics_named_in(&rule.expr), &rule.alert);
        assert!(rule.labels.contains_key("severity"), "{rule:?}");
        assert!(rule.annotations.contains_key("summary"), "{rule:?}");
    }
}

#[test]
fn the_grafana_dashboard_parses_and_queries_served_metrics() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&repo_file("assets/grafana-dashboard.json"))
            .expect("assets/grafana-dashboard.json is JSON");
    assert!(
        dashboard["title"]
            .as_str()
            .is_some_and(|t| t.contains("brood"))
    );
    let panels = dashboard["panels"].as_array().expect("panels");
    let queries: Vec<&str> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    assert!(queries.len() >= 6, "{queries:?}");
    for query in &queries {
        assert_all_served(&metrics_named_in(query), "the dashboard");
    }
    for metric in [
        "brood_zombies_by_parent",
        "brood_deadlock_cycles",
        "brood_disk_sleep_stuck_processes",
        "brood_orphans_adopted_total",
    ] {
        assert!(
            queries.iter().any(|q| q.contains(metric)),
            "the dashboard shows no {metric}"
        );
    }
}
