//! Endpoints, links and deadlock cycles on hand-built IPC states.

use std::sync::Arc;

use super::*;

fn end(fd: i32, endpoint: Endpoint, access: Access) -> FdEnd {
    FdEnd {
        fd,
        endpoint,
        access,
    }
}

#[test]
fn sysv_tables_name_creator_and_last_user() {
    let shm = "       key      shmid perms                  size  cpid  lpid nattch   uid\n\
               1234      32769   600                  4096   700   701      2     0\n";
    assert_eq!(
        parse_sysv(shm, false),
        vec![SysvObject {
            endpoint: Endpoint::SysvSharedMemory(32769),
            pids: vec![700, 701]
        }]
    );
    let msg = "       key      msqid perms      cbytes       qnum lspid lrpid   uid\n\
               0          7   644           0          0     0     0     0\n";
    assert!(
        parse_sysv(msg, true).is_empty(),
        "a queue nobody used has no process to name"
    );
    assert!(parse_sysv("", false).is_empty());
}

proptest::proptest! {
    #[test]
    fn sysv_parsing_never_panics(text in "[ -~\\n]{0,300}") {
        let _ = parse_sysv(&text, false);
        let _ = parse_sysv(&text, true);
    }
}

#[test]
fn descriptor_targets_are_classified() {
    assert_eq!(Endpoint::from_link("pipe:[123]"), Some(Endpoint::Pipe(123)));
    assert_eq!(Endpoint::from_link("socket:[9]"), Some(Endpoint::Socket(9)));
    assert_eq!(
        Endpoint::from_link("/dev/shm/counter"),
        Some(Endpoint::SharedMemory("counter".into()))
    );
    assert_eq!(
        Endpoint::from_link("/dev/mqueue/jobs"),
        Some(Endpoint::MessageQueue("jobs".into()))
    );
    assert_eq!(Endpoint::from_link("/dev/pts/0"), None);
    assert_eq!(
        parse_fdinfo_flags("pos:\t0\nflags:\t0100001\nmnt_id:\t15\n"),
        Some(0o100001)
    );
    assert_eq!(Access::from_flags(0o100001), Access::Write);
    assert_eq!(
        parse_syscall("0 0x3 0x7ffd 0x1000 0x0 0x0 0x0 0x7ffd 0x7f"),
        Some((0, 3))
    );
    assert_eq!(parse_syscall("running"), None);
}

/// The identity the tests' processes had when the sweep read them.
fn pipe_read() -> WaitChannel {
    WaitChannel::parse("anon_pipe_read").unwrap()
}

fn known(pid: Pid) -> Identity {
    Identity {
        pid,
        start_ticks: 77,
    }
}

/// Two processes joined by two pipes; `a_reads`/`b_reads` say who is blocked reading.
fn crossed_pipes(b_blocked: bool) -> IpcState {
    let mut state = IpcState::default();
    state.ends.insert(
        1,
        Some(Arc::new(vec![
            end(3, Endpoint::Pipe(100), Access::Read),
            end(4, Endpoint::Pipe(200), Access::Write),
        ])),
    );
    state.ends.insert(
        2,
        Some(Arc::new(vec![
            end(3, Endpoint::Pipe(200), Access::Read),
            end(4, Endpoint::Pipe(100), Access::Write),
        ])),
    );
    state.ids = [(1, known(1)), (2, known(2))].into_iter().collect();
    state.waits_in.insert(1, pipe_read());
    if b_blocked {
        state.waits_in.insert(2, pipe_read());
    }
    state
}

#[test]
fn processes_reading_each_other_before_writing_are_one_deadlock() {
    let deadlocks = find_deadlocks(&crossed_pipes(true).waits());
    assert_eq!(deadlocks.len(), 1);
    let cycle = &deadlocks[0].cycle;
    assert_eq!(
        cycle,
        &vec![
            (known(1), WaitReason::PipeRead(100), known(2)),
            (known(2), WaitReason::PipeRead(200), known(1))
        ]
    );
}

#[test]
fn an_idle_reader_whose_writer_is_not_blocked_is_no_deadlock() {
    assert!(find_deadlocks(&crossed_pipes(false).waits()).is_empty());
}

#[test]
fn a_reader_whose_writer_sleeps_hidden_is_no_deadlock_and_the_writer_is_unjudged() {
    // 2 sleeps where the kernel will not show: perhaps reading pipe 200, perhaps not.
    let mut state = crossed_pipes(false);
    state.waits_hidden.insert(2);
    assert!(find_deadlocks(&state.waits()).is_empty());
    assert_eq!(state.unjudged(), [2].into_iter().collect());
    assert!(state.wait_hidden(known(2)));
    assert_eq!(state.wait_short(known(2)), Some("hidden"));
    assert!(
        !state.wait_hidden(Identity {
            pid: 2,
            start_ticks: 5
        }),
        "another process that had the PID"
    );
}

#[test]
fn unjudged_are_the_unreadable_and_the_hidden_but_not_lock_waiters_proc_locks_names() {
    let mut state = IpcState {
        // 20 waits for 10's lock: /proc/locks says so to anyone.
        locks: super::super::locks::parse_locks(
            "1: FLOCK ADVISORY WRITE 10 fe:00:500 0 EOF\n\
             1: -> FLOCK ADVISORY WRITE 20 fe:00:500 0 EOF\n",
        ),
        ..IpcState::default()
    };
    state.waits_hidden.extend([20, 30, 40]);
    state.ends.insert(40, None);
    state.ends.insert(50, None);
    state.ends.insert(60, Some(Arc::default()));
    let mut unjudged: Vec<Pid> = state.unjudged().into_iter().collect();
    unjudged.sort_unstable();
    assert_eq!(unjudged, vec![30, 40, 50]);
}

#[test]
fn crossed_lock_order_is_a_deadlock_naming_both_locks() {
    let state = IpcState {
        locks: super::super::locks::parse_locks(
            "1: FLOCK ADVISORY WRITE 10 fe:00:500 0 EOF\n\
             1: -> FLOCK ADVISORY WRITE 20 fe:00:500 0 EOF\n\
             2: FLOCK ADVISORY WRITE 20 fe:00:600 0 EOF\n\
             2: -> FLOCK ADVISORY WRITE 10 fe:00:600 0 EOF\n\
             3: FLOCK ADVISORY WRITE 30 fe:00:700 0 EOF\n\
             3: -> FLOCK ADVISORY WRITE 40 fe:00:700 0 EOF\n",
        ),
        ..IpcState::default()
    };
    let deadlocks = find_deadlocks(&state.waits());
    assert_eq!(deadlocks.len(), 1, "{deadlocks:?}");
    let inodes: Vec<String> = deadlocks[0]
        .cycle
        .iter()
        .map(|(_, r, _)| r.describe())
        .collect();
    assert_eq!(
        inodes,
        vec!["flock lock on inode 600", "flock lock on inode 500"]
    );
}

#[test]
fn links_pair_pipe_ends_and_socket_peers() {
    let mut state = crossed_pipes(false);
    for (pid, socket) in [(1, 7), (2, 8)] {
        let ends = state.ends.get_mut(&pid).unwrap().as_mut().unwrap();
        Arc::make_mut(ends).push(end(5, Endpoint::Socket(socket), Access::ReadWrite));
    }
    state.socket_peers.insert(7, 8);
    state.socket_peers.insert(8, 7);
    assert!(
        state
            .links_of(Identity {
                pid: 1,
                start_ticks: 5
            })
            .is_empty(),
        "another process that had the PID"
    );
    let links = state.links_of(known(1));
    assert_eq!(links.len(), 3);
    assert!(links.contains(&Link {
        peer: known(2),
        endpoint: Endpoint::Pipe(100),
        mine: Access::Read,
        theirs: Access::Write
    }));
    assert!(links.iter().any(|l| l.endpoint == Endpoint::Socket(7)));
}

/// This test process with every task marked as having run, or not.
fn own_scan(ran: bool) -> Snapshot {
    let mut snapshot = crate::proc::scan::Scanner::new(Default::default())
        .scan()
        .expect("a scan");
    let procs: Vec<_> = snapshot
        .procs
        .iter()
        .map(|p| crate::proc::ProcInfo { ran, ..p.clone() })
        .collect();
    snapshot.procs = Arc::new(procs);
    snapshot
}

/// Whether `state` lists pipe `inode` among `pid`'s descriptors.
fn holds_pipe(state: &IpcState, pid: Pid, inode: u64) -> bool {
    let ends = state.ends.get(&pid).cloned().flatten().unwrap_or_default();
    ends.iter().any(|e| e.endpoint == Endpoint::Pipe(inode))
}

#[test]
fn a_sweep_reads_again_only_the_processes_that_may_have_run() {
    use std::os::unix::fs::MetadataExt;
    let me = std::process::id() as Pid;
    let mut sweeper = Sweeper::default();
    let scan = own_scan(true);
    sweeper.observe(&scan);
    sweeper.sweep(&scan, true);
    let (read, _write) = nix::unistd::pipe().expect("a pipe");
    let inode = std::fs::File::from(read).metadata().expect("fstat").ino();
    // The scanner says it did not run: what was read of it still holds, and is not read again.
    let quiet = own_scan(false);
    sweeper.observe(&quiet);
    assert!(!holds_pipe(&sweeper.sweep(&quiet, true), me, inode));
    // It ran: read again, the new pipe with it.
    let ran = own_scan(true);
    sweeper.observe(&ran);
    assert!(holds_pipe(&sweeper.sweep(&ran, true), me, inode));
}
