//! The proc connector's wire format (include/uapi/linux/cn_proc.h): a netlink datagram in, plain
//! values out, and the one request brood sends. Pure and total: any bytes give messages or errors,
//! never a panic or a read out of bounds. Every field is read by slicing, in host byte order.

use crate::proc::Pid;

/// The connector channel of process events: its multicast group, and the `cb_id` it stamps.
pub const CN_IDX_PROC: u32 = 1;
pub const CN_VAL_PROC: u32 = 1;
/// What a subscriber sends: start or stop receiving.
pub const PROC_CN_MCAST_LISTEN: u32 = 1;
pub const PROC_CN_MCAST_IGNORE: u32 = 2;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
/// `struct cn_msg` without its data.
const CN_MSG_LEN: usize = 20;
/// `what`, `cpu` and `timestamp_ns`: the part of `struct proc_event` before its union.
const EVENT_HEADER: usize = 16;

// `enum what`.
const PROC_EVENT_NONE: u32 = 0x0000_0000;
const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_UID: u32 = 0x0000_0004;
const PROC_EVENT_GID: u32 = 0x0000_0040;
const PROC_EVENT_SID: u32 = 0x0000_0080;
const PROC_EVENT_PTRACE: u32 = 0x0000_0100;
const PROC_EVENT_COMM: u32 = 0x0000_0200;
const PROC_EVENT_COREDUMP: u32 = 0x4000_0000;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// A task as the kernel names it: its own ID (a thread ID) and its thread group (the process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskIds {
    pub pid: Pid,
    pub tgid: Pid,
}

impl TaskIds {
    /// A thread other than its process's main thread.
    pub fn is_thread(self) -> bool {
        self.pid != self.tgid
    }
}

/// One process event, as the kernel sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelEvent {
    /// The answer to a subscription: 0, or an errno.
    Ack {
        err: u32,
    },
    /// `child` may be a thread of a process. `parent` is the child's parent: the thread that
    /// called fork or clone, except for a new thread (or CLONE_PARENT), whose parent is that of
    /// the process it joins.
    Fork {
        parent: TaskIds,
        child: TaskIds,
    },
    Exec {
        task: TaskIds,
    },
    Uid {
        task: TaskIds,
        ruid: u32,
        euid: u32,
    },
    Gid {
        task: TaskIds,
        rgid: u32,
        egid: u32,
    },
    /// It called `setsid()`: it leads a new session, whose ID is its PID.
    Sid {
        task: TaskIds,
    },
    /// Attached to `tracer`, or detached when `tracer` is `None`.
    Ptrace {
        task: TaskIds,
        tracer: Option<TaskIds>,
    },
    /// Its name changed (prctl PR_SET_NAME, a write to /proc/PID/comm): the new one, NUL-padded.
    Comm {
        task: TaskIds,
        comm: [u8; 16],
    },
    Coredump {
        task: TaskIds,
        parent: Option<TaskIds>,
    },
    /// `exit_code` is in `wait()` form; `exit_signal` is what the parent is sent (-1 for a
    /// thread). `parent` is missing from kernels before 4.18.
    Exit {
        task: TaskIds,
        exit_code: u32,
        exit_signal: i32,
        parent: Option<TaskIds>,
    },
    /// A kind of event this version of brood does not know (a newer kernel's).
    Unknown {
        what: u32,
    },
}

impl KernelEvent {
    /// The task the event is about (the child, for a fork); `None` for acks and unknown kinds.
    pub fn task(&self) -> Option<TaskIds> {
        match *self {
            KernelEvent::Fork { child: task, .. }
            | KernelEvent::Exec { task }
            | KernelEvent::Uid { task, .. }
            | KernelEvent::Gid { task, .. }
            | KernelEvent::Sid { task }
            | KernelEvent::Ptrace { task, .. }
            | KernelEvent::Comm { task, .. }
            | KernelEvent::Coredump { task, .. }
            | KernelEvent::Exit { task, .. } => Some(task),
            KernelEvent::Ack { .. } | KernelEvent::Unknown { .. } => None,
        }
    }
}

/// One connector message: the event and its envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Per-CPU sequence number: a gap on one CPU is a message lost.
    pub seq: u32,
    /// Our own `ack` plus one, on the answer to a request.
    pub ack: u32,
    /// The CPU that sent it; `u32::MAX` on the acks of kernels before 6.6, which have no seq.
    pub cpu: u32,
    /// CLOCK_MONOTONIC, in nanoseconds.
    pub timestamp_ns: u64,
    pub event: KernelEvent,
}

/// What can be wrong with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("a netlink message is cut short")]
    Truncated,
    #[error("netlink error {0}")]
    Netlink(i32),
    #[error("netlink reported an overrun")]
    Overrun,
    #[error("a connector message for another channel ({idx}, {val})")]
    OtherChannel { idx: u32, val: u32 },
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Two consecutive `__kernel_pid_t`s of the event's union, which starts at [`EVENT_HEADER`].
fn ids_at(event: &[u8], field: usize) -> Option<TaskIds> {
    let at = EVENT_HEADER + 4 * field;
    Some(TaskIds {
        pid: u32_at(event, at)? as Pid,
        tgid: u32_at(event, at + 4)? as Pid,
    })
}

/// A parent the kernel may leave zeroed (a task no longer alive) or, on old kernels, out.
fn optional_ids_at(event: &[u8], field: usize) -> Option<TaskIds> {
    ids_at(event, field).filter(|ids| ids.pid > 0)
}

/// The netlink messages of a datagram, each parsed as a connector process event. Stops at the
/// first message whose length cannot be trusted.
pub fn messages(datagram: &[u8]) -> impl Iterator<Item = Result<Message, WireError>> + '_ {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        while !rest.is_empty() {
            let (Some(len), Some(kind)) = (u32_at(rest, 0), u16_at(rest, 4)) else {
                rest = &[];
                return Some(Err(WireError::Truncated));
            };
            let len = len as usize;
            if !(NLMSG_HDRLEN..=rest.len()).contains(&len) {
                rest = &[];
                return Some(Err(WireError::Truncated));
            }
            let payload = &rest[NLMSG_HDRLEN..len];
            // Messages are padded to 4 bytes; the last one may end without its padding.
            rest = rest.get(len.next_multiple_of(4)..).unwrap_or(&[]);
            return Some(match kind {
                NLMSG_NOOP => continue,
                NLMSG_ERROR => Err(WireError::Netlink(
                    u32_at(payload, 0).map_or(0, |e| e as i32),
                )),
                NLMSG_OVERRUN => Err(WireError::Overrun),
                // The connector sends NLMSG_DONE; any other type is read as a connector message,
                // and its channel checked.
                _ => parse_cn_msg(payload),
            });
        }
        None
    })
}

/// A `struct cn_msg` carrying a `struct proc_event`.
fn parse_cn_msg(msg: &[u8]) -> Result<Message, WireError> {
    let header = (|| {
        Some((
            u32_at(msg, 0)?,
            u32_at(msg, 4)?,
            u32_at(msg, 8)?,
            u32_at(msg, 12)?,
            u16_at(msg, 16)? as usize,
        ))
    })();
    let (idx, val, seq, ack, len) = header.ok_or(WireError::Truncated)?;
    if (idx, val) != (CN_IDX_PROC, CN_VAL_PROC) {
        return Err(WireError::OtherChannel { idx, val });
    }
    let event = msg
        .get(CN_MSG_LEN..CN_MSG_LEN + len)
        .ok_or(WireError::Truncated)?;
    let (Some(what), Some(cpu), Some(timestamp_ns)) =
        (u32_at(event, 0), u32_at(event, 4), u64_at(event, 8))
    else {
        return Err(WireError::Truncated);
    };
    let event = parse_event(what, event).ok_or(WireError::Truncated)?;
    Ok(Message {
        seq,
        ack,
        cpu,
        timestamp_ns,
        event,
    })
}

/// The union of `struct proc_event`, by `what`. `None` when it is shorter than its kind needs.
fn parse_event(what: u32, event: &[u8]) -> Option<KernelEvent> {
    let task = || ids_at(event, 0);
    let word = |field: usize| u32_at(event, EVENT_HEADER + 4 * field);
    Some(match what {
        PROC_EVENT_NONE => KernelEvent::Ack { err: word(0)? },
        PROC_EVENT_FORK => KernelEvent::Fork {
            parent: ids_at(event, 0)?,
            child: ids_at(event, 2)?,
        },
        PROC_EVENT_EXEC => KernelEvent::Exec { task: task()? },
        PROC_EVENT_UID => KernelEvent::Uid {
            task: task()?,
            ruid: word(2)?,
            euid: word(3)?,
        },
        PROC_EVENT_GID => KernelEvent::Gid {
            task: task()?,
            rgid: word(2)?,
            egid: word(3)?,
        },
        PROC_EVENT_SID => KernelEvent::Sid { task: task()? },
        PROC_EVENT_PTRACE => KernelEvent::Ptrace {
            task: task()?,
            tracer: ids_at(event, 2).map(|t| Some(t).filter(|t| t.pid > 0))?,
        },
        PROC_EVENT_COMM => KernelEvent::Comm {
            task: task()?,
            comm: event
                .get(EVENT_HEADER + 8..EVENT_HEADER + 24)?
                .try_into()
                .ok()?,
        },
        PROC_EVENT_COREDUMP => KernelEvent::Coredump {
            task: task()?,
            parent: optional_ids_at(event, 2),
        },
        PROC_EVENT_EXIT => KernelEvent::Exit {
            task: task()?,
            exit_code: word(2)?,
            exit_signal: word(3)? as i32,
            parent: optional_ids_at(event, 4),
        },
        other => KernelEvent::Unknown { what: other },
    })
}

/// The request brood sends: a netlink message to the kernel carrying a connector message whose
/// data is `op` ([`PROC_CN_MCAST_LISTEN`] or [`PROC_CN_MCAST_IGNORE`]). The kernel's answer is
/// an [`KernelEvent::Ack`] whose `ack` is ours plus one.
pub fn request(op: u32, ack: u32) -> Vec<u8> {
    cn_datagram(0, ack, &op.to_ne_bytes())
}

/// A datagram as the kernel would send `message`: for tests, benches and replaying what was
/// captured.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut event = Vec::with_capacity(EVENT_HEADER + 24);
    let (what, words): (u32, Vec<u32>) = match message.event {
        KernelEvent::Ack { err } => (PROC_EVENT_NONE, vec![err]),
        KernelEvent::Fork { parent, child } => {
            (PROC_EVENT_FORK, ids_words(&[Some(parent), Some(child)]))
        }
        KernelEvent::Exec { task } => (PROC_EVENT_EXEC, ids_words(&[Some(task)])),
        KernelEvent::Uid { task, ruid, euid } => (
            PROC_EVENT_UID,
            [ids_words(&[Some(task)]), vec![ruid, euid]].concat(),
        ),
        KernelEvent::Gid { task, rgid, egid } => (
            PROC_EVENT_GID,
            [ids_words(&[Some(task)]), vec![rgid, egid]].concat(),
        ),
        KernelEvent::Sid { task } => (PROC_EVENT_SID, ids_words(&[Some(task)])),
        KernelEvent::Ptrace { task, tracer } => {
            (PROC_EVENT_PTRACE, ids_words(&[Some(task), tracer]))
        }
        KernelEvent::Comm { task, comm } => {
            let mut words = ids_words(&[Some(task)]);
            words.extend(
                comm.chunks_exact(4)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])),
            );
            (PROC_EVENT_COMM, words)
        }
        KernelEvent::Coredump { task, parent } => {
            (PROC_EVENT_COREDUMP, ids_words(&[Some(task), parent]))
        }
        KernelEvent::Exit {
            task,
            exit_code,
            exit_signal,
            parent,
        } => (
            PROC_EVENT_EXIT,
            [
                ids_words(&[Some(task)]),
                vec![exit_code, exit_signal as u32],
                ids_words(&[parent]),
            ]
            .concat(),
        ),
        KernelEvent::Unknown { what } => (what, Vec::new()),
    };
    event.extend_from_slice(&what.to_ne_bytes());
    event.extend_from_slice(&message.cpu.to_ne_bytes());
    event.extend_from_slice(&message.timestamp_ns.to_ne_bytes());
    for word in words {
        event.extend_from_slice(&word.to_ne_bytes());
    }
    // The union is 24 bytes whatever the kind, as the kernel sends it.
    event.resize(EVENT_HEADER + 24, 0);
    cn_datagram(message.seq, message.ack, &event)
}

fn ids_words(ids: &[Option<TaskIds>]) -> Vec<u32> {
    ids.iter()
        .flat_map(|ids| {
            let ids = ids.unwrap_or(TaskIds { pid: 0, tgid: 0 });
            [ids.pid as u32, ids.tgid as u32]
        })
        .collect()
}

/// nlmsghdr + cn_msg + `data`.
fn cn_datagram(seq: u32, ack: u32, data: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + CN_MSG_LEN + data.len();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    out.extend_from_slice(&0u16.to_ne_bytes()); // flags
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel fills in the sender's
    out.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    out.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&ack.to_ne_bytes());
    out.extend_from_slice(&(data.len() as u16).to_ne_bytes());
    out.extend_from_slice(&0u16.to_ne_bytes()); // flags
    out.extend_from_slice(data);
    out
}

/// The name in a comm event: up to its first NUL.
pub fn comm_bytes(comm: &[u8; 16]) -> &[u8] {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    &comm[..end]
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
