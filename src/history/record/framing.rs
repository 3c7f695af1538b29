//! Records framed so that a file cut anywhere reads back to its last whole record: each is its
//! length (u32, little-endian), a CRC-32 of its bytes (u32, little-endian), then the bytes. The
//! CRC (crc32fast: zlib's polynomial, with the CPU's instructions for it) finds a torn or
//! garbled tail with certainty for any error shorter than 32 bits and misses a random one once
//! in four billion; it guards against crashes, not forgery, so it needs no more.

use std::io::{self, Read};

use super::wire::Record;

/// The length and the CRC before each record.
pub(super) const FRAME_BYTES: usize = 8;

/// A longer record is a torn length, not a record: the largest real one, a keyframe of 100 000
/// processes, takes a few MiB.
const MAX_RECORD: usize = 64 << 20;

/// Appends `record`, framed, to `out`; returns its length with the frame.
pub(super) fn append(out: &mut Vec<u8>, record: &Record) -> usize {
    // None of these types can fail to serialise (none has a sequence of unknown length); should
    // one, the record is left out rather than half written.
    let Ok(body) = postcard::to_allocvec(record) else {
        debug_assert!(false, "a record did not serialise");
        return 0;
    };
    out.reserve(FRAME_BYTES + body.len());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    FRAME_BYTES + body.len()
}

/// What follows in a file.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// A whole record, its bytes in the buffer.
    Record,
    /// The file ends cleanly here.
    End,
    /// The rest is not a whole record: a write cut short, or garbage.
    Torn,
}

/// Reads the next record's bytes into `buf`.
pub(super) fn read_next(source: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<Next> {
    let mut frame = [0u8; FRAME_BYTES];
    match read_full(source, &mut frame)? {
        0 => return Ok(Next::End),
        FRAME_BYTES => {}
        _ => return Ok(Next::Torn),
    }
    let [l0, l1, l2, l3, c0, c1, c2, c3] = frame;
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    let crc = u32::from_le_bytes([c0, c1, c2, c3]);
    if len > MAX_RECORD {
        return Ok(Next::Torn);
    }
    buf.resize(len, 0);
    if read_full(source, buf)? < len || crc32fast::hash(buf) != crc {
        return Ok(Next::Torn);
    }
    Ok(Next::Record)
}

/// Checks a record read at a known place (after the index said it was whole).
pub(super) fn unframe(bytes: &[u8]) -> Option<&[u8]> {
    let (frame, body) = bytes.split_at_checked(FRAME_BYTES)?;
    let len = u32::from_le_bytes(frame[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(frame[4..].try_into().ok()?);
    let body = body.get(..len)?;
    (crc32fast::hash(body) == crc).then_some(body)
}

/// Fills `buf` as far as the source goes; returns how much it filled.
fn read_full(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}
