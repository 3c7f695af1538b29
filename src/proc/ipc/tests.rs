//! Endpoints, links and deadlock cycles on hand-built IPC states.

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

/// Two processes joined by two pipes; `a_reads`/`b_reads` say who is blocked reading.
fn crossed_pipes(b_blocked: bool) -> IpcState {
    let mut state = IpcState::default();
    state.ends.insert(
        1,
        Some(vec![
            end(3, Endpoint::Pipe(100), Access::Read),
            end(4, Endpoint::Pipe(200), Access::Write),
        ]),
    );
    state.ends.insert(
        2,
        Some(vec![
            end(3, Endpoint::Pipe(200), Access::Read),
            end(4, Endpoint::Pipe(100), Access::Write),
        ]),
    );
    state.waits_in.insert(1, WaitKind::PipeRead);
    if b_blocked {
        state.waits_in.insert(2, WaitKind::PipeRead);
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
            (1, WaitReason::PipeRead(100), 2),
            (2, WaitReason::PipeRead(200), 1)
        ]
    );
}

#[test]
fn an_idle_reader_whose_writer_is_not_blocked_is_no_deadlock() {
    assert!(find_deadlocks(&crossed_pipes(false).waits()).is_empty());
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
    state.ends.get_mut(&1).unwrap().as_mut().unwrap().push(end(
        5,
        Endpoint::Socket(7),
        Access::ReadWrite,
    ));
    state.ends.get_mut(&2).unwrap().as_mut().unwrap().push(end(
        5,
        Endpoint::Socket(8),
        Access::ReadWrite,
    ));
    state.socket_peers.insert(7, 8);
    state.socket_peers.insert(8, 7);
    let links = state.links_of(1);
    assert_eq!(links.len(), 3);
    assert!(links.contains(&Link {
        peer: 2,
        endpoint: Endpoint::Pipe(100),
        mine: Access::Read,
        theirs: Access::Write
    }));
    assert!(links.iter().any(|l| l.endpoint == Endpoint::Socket(7)));
}
