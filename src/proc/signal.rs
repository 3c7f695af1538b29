//! Signals that never land on a recycled PID: a pidfd is opened first and the process's identity
//! checked after, so if the check passes the pidfd refers to the checked process. Used by the
//! runtime's executor and by the scenario watcher; it never decides whom to signal.

use nix::sys::signal::Signal;
use rustix::io::Errno;
use rustix::process::{PidfdFlags, pidfd_open, pidfd_send_signal};

use super::lookup::read_identity;
use super::{Identity, Pid};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("it has already exited")]
    Gone,
    #[error("its PID now belongs to another process, so nothing was sent")]
    Reused,
    #[error("permission denied")]
    PermissionDenied,
    #[error("{0}")]
    Os(String),
}

/// Sends `signal` to `target` only if the process holding its PID is still that process.
pub fn send_signal(target: Identity, signal: Signal) -> Result<(), SignalError> {
    send_signal_checked(target, signal, read_identity)
}

/// [`send_signal`] with the identity lookup as a parameter, so tests can fake a PID reuse.
pub fn send_signal_checked(
    target: Identity,
    signal: Signal,
    current: impl Fn(Pid) -> Option<Identity>,
) -> Result<(), SignalError> {
    let pid = rustix::process::Pid::from_raw(target.pid).ok_or(SignalError::Gone)?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(signal_error)?;
    match current(target.pid) {
        None => return Err(SignalError::Gone),
        Some(now) if now != target => return Err(SignalError::Reused),
        Some(_) => {}
    }
    let signal = rustix::process::Signal::from_named_raw(signal as i32)
        .ok_or_else(|| SignalError::Os(format!("{} cannot be sent", signal.as_str())))?;
    pidfd_send_signal(&pidfd, signal).map_err(signal_error)
}

fn signal_error(errno: Errno) -> SignalError {
    match errno {
        Errno::SRCH => SignalError::Gone,
        Errno::PERM => SignalError::PermissionDenied,
        other => SignalError::Os(std::io::Error::from(other).to_string()),
    }
}
