//! The lab: processes brood owns. brood starts workers (its own binary in a hidden role), talks to
//! each over a private Unix socket, and makes sure none outlives it unless the user asked.
//! A guard (the same binary in another role) leads the lab's process group for as long as brood
//! lives: the group's number can never pass to anyone else, and if brood is killed outright the
//! guard, never busy, ends the whole group. Blocking calls live here; the runtime calls them.

pub mod board;
mod holders;
pub mod protocol;
pub mod rundir;
pub mod scenarios;
mod shared_file;
pub mod tasks;
pub mod worker;

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid as NixPid;

use crate::proc::{Identity, Pid, lookup, signal};
use protocol::{Reply, Request, WaitOutcome};
use rundir::RunDir;

/// The hidden command-line word that starts the worker role.
pub const WORKER_ARG: &str = "__lab-worker";
/// The hidden command-line word that starts the guard role.
pub const GUARD_ARG: &str = "__lab-guard";
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
    #[error("the lab process {0} is gone and its PID belongs to another process now")]
    Replaced(Pid),
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
    /// The guard, once started: it leads the process group every worker joins.
    guard: Mutex<Option<Identity>>,
    /// Every process brood knows to be of its lab, by identity: the workers it started and the
    /// children they forked on request.
    members: Mutex<Vec<Identity>>,
    /// Where lab processes say what their tasks are doing.
    board: board::Board,
}

/// A request sent to a worker whose reply has not been read yet.
pub struct PendingReply {
    stream: UnixStream,
    pub target: Identity,
    pub request: Request,
    received: Vec<u8>,
}

impl Lab {
    /// Prepares a lab whose workers run `exe` (brood itself: `/proc/self/exe`).
    pub fn new(exe: PathBuf) -> Result<Lab, LabError> {
        let dir = RunDir::create().map_err(LabError::Setup)?;
        let board = board::Board::create(dir.path()).map_err(LabError::Setup)?;
        let (lifeline_read, lifeline_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| LabError::Setup(e.into()))?;
        Ok(Lab {
            exe,
            dir,
            lifeline_read,
            _lifeline_write: lifeline_write,
            guard: Mutex::new(None),
            members: Mutex::new(Vec::new()),
            board,
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The lab's process group: the guard's, while the guard lives and leads it.
    pub fn group(&self) -> Option<Pid> {
        self.live_guard().map(|guard| guard.pid)
    }

    /// The guard, if it lives and still leads its group (a user may have killed it).
    pub fn live_guard(&self) -> Option<Identity> {
        let guard = self.guard.lock().ok().and_then(|g| *g)?;
        (lookup::read_membership(guard.pid) == Some((guard, guard.pid))).then_some(guard)
    }

    /// The lab processes brood knows of (some may have exited since).
    pub fn members(&self) -> Vec<Identity> {
        self.members.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// What each lab process last said its task was doing, by PID.
    pub fn statuses(&self) -> std::collections::HashMap<Pid, String> {
        self.board.lines()
    }

    /// Counts `member` as one of the lab's (a process a task forked, which brood did not ask for).
    pub fn remember(&self, member: Identity) {
        if let Ok(mut members) = self.members.lock() {
            members.push(member);
        }
    }

    /// Starts a new worker as brood's child, in the guard's group, and returns its identity once
    /// it answers. The guard is started first if there is none (or it was killed).
    pub fn spawn(&self) -> Result<Identity, LabError> {
        let group = self.guard()?.pid;
        let child = self
            .start(WORKER_ARG, worker::WORKER_NAME, Some(group))
            .map_err(LabError::Spawn)?;
        self.remember(child);
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.request(child, Request::Ping, Some(REPLY_TIMEOUT)) {
                Ok(_) => return Ok(child),
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(err) => return Err(err),
            }
        }
    }

    /// The live guard, started now if there is none.
    fn guard(&self) -> Result<Identity, LabError> {
        let mut guard = self
            .guard
            .lock()
            .map_err(|_| LabError::Spawn(std::io::Error::other("lab lock poisoned")))?;
        if let Some(live) = *guard
            && lookup::read_membership(live.pid) == Some((live, live.pid))
        {
            return Ok(live);
        }
        let started = self
            .start(GUARD_ARG, worker::GUARD_NAME, None)
            .map_err(LabError::Spawn)?;
        *guard = Some(started);
        Ok(started)
    }

    /// Starts brood's own binary in `role` as brood's child, in process group `group` (a new one
    /// it leads with `None`), and returns its identity.
    fn start(&self, role: &str, name: &str, group: Option<Pid>) -> std::io::Result<Identity> {
        let lifeline = self.lifeline_read.as_raw_fd();
        let lock = self.dir.lock_fd();
        let mut command = Command::new(&self.exe);
        command
            .arg0(name)
            .arg(role)
            .arg(self.dir.path())
            .arg(lifeline.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(group.unwrap_or(0));
        // SAFETY: only fcntl, which is async-signal-safe, runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Inherited across exec: the lifeline's read end, and the run's lock, which
                // keeps the run directory live for as long as any lab process holds it.
                for fd in [lifeline, lock] {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        let pid = child.id() as Pid;
        // brood reaps its children itself, explicitly: dropping `Child` does not wait for it.
        drop(child);
        // Its own unreaped child: the PID cannot be anyone else's yet.
        lookup::read_identity(pid)
            .ok_or_else(|| std::io::Error::other(format!("{name} vanished at once")))
    }

    /// Sends one request to the worker `target` and returns it pending. The worker at the other
    /// end of the socket must be `target` itself: a process that reused its PID is refused.
    pub fn send(&self, target: Identity, request: Request) -> Result<PendingReply, LabError> {
        let pid = target.pid;
        let stream = UnixStream::connect(socket_path(self.dir.path(), pid))
            .map_err(|_| LabError::NoWorker(pid))?;
        let peer = getsockopt(&stream, PeerCredentials).map_err(|_| LabError::NoWorker(pid))?;
        if peer.pid() != pid || lookup::read_identity(pid) != Some(target) {
            return Err(LabError::Replaced(pid));
        }
        writeln!(&stream, "{request}").map_err(|_| LabError::NoWorker(pid))?;
        Ok(PendingReply {
            stream,
            target,
            request,
            received: Vec::new(),
        })
    }

    /// Sends one request to the worker `target` and waits for its reply (`None`: for ever).
    pub fn request(
        &self,
        target: Identity,
        request: Request,
        timeout: Option<Duration>,
    ) -> Result<Reply, LabError> {
        let pending = self.send(target, request)?;
        let reply = pending.wait(timeout);
        self.note(&reply);
        reply
    }

    /// Takes note of what a reply says about the lab (a forked child is a member).
    pub fn note(&self, reply: &Result<Reply, LabError>) {
        if let Ok(Reply::Forked(child)) = reply {
            self.remember(*child);
        }
    }

    /// Ends every lab process (or, with `leave_running`, lets them live on) and reaps brood's own.
    pub fn shutdown(&self, leave_running: bool) {
        if leave_running {
            let _ = std::fs::write(self.dir.path().join(DETACHED_MARKER), b"");
            self.dir.keep();
            return;
        }
        // The group first (it also holds programs exec'd or forked inside tasks, which brood
        // never heard of), then every known member by identity, wherever it went, and the guard.
        if let Some(group) = self.group() {
            let _ = killpg(NixPid::from_raw(group), Signal::SIGKILL);
        }
        let mut everyone = self.members();
        everyone.extend(self.guard.lock().ok().and_then(|g| *g));
        kill_members(&everyone);
        // Lab processes that left the group (a new session, a job's group) and ones brood never
        // heard of still hold the run's lock.
        if let Some(lock) = self.dir.lock_id() {
            holders::end_all(lock, Duration::from_secs(2));
        }
        self.dir.remove();
    }
}

impl PendingReply {
    /// Blocks until the reply arrives (`None`: for ever).
    pub fn wait(mut self, timeout: Option<Duration>) -> Result<Reply, LabError> {
        let pid = self.target.pid;
        self.stream
            .set_read_timeout(timeout)
            .map_err(|_| LabError::NoWorker(pid))?;
        loop {
            match self.read_some() {
                Some(reply) => return reply,
                None => continue,
            }
        }
    }

    /// Reads what has arrived; the reply once it is complete. The stream may be non-blocking
    /// (a poller calls this when it is readable) or blocking with a timeout.
    pub fn read_some(&mut self) -> Option<Result<Reply, LabError>> {
        let pid = self.target.pid;
        let mut buffer = [0u8; 256];
        match (&self.stream).read(&mut buffer) {
            Ok(0) => return Some(Err(LabError::NoWorker(pid))),
            Ok(n) => self.received.extend_from_slice(&buffer[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => return None,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) && self.stream.read_timeout().ok().flatten().is_some() =>
            {
                return Some(Err(LabError::Timeout(pid)));
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return None,
            Err(_) => return Some(Err(LabError::NoWorker(pid))),
        }
        if self.received.len() > protocol::MAX_LINE {
            return Some(Err(LabError::Protocol {
                pid,
                reason: "reply too long".into(),
            }));
        }
        let end = self.received.iter().position(|&b| b == b'\n')?;
        let line = String::from_utf8_lossy(&self.received[..end]);
        Some(match Reply::parse(&line) {
            Ok(Reply::Error(reason)) => Err(LabError::Refused { pid, reason }),
            Ok(reply) => Ok(reply),
            Err(reason) => Err(LabError::Protocol { pid, reason }),
        })
    }

    /// Puts the stream in non-blocking mode, for a poller.
    pub fn set_nonblocking(&self) -> std::io::Result<()> {
        self.stream.set_nonblocking(true)
    }
}

impl AsFd for PendingReply {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

/// SIGKILLs each of `members` that is still alive (by identity, so never a process that reused
/// a PID) and collects those that are brood's own children, so none is left a zombie. Returns
/// how many were killed.
pub fn kill_members(members: &[Identity]) -> usize {
    // Only brood's own children are reaped: another part of the program (a test, say) may have
    // children of its own. Until brood reaps them, their PIDs stay theirs.
    let own = std::process::id() as Pid;
    let children = members
        .iter()
        .filter(|m| lookup::read_identity(m.pid) == Some(**m))
        .filter(|m| lookup::read_parent(m.pid).is_some_and(|(parent, _)| parent == own))
        .map(|m| m.pid)
        .collect();
    let killed = members
        .iter()
        .filter(|m| signal::send_signal(**m, Signal::SIGKILL).is_ok())
        .count();
    reap_all_own(children, Duration::from_secs(2));
    killed
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
