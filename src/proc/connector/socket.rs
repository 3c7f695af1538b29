//! The socket of the kernel's process events: open, subscribe, wait with a timeout, read what is
//! queued. Lost messages are counted (ENOBUFS, per-CPU sequence gaps) and handed on as such, never
//! passed over. What the bytes mean is `wire`'s; this file only moves them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, NetlinkAddr, bind, recv, send, setsockopt, sockopt};

use super::losses::LossCounter;
use super::wire::{self, KernelEvent, Message};

/// How long the kernel may take to answer the subscription. It answers within the `send` call
/// itself; no answer at all means it ignored us (another PID or user namespace).
const ANSWER_WAIT: Duration = Duration::from_secs(1);

/// Datagrams read in one `receive`, so a storm cannot keep one call busy forever.
const MAX_DATAGRAMS: usize = 4096;

/// A connector message is under 100 bytes; room for several, should the kernel ever batch them.
const DATAGRAM_BYTES: usize = 4096;

/// Why the kernel's process events are not available.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("this kernel offers no process events connector ({0})")]
    Unavailable(#[source] io::Error),
    /// Before Linux 6.6 only CAP_NET_ADMIN may listen; since, any user may.
    #[error("this kernel's process events need root or CAP_NET_ADMIN")]
    NotPermitted,
    #[error(
        "the kernel did not answer: it reports process events only to its first PID and user namespace"
    )]
    NoAnswer,
    #[error("the kernel refused the subscription (error {0})")]
    Refused(u32),
    #[error("the process events socket failed: {0}")]
    Io(#[source] io::Error),
}

fn io_error(errno: Errno) -> ConnectorError {
    match errno {
        Errno::EPERM | Errno::EACCES => ConnectorError::NotPermitted,
        other => ConnectorError::Io(other.into()),
    }
}

/// What one `receive` found, in the order it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    Event(Message),
    /// Messages that never arrived: how many when a sequence gap said so, `None` when the kernel
    /// reported an overrun and no later message has yet told how many it cost.
    Lost(Option<u64>),
}

/// A subscribed process events socket. Unsubscribes when dropped.
#[derive(Debug)]
pub struct Connector {
    fd: OwnedFd,
    buf: Vec<u8>,
    losses: LossCounter,
    /// ENOBUFS came and no sequence gap has yet said how many messages it cost.
    overrun_unexplained: bool,
    /// The `ack` the kernel's answer to our request carries, and the answer once read.
    awaiting: u32,
    answer: Option<u32>,
    subscribed: bool,
    /// What arrived while the answer was awaited, handed out by the first `receive`.
    early: Vec<Received>,
    /// CPUs online: until each has been heard from, an overrun cannot be counted in full.
    cpus: usize,
}

impl Connector {
    /// Opens the socket with a receive buffer of `receive_buffer` bytes (as far as the kernel
    /// allows), joins the process events group and subscribes.
    pub fn open(receive_buffer: usize) -> Result<Connector, ConnectorError> {
        // rustix's, as nix names no NETLINK_CONNECTOR protocol.
        use rustix::net::{AddressFamily, SocketFlags, SocketType, netlink};
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(netlink::CONNECTOR),
        )
        .map_err(|errno| ConnectorError::Unavailable(errno.into()))?;
        // A nonce, so that another subscriber's answer (sent to the whole group) is not ours.
        let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let awaiting = std::process::id() ^ clock.map_or(0, |d| d.subsec_nanos());
        let mut connector = Connector {
            fd,
            buf: vec![0; DATAGRAM_BYTES],
            losses: LossCounter::default(),
            overrun_unexplained: false,
            awaiting,
            answer: None,
            subscribed: false,
            early: Vec::new(),
            cpus: nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
                .ok()
                .flatten()
                .map_or(1, |n| n.max(1) as usize),
        };
        connector
            .set_receive_buffer(receive_buffer)
            .map_err(ConnectorError::Io)?;
        bind(
            connector.fd.as_raw_fd(),
            &NetlinkAddr::new(0, wire::CN_IDX_PROC),
        )
        .map_err(io_error)?;
        let request = wire::request(wire::PROC_CN_MCAST_LISTEN, awaiting);
        send(connector.fd.as_raw_fd(), &request, MsgFlags::empty()).map_err(io_error)?;
        connector.await_answer()?;
        Ok(connector)
    }

    fn await_answer(&mut self) -> Result<(), ConnectorError> {
        let deadline = Instant::now() + ANSWER_WAIT;
        let mut early = Vec::new();
        while self.answer.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ConnectorError::NoAnswer);
            }
            self.receive_now(Some(left), &mut early)
                .map_err(ConnectorError::Io)?;
        }
        match self.answer {
            Some(0) => {
                self.subscribed = true;
                self.early = early;
                Ok(())
            }
            Some(err) if err == libc::EPERM as u32 => Err(ConnectorError::NotPermitted),
            Some(err) => Err(ConnectorError::Refused(err)),
            None => Err(ConnectorError::NoAnswer),
        }
    }

    /// Asks for a receive buffer of `bytes` (past `net.core.rmem_max` where allowed, which it is
    /// wherever the connector is) and returns what the kernel granted: twice the request, as it
    /// counts its own bookkeeping in.
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<usize> {
        if setsockopt(&self.fd, sockopt::RcvBufForce, &bytes).is_err() {
            setsockopt(&self.fd, sockopt::RcvBuf, &bytes)?;
        }
        Ok(nix::sys::socket::getsockopt(&self.fd, sockopt::RcvBuf)?)
    }

    /// Waits up to `timeout` (`None`: for ever) for the first message, then takes every message
    /// already queued. Returns early, maybe with nothing, when a signal interrupts the wait.
    pub fn receive(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<Received>,
    ) -> io::Result<()> {
        // What came early is handed out first, and the socket read all the same, without waiting:
        // an overflowed socket takes nothing more until it has been read empty.
        let timeout = if self.early.is_empty() {
            timeout
        } else {
            out.append(&mut self.early);
            Some(Duration::ZERO)
        };
        self.receive_now(timeout, out)
    }

    fn receive_now(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<Received>,
    ) -> io::Result<()> {
        let waits = timeout != Some(Duration::ZERO);
        let timeout = timeout.map_or(PollTimeout::NONE, |t| {
            PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX)
        });
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => {
                // Quiet a while: an overrun no gap has explained will not be explained soon.
                if waits && std::mem::take(&mut self.overrun_unexplained) {
                    out.push(Received::Lost(None));
                }
                return Ok(());
            }
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(()),
            Err(err) => return Err(err.into()),
        }
        let mut buf = std::mem::take(&mut self.buf);
        let mut result = Ok(());
        let mut uncounted_said = false;
        for _ in 0..MAX_DATAGRAMS {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(len) => self.take(&buf[..len.min(buf.len())], out),
                Err(Errno::EAGAIN | Errno::EINTR) => break,
                // The kernel dropped messages for want of room (and drops every one until the
                // queue has been read empty); the gaps they left will say how many. A CPU not
                // heard from yet has no number to count from: its losses are said, uncounted.
                Err(Errno::ENOBUFS) => {
                    if self.losses.cpus_heard() >= self.cpus {
                        self.overrun_unexplained = true;
                    } else if !std::mem::replace(&mut uncounted_said, true) {
                        out.push(Received::Lost(None));
                    }
                }
                Err(err) => {
                    result = Err(err.into());
                    break;
                }
            }
        }
        self.buf = buf;
        result
    }

    fn take(&mut self, datagram: &[u8], out: &mut Vec<Received>) {
        // A malformed message is skipped; its sequence number is then missing, and the next
        // message from its CPU counts it as lost.
        for message in wire::messages(datagram).flatten() {
            // Acks of kernels before 6.6 carry the requester's seq and no CPU: not counted.
            if message.cpu != u32::MAX {
                let missed = self.losses.observe(message.cpu, message.seq);
                if missed > 0 {
                    self.overrun_unexplained = false;
                    out.push(Received::Lost(Some(missed)));
                }
            }
            match message.event {
                KernelEvent::Ack { err } => {
                    if message.ack == self.awaiting.wrapping_add(1) {
                        self.answer = Some(err);
                    }
                }
                _ => out.push(Received::Event(message)),
            }
        }
    }
}

impl AsFd for Connector {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        // The kernel counts listeners and builds every event while one is left; kernels before
        // 6.6 count an unsubscription even from a socket that never subscribed, so only ours.
        if self.subscribed {
            let request = wire::request(wire::PROC_CN_MCAST_IGNORE, self.awaiting);
            let _ = send(self.fd.as_raw_fd(), &request, MsgFlags::empty());
        }
    }
}
