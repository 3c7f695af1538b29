//! The per-run directory that holds the workers' sockets: created fresh with mode 0700, so no
//! other user can connect to a worker, and removed when brood ends.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub struct RunDir {
    path: PathBuf,
    keep: AtomicBool,
    /// Set once removed: the name may be taken by a new directory afterwards (another lab in
    /// the same process gets the same `brood-<pid>-<n>`), which a second removal would delete.
    removed: AtomicBool,
}

impl RunDir {
    /// Makes `$XDG_RUNTIME_DIR/brood-<pid>-<n>` (or the same under the temp dir).
    /// `mkdir` never follows a symlink and fails on anything already there, so a planted path
    /// cannot redirect it; the result is checked once more before use.
    pub fn create() -> std::io::Result<RunDir> {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        clean_stale(&base);
        let pid = std::process::id();
        let mut last_error = None;
        for attempt in 0..100 {
            let path = base.join(format!("brood-{pid}-{attempt}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    check_private(&path)?;
                    return Ok(RunDir {
                        path,
                        keep: AtomicBool::new(false),
                        removed: AtomicBool::new(false),
                    });
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no free run directory name")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leave the directory in place at drop (the workers were left running and still use it).
    pub fn keep(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }
}

/// Removes run directories left by brood runs that crashed: `brood-PID-N` whose PID is gone,
/// owned by us, private, and not left running on purpose (no `detached` marker). Anything else — another user's directory, a
/// symlink planted under that name, a live run's directory — is left alone; `remove_dir_all`
/// never follows symlinks inside, and the top is checked with `symlink_metadata` first.
pub fn clean_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(stale_candidate) else {
            continue;
        };
        // Any process under that PID keeps the directory: at worst a stale one waits for later.
        let live = Path::new(&format!("/proc/{pid}")).exists();
        let path = entry.path();
        // A run left running on purpose keeps its directory: its workers still use it.
        let detached = path.join(super::DETACHED_MARKER).exists();
        if !live && !detached && check_private(&path).is_ok() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// The PID in a run directory's name, `brood-PID-N`.
fn stale_candidate(name: &str) -> Option<u32> {
    let (pid, attempt) = name.strip_prefix("brood-")?.split_once('-')?;
    attempt.parse::<u32>().ok()?;
    pid.parse().ok()
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

impl RunDir {
    /// Removes the directory and the sockets in it, unless it is to be kept.
    pub fn remove(&self) {
        if !self.keep.load(Ordering::Relaxed) && !self.removed.swap(true, Ordering::SeqCst) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        self.remove();
    }
}
