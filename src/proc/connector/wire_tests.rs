use super::*;
use proptest::prelude::*;

fn ids(pid: Pid, tgid: Pid) -> TaskIds {
    TaskIds { pid, tgid }
}

fn message(event: KernelEvent) -> Message {
    Message {
        seq: 41,
        ack: 0,
        cpu: 1,
        timestamp_ns: 123_456_789_012,
        event,
    }
}

#[test]
fn a_fork_as_the_kernel_lays_it_out_is_read() {
    // Built by hand from cn_proc.h, not through `encode`: 16-byte nlmsghdr, 20-byte cn_msg,
    // then what, cpu, timestamp and the four PIDs.
    let mut bytes = Vec::new();
    for word in [76u32, 3 /* NLMSG_DONE, no flags */, 7, 0] {
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    for word in [1u32, 1, 7, 0] {
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    bytes.extend_from_slice(&40u16.to_ne_bytes());
    bytes.extend_from_slice(&0u16.to_ne_bytes());
    bytes.extend_from_slice(&1u32.to_ne_bytes()); // fork
    bytes.extend_from_slice(&3u32.to_ne_bytes()); // cpu
    bytes.extend_from_slice(&5_000_000_000u64.to_ne_bytes());
    for word in [100u32, 100, 200, 200, 0, 0] {
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    assert_eq!(bytes.len(), 76);
    let parsed: Vec<_> = messages(&bytes).collect();
    assert_eq!(
        parsed,
        vec![Ok(Message {
            seq: 7,
            ack: 0,
            cpu: 3,
            timestamp_ns: 5_000_000_000,
            event: KernelEvent::Fork {
                parent: ids(100, 100),
                child: ids(200, 200)
            },
        })]
    );
}

#[test]
fn an_old_kernels_short_exit_has_no_parent() {
    let full = encode(&message(KernelEvent::Exit {
        task: ids(5, 5),
        exit_code: 3 << 8,
        exit_signal: 17,
        parent: Some(ids(4, 4)),
    }));
    // Before 4.18 the exit event ended after exit_signal: cut the two parent words off.
    let mut short = full[..full.len() - 8].to_vec();
    let len = short.len() as u32;
    short[0..4].copy_from_slice(&len.to_ne_bytes());
    short[32..34].copy_from_slice(&32u16.to_ne_bytes());
    let parsed: Vec<_> = messages(&short).collect();
    assert!(matches!(
        parsed[..],
        [Ok(Message {
            event: KernelEvent::Exit {
                parent: None,
                exit_code: 768,
                ..
            },
            ..
        })]
    ));
}

#[test]
fn another_channel_and_netlink_errors_are_reported_not_parsed() {
    let mut other = encode(&message(KernelEvent::Exec { task: ids(1, 1) }));
    other[16..20].copy_from_slice(&9u32.to_ne_bytes());
    assert_eq!(
        messages(&other).collect::<Vec<_>>(),
        vec![Err(WireError::OtherChannel { idx: 9, val: 1 })]
    );
    let mut error = Vec::new();
    for word in [20u32, 2, 0, 0, (-105i32) as u32] {
        error.extend_from_slice(&word.to_ne_bytes());
    }
    assert_eq!(
        messages(&error).collect::<Vec<_>>(),
        vec![Err(WireError::Netlink(-105))]
    );
}

#[test]
fn a_datagram_may_hold_several_messages_and_no_ops() {
    let mut noop = Vec::new();
    for word in [16u32, 1, 0, 0] {
        noop.extend_from_slice(&word.to_ne_bytes());
    }
    let a = message(KernelEvent::Sid { task: ids(9, 9) });
    let b = message(KernelEvent::Ptrace {
        task: ids(9, 9),
        tracer: None,
    });
    let bytes = [encode(&a), noop, encode(&b)].concat();
    assert_eq!(messages(&bytes).collect::<Vec<_>>(), vec![Ok(a), Ok(b)]);
}

#[test]
fn the_listen_request_is_one_connector_message_with_the_op() {
    let bytes = request(PROC_CN_MCAST_LISTEN, 77);
    assert_eq!(bytes.len(), 40);
    assert_eq!(u32_at(&bytes, 0), Some(40));
    assert_eq!(u32_at(&bytes, 16), Some(CN_IDX_PROC));
    assert_eq!(u32_at(&bytes, 28), Some(77), "our ack, echoed plus one");
    assert_eq!(u16_at(&bytes, 32), Some(4));
    assert_eq!(u32_at(&bytes, 36), Some(PROC_CN_MCAST_LISTEN));
}

#[test]
fn comm_ends_at_its_nul() {
    let mut comm = [0u8; 16];
    comm[..5].copy_from_slice(b"bev-7");
    assert_eq!(comm_bytes(&comm), b"bev-7");
    assert_eq!(comm_bytes(&[b'x'; 16]), &[b'x'; 16]);
}

fn any_ids() -> impl Strategy<Value = TaskIds> {
    (1..i32::MAX, 1..i32::MAX).prop_map(|(pid, tgid)| ids(pid, tgid))
}

fn any_event() -> impl Strategy<Value = KernelEvent> {
    prop_oneof![
        any::<u32>().prop_map(|err| KernelEvent::Ack { err }),
        (any_ids(), any_ids()).prop_map(|(parent, child)| KernelEvent::Fork { parent, child }),
        any_ids().prop_map(|task| KernelEvent::Exec { task }),
        (any_ids(), any::<u32>(), any::<u32>()).prop_map(|(task, ruid, euid)| KernelEvent::Uid {
            task,
            ruid,
            euid
        }),
        (any_ids(), any::<u32>(), any::<u32>()).prop_map(|(task, rgid, egid)| KernelEvent::Gid {
            task,
            rgid,
            egid
        }),
        any_ids().prop_map(|task| KernelEvent::Sid { task }),
        (any_ids(), proptest::option::of(any_ids()))
            .prop_map(|(task, tracer)| KernelEvent::Ptrace { task, tracer }),
        (any_ids(), any::<[u8; 16]>()).prop_map(|(task, comm)| KernelEvent::Comm { task, comm }),
        (any_ids(), proptest::option::of(any_ids()))
            .prop_map(|(task, parent)| KernelEvent::Coredump { task, parent }),
        (
            any_ids(),
            any::<u32>(),
            any::<i32>(),
            proptest::option::of(any_ids())
        )
            .prop_map(|(task, exit_code, exit_signal, parent)| KernelEvent::Exit {
                task,
                exit_code,
                exit_signal,
                parent
            }),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for message in messages(&bytes) {
            let _ = message;
        }
    }

    #[test]
    fn every_event_round_trips(event in any_event(), seq: u32, cpu: u32, timestamp_ns: u64) {
        let sent = Message { seq, ack: 0, cpu, timestamp_ns, event };
        let parsed: Vec<_> = messages(&encode(&sent)).collect();
        prop_assert_eq!(parsed, vec![Ok(sent)]);
    }

    #[test]
    fn a_real_message_with_corrupted_bytes_never_panics(
        event in any_event(),
        flips in proptest::collection::vec((0usize..76, any::<u8>()), 1..8),
        cut in 0usize..80,
    ) {
        let mut bytes = encode(&message(event));
        for (at, byte) in flips {
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
        }
        bytes.truncate(cut);
        let _ = messages(&bytes).count();
    }
}
