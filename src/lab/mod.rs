//! The lab: processes brood owns. brood starts workers (its own binary in a hidden role), talks to
//! each over a private Unix socket, and makes sure none outlives it unless the user asked.
//! Blocking calls live here; the UI reaches them only through the effects layer.

pub mod protocol;
pub mod rundir;
pub mod scenarios;
pub mod tasks;
pub mod worker;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid as NixPid;

use crate::proc::scan::read_identity;
use crate::proc::{Identity, Pid};
use protocol::{Reply, Request, WaitOutcome};
use rundir::RunDir;

/// The hidden command-line word that starts the worker role.
pub const WORKER_ARG: &str = "__lab-worker";
/// A file in the run directory that tells workers brood left them running on purpose.
pub const DETACHED_MARKER: &str = "detached";
/// How long a worker may take to answer anything but `wait`.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("cannot set up the lab: {0}")]
    Setup(#[source] std::io::Error),
    #[error("cannot start a lab process: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("process {0} is not a lab process that answers (it may have exited or exec'd)")]
    NoWorker(Pid),
    #[error("lab process {0} did not answer in time (busy in a wait?)")]
    Timeout(Pid),
    #[error("lab process {pid} refused: {reason}")]
    Refused { pid: Pid, reason: String },
    #[error("lab process {pid} sent a malformed reply: {reason}")]
    Protocol { pid: Pid, reason: String },
}

pub fn socket_path(dir: &Path, pid: Pid) -> PathBuf {
    dir.join(format!("{pid}.sock"))
}

/// brood's side of the lab.
pub struct Lab {
    exe: PathBuf,
    dir: RunDir,
    /// Read end of the lifeline, inherited by every worker; the write end never leaves brood,
    /// so when brood dies (even by SIGKILL) every worker sees the pipe close.
    lifeline_read: OwnedFd,
    _lifeline_write: OwnedFd,
    /// The process group every lab process shares, named by its first leader's identity.
    group: Mutex<Option<Identity>>,
    /// brood's own children (the workers it spawned), to reap exactly those at the end.
    children: Mutex<Vec<Pid>>,
}

impl Lab {
    /// Prepares a lab whose workers run `exe` (brood itself: `/proc/self/exe`).
    pub fn new(exe: PathBuf) -> Result<Lab, LabError> {
        let dir = RunDir::create().map_err(LabError::Setup)?;
        let (lifeline_read, lifeline_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| LabError::Setup(e.into()))?;
        Ok(Lab {
            exe,
            dir,
            lifeline_read,
            _lifeline_write: lifeline_write,
            group: Mutex::new(None),
            children: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The lab's process group ID.
    pub fn group(&self) -> Option<Pid> {
        self.group
            .lock()
            .ok()
            .and_then(|g| *g)
            .map(|leader| leader.pid)
    }

    /// Starts a new worker as brood's child and returns its PID once it answers.
    pub fn spawn(&self) -> Result<Pid, LabError> {
        let mut group = self
            .group
            .lock()
            .map_err(|_| LabError::Spawn(std::io::Error::other("lab lock poisoned")))?;
        let child = match self.spawn_in(group.map(|leader| leader.pid)) {
            // The old group is gone (every member exited): start a new one.
            Err(_) if group.is_some() => self.spawn_in(None),
            other => other,
        }
        .map_err(LabError::Spawn)?;
        let pid = child.id() as Pid;
        // brood reaps its children itself, explicitly: dropping `Child` does not wait for it.
        drop(child);
        if let Ok(mut children) = self.children.lock() {
            children.push(pid);
        }
        if group.is_none_or(|leader| !group_is_ours(leader)) {
            *group = read_identity(pid);
        }
        drop(group);
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.request(pid, Request::Ping, Some(REPLY_TIMEOUT)) {
                Ok(_) => return Ok(pid),
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(err) => return Err(err),
            }
        }
    }

    fn spawn_in(&self, group: Option<Pid>) -> std::io::Result<std::process::Child> {
        let lifeline = self.lifeline_read.as_raw_fd();
        let mut command = Command::new(&self.exe);
        command
            .arg0(worker::WORKER_NAME)
            .arg(WORKER_ARG)
            .arg(self.dir.path())
            .arg(lifeline.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(group.unwrap_or(0));
        // SAFETY: only fcntl, which is async-signal-safe, runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Let the worker inherit the lifeline's read end across exec.
                if libc::fcntl(lifeline, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command.spawn()
    }

    /// Sends one request to the worker `pid` and returns its reply (`None` timeout: wait forever).
    pub fn request(
        &self,
        pid: Pid,
        request: Request,
        timeout: Option<Duration>,
    ) -> Result<Reply, LabError> {
        let stream = UnixStream::connect(socket_path(self.dir.path(), pid))
            .map_err(|_| LabError::NoWorker(pid))?;
        stream
            .set_read_timeout(timeout)
            .map_err(|_| LabError::NoWorker(pid))?;
        writeln!(&stream, "{request}").map_err(|_| LabError::NoWorker(pid))?;
        let mut line = String::new();
        match BufReader::new(&stream).read_line(&mut line) {
            Ok(0) => return Err(LabError::NoWorker(pid)),
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(LabError::Timeout(pid));
            }
            Err(_) => return Err(LabError::NoWorker(pid)),
        }
        match Reply::parse(&line) {
            Ok(Reply::Error(reason)) => Err(LabError::Refused { pid, reason }),
            Ok(reply) => Ok(reply),
            Err(reason) => Err(LabError::Protocol { pid, reason }),
        }
    }

    /// Ends every lab process (or, with `leave_running`, lets them live on) and reaps brood's own.
    pub fn shutdown(&self, leave_running: bool) {
        if leave_running {
            let _ = std::fs::write(self.dir.path().join(DETACHED_MARKER), b"");
            self.dir.keep();
            return;
        }
        if let Some(leader) = self.group.lock().ok().and_then(|g| *g) {
            kill_group(leader);
        }
        // Collect brood's own children so none is left a zombie while brood finishes. Only
        // those: another part of the program (a test, say) may have children of its own.
        let children = self.children.lock().map(|c| c.clone()).unwrap_or_default();
        reap_all_own(children, Duration::from_secs(2));
        self.dir.remove();
    }
}

/// Collects each of brood's own children in `children` as it exits (they were just killed),
/// giving up after `within`; children that are not brood's (ECHILD) are skipped at once.
pub fn reap_all_own(mut children: Vec<Pid>, within: Duration) {
    let deadline = Instant::now() + within;
    while !children.is_empty() && Instant::now() < deadline {
        children.retain(|&pid| matches!(reap_own(Some(pid)), Ok(None)));
        if !children.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Collects brood's own child `pid` (or any child) if it has exited; never blocks.
pub fn reap_own(child: Option<Pid>) -> nix::Result<Option<WaitOutcome>> {
    let status = waitpid(child.map(NixPid::from_raw), Some(WaitPidFlag::WNOHANG))?;
    Ok(WaitOutcome::from_status(status))
}

/// Whether the group that `leader` started still exists and is still the lab's.
///
/// The kernel does not reuse a number while a process group holds it, so a group whose leader
/// has exited but which still has members is ours; a live process under the leader's PID with
/// another start time means the old group vanished and the number was reused.
fn group_is_ours(leader: Identity) -> bool {
    let has_members = killpg(NixPid::from_raw(leader.pid), None).is_ok();
    has_members && read_identity(leader.pid).is_none_or(|now| now == leader)
}

/// SIGKILLs the whole lab group, unless it is gone or its number now belongs to someone else.
pub fn kill_group(leader: Identity) {
    if leader.pid > 1 && group_is_ours(leader) {
        let _ = killpg(NixPid::from_raw(leader.pid), Signal::SIGKILL);
    }
}
