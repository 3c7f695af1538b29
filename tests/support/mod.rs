//! Helpers for tests that use real processes: every process made here is killed and reaped on
//! drop, also when an assertion fails.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use brood::proc::scan::{ScanOptions, Scanner};
use brood::proc::{Pid, ProcInfo, Snapshot};

/// Generous: CI machines are slow and busy; a passing test never waits this long.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Polls `check` until it returns `Some`, failing the test with `what` after [`DEADLINE`].
pub fn wait_until<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_within(DEADLINE, what, check)
}

/// [`wait_until`] with a deadline of its own, for a test that loads the machine itself.
pub fn wait_within<T>(deadline: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process that is killed and reaped when the guard goes away.
pub struct Reaped(pub Child);

impl Reaped {
    pub fn spawn(program: &str, args: &[&str]) -> Reaped {
        Reaped::from_command(Command::new(program).args(args).stdin(Stdio::null()))
    }

    pub fn from_command(command: &mut Command) -> Reaped {
        let child = command
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a test process");
        Reaped(child)
    }

    pub fn pid(&self) -> Pid {
        self.0.id() as Pid
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process that is not our child (an orphan we made): killed on drop; its adopter reaps it.
pub struct Killed(pub Pid);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// A scanner for a test's look at /proc: it keeps no file open between scans, as many tests
/// scan at once in one process, and kept files (one or two for every process of a busy
/// machine, in each of them) would run the process out of descriptors.
pub fn scanner() -> Scanner {
    Scanner::new(ScanOptions {
        max_open_files: Some(0),
        ..ScanOptions::default()
    })
}

pub fn find(snapshot: &Snapshot, pid: Pid) -> Option<&ProcInfo> {
    snapshot.procs.iter().find(|p| p.pid() == pid)
}

pub fn own_pid() -> Pid {
    std::process::id() as Pid
}

pub fn signal(pid: Pid, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("signal a test process");
}

/// The PPID /proc reports for `pid`, read independently of brood's scanner.
pub fn ppid_from_proc(pid: Pid) -> Option<Pid> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Children of the test process, killed and reaped on drop.
#[derive(Default)]
pub struct Children(Vec<Child>);

impl Children {
    /// Starts `program args…` with no terminal and returns its PID.
    pub fn spawn(&mut self, program: &str, args: &[&str]) -> i32 {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {program}: {err}"));
        let pid = child.id() as i32;
        self.0.push(child);
        pid
    }

    /// `n` children sleeping for ten minutes.
    pub fn sleepers(&mut self, n: usize) -> Vec<i32> {
        (0..n).map(|_| self.spawn("sleep", &["600"])).collect()
    }

    /// A child that has exited and is left unreaped: a zombie until this guard drops.
    pub fn zombie(&mut self) -> i32 {
        let pid = self.spawn("true", &[]);
        wait_for_state(pid, 'Z');
        pid
    }

    /// A `sleep` stopped by SIGSTOP (state T).
    pub fn stopped(&mut self) -> i32 {
        let pid = self.spawn("sleep", &["60"]);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGSTOP,
        )
        .expect("SIGSTOP to own child");
        wait_for_state(pid, 'T');
        pid
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

/// The state letter in /proc/PID/stat, if the process exists.
pub fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.trim_start().chars().next()
}

pub fn wait_for_state(pid: i32, state: char) {
    wait_until(&format!("process {pid} to reach state {state}"), || {
        (state_of(pid) == Some(state)).then_some(())
    });
}

/// A `brood` command for the binary under test, with no terminal on any stream.
pub fn brood(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brood"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

pub fn run(mut command: Command) -> Output {
    command.output().expect("cannot run brood")
}

/// `brood snapshot --format json --pid PID`, parsed: the process objects in tree order.
pub fn snapshot_json(mut command: Command) -> Vec<serde_json::Value> {
    let output = command.output().expect("cannot run brood");
    assert!(
        output.status.success(),
        "brood snapshot failed: {output:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("snapshot output is not JSON");
    value
        .as_array()
        .expect("snapshot JSON is not an array")
        .clone()
}

/// The object for `pid` in a parsed snapshot.
pub fn find_json(procs: &[serde_json::Value], pid: i32) -> Option<&serde_json::Value> {
    procs.iter().find(|p| p["pid"] == pid)
}

/// Records that test `test` could not run here, and why. The run still counts it as passed (the
/// harness has no other way), so `.ci/run` lists every recorded skip at the end of the run.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    eprintln!("skipped: {why}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{test}: {why}");
    }
}

/// The row of `pid` as `app` draws it on a `width`x`height` screen.
pub fn screen_row(app: &brood::app::App, width: u16, height: u16, pid: Pid) -> String {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|frame| brood::ui::draw(frame, app))
        .expect("a frame");
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .find(|line| line.starts_with(&format!("{pid:>7} ")))
        .unwrap_or_else(|| panic!("no row for {pid} on screen"))
}
