//! Session tasks: a shell-like session with a pseudo-terminal of its own (so job control has a
//! controlling terminal to act on without touching brood's), the job's process group, a member
//! that reads the terminal from the background, and a daemon made by the classic double fork.

use std::os::fd::AsRawFd;
use std::path::Path;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::{ForkResult, Pid as NixPid};

use super::pipes::{keep_only, read_end, receive};
use super::{Kit, publish, spend};

pub(super) fn terminal(kit: &mut Kit) -> Result<(), String> {
    nix::unistd::setsid().map_err(|e| format!("setsid() failed: {}", e.desc()))?;
    let pty = nix::pty::openpty(None, None)
        .map_err(|e| format!("cannot open a pseudo-terminal: {}", e.desc()))?;
    // A session leader without a terminal takes this one as its controlling terminal; its
    // process group becomes the terminal's foreground group.
    rustix::process::ioctl_tiocsctty(&pty.slave)
        .map_err(|e| format!("cannot make it the controlling terminal: {e}"))?;
    kit.terminal = Some((Some(pty.master), pty.slave));
    Ok(())
}

pub(super) fn join_group(kit: &mut Kit, leader: u32) -> Result<(), String> {
    let leader = i32::try_from(leader).map_err(|_| "not a process group")?;
    nix::unistd::setpgid(NixPid::from_raw(0), NixPid::from_raw(leader))
        .map_err(|e| format!("setpgid() failed: {}", e.desc()))?;
    // Only the shell keeps the master side: the terminal hangs up when the shell is gone.
    if let Some((master, _)) = kit.terminal.as_mut() {
        *master = None;
    }
    Ok(())
}

pub(super) fn read_terminal(kit: &mut Kit, pipe: u8, after: u32, linger_ms: u32) -> i32 {
    keep_only(kit, &[pipe], &[]);
    // A hang-up must not end this one at once: blocked, SIGHUP waits in its pending set,
    // where the panel shows it.
    let mut hangup = SigSet::empty();
    hangup.add(Signal::SIGHUP);
    if nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&hangup), None).is_err() {
        return 1;
    }
    let (Ok(input), Some((_, tty))) = (read_end(kit, pipe), kit.terminal.as_ref()) else {
        return 1;
    };
    let mut received = 0;
    while received < after {
        match receive(input) {
            Ok(Some(_)) => {
                received += 1;
                publish(&format!("received={received}"));
            }
            _ => return 1,
        }
    }
    publish(&format!("received={received} reading-terminal"));
    // From a background group the kernel answers with SIGTTIN to the whole group, which stops
    // it; continued, the read is tried again.
    let mut byte = [0u8; 1];
    let outcome = loop {
        match nix::unistd::read(tty, &mut byte) {
            Err(nix::errno::Errno::EINTR) => {}
            Ok(0) => break "end-of-file".to_string(),
            Ok(_) => break "a-byte".to_string(),
            Err(errno) => break format!("{errno}"),
        }
    };
    publish(&format!("received={received} terminal-read={outcome}"));
    spend(linger_ms, false);
    // The pending SIGHUP, if any, ends it now, as it would have without the mask.
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&hangup), None);
    publish(&format!(
        "received={received} terminal-read={outcome} no-sighup"
    ));
    0
}

/// The classic daemon: `setsid()` makes this child a session leader without a controlling
/// terminal; a second fork makes a process that is not a session leader, so opening a terminal
/// can never make it its controlling terminal again. This child exits (after `linger_ms`, to be
/// seen leading its session), and the grandchild is adopted. The grandchild keeps one
/// descriptor of the lab: the run's lock, by which brood finds it to end it with the lab.
pub(super) fn daemonize(dir: &Path, every_ms: u32, linger_ms: u32) -> i32 {
    if nix::unistd::setsid().is_err() {
        return 1;
    }
    publish("setsid");
    // SAFETY: the worker is single-threaded, so the child may run any code after fork.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Parent { child }) => {
            publish(&format!("setsid forked daemon={child}"));
            spend(linger_ms, false);
            0
        }
        Ok(ForkResult::Child) => {
            become_daemon(dir);
            let mut ticks = 0u64;
            loop {
                publish(&format!("daemon ticks={ticks}"));
                spend(every_ms, false);
                ticks += 1;
            }
        }
        Err(_) => 1,
    }
}

/// `chdir /`, a clear umask, every inherited descriptor closed but the run's lock, and
/// /dev/null as standard input, output and error.
fn become_daemon(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let _ = nix::unistd::chdir("/");
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let file = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let lock = file(&dir.join(crate::lab::rundir::LOCK_FILE));
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| lock.is_none() || file(&entry.path()) != lock)
                .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in open {
        // SAFETY: this process never leaves the daemon loop (it ends only by a signal), so no
        // owner of these descriptors will use or close them again; a number that is already
        // closed (the listing's own) only gets EBADF.
        unsafe { libc::close(fd) };
    }
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
        // With 0 to 2 closed, /dev/null itself was given one of them: that one stays open.
        if null.as_raw_fd() <= 2 {
            let _ = std::os::fd::IntoRawFd::into_raw_fd(null);
        }
    }
}
