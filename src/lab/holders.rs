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
/// belong to a newer run once the directory is gone), again until none is left (one may fork
/// while it is being looked for) or `within` has passed. Every holder a search finds is killed,
/// however long the search took: on a busy machine one pass over /proc can outlast `within`.
/// Their parents or adopters reap them.
pub(crate) fn end_all(lock: FileId, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let found = holders(lock);
        if found.is_empty() {
            return;
        }
        for holder in found {
            let _ = signal::send_signal(holder, Signal::SIGKILL);
        }
        if Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// A search that outlasts the time allowed (here: none) still kills what it found.
    #[test]
    fn every_holder_found_is_killed_however_long_the_search_took() {
        let dir = std::env::temp_dir().join(format!("brood-holders-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lock = dir.join(LOCK_FILE);
        std::fs::write(&lock, b"").unwrap();
        let mut holder = Command::new("sh")
            .args(["-c", "exec 7<\"$0\"; echo held; exec sleep 60"])
            .arg(&lock)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut said = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
            &mut said,
        )
        .unwrap();
        assert_eq!(said, "held\n");
        end_all(lock_in(&dir).unwrap(), Duration::ZERO);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = holder.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = holder.kill();
                let _ = holder.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let _ = std::fs::remove_dir_all(&dir);
        let status = status.expect("the holder was killed");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }
}
