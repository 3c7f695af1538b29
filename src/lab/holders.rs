//! Lab processes found by what they all hold: the run's lock, which every process the lab
//! starts inherits, every fork copies and every exec keeps. A process that leaves the lab's
//! process group (a new session, a job's group, a daemon) still holds it, so ending the lab
//! ends it too. Only processes that hold it are signalled, each by identity.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::rundir::LOCK_FILE;
use crate::proc::{Identity, Pid, lookup, signal};

/// Every process but the caller with a descriptor open on the run's lock in `dir`.
fn holders(dir: &Path) -> Vec<Identity> {
    let file = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let Some(lock) = file(&dir.join(LOCK_FILE)) else {
        return Vec::new();
    };
    let me = std::process::id() as Pid;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<Pid>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            // Unreadable (another user's) or gone: not ours.
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .is_ok_and(|fds| fds.flatten().any(|fd| file(&fd.path()) == Some(lock)))
        })
        .filter_map(lookup::read_identity)
        .collect()
}

/// SIGKILLs every process holding the run's lock until none is left (one may fork while it is
/// being looked for) or `within` has passed. Their parents or adopters reap them.
pub(crate) fn end_all(dir: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let found = holders(dir);
        if found.is_empty() || Instant::now() >= deadline {
            return;
        }
        for holder in found {
            let _ = signal::send_signal(holder, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
