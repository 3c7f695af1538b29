//! The kernel's process events connector (netlink, `PROC_CN_MCAST_LISTEN`): every fork, exec,
//! exit, comm, ptrace, uid/gid, sid and coredump of the machine, as the kernel reports them.
//! `wire` parses bytes and `losses` counts gaps (both pure); `socket` is the only I/O. Nothing here
//! reads /proc or knows what a process was called: that is `proc::events`.

pub mod losses;
mod socket;
pub mod wire;

pub use socket::{Connector, ConnectorError, Received};
