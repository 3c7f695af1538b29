//! /proc/locks: who holds which file lock and who waits for it (the `->` lines).

use super::Pid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEntry {
    /// Lock number; a blocked request carries the number of the lock it waits for.
    pub id: u32,
    /// A request waiting for lock `id` rather than a lock held.
    pub blocked: bool,
    /// FLOCK, POSIX, OFDLCK, LEASE, …
    pub class: String,
    pub write: bool,
    /// The owner, or `None` for open-file-description locks (reported as -1).
    pub pid: Option<Pid>,
    /// `major:minor:inode` of the locked file.
    pub file: String,
    pub inode: u64,
}

/// Parses the whole of /proc/locks; lines that do not parse are skipped.
pub fn parse_locks(text: &str) -> Vec<LockEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<LockEntry> {
    let (id, rest) = line.split_once(':')?;
    let id = id.trim().parse().ok()?;
    let mut words = rest.split_whitespace().peekable();
    let blocked = words.next_if_eq(&"->").is_some();
    let class = words.next()?.to_string();
    let _mode = words.next()?; // ADVISORY / MANDATORY / ACTIVE …
    let write = match words.next()? {
        "WRITE" => true,
        "READ" | "UNLCK" | "NONE" => false,
        _ => return None,
    };
    let pid: i64 = words.next()?.parse().ok()?;
    let file = words.next()?.to_string();
    let inode = file.rsplit(':').next()?.parse().ok()?;
    Some(LockEntry {
        id,
        blocked,
        class,
        write,
        pid: Pid::try_from(pid).ok().filter(|p| *p > 0),
        file,
        inode,
    })
}

/// The kernel's lock table, parsed; empty if it cannot be read.
pub fn read_locks() -> Vec<LockEntry> {
    std::fs::read_to_string("/proc/locks")
        .map(|t| parse_locks(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE: &str = "\
1: FLOCK  ADVISORY  WRITE 4711 fe:00:5505109 0 EOF
1: -> FLOCK  ADVISORY  WRITE 4712 fe:00:5505109 0 EOF
2: POSIX  ADVISORY  READ 4712 08:02:131074 0 99
3: OFDLCK ADVISORY  WRITE -1 00:2a:77 0 EOF
garbage line
";

    #[test]
    fn holders_and_blocked_requests_are_read() {
        let locks = parse_locks(SAMPLE);
        assert_eq!(locks.len(), 4);
        assert_eq!(
            (locks[0].id, locks[0].blocked, locks[0].pid, locks[0].write),
            (1, false, Some(4711), true)
        );
        assert_eq!(
            (locks[1].id, locks[1].blocked, locks[1].pid),
            (1, true, Some(4712))
        );
        assert_eq!(locks[1].inode, 5505109);
        assert_eq!(locks[2].class, "POSIX");
        assert!(!locks[2].write);
        assert_eq!(locks[3].pid, None, "OFD locks have no owning process");
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panic(text in "[ -~\\n]{0,200}") {
            let _ = parse_locks(&text);
        }
    }
}
