//! The hidden roles: a lab process is brood's own binary run as `brood __lab-worker`, the lab's
//! guard as `brood __lab-guard`. A worker is single-threaded (so a real `fork()` is safe), idle
//! until a request arrives on its socket. The guard only watches brood's lifeline pipe. Unless
//! the run was left running on purpose, whoever sees the lifeline close first ends the lab.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{ForkResult, Pid as NixPid, fork, getpid};

use super::protocol::{MAX_LINE, Reply, Request, WaitOutcome};
use super::tasks::{self, Kit};
use super::{DETACHED_MARKER, socket_path};

/// The name lab processes carry in `comm`, so the tree shows what they are.
pub const WORKER_NAME: &str = "brood-lab";
/// The guard's name in `comm`.
pub const GUARD_NAME: &str = "brood-guard";

/// Runs a hidden role if `args` (the whole command line) names one, returning its exit code
/// (for [`exit_now`]).
pub fn run_role(args: &[std::ffi::OsString]) -> Option<i32> {
    let role = args.get(1)?;
    let dir = args.get(2).map(PathBuf::from).unwrap_or_default();
    let lifeline = args.get(3).and_then(|fd| lifeline_from(fd.to_str()?));
    if role == super::WORKER_ARG {
        Some(run(&dir, lifeline))
    } else if role == super::GUARD_ARG {
        Some(guard(&dir, lifeline))
    } else {
        None
    }
}

/// Ends this lab process at once with `code`, as `_exit()` does: a process forked from a worker
/// shares its parent's copies of stdio buffers and exit handlers, which are the parent's to run
/// (running them twice would, say, write the same buffered output twice).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit only ends the process; it runs no code of this program.
    unsafe { libc::_exit(code) }
}

/// Takes the lifeline's read end brood named on the command line, after checking that the
/// number is an open pipe (and not, say, the terminal or a number made up): a wrong descriptor
/// would be closed or watched for nothing.
fn lifeline_from(number: &str) -> Option<OwnedFd> {
    use std::os::unix::fs::FileTypeExt;
    let fd: RawFd = number.parse().ok().filter(|fd| *fd > 2)?;
    // Asked by number through /proc, as a descriptor not yet known to be open cannot be
    // borrowed: the link is there only for an open one, and leads to what it is.
    let kind = std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .ok()?
        .file_type();
    if !kind.is_fifo() {
        return None;
    }
    // SAFETY: an open pipe that brood left open for us (not CLOEXEC) and nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The guard: leads the lab's process group and waits for brood's lifeline to close. Then,
/// unless the lab was left running on purpose, it removes the run directory and ends the group,
/// itself included: stopped processes, ones blocked in a wait and programs exec'd in the lab
/// watch nothing, but they are all in this group.
fn guard(dir: &Path, lifeline: Option<OwnedFd>) -> i32 {
    set_name(GUARD_NAME);
    let Some(lifeline) = lifeline else {
        return 1;
    };
    while poll_one(lifeline.as_fd(), PollTimeout::NONE).is_err() {}
    if !dir.join(DETACHED_MARKER).exists() {
        end_the_lab(dir);
    }
    0
}

/// brood is gone without ending the lab (killed outright): every process of the group goes, the
/// caller with them, then the run directory. The directory must go last (a process still
/// running could write into it while it is removed), so an undertaker does it: a child in a
/// group of its own, which the group's SIGKILL spares.
fn end_the_lab(dir: &Path) {
    use nix::sys::signal::{Signal, killpg};
    let group = nix::unistd::getpgrp();
    // SAFETY: the caller is single-threaded (a worker between requests, or the guard), so the
    // child may do anything after fork.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = nix::unistd::setpgid(NixPid::from_raw(0), NixPid::from_raw(0));
            let _ = killpg(group, Signal::SIGKILL);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while crate::proc::lookup::group_has_live_members(group.as_raw())
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            // Lab processes that left the group (a new session, a job's group) still hold the
            // run's lock.
            if let Some(lock) = super::holders::lock_in(dir) {
                super::holders::end_all(lock, Duration::from_secs(2));
            }
            let _ = std::fs::remove_dir_all(dir);
            exit_now(0);
        }
        // The undertaker ends the caller too.
        Ok(ForkResult::Parent { .. }) => {}
        // Without an undertaker, the group still ends.
        Err(_) => {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

/// Runs the worker loop; returns the exit code when the worker should end.
fn run(dir: &Path, lifeline: Option<OwnedFd>) -> i32 {
    set_name(WORKER_NAME);
    default_signals();
    super::board::attach(dir);
    let mut worker = match Worker::bind(dir.to_path_buf(), lifeline) {
        Ok(worker) => worker,
        Err(_) => return 1,
    };
    worker.serve()
}

/// A lab process starts with every signal at its default action and none blocked, whatever
/// brood had: exec keeps ignored signals ignored and the mask as it was, and brood ignores the
/// terminal's job-control signals (SIGTTIN, SIGTTOU) itself. A lesson shows what the kernel does
/// by default; a child must stay a zombie until someone waits for it (SIGCHLD ignored would reap
/// it). Only SIGPIPE is ignored, so a reply to a peer that hung up cannot kill the worker; tasks
/// that write pipes restore it.
fn default_signals() {
    for sig in Signal::iterator().filter(|s| ![Signal::SIGKILL, Signal::SIGSTOP].contains(s)) {
        // SAFETY: SIG_DFL installs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
    // SAFETY: SIG_IGN installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
}

struct Worker {
    dir: PathBuf,
    listener: UnixListener,
    lifeline: Option<OwnedFd>,
    /// Pipe ends and shared memory held for scenario tasks; a forked child inherits them.
    kit: Kit,
}

enum Next {
    Continue,
    Exit(i32),
}

impl Worker {
    fn bind(dir: PathBuf, lifeline: Option<OwnedFd>) -> std::io::Result<Worker> {
        let path = socket_path(&dir, getpid().as_raw());
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        Ok(Worker {
            dir,
            listener,
            lifeline,
            kit: Kit::default(),
        })
    }

    fn serve(&mut self) -> i32 {
        loop {
            if self.lifeline_closed() && !self.dir.join(DETACHED_MARKER).exists() {
                end_the_lab(&self.dir);
                return 0;
            }
            let Ok((stream, _)) = self.listener.accept() else {
                continue;
            };
            if let Next::Exit(code) = self.handle(stream) {
                self.remove_socket();
                // At once, as _exit(): what the process holds is let go by the kernel as it
                // exits, not one by one before (closing a terminal's master side first would
                // hang it up and SIGHUP a session leader still alive).
                exit_now(code);
            }
        }
    }

    /// Blocks until a connection or the lifeline's end; true when brood is gone.
    fn lifeline_closed(&mut self) -> bool {
        let Some(lifeline) = &self.lifeline else {
            let _ = poll_one(self.listener.as_fd(), PollTimeout::NONE);
            return false;
        };
        let mut fds = [
            PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(lifeline.as_fd(), PollFlags::POLLIN),
        ];
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            return false;
        }
        let closed = fds[1]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLIN));
        if closed {
            // Left running on purpose: stop watching the lifeline.
            self.lifeline = None;
        }
        closed
    }

    fn handle(&mut self, stream: UnixStream) -> Next {
        if !same_user(&stream) {
            let _ = reply(
                &stream,
                &Reply::Error("permission denied: not the worker's user".into()),
            );
            return Next::Continue;
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = match read_request(&stream) {
            Ok(request) => request,
            Err(reason) => {
                let _ = reply(&stream, &Reply::Error(reason));
                return Next::Continue;
            }
        };
        // A request that waited in the queue while this worker was busy (in a wait, say) may
        // have been given up on: brood closes the connection when its answer is late. Acting
        // on it now would fork or reap behind brood's back, so it is dropped.
        if peer_hung_up(&stream) {
            return Next::Continue;
        }
        match request {
            Request::Ping => {
                let _ = reply(&stream, &Reply::Ok(getpid().as_raw()));
                Next::Continue
            }
            Request::Exit(code) => {
                let _ = reply(&stream, &Reply::Ok(getpid().as_raw()));
                Next::Exit(i32::from(code))
            }
            Request::Fork => self.fork(stream),
            Request::Wait => {
                let outcome = waitpid(None, Some(WaitPidFlag::WUNTRACED | WaitPidFlag::WCONTINUED));
                let _ = reply(&stream, &wait_reply(outcome));
                Next::Continue
            }
            Request::Check => {
                let flags = WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED | WaitPidFlag::WCONTINUED;
                let _ = reply(&stream, &wait_reply(waitpid(None, Some(flags))));
                Next::Continue
            }
            Request::Reap(pid) => {
                let outcome = waitpid(NixPid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
                let _ = reply(&stream, &wait_reply(outcome));
                Next::Continue
            }
            Request::WaitPid(pid) => {
                let outcome = waitpid(NixPid::from_raw(pid), None);
                let _ = reply(&stream, &wait_reply(outcome));
                Next::Continue
            }
            Request::Task(task) => self.task(stream, task),
        }
    }

    /// Setup tasks answer when done; any other task answers at once, stops serving (its socket
    /// goes, so requests fail fast instead of timing out) and ends the worker when it finishes.
    fn task(&mut self, stream: UnixStream, task: tasks::Task) -> Next {
        if task.is_setup() {
            let answer = match tasks::setup(task, &mut self.kit, &self.dir) {
                Ok(()) => Reply::Ok(getpid().as_raw()),
                Err(reason) => Reply::Error(reason),
            };
            let _ = reply(&stream, &answer);
            return Next::Continue;
        }
        let _ = reply(&stream, &Reply::Ok(getpid().as_raw()));
        drop(stream);
        self.remove_socket();
        Next::Exit(tasks::run(task, &mut self.kit, &self.dir))
    }

    fn fork(&mut self, stream: UnixStream) -> Next {
        let Ok((ready_read, ready_write)) = nix::unistd::pipe() else {
            let _ = reply(&stream, &Reply::Error("cannot create a pipe".into()));
            return Next::Continue;
        };
        // SAFETY: a worker is single-threaded, so the child may do anything after fork.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                drop(stream);
                drop(ready_read);
                match Worker::bind(self.dir.clone(), self.lifeline.take()) {
                    Ok(mut child) => {
                        child.kit = std::mem::take(&mut self.kit);
                        // The parent's children are not this child's.
                        child.kit.children.clear();
                        *self = child;
                    }
                    Err(_) => return Next::Exit(1),
                }
                // Tell the parent the socket exists, so brood can talk to the child at once.
                let _ = nix::unistd::write(&ready_write, b"r");
                Next::Continue
            }
            Ok(ForkResult::Parent { child }) => {
                drop(ready_write);
                let mut byte = [0u8; 1];
                let _ = std::fs::File::from(ready_read).read(&mut byte);
                self.kit.children.push(child.as_raw());
                // Read now, while the child is certainly this one: it is ours and not reaped.
                let answer = match crate::proc::lookup::read_identity(child.as_raw()) {
                    Some(id) => Reply::Forked(id),
                    None => Reply::Error("the child vanished at once".into()),
                };
                let _ = reply(&stream, &answer);
                Next::Continue
            }
            Err(errno) => {
                let _ = reply(
                    &stream,
                    &Reply::Error(format!("fork failed: {}", errno.desc())),
                );
                Next::Continue
            }
        }
    }

    fn remove_socket(&self) {
        let _ = std::fs::remove_file(socket_path(&self.dir, getpid().as_raw()));
    }
}

fn poll_one(fd: BorrowedFd<'_>, timeout: PollTimeout) -> nix::Result<i32> {
    poll(&mut [PollFd::new(fd, PollFlags::POLLIN)], timeout)
}

fn read_request(stream: &UnixStream) -> Result<Request, String> {
    let mut line = String::new();
    let mut reader = BufReader::new(stream.take(MAX_LINE as u64 + 1));
    reader
        .read_line(&mut line)
        .map_err(|e| format!("unreadable request: {e}"))?;
    if line.len() > MAX_LINE {
        return Err(format!("request longer than {MAX_LINE} bytes"));
    }
    Request::parse(line.trim_end())
}

fn wait_reply(outcome: nix::Result<nix::sys::wait::WaitStatus>) -> Reply {
    match outcome {
        Ok(nix::sys::wait::WaitStatus::StillAlive) => Reply::NotYet,
        Ok(status) => WaitOutcome::from_status(status).map_or(Reply::NotYet, Reply::Waited),
        Err(nix::errno::Errno::ECHILD) => Reply::Error("it has no child to wait for".into()),
        Err(errno) => Reply::Error(format!("waitpid failed: {}", errno.desc())),
    }
}

/// Whether the client closed its end (it reads the reply, so it never half-closes while waiting).
fn peer_hung_up(stream: &UnixStream) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    // nix has no POLLRDHUP, so this one poll is rustix's.
    let mut fds = [PollFd::new(stream, PollFlags::RDHUP)];
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&now)).is_ok_and(|ready| ready > 0)
        && fds[0]
            .revents()
            .intersects(PollFlags::RDHUP | PollFlags::HUP)
}

fn reply(mut stream: &UnixStream, reply: &Reply) -> std::io::Result<()> {
    writeln!(stream, "{reply}")
}

/// The socket directory is already private; this checks the caller's user again anyway.
fn same_user(stream: &UnixStream) -> bool {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    getsockopt(stream, PeerCredentials)
        .is_ok_and(|cred| cred.uid() == nix::unistd::getuid().as_raw())
}

fn set_name(name: &str) {
    if let Ok(name) = std::ffi::CString::new(name) {
        let _ = nix::sys::prctl::set_name(&name);
    }
}
