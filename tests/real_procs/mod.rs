//! Helpers for tests that make real processes: a guard that kills and reaps every child it made
//! (even when an assertion fails), condition waits with a deadline, and /proc look-ups.

#![allow(dead_code)] // each test file uses its own share of these

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

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
        kill(Pid::from_raw(pid), Signal::SIGSTOP).expect("SIGSTOP to own child");
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

/// Polls `condition` until it holds or `timeout` passes; true if it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The state letter in /proc/PID/stat, if the process exists.
pub fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after_comm) = stat.rsplit_once(')')?;
    after_comm.trim_start().chars().next()
}

pub fn wait_for_state(pid: i32, state: char) {
    assert!(
        wait_until(Duration::from_secs(5), || state_of(pid) == Some(state)),
        "process {pid} did not reach state {state} (it is {:?})",
        state_of(pid)
    );
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
pub fn find(procs: &[serde_json::Value], pid: i32) -> Option<&serde_json::Value> {
    procs.iter().find(|p| p["pid"] == pid)
}
