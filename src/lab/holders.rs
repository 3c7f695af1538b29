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

/// A file's identity: its device and inode.
pub(crate) type FileId = (u64, u64);

/// The identity of the run's lock in `dir`, looked up by name.
pub(crate) fn lock_in(dir: &Path) -> Option<FileId> {
    std::fs::metadata(dir.join(LOCK_FILE))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Every process but the caller with a descriptor open on the file `lock`.
fn holders(lock: FileId) -> Vec<Identity> {
    let file = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
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

/// SIGKILLs every process holding the file `lock` (the run's lock, by identity: its name may
/// belong to a newer run once the directory is gone) until none is left (one may fork while it
/// is being looked for) or `within` has passed. Their parents or adopters reap them.
pub(crate) fn end_all(lock: FileId, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let found = holders(lock);
        if found.is_empty() || Instant::now() >= deadline {
            return;
        }
        for holder in found {
            let _ = signal::send_signal(holder, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
