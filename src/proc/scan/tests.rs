//! The scanner on real processes: quiet ones skipped, reparenting caught, many read ahead.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};

use super::quiet::FULL_READ_EVERY;
use super::read::{is_name_of, read_again};
use super::read_ahead::READ_AHEAD_FROM;
use super::*;

/// Children of the test, killed and reaped on drop, and PIDs that are not (any more) ours.
#[derive(Default)]
struct Guard {
    children: Vec<Child>,
    strays: Vec<Pid>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for &pid in &self.strays {
            let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(pid: Pid, signal: Signal) {
    kill(nix::unistd::Pid::from_raw(pid), signal).unwrap();
}

/// The fields after `comm` in /proc/PID/stat, as the kernel has them now.
fn proc_stat(pid: Pid) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    after.split(' ').map(String::from).collect()
}

fn wait_until(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "condition not met within 5 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn find(snapshot: &Snapshot, pid: Pid) -> &ProcInfo {
    snapshot
        .procs
        .iter()
        .find(|p| p.pid() == pid)
        .unwrap_or_else(|| panic!("{pid} missing from the snapshot"))
}

/// Scans until `pid` has been read in full with its schedstat open, and the next scan will
/// not read it in full just because it is due.
fn scan_until_quiet(scanner: &mut Scanner, pid: Pid) {
    for _ in 0..3 {
        scanner.scan().unwrap();
    }
    skip_due_scan(scanner, pid);
}

fn skip_due_scan(scanner: &mut Scanner, pid: Pid) {
    while (pid as u64 + scanner.scan_count + 1).is_multiple_of(FULL_READ_EVERY) {
        scanner.scan().unwrap();
    }
}

fn was_reused_quietly(scanner: &Scanner, snapshot: &Snapshot, pid: Pid) -> bool {
    scanner
        .quiet
        .iter()
        .any(|&i| snapshot.procs[i].pid() == pid)
}

#[test]
fn a_sleeping_process_is_not_read_again_until_it_runs() {
    let mut guard = Guard::default();
    let sleeper = Command::new("sleep").arg("600").spawn().unwrap();
    let pid = sleeper.id() as Pid;
    guard.children.push(sleeper);
    let mut scanner = Scanner::new(ScanOptions::default());
    scan_until_quiet(&mut scanner, pid);

    let snapshot = scanner.scan().unwrap();
    assert!(was_reused_quietly(&scanner, &snapshot, pid));
    assert_eq!(find(&snapshot, pid).state, State::Sleeping);
    let own = scanner.entries.get(&(std::process::id() as Pid)).unwrap();
    assert!(
        own.sched_file.is_none(),
        "a multi-threaded process is always read"
    );

    // Each change below makes the process run, so each is seen at the next scan.
    for (sig, state) in [
        (Signal::SIGSTOP, State::Stopped),
        (Signal::SIGCONT, State::Sleeping),
        (Signal::SIGKILL, State::Zombie),
    ] {
        scan_until_quiet(&mut scanner, pid);
        signal(pid, sig);
        let letter = state.letter().to_string();
        wait_until(|| proc_stat(pid).first() == Some(&letter));
        let snapshot = scanner.scan().unwrap();
        assert_eq!(find(&snapshot, pid).state, state, "after {sig:?}");
        assert!(!was_reused_quietly(&scanner, &snapshot, pid));
    }
}

#[test]
fn a_sleeping_process_whose_parent_dies_is_read_again_for_its_new_parent() {
    let mut guard = Guard::default();
    let mut parent = Command::new("sh")
        .args(["-c", "sleep 600 & echo $!; wait"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let parent_pid = parent.id() as Pid;
    let mut line = String::new();
    std::io::BufReader::new(parent.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let orphan: Pid = line.trim().parse().unwrap();
    guard.strays.push(orphan);
    guard.children.push(parent);

    let mut scanner = Scanner::new(ScanOptions::default());
    wait_until(|| {
        std::fs::read_to_string(format!("/proc/{orphan}/comm")).is_ok_and(|c| c == "sleep\n")
    });
    scan_until_quiet(&mut scanner, orphan);
    let snapshot = scanner.scan().unwrap();
    assert!(was_reused_quietly(&scanner, &snapshot, orphan));
    assert_eq!(find(&snapshot, orphan).ppid, parent_pid);

    // The orphan does not run when it is adopted: only its parent's death tells.
    skip_due_scan(&mut scanner, orphan);
    signal(parent_pid, Signal::SIGKILL);
    wait_until(|| proc_stat(orphan).get(1) != Some(&parent_pid.to_string()));
    let adopter: Pid = proc_stat(orphan)[1].parse().unwrap();
    let snapshot = scanner.scan().unwrap();
    assert_eq!(
        find(&snapshot, orphan).ppid,
        adopter,
        "parent is a zombie now"
    );

    for child in &mut guard.children {
        child.wait().unwrap();
    }
    let snapshot = scanner.scan().unwrap();
    assert_eq!(find(&snapshot, orphan).ppid, adopter, "parent reaped");
}

#[test]
fn a_first_scan_of_many_new_processes_reads_them_ahead_and_misses_nothing() {
    let mut guard = Guard::default();
    let argument = format!("{}.{}", 3000 + std::process::id() % 1000, 300);
    for _ in 0..READ_AHEAD_FROM + 50 {
        let child = Command::new("sleep").arg(&argument).spawn().unwrap();
        guard.children.push(child);
    }
    let mut scanner = Scanner::new(ScanOptions::default());
    let snapshot = scanner.scan().unwrap();
    let own_uid = nix::unistd::getuid().as_raw();
    for child in &guard.children {
        let proc = find(&snapshot, child.id() as Pid);
        // A child not yet past exec shows the test's own command line: wait for it is not
        // needed, its name tells which one it is.
        if &*proc.name == "sleep" {
            assert_eq!(&*proc.cmdline, format!("sleep {argument}"));
        }
        assert_eq!(proc.uid, Some(own_uid));
    }
    // Their files were kept: the next scan reads them without opening anything.
    let kept = scanner.open_files();
    assert!(kept >= guard.children.len(), "{kept} files kept");
    let again = scanner.scan().unwrap();
    for child in &guard.children {
        assert_eq!(find(&again, child.id() as Pid).uid, Some(own_uid));
    }
}

#[test]
fn a_name_is_compared_to_its_comm_as_shown() {
    assert!(is_name_of("sleep", b"sleep"));
    assert!(is_name_of("evil\\x1b[2J", b"evil\x1b[2J"));
    assert!(!is_name_of("sleep", b"bash"));
    assert!(!is_name_of("evil\\x1b[2J", b"evil"));
}

const FRESH_PROCESS: &str = "BROOD_TEST_FRESH_PROCESS";

/// Run in a process of its own (other tests' scanners grow the table too), with more
/// processes than the table starts with room for.
#[test]
fn the_descriptor_table_is_grown_for_every_process_there_is() {
    let mut guard = Guard::default();
    for _ in 0..150 {
        guard
            .children
            .push(Command::new("sleep").arg("60").spawn().unwrap());
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "proc::scan::tests::descriptor_table_of_a_fresh_process",
            "--ignored",
            "--test-threads=1",
        ])
        .env(FRESH_PROCESS, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains("1 passed"),
        "{text}"
    );
}

#[test]
#[ignore = "run by the_descriptor_table_is_grown_for_every_process_there_is"]
fn descriptor_table_of_a_fresh_process() {
    if std::env::var_os(FRESH_PROCESS).is_none() {
        return;
    }
    fn table_size() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line["FDSize:".len()..].trim().parse().unwrap()
    }
    let processes = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| parse_pid(e.file_name().as_encoded_bytes()).is_some())
        })
        .count();
    reserve_descriptors();
    let wanted = (processes * 2).min(super::budget::budget(raise_fd_limit()));
    assert!(
        table_size() >= wanted,
        "{} slots for {processes} processes",
        table_size()
    );
}

#[test]
fn only_positive_decimal_names_are_pids() {
    assert_eq!(parse_pid(b"4711"), Some(4711));
    assert_eq!(parse_pid(b"2147483647"), Some(i32::MAX));
    for name in [
        &b""[..],
        b"0",
        b"self",
        b"12a",
        b"-1",
        b"2147483648",
        b"99999999999",
    ] {
        assert_eq!(parse_pid(name), None, "{:?}", String::from_utf8_lossy(name));
    }
}

#[test]
fn a_directory_is_listed_across_many_small_batches() {
    let dir = std::env::temp_dir().join(format!("brood-scan-list-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in (1..=300)
        .map(|n| n.to_string())
        .chain(["self".into(), "7x".into()])
    {
        File::create(dir.join(name)).unwrap();
    }
    let mut listed = Vec::new();
    // 256 bytes hold only a handful of records, so this takes dozens of getdents64 calls.
    let mut buf = [MaybeUninit::uninit(); 256];
    let result = list_numeric_entries(&File::open(&dir).unwrap(), &mut buf, &mut listed);
    std::fs::remove_dir_all(&dir).unwrap();
    result.unwrap();
    listed.sort_unstable();
    assert_eq!(listed, (1..=300).collect::<Vec<Pid>>());
}

#[test]
fn an_empty_command_line_of_a_live_user_task_is_read_again_not_remembered() {
    // Fields as /proc/PID/stat gives them: pid, comm, state, then the rest (flags ninth).
    let stat = |state: char, flags: u32| {
        format!("42 (sleep) {state} 1 42 42 0 -1 {flags} 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0")
    };
    let user = stat('S', 0x0040_0000);
    let user = crate::proc::stat::parse_stat(user.as_bytes()).unwrap();
    assert!(read_again(&user, Some("")), "caught mid-exec");
    assert!(!read_again(&user, Some("sleep 61")));
    assert!(
        !read_again(&user, None),
        "unread already, for want of descriptors"
    );
    let zombie = stat('Z', 0x0040_0000);
    let zombie = crate::proc::stat::parse_stat(zombie.as_bytes()).unwrap();
    assert!(!read_again(&zombie, Some("")), "a zombie has none");
    let kernel = stat('I', 0x0020_8040);
    let kernel = crate::proc::stat::parse_stat(kernel.as_bytes()).unwrap();
    assert!(!read_again(&kernel, Some("")), "nor has a kernel thread");
}
