//! Pairs the two ends of Unix socket pairs through the kernel's sock_diag netlink interface
//! (/proc/net/unix does not pair them): one UNIX_DIAG dump request, the replies parsed without
//! trusting their lengths.

use std::collections::HashMap;
use std::io;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const UDIAG_SHOW_PEER: u32 = 0x4;
const UNIX_DIAG_PEER: u16 = 2;
const HEADER: usize = 16;
const MESSAGE: usize = 16; // unix_diag_msg

pub fn dump() -> io::Result<Vec<u8>> {
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink};
    let socket = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    let mut request = Vec::with_capacity(HEADER + 24);
    request.extend_from_slice(&(HEADER as u32 + 24).to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    request.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel
    request.push(libc::AF_UNIX as u8);
    request.push(0); // protocol
    request.extend_from_slice(&0u16.to_ne_bytes());
    request.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    request.extend_from_slice(&0u32.to_ne_bytes()); // any inode
    request.extend_from_slice(&UDIAG_SHOW_PEER.to_ne_bytes());
    request.extend_from_slice(&[0xff; 8]); // no cookie
    rustix::net::send(&socket, &request, SendFlags::empty())?;
    let mut reply = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let (got, _) = rustix::net::recv(&socket, &mut buf[..], RecvFlags::empty())?;
        if got == 0 {
            return Ok(reply);
        }
        let chunk = &buf[..got];
        reply.extend_from_slice(chunk);
        if messages(chunk).any(|(kind, _)| kind == NLMSG_DONE || kind == NLMSG_ERROR) {
            return Ok(reply);
        }
    }
}

/// (type, payload) of each netlink message in `bytes`; stops at the first malformed one.
fn messages(bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let len = u32::from_ne_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(rest.get(4..6)?.try_into().ok()?);
        if len < HEADER || len > rest.len() {
            return None;
        }
        let payload = &rest[HEADER..len];
        rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
        Some((kind, payload))
    })
}

pub fn parse_peers(bytes: &[u8]) -> HashMap<u64, u64> {
    let mut peers = HashMap::new();
    for (kind, payload) in messages(bytes) {
        if kind != SOCK_DIAG_BY_FAMILY || payload.len() < MESSAGE {
            continue;
        }
        let Ok(inode) = payload[4..8].try_into().map(u32::from_ne_bytes) else {
            continue;
        };
        let mut attrs = &payload[MESSAGE..];
        while attrs.len() >= 4 {
            let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
            let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
            if len < 4 || len > attrs.len() {
                break;
            }
            if kind == UNIX_DIAG_PEER && len >= 8 {
                let peer = u32::from_ne_bytes([attrs[4], attrs[5], attrs[6], attrs[7]]);
                if peer != 0 {
                    peers.insert(u64::from(inode), u64::from(peer));
                }
            }
            attrs = attrs.get((len + 3) & !3..).unwrap_or(&[]);
        }
    }
    peers
}

/// Unix socket inode → peer inode, from the kernel's sock_diag netlink interface (the only place
/// that pairs the two ends of a socketpair; /proc/net/unix does not).
pub fn read_socket_peers() -> HashMap<u64, u64> {
    dump().map(|reply| parse_peers(&reply)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(inode: u32, peer: u32) -> Vec<u8> {
        let mut payload = vec![libc::AF_UNIX as u8, 1, 1, 0];
        payload.extend_from_slice(&inode.to_ne_bytes());
        payload.extend_from_slice(&[0; 8]);
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
        payload.extend_from_slice(&peer.to_ne_bytes());
        let mut msg = Vec::new();
        msg.extend_from_slice(&((HEADER + payload.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        msg.extend_from_slice(&[0; 10]);
        msg.extend_from_slice(&payload);
        msg
    }

    #[test]
    fn peers_are_read_from_dump_messages() {
        let mut bytes = message(10, 11);
        bytes.extend(message(11, 10));
        let peers = parse_peers(&bytes);
        assert_eq!(peers.get(&10), Some(&11));
        assert_eq!(peers.get(&11), Some(&10));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_peers(&bytes);
        }
    }
}
