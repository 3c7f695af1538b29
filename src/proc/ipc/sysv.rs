//! System V shared memory and message queues, from /proc/sysvipc: the kernel names only their
//! creator and last user (or last sender and receiver), not every process attached.

use super::endpoints::Endpoint;
use crate::proc::Pid;

/// A System V IPC object. The kernel lists only its creator and the last process to use it (for
/// shared memory: to attach or detach; for a queue: to send and to receive), not every user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysvObject {
    pub endpoint: Endpoint,
    /// Shared memory: its creator and the last to attach or detach; a queue: the last sender
    /// and the last receiver.
    pub pids: Vec<Pid>,
}

/// Parses /proc/sysvipc/shm (`queue: false`) or /proc/sysvipc/msg (`queue: true`).
pub fn parse_sysv(text: &str, queue: bool) -> Vec<SysvObject> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (id_col, pid_cols) = if queue {
        (at("msqid"), [at("lspid"), at("lrpid")])
    } else {
        (at("shmid"), [at("cpid"), at("lpid")])
    };
    let Some(id_col) = id_col else {
        return Vec::new();
    };
    lines
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let id: i64 = words.get(id_col)?.parse().ok()?;
            let pids: Vec<Pid> = pid_cols
                .iter()
                .flatten()
                .filter_map(|&c| words.get(c)?.parse().ok())
                .filter(|p: &Pid| *p > 0)
                .collect();
            let endpoint = if queue {
                Endpoint::SysvMessageQueue(id)
            } else {
                Endpoint::SysvSharedMemory(id)
            };
            (!pids.is_empty()).then_some(SysvObject { endpoint, pids })
        })
        .collect()
}

/// Every System V shared-memory segment and message queue, as /proc/sysvipc lists them.
pub fn read_sysv() -> Vec<SysvObject> {
    let mut objects = Vec::new();
    for (path, queue) in [("/proc/sysvipc/shm", false), ("/proc/sysvipc/msg", true)] {
        if let Ok(text) = std::fs::read_to_string(path) {
            objects.extend(parse_sysv(&text, queue));
        }
    }
    objects
}
