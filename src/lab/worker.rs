//! The hidden worker role: a lab process is brood's own binary run as `brood __lab-worker`.
//! It is single-threaded (so a real `fork()` is safe), idle until a request arrives on its
//! socket, and ends when brood's lifeline pipe closes, unless the run was left running on purpose.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
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

/// Runs the worker loop; returns the exit code when the worker should end.
pub fn run(dir: &Path, lifeline: Option<RawFd>) -> i32 {
    // SAFETY: the fd number was passed by brood, which left it open (not CLOEXEC) for us.
    let lifeline = lifeline.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    set_name(WORKER_NAME);
    // A reply to a peer that hung up must not kill the worker; and a child must stay a zombie
    // until someone waits for it, so SIGCHLD keeps its default (not SIG_IGN, which auto-reaps).
    // SAFETY: installing SIG_IGN / SIG_DFL runs no handler code.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigIgn);
        let _ = signal(Signal::SIGCHLD, SigHandler::SigDfl);
    }
    let mut worker = match Worker::bind(dir.to_path_buf(), lifeline) {
        Ok(worker) => worker,
        Err(_) => return 1,
    };
    worker.serve()
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
                self.remove_socket();
                // brood is gone without ending the lab (killed outright): the first worker to
                // notice ends the whole group, so stopped processes, ones blocked in a wait and
                // programs exec'd in the lab (none of which watch the lifeline) go too.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::getpgrp(),
                    nix::sys::signal::Signal::SIGKILL,
                );
                return 0;
            }
            let Ok((stream, _)) = self.listener.accept() else {
                continue;
            };
            if let Next::Exit(code) = self.handle(stream) {
                self.remove_socket();
                return code;
            }
        }
    }

    /// Blocks until a connection or the lifeline's end; true when brood is gone.
    fn lifeline_closed(&mut self) -> bool {
        let Some(lifeline) = &self.lifeline else {
            poll_one(self.listener.as_fd(), PollTimeout::NONE);
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
        let lifeline = self.lifeline.as_ref().map(|fd| fd.as_raw_fd());
        Next::Exit(tasks::run(task, &mut self.kit, &self.dir, lifeline))
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

fn poll_one(fd: BorrowedFd<'_>, timeout: PollTimeout) {
    let _ = poll(&mut [PollFd::new(fd, PollFlags::POLLIN)], timeout);
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
    use std::os::fd::AsRawFd;
    // nix has no POLLRDHUP, so this one poll is libc's.
    let mut fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    ready > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP) != 0
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
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0);
        }
    }
}
