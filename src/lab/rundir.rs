//! The per-run directory that holds the workers' sockets: created fresh with mode 0700, so no
//! other user can connect to a worker, and removed when brood ends. A lock file in it is held (a
//! shared `flock`) by brood and inherited by every lab process; while anyone holds it the run is
//! live, whatever PIDs can be seen from where: a brood in another PID namespace sharing `/tmp`
//! cannot see brood's PID, but it sees the lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The lock file's name in a run directory.
pub const LOCK_FILE: &str = "lock";

pub struct RunDir {
    path: PathBuf,
    /// Held shared for as long as the run lives; lab processes inherit it.
    lock: File,
    keep: AtomicBool,
    /// Set once removed: the name may be taken by a new directory afterwards (another lab in
    /// the same process gets the same `brood-<pid>-<n>`), which a second removal would delete.
    removed: AtomicBool,
}

impl RunDir {
    /// Makes `$XDG_RUNTIME_DIR/brood-<pid>-<n>` (else the same in /dev/shm, else under the temp
    /// dir) and takes its lock. `mkdir` never follows a symlink and fails on anything already
    /// there, so a planted path cannot redirect it; the result is checked once more before use.
    /// A directory that cannot be finished is removed again: a failed start leaves nothing
    /// behind.
    pub fn create() -> std::io::Result<RunDir> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .or_else(in_memory)
            .unwrap_or_else(std::env::temp_dir);
        clean_stale(&base);
        let pid = std::process::id();
        let mut last_error = None;
        for attempt in 0..100 {
            let path = base.join(format!("brood-{pid}-{attempt}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return finish(&path).inspect_err(|_| unmake(&path)),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no free run directory name")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock's descriptor, for lab processes to inherit.
    pub fn lock_fd(&self) -> RawFd {
        self.lock.as_raw_fd()
    }

    /// The lock file's device and inode, from the descriptor held (the name may belong to a
    /// newer run's lock once this directory is removed).
    pub fn lock_id(&self) -> Option<(u64, u64)> {
        self.lock.metadata().ok().map(|m| (m.dev(), m.ino()))
    }

    /// Leave the directory in place at drop (the workers were left running and still use it).
    pub fn keep(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    /// Removes the directory and the sockets in it, unless it is to be kept.
    pub fn remove(&self) {
        if !self.keep.load(Ordering::Relaxed) && !self.removed.swap(true, Ordering::SeqCst) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// /dev/shm when it is a tmpfs: what the lab keeps in its run directory (the status board, shared
/// regions, lock files) then never waits for a disk, so it cannot show in a lesson as D.
fn in_memory() -> Option<PathBuf> {
    use nix::sys::statfs::{TMPFS_MAGIC, statfs};
    let shm = Path::new("/dev/shm");
    statfs(shm)
        .is_ok_and(|fs| fs.filesystem_type() == TMPFS_MAGIC)
        .then(|| shm.to_path_buf())
}

fn finish(path: &Path) -> std::io::Result<RunDir> {
    check_private(path)?;
    // Locked before it takes its name: another brood cleaning up must never find the lock file
    // free in the instant between its creation and its locking.
    let unnamed = path.join(format!("{LOCK_FILE}.new"));
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&unnamed)?;
    lock.lock_shared()?;
    std::fs::rename(&unnamed, path.join(LOCK_FILE))?;
    Ok(RunDir {
        path: path.to_path_buf(),
        lock,
        keep: AtomicBool::new(false),
        removed: AtomicBool::new(false),
    })
}

/// Removes a directory `finish` gave up on, by name: it failed perhaps for want of descriptors,
/// which `remove_dir_all` would need to walk it.
fn unmake(path: &Path) {
    for name in [format!("{LOCK_FILE}.new"), LOCK_FILE.to_string()] {
        let _ = std::fs::remove_file(path.join(name));
    }
    if std::fs::remove_dir(path).is_err() {
        let _ = std::fs::remove_dir_all(path);
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Removes run directories no live run holds: `brood-PID-N`, owned by us, private, whose lock
/// nobody holds any more (brood and every lab process of the run are gone). Anything else —
/// another user's directory, a symlink planted under that name, a held lock, a directory with no
/// lock file (being made right now, or by another version) — is left alone; `remove_dir_all`
/// never follows symlinks inside, and the top is checked with `symlink_metadata` first.
pub fn clean_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let is_run = entry.file_name().to_str().is_some_and(is_run_name);
        let path = entry.path();
        if is_run && check_private(&path).is_ok() && unheld(&path) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Whether the run's lock exists and nobody holds it.
fn unheld(dir: &Path) -> bool {
    let lock = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(LOCK_FILE));
    match lock.map(|file| file.try_lock()) {
        Ok(Ok(())) => true,
        Ok(Err(TryLockError::WouldBlock)) | Ok(Err(TryLockError::Error(_))) | Err(_) => false,
    }
}

/// A run directory's name: `brood-PID-N`.
fn is_run_name(name: &str) -> bool {
    let Some((pid, attempt)) = name
        .strip_prefix("brood-")
        .and_then(|rest| rest.split_once('-'))
    else {
        return false;
    };
    pid.parse::<u32>().is_ok() && attempt.parse::<u32>().is_ok()
}

/// A real directory (not a symlink), owned by us, with no access for group or others.
pub fn check_private(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    let ours = meta.uid() == nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || !ours || meta.permissions().mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{} is not a private directory of ours",
            path.display()
        )));
    }
    Ok(())
}
