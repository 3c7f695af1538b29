//! Waits for the lab's replies on one thread, however many requests are pending: a `wait` may
//! block in its worker for ever, and a thread per waiting request would grow without bound. Each
//! reply (or the end of its deadline) comes back to the main loop as an [`Event::Done`].

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::lab::protocol::Reply;
use crate::lab::{Lab, LabError, PendingReply};
use crate::message::{Event, Outcome};

/// A request waiting for its reply, and when to give up on it (`None`: never).
struct Waiting {
    pending: PendingReply,
    deadline: Option<Instant>,
}

/// The handle the executor hands pending requests to.
pub struct Replies {
    register: Sender<Waiting>,
    /// One byte written here wakes the poller to take a new request; closed, it ends the thread.
    wake: UnixStream,
    events: Sender<Event>,
}

impl Replies {
    pub fn start(lab: Arc<Lab>, events: Sender<Event>) -> std::io::Result<Replies> {
        let (register, inbox) = mpsc::channel();
        let (wake, woken) = UnixStream::pair()?;
        woken.set_nonblocking(true)?;
        let reports = events.clone();
        std::thread::Builder::new()
            .name("lab-replies".into())
            .spawn(move || run(&lab, &reports, &inbox, woken))?;
        Ok(Replies {
            register,
            wake,
            events,
        })
    }

    /// Reports `pending`'s reply when it comes, or a timeout after `timeout`.
    pub fn watch(&self, pending: PendingReply, timeout: Option<Duration>) {
        if let Err(err) = pending.set_nonblocking() {
            let why = LabError::Setup(err);
            report(&self.events, pending, Err(why));
            return;
        }
        let waiting = Waiting {
            pending,
            deadline: timeout.map(|t| Instant::now() + t),
        };
        if self.register.send(waiting).is_ok() {
            let _ = (&self.wake).write_all(b"w");
        }
    }
}

fn run(lab: &Lab, events: &Sender<Event>, inbox: &Receiver<Waiting>, mut woken: UnixStream) {
    let mut waiting: Vec<Waiting> = Vec::new();
    loop {
        waiting.extend(inbox.try_iter());
        let now = Instant::now();
        let (expired, live): (Vec<Waiting>, Vec<Waiting>) = waiting
            .drain(..)
            .partition(|w| w.deadline.is_some_and(|d| d <= now));
        waiting = live;
        // Dropping an expired request closes its connection: the worker then drops it too.
        for Waiting { pending, .. } in expired {
            let pid = pending.target.pid;
            report(events, pending, Err(LabError::Timeout(pid)));
        }
        let timeout =
            waiting
                .iter()
                .filter_map(|w| w.deadline)
                .min()
                .map_or(PollTimeout::NONE, |deadline| {
                    let millis = deadline.saturating_duration_since(now).as_millis() + 1;
                    PollTimeout::try_from(millis.min(60_000) as i32).unwrap_or(PollTimeout::NONE)
                });
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = std::iter::once(woken.as_fd())
                .chain(waiting.iter().map(|w| w.pending.as_fd()))
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            if poll(&mut fds, timeout).is_err() {
                continue;
            }
            fds.iter()
                .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        if ready[0] {
            let mut bytes = [0u8; 64];
            // End of file: the executor is gone, and with it anyone to report to.
            if matches!(woken.read(&mut bytes), Ok(0)) {
                return;
            }
        }
        let mut still = Vec::with_capacity(waiting.len());
        for (mut waiting, ready) in waiting.drain(..).zip(ready.into_iter().skip(1)) {
            if ready && let Some(reply) = waiting.pending.read_some() {
                lab.note(&reply);
                report(events, waiting.pending, reply);
                continue;
            }
            still.push(waiting);
        }
        waiting = still;
    }
}

fn report(events: &Sender<Event>, pending: PendingReply, reply: Result<Reply, LabError>) {
    let _ = events.send(Event::Done(Outcome::LabReply {
        target: pending.target,
        request: pending.request,
        reply: reply.map_err(|e| e.to_string()),
    }));
}
