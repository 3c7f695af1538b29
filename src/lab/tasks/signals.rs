//! Signal tasks: a SIGTERM handler that lets its main loop clean up, a parent that reaps in its
//! SIGCHLD handler (and shows that signals coalesce), and one that sets SIGCHLD to SIG_IGN.
//! Handlers only touch atomics and call waitpid, both async-signal-safe; the main loops publish.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::Pid as NixPid;

use super::{Kit, publish};

static TERM_RECEIVED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM_RECEIVED.store(true, Ordering::SeqCst);
}

fn install(signal: Signal, handler: extern "C" fn(libc::c_int), flags: SaFlags) -> bool {
    let action = SigAction::new(SigHandler::Handler(handler), flags, SigSet::empty());
    // SAFETY: the handlers of this file only store to atomics and call waitpid, all
    // async-signal-safe.
    unsafe { sigaction(signal, &action) }.is_ok()
}

pub(super) fn handle_term(ms: u32) -> i32 {
    if !install(Signal::SIGTERM, on_term, SaFlags::empty()) {
        return 1;
    }
    publish("handler=installed");
    let deadline = Instant::now() + Duration::from_millis(u64::from(ms));
    while Instant::now() < deadline {
        if TERM_RECEIVED.load(Ordering::SeqCst) {
            // The handler only set a flag; the real clean-up runs here, outside the handler.
            publish("handled=SIGTERM cleaned-up");
            return 0;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    publish("timed-out");
    0
}

static HANDLER_RUNS: AtomicU32 = AtomicU32::new(0);
static HANDLER_REAPED: AtomicU32 = AtomicU32::new(0);
static LAST_RUN_REAPED: AtomicU32 = AtomicU32::new(0);

/// One SIGCHLD may stand for several exits (a pending signal is a bit, not a count), so the
/// handler reaps until waitpid says no child is left to collect.
extern "C" fn on_child(_: libc::c_int) {
    let mut reaped = 0;
    loop {
        match waitpid(NixPid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
            Ok(_) => reaped += 1,
            Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    HANDLER_REAPED.fetch_add(reaped, Ordering::SeqCst);
    LAST_RUN_REAPED.store(reaped, Ordering::SeqCst);
    HANDLER_RUNS.fetch_add(1, Ordering::SeqCst);
}

fn set_sigchld_blocked(blocked: bool) {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    let how = if blocked {
        SigmaskHow::SIG_BLOCK
    } else {
        SigmaskHow::SIG_UNBLOCK
    };
    let _ = nix::sys::signal::sigprocmask(how, Some(&set), None);
}

/// Whether `child` has exited (a zombie or already reaped); a peek that reaps nothing.
fn has_exited(child: i32) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    !matches!(
        waitid(Id::Pid(NixPid::from_raw(child)), flags),
        Ok(WaitStatus::StillAlive)
    )
}

pub(super) fn reap_in_handler(kit: &Kit, hold_ms: u32) -> i32 {
    let children = kit.children.clone();
    if !install(
        Signal::SIGCHLD,
        on_child,
        SaFlags::SA_RESTART | SaFlags::SA_NOCLDSTOP,
    ) {
        return 1;
    }
    let status = |mask: &str| {
        format!(
            "runs={} reaped={} last={} sigchld={mask}",
            HANDLER_RUNS.load(Ordering::SeqCst),
            HANDLER_REAPED.load(Ordering::SeqCst),
            LAST_RUN_REAPED.load(Ordering::SeqCst)
        )
    };
    let wait_for = |done: &dyn Fn() -> bool, mask: &str| {
        let mut said = String::new();
        while !done() {
            let now = status(mask);
            if now != said {
                publish(&now);
                said = now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let reaped = || HANDLER_REAPED.load(Ordering::SeqCst) as usize;
    // The first child exits alone: one signal, one run, one child.
    wait_for(&|| reaped() >= 1, "handled");
    // Then SIGCHLD is blocked, as around a section that must not be interrupted: the others
    // exit meanwhile, their signals merge into one pending SIGCHLD.
    set_sigchld_blocked(true);
    wait_for(&|| children.iter().all(|&c| has_exited(c)), "blocked");
    let held = Instant::now();
    wait_for(
        &|| held.elapsed() >= Duration::from_millis(u64::from(hold_ms)),
        "blocked,pending",
    );
    set_sigchld_blocked(false);
    wait_for(&|| reaped() >= children.len(), "handled");
    publish(&status("handled"));
    0
}

pub(super) fn ignore_children() -> i32 {
    // SAFETY: SIG_IGN installs no handler code.
    if unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigIgn) }.is_err() {
        return 1;
    }
    publish("sigchld=SIG_IGN waiting");
    // With SIGCHLD ignored the kernel reaps each child as it exits; wait() sleeps until none
    // is left, then fails with ECHILD.
    loop {
        match waitpid(NixPid::from_raw(-1), None) {
            Err(Errno::ECHILD) => {
                publish("sigchld=SIG_IGN wait=ECHILD");
                return 0;
            }
            Err(Errno::EINTR) => {}
            Ok(status) => {
                publish(&format!("sigchld=SIG_IGN wait-returned={status:?}"));
                return 1;
            }
            Err(_) => return 1,
        }
    }
}
