//! IPC links, wait channels and deadlock detection against real processes made here.
//! Children made with fork() call only async-signal-safe functions (the test is multithreaded).

#[path = "support/fork.rs"]
mod fork;
mod support;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use brood::proc::ipc::{
    Access, Endpoint, IpcState, WaitReason, find_deadlocks, read_ends, read_ipc, read_socket_peers,
};
use brood::proc::lookup::read_identity;
use brood::proc::wchan::WaitKind;
use brood::proc::{Identity, Pid, State};
use fork::{CrossedLocks, fork_child};
use support::*;

fn ipc_of(pids: &[Pid]) -> IpcState {
    let mut state = IpcState::default();
    for &pid in pids {
        state.ends.insert(pid, read_ends(pid).ok().map(Into::into));
        state.ids.insert(pid, id_of(pid));
    }
    state.socket_peers = read_socket_peers();
    state
}

fn id_of(pid: Pid) -> Identity {
    read_identity(pid).expect("a live test process")
}

fn blocked_in(pid: Pid, kind: WaitKind) -> Option<()> {
    let snapshot = scanner().scan().ok()?;
    find(&snapshot, pid).filter(|p| p.state == State::Sleeping)?;
    (brood::proc::wchan::read(pid).and_then(|c| c.kind) == Some(kind)).then_some(())
}

#[test]
fn two_processes_joined_by_a_pipe_are_linked_with_direction() {
    let shell = Reaped::spawn("sh", &["-c", "sleep 60 | cat"]);
    let (writer, reader) = wait_until("the pipeline's two processes", || {
        let snapshot = scanner().scan().ok()?;
        let child = |name: &str| {
            snapshot
                .procs
                .iter()
                .find(|p| p.ppid == shell.pid() && &*p.name == name)
                .map(|p| p.pid())
        };
        Some((child("sleep")?, child("cat")?))
    });
    let _guards = (Killed(writer), Killed(reader));
    let links = ipc_of(&[writer, reader]).links_of(id_of(writer));
    // (Both may also share pipes they inherited from whoever started the tests.)
    assert!(
        links.iter().any(|l| l.peer.pid == reader
            && matches!(l.endpoint, Endpoint::Pipe(_))
            && (l.mine, l.theirs) == (Access::Write, Access::Read)),
        "sleep writes into a pipe that cat reads: {links:?}"
    );
    wait_until("cat to block reading the pipe", || {
        blocked_in(reader, WaitKind::PipeRead)
    });
}

#[test]
fn a_socketpair_links_the_two_processes_holding_its_ends() {
    let (mine, theirs) = UnixStream::pair().unwrap();
    let child = Reaped::from_command(
        Command::new("sleep")
            .arg("60")
            .stdin(Stdio::from(OwnedFd::from(theirs))),
    );
    let state = ipc_of(&[own_pid(), child.pid()]);
    let links = state.links_of(id_of(own_pid()));
    assert!(
        links
            .iter()
            .any(|l| l.peer.pid == child.pid() && matches!(l.endpoint, Endpoint::Socket(_))),
        "the socketpair's ends, in this test and in the child, are paired: {links:?}"
    );
    drop(mine);
}

#[test]
fn processes_sharing_a_posix_shared_memory_object_are_linked() {
    let path = format!("/dev/shm/brood-test-{}", own_pid());
    let file = std::fs::File::create(&path).unwrap();
    let a = Reaped::from_command(
        Command::new("sleep")
            .arg("60")
            .stdin(Stdio::from(file.try_clone().unwrap())),
    );
    let b = Reaped::from_command(Command::new("sleep").arg("60").stdin(Stdio::from(file)));
    let links = ipc_of(&[a.pid(), b.pid()]).links_of(id_of(a.pid()));
    let _ = std::fs::remove_file(&path);
    assert!(
        links.iter().any(|l| l.peer.pid == b.pid()
            && l.endpoint == Endpoint::SharedMemory(format!("brood-test-{}", own_pid()))),
        "{links:?}"
    );
}

#[test]
fn crossed_flock_order_is_one_deadlock_naming_both_locks() {
    let locks = CrossedLocks::start("ipc");
    let (one, two) = (&locks.one, &locks.two);
    let deadlock = wait_until("both children to block on each other's lock", || {
        let state = IpcState {
            locks: brood::proc::locks::read_locks(),
            ..IpcState::default()
        };
        find_deadlocks(&state.waits())
            .into_iter()
            .find(|d| d.members().any(|m| m.pid == one.0))
    });
    let mut members: Vec<Pid> = deadlock.members().map(|m| m.pid).collect();
    members.sort_unstable();
    let mut expected = vec![one.0, two.0];
    expected.sort_unstable();
    assert_eq!(members, expected);
    let inodes: Vec<u64> = locks
        .paths
        .iter()
        .map(|p| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap()))
        .collect();
    for (_, reason, _) in &deadlock.cycle {
        assert!(
            matches!(reason, WaitReason::Lock { inode, .. } if inodes.contains(inode)),
            "{reason:?}"
        );
    }
}

#[test]
fn processes_reading_from_each_other_first_are_found_deadlocked() {
    let (a_read, b_write) = nix::unistd::pipe().unwrap();
    let (b_read, a_write) = nix::unistd::pipe().unwrap();
    let raw = |fd: &OwnedFd| fd.as_raw_fd();
    let (ar, bw, br, aw) = (raw(&a_read), raw(&b_write), raw(&b_read), raw(&a_write));
    let mut byte = 0u8;
    let buf: *mut libc::c_void = (&mut byte as *mut u8).cast();
    // A reads from B before writing to B, and B reads from A first: neither will ever write.
    let a = fork_child(&[ar, aw], move || unsafe {
        libc::read(ar, buf, 1);
        libc::write(aw, buf, 1);
    });
    let b = fork_child(&[br, bw], move || unsafe {
        libc::read(br, buf, 1);
        libc::write(bw, buf, 1);
    });
    drop((a_read, b_write, b_read, a_write)); // the test holds no end: only A and B can write

    let deadlock = wait_until("the crossed readers to be found deadlocked", || {
        blocked_in(a.0, WaitKind::PipeRead)?;
        blocked_in(b.0, WaitKind::PipeRead)?;
        let state = read_ipc(&scanner().scan().ok()?, false);
        find_deadlocks(&state.waits())
            .into_iter()
            .find(|d| d.members().any(|m| m.pid == a.0))
    });
    assert!(deadlock.members().any(|m| m.pid == b.0));
    assert!(
        deadlock
            .cycle
            .iter()
            .all(|(_, reason, _)| matches!(reason, WaitReason::PipeRead(_)))
    );
}

#[test]
fn an_idle_reader_whose_writer_is_alive_is_not_a_deadlock() {
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let fd = read_end.as_raw_fd();
    let mut byte = 0u8;
    let buf: *mut libc::c_void = (&mut byte as *mut u8).cast();
    let reader = fork_child(&[fd], move || unsafe {
        libc::read(fd, buf, 1);
    });
    drop(read_end);
    wait_until("the reader to block", || {
        blocked_in(reader.0, WaitKind::PipeRead)
    });
    let snapshot = scanner().scan().unwrap();
    // With every descriptor read (as when the IPC panel is open), the writer is known.
    let waits = read_ipc(&snapshot, true).waits();
    let wait = waits
        .iter()
        .find(|w| w.id.pid == reader.0)
        .expect("the reader is seen waiting");
    assert_eq!(
        wait.releasers.iter().map(|r| r.pid).collect::<Vec<_>>(),
        vec![own_pid()],
        "only this test, which is not blocked, holds the write end"
    );
    assert!(
        find_deadlocks(&waits)
            .iter()
            .all(|d| d.members().all(|m| m.pid != reader.0))
    );
    // The cheap sweep (blocked processes only) does not call it a deadlock either.
    let cheap = read_ipc(&snapshot, false).waits();
    assert!(
        find_deadlocks(&cheap)
            .iter()
            .all(|d| d.members().all(|m| m.pid != reader.0))
    );
    drop(write_end);
}

#[test]
fn a_system_v_segment_links_its_creator_and_the_process_that_attached_it() {
    // SAFETY: plain System V calls; the segment is removed below whatever happens to the child.
    let id = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
    assert!(id >= 0, "shmget: {}", std::io::Error::last_os_error());
    /// Removes the segment when the test ends, passed or failed.
    struct Segment(i32);
    impl Drop for Segment {
        fn drop(&mut self) {
            // SAFETY: removes the segment this test created.
            unsafe { libc::shmctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
        }
    }
    let _segment = Segment(id);
    let attacher = fork_child(&[], move || unsafe {
        libc::shmat(id, std::ptr::null(), 0);
        libc::pause();
    });
    let links = wait_until("the child to attach the segment", || {
        let state = read_ipc(&scanner().scan().ok()?, true);
        let links = state.links_of(id_of(attacher.0));
        links
            .iter()
            .any(|l| l.endpoint == Endpoint::SysvSharedMemory(i64::from(id)))
            .then_some(links)
    });
    assert!(
        links.iter().any(|l| l.peer.pid == own_pid()),
        "linked to its creator, this test: {links:?}"
    );
}

/// Linux ≥ 6.16 sleeps a futex wait in `futex_do_wait`, whose name holds `do_wait`: it must read
/// as a futex, and a real child wait (`do_wait`) as a child wait.
#[test]
fn a_futex_wait_reads_as_a_futex_and_a_child_wait_as_a_child_wait() {
    let futex = fork_child(&[], || {
        let word: u32 = 0;
        loop {
            // SAFETY: a raw syscall on a word of this stack frame, which outlives the wait.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    &word as *const u32,
                    libc::FUTEX_WAIT,
                    0u32,
                    std::ptr::null::<libc::timespec>(),
                );
            }
        }
    });
    let waiter = fork_child(&[], || {
        // SAFETY: fork, prctl, pause and waitpid are async-signal-safe; the grandchild dies
        // with its parent (PR_SET_PDEATHSIG), so nothing outlives the test.
        unsafe {
            let child = libc::fork();
            if child == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::pause();
                libc::_exit(0);
            }
            libc::waitpid(child, std::ptr::null_mut(), 0);
        }
    });
    wait_until("the futex wait", || blocked_in(futex.0, WaitKind::Futex));
    wait_until("the child wait", || blocked_in(waiter.0, WaitKind::Child));
    let words = brood::proc::wchan::read(futex.0).map(|c| c.describe());
    assert!(
        words
            .as_deref()
            .is_some_and(|w| w.starts_with("waiting on a futex")),
        "{words:?}"
    );
}

/// A queue `mq_open`ed by two processes: their descriptors read `/NAME`, not `/dev/mqueue/NAME`
/// (the kernel's own mqueue mount), and brood still finds the queue and links the two.
#[test]
fn two_processes_that_open_one_posix_message_queue_are_linked_by_it() {
    let name = format!("brood-test-mq-{}", own_pid());
    // The kernel's mq_open takes the name without the slash libc would strip.
    let bare = std::ffi::CString::new(name.clone()).unwrap();
    // SAFETY: a raw syscall with a valid name and no attributes.
    let created = unsafe {
        libc::syscall(
            libc::SYS_mq_open,
            bare.as_ptr(),
            libc::O_CREAT | libc::O_RDWR,
            0o600,
            std::ptr::null::<libc::c_void>(),
        )
    };
    if created < 0 {
        skip(
            "two_processes_that_open_one_posix_message_queue_are_linked_by_it",
            &format!(
                "no POSIX message queues here ({})",
                std::io::Error::last_os_error()
            ),
        );
        return;
    }
    // SAFETY: `created` is the descriptor just returned, closed once.
    unsafe { libc::close(created as i32) };
    /// Removes the queue when the test ends, passed or failed.
    struct Unlinked(std::ffi::CString);
    impl Drop for Unlinked {
        fn drop(&mut self) {
            // SAFETY: a raw syscall with a valid name.
            unsafe { libc::syscall(libc::SYS_mq_unlink, self.0.as_ptr()) };
        }
    }
    let _unlinked = Unlinked(bare.clone());
    let open = || {
        let bare = bare.as_ptr();
        move || loop {
            // SAFETY: raw syscalls on a name prepared before the fork.
            unsafe {
                libc::syscall(
                    libc::SYS_mq_open,
                    bare,
                    libc::O_RDWR,
                    0,
                    std::ptr::null::<libc::c_void>(),
                );
                libc::pause();
            }
        }
    };
    let (a, b) = (fork_child(&[], open()), fork_child(&[], open()));
    let queue = Endpoint::MessageQueue(name.clone());
    let holds_queue = |pid: Pid| {
        read_ends(pid)
            .ok()?
            .iter()
            .any(|end| end.endpoint == queue)
            .then_some(())
    };
    wait_until("both children to open the queue", || {
        holds_queue(a.0)?;
        holds_queue(b.0)
    });
    let links = ipc_of(&[a.0, b.0]).links_of(id_of(a.0));
    assert!(
        links
            .iter()
            .any(|l| l.peer.pid == b.0 && l.endpoint == queue),
        "{links:?}"
    );
    assert_eq!(queue.describe(), format!("POSIX message queue /{name}"));
}

/// A real deadlock on the screen's log, scan after scan: told once when it forms, never again
/// while it lasts, and once when it breaks (one of the two killed).
#[test]
fn a_real_deadlock_is_logged_once_when_it_forms_and_once_when_it_breaks() {
    use brood::app::{App, Settings};
    use brood::message::{Event, SystemStats};
    use brood::proc::ipc::Sweeper;
    let locks = CrossedLocks::start("log");
    let one = locks.one.0;
    let mut app = App::new(Settings::new(own_pid()));
    let mut scanner = scanner();
    let mut sweeper = Sweeper::default();
    let mut refresh = |app: &mut App| {
        let snapshot = scanner.scan().expect("a scan");
        sweeper.observe(&snapshot);
        let state = sweeper.sweep(&snapshot, false);
        app.update(Event::Snapshot(Box::new(snapshot), SystemStats::default()));
        app.update(Event::Ipc(Box::new(state)));
    };
    // Other tests of this binary make deadlocks of their own: only this pair's lines count.
    let names_one = |text: &str| {
        text.split(|c: char| !c.is_ascii_digit())
            .any(|number| number == one.to_string())
    };
    let told = |app: &App, what: &str| {
        app.history
            .entries(false)
            .filter(|e| e.text.starts_with(what) && names_one(&e.text))
            .count()
    };
    wait_until("the deadlock told", || {
        refresh(&mut app);
        (told(&app, "deadlock: ") > 0).then_some(())
    });
    for _ in 0..5 {
        refresh(&mut app);
    }
    assert_eq!(told(&app, "deadlock: "), 1, "told once while it lasts");
    assert_eq!(told(&app, "deadlock broken: "), 0);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(one),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the break told", || {
        refresh(&mut app);
        (told(&app, "deadlock broken: ") > 0).then_some(())
    });
    for _ in 0..5 {
        refresh(&mut app);
    }
    assert_eq!(
        told(&app, "deadlock broken: "),
        1,
        "told once when it breaks"
    );
    assert_eq!(told(&app, "deadlock: "), 1);
}
