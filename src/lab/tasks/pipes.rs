//! Pipe tasks: making and closing a worker's pipes, and the processes at their ends (producer,
//! consumer, pool worker, a pipeline stage, the crossed reader of deadlock-pipe). Messages are 8
//! bytes, so every write is atomic and a reader always gets whole messages.

use std::os::fd::{AsFd, OwnedFd};

use super::{Kit, Task, publish, spend};

/// One message on a scenario pipe: 8 bytes, well under PIPE_BUF, so every write is atomic.
pub const MESSAGE_BYTES: usize = 8;
/// The message that means "no more work" (the sentinel, or poison pill, of a queue).
const SENTINEL: u64 = u64::MAX;

pub(super) fn setup(task: Task, kit: &mut Kit) -> Result<(), String> {
    match task {
        Task::Pipe { cloexec } => {
            let flags = if cloexec {
                nix::fcntl::OFlag::O_CLOEXEC
            } else {
                nix::fcntl::OFlag::empty()
            };
            let (read, write) =
                nix::unistd::pipe2(flags).map_err(|e| format!("pipe() failed: {}", e.desc()))?;
            kit.pipes.push((Some(read), Some(write)));
            Ok(())
        }
        Task::ClosePipes => {
            kit.pipes
                .iter_mut()
                .for_each(|(read, write)| (*read, *write) = (None, None));
            Ok(())
        }
        Task::Feed { pipe, count } => {
            let write = write_end(kit, pipe)?;
            for n in 0..u64::from(count) {
                send(write, n).map_err(|e| format!("write to the pipe failed: {}", e.desc()))?;
            }
            Ok(())
        }
        other => Err(format!("{other} is not a pipe setup task")),
    }
}

pub(super) fn read_end(kit: &Kit, pipe: u8) -> Result<&OwnedFd, String> {
    kit.pipes
        .get(usize::from(pipe))
        .and_then(|(read, _)| read.as_ref())
        .ok_or_else(|| format!("this process holds no read end of pipe {pipe}"))
}

pub(super) fn write_end(kit: &Kit, pipe: u8) -> Result<&OwnedFd, String> {
    kit.pipes
        .get(usize::from(pipe))
        .and_then(|(_, write)| write.as_ref())
        .ok_or_else(|| format!("this process holds no write end of pipe {pipe}"))
}

/// Closes every pipe end except the ones listed: a child inherits all of them at fork, and a
/// reader only sees end of file once every copy of the write end is closed.
pub(super) fn keep_only(kit: &mut Kit, reads: &[u8], writes: &[u8]) {
    for (i, (read, write)) in kit.pipes.iter_mut().enumerate() {
        if !reads.iter().any(|&r| usize::from(r) == i) {
            *read = None;
        }
        if !writes.iter().any(|&w| usize::from(w) == i) {
            *write = None;
        }
    }
}

/// A writer whose reader is gone dies of SIGPIPE, as any program would; the worker loop ignores
/// SIGPIPE only to survive hung-up control connections.
pub(super) fn die_of_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: restoring the default disposition installs no handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

pub(super) fn send(fd: &OwnedFd, message: u64) -> nix::Result<()> {
    let bytes = message.to_ne_bytes();
    loop {
        match nix::unistd::write(fd.as_fd(), &bytes) {
            Ok(MESSAGE_BYTES) => return Ok(()),
            Ok(_) => return Err(nix::errno::Errno::EIO),
            Err(nix::errno::Errno::EINTR) => {}
            Err(err) => return Err(err),
        }
    }
}

/// One message, or `None` at end of file.
pub(super) fn receive(fd: &OwnedFd) -> nix::Result<Option<u64>> {
    let mut bytes = [0u8; MESSAGE_BYTES];
    let mut filled = 0;
    while filled < MESSAGE_BYTES {
        match nix::unistd::read(fd.as_fd(), &mut bytes[filled..]) {
            Ok(0) => return Ok(None),
            Ok(n) => filled += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(Some(u64::from_ne_bytes(bytes)))
}

pub(super) fn produce(
    kit: &mut Kit,
    pipe: u8,
    count: u32,
    burst: u32,
    every_ms: u32,
    sentinel: bool,
) -> i32 {
    keep_only(kit, &[], &[pipe]);
    die_of_sigpipe();
    let Ok(write) = write_end(kit, pipe) else {
        return 1;
    };
    // The pipe's capacity as the kernel states it: a ring of page-sized slots, 16 by default.
    let capacity = nix::fcntl::fcntl(write, nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap_or(0);
    let slots = u64::try_from(capacity).unwrap_or(0) / procfs::page_size().max(1);
    let capacity = format!("capacity={capacity} slots={slots}");
    let mut sent = 0u32;
    publish(&format!("sent=0 {capacity}"));
    while sent < count {
        if sent > 0 {
            spend(every_ms, false);
        }
        for _ in 0..burst.min(count - sent) {
            if send(write, u64::from(sent)).is_err() {
                publish(&format!("sent={sent} {capacity} write-failed"));
                return 1;
            }
            sent += 1;
            publish(&format!("sent={sent} {capacity}"));
        }
    }
    if sentinel {
        let _ = send(write, SENTINEL);
        publish(&format!("sent={sent} sentinel=sent"));
    }
    0
}

pub(super) fn consume(kit: &mut Kit, pipe: u8, each_ms: u32, stop_after: u32) -> i32 {
    keep_only(kit, &[pipe], &[]);
    let Ok(read) = read_end(kit, pipe) else {
        return 1;
    };
    let mut received = 0u32;
    publish("received=0");
    loop {
        if stop_after > 0 && received >= stop_after {
            publish(&format!("received={received} stopped-reading"));
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        match receive(read) {
            Ok(Some(SENTINEL)) => {
                publish(&format!("received={received} sentinel=received"));
                return 0;
            }
            Ok(Some(_)) => {
                received += 1;
                publish(&format!("received={received}"));
                spend(each_ms, false);
            }
            Ok(None) => {
                publish(&format!("received={received} eof"));
                return 0;
            }
            Err(_) => return 1,
        }
    }
}

pub(super) fn pool_worker(kit: &mut Kit, pipe: u8, work_ms: u32) -> i32 {
    keep_only(kit, &[pipe], &[]);
    let Ok(read) = read_end(kit, pipe) else {
        return 1;
    };
    let mut done = 0u32;
    publish("done=0 idle");
    loop {
        match receive(read) {
            Ok(Some(task)) => {
                publish(&format!("done={done} working=task{task}"));
                spend(work_ms, true);
                done += 1;
                publish(&format!("done={done} idle"));
            }
            Ok(None) => return 0,
            Err(_) => return 1,
        }
    }
}

pub(super) fn read_then_write(kit: &mut Kit, read: u8, write: u8) -> i32 {
    keep_only(kit, &[read], &[write]);
    let (Ok(input), Ok(output)) = (read_end(kit, read), write_end(kit, write)) else {
        return 1;
    };
    publish(&format!("reading={read}"));
    match receive(input) {
        Ok(Some(_)) => {
            publish(&format!("writing={write}"));
            let _ = send(output, 1);
            0
        }
        _ => {
            publish(&format!("reading={read} eof"));
            1
        }
    }
}

pub(super) fn relay(kit: &mut Kit, read: u8, write: u8) -> i32 {
    keep_only(kit, &[read], &[write]);
    die_of_sigpipe();
    let (Ok(input), Ok(output)) = (read_end(kit, read), write_end(kit, write)) else {
        return 1;
    };
    let mut relayed = 0u32;
    publish("relayed=0");
    loop {
        match receive(input) {
            Ok(Some(message)) => {
                if send(output, message).is_err() {
                    return 1;
                }
                relayed += 1;
                publish(&format!("relayed={relayed}"));
            }
            Ok(None) => {
                publish(&format!("relayed={relayed} eof"));
                return 0;
            }
            Err(_) => return 1,
        }
    }
}
