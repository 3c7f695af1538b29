//! Parser for one `/proc/PID/stat` line, the collector's hot path.
//! Borrowing, allocation-free and total: any input gives `Some` or `None`, never a panic.

/// The fields brood uses from `/proc/PID/stat` (see proc(5)); `comm` borrows the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFields<'a> {
    pub pid: i32,
    pub comm: &'a [u8],
    pub state: u8,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
    pub flags: u32,
    pub utime: u64,
    pub stime: u64,
    pub nice: i64,
    pub num_threads: i64,
    pub starttime: u64,
    pub vsize: u64,
    pub rss_pages: i64,
}

/// `PF_KTHREAD` in `flags`: the task is a kernel thread (include/linux/sched.h).
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// Parses one stat line. `comm` may hold spaces and parentheses, so it ends at the *last* `)`.
pub fn parse_stat(line: &[u8]) -> Option<StatFields<'_>> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = parse_int(trim(&line[..open]))?;
    let comm = &line[open + 1..close];
    let mut rest = line
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let mut next = || rest.next().map(trim);

    let state = *next()?.first()?;
    let ppid = parse_int(next()?)?;
    let pgrp = parse_int(next()?)?;
    let session = parse_int(next()?)?;
    let tty_nr = parse_int(next()?)?;
    let _tpgid = next()?;
    let flags = parse_uint(next()?)?;
    for _ in 0..4 {
        next()?; // minflt cminflt majflt cmajflt
    }
    let utime = parse_uint(next()?)?;
    let stime = parse_uint(next()?)?;
    for _ in 0..3 {
        next()?; // cutime cstime priority
    }
    let nice = parse_int(next()?)?;
    let num_threads = parse_int(next()?)?;
    next()?; // itrealvalue
    let starttime = parse_uint(next()?)?;
    let vsize = parse_uint(next()?)?;
    let rss_pages = parse_int(next()?)?;

    Some(StatFields {
        pid: i32::try_from(pid).ok()?,
        comm,
        state,
        ppid: i32::try_from(ppid).ok()?,
        pgrp: i32::try_from(pgrp).ok()?,
        session: i32::try_from(session).ok()?,
        tty_nr: i32::try_from(tty_nr).ok()?,
        flags: u32::try_from(flags).ok()?,
        utime,
        stime,
        nice,
        num_threads,
        starttime,
        vsize,
        rss_pages,
    })
}

fn trim(field: &[u8]) -> &[u8] {
    let end = field
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let start = field[..end]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(end);
    &field[start..end]
}

fn parse_uint(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(value)
}

fn parse_int(digits: &[u8]) -> Option<i64> {
    match digits.split_first() {
        Some((b'-', rest)) => parse_uint(rest)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -v),
        _ => parse_uint(digits).and_then(|v| i64::try_from(v).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &[u8] = b"4711 (we ird) name)) S 1 4711 4711 0 -1 4194560 120 0 0 0 7 3 0 0 20 0 1 0 123456 8192000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn comm_ends_at_the_last_parenthesis() {
        let stat = parse_stat(SAMPLE).unwrap();
        assert_eq!(stat.pid, 4711);
        assert_eq!(stat.comm, b"we ird) name)");
        assert_eq!(stat.state, b'S');
        assert_eq!((stat.ppid, stat.pgrp, stat.session), (1, 4711, 4711));
        assert_eq!((stat.utime, stat.stime), (7, 3));
        assert_eq!((stat.nice, stat.num_threads), (0, 1));
        assert_eq!(stat.starttime, 123456);
        assert_eq!((stat.vsize, stat.rss_pages), (8192000, 250));
        assert_eq!(stat.tty_nr, 0);
    }

    #[test]
    fn truncated_or_garbled_lines_are_rejected() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"12 (x) S 1 2"), None);
        assert_eq!(
            parse_stat(b"12 )x( S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 1 1"),
            None
        );
        assert_eq!(
            parse_stat(b"abc (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 1 1"),
            None
        );
    }

    #[test]
    fn negative_nice_is_read() {
        let line = b"9 (k) S 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 0 -20 1 0 30 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.nice, -20);
        assert_ne!(stat.flags & PF_KTHREAD, 0);
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_stat(&bytes);
        }

        #[test]
        fn any_comm_round_trips(comm in proptest::collection::vec(any::<u8>(), 0..16), pid in 1i32..4_000_000) {
            let mut line = format!("{pid} (").into_bytes();
            line.extend_from_slice(&comm);
            line.extend_from_slice(b") R 1 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 99 4096 2 0");
            let stat = parse_stat(&line).unwrap();
            prop_assert_eq!(stat.comm, &comm[..]);
            prop_assert_eq!(stat.pid, pid);
            prop_assert_eq!(stat.starttime, 99);
        }
    }
}
