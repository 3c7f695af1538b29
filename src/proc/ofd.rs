//! Open-file-description locks (`F_OFD_SETLK*`) belong to an open file, not to a process, so
//! /proc/locks lists them with PID -1. This gives them their processes: a holder is a process
//! whose fdinfo lists the lock on one of its open files, a waiter a process blocked in
//! `fcntl(F_OFD_SETLKW)` on a descriptor of the locked file. A lock that could be any of
//! several processes' (an open file shared after fork, look-alike locks) keeps no process, so
//! no deadlock is ever claimed through a guess.

use super::Pid;
use super::locks::{LockEntry, parse_locks};

/// `fcntl(fd, F_OFD_SETLKW, …)`: the command that blocks on an OFD lock.
const F_OFD_SETLKW: i64 = libc::F_OFD_SETLKW as i64;

/// Gives unattributed OFD entries of `locks` their processes: `held` are the OFD locks each
/// process's fdinfo lists, `waiting` the inode each process blocked in F_OFD_SETLKW waits on.
pub fn attribute(locks: &mut Vec<LockEntry>, held: &[(Pid, LockEntry)], waiting: &[(Pid, u64)]) {
    let unowned = |l: &LockEntry| l.class == "OFDLCK" && l.pid.is_none();
    let key = |l: &LockEntry| (l.file.clone(), l.write);
    let snapshot = locks.clone();
    for entry in locks.iter_mut().filter(|l| unowned(l) && !l.blocked) {
        let alike = snapshot
            .iter()
            .filter(|l| unowned(l) && !l.blocked && key(l) == key(entry))
            .count();
        let mut owners: Vec<Pid> = held
            .iter()
            .filter(|(_, l)| key(l) == key(entry))
            .map(|(pid, _)| *pid)
            .collect();
        owners.sort_unstable();
        owners.dedup();
        if let ([owner], 1) = (owners.as_slice(), alike) {
            entry.pid = Some(*owner);
        }
    }
    // A waiter's request is listed under the lock it waits for; if every OFD request on its
    // file waits for the same lock, that is the one.
    let mut given = Vec::new();
    for &(pid, inode) in waiting {
        let requests: Vec<&LockEntry> = snapshot
            .iter()
            .filter(|l| unowned(l) && l.blocked && l.inode == inode)
            .collect();
        if let Some(first) = requests.first()
            && requests.iter().all(|r| r.id == first.id)
        {
            given.push(LockEntry {
                pid: Some(pid),
                ..(*first).clone()
            });
        }
    }
    if !given.is_empty() {
        let inodes: Vec<u64> = given.iter().map(|g| g.inode).collect();
        locks.retain(|l| !(unowned(l) && l.blocked && inodes.contains(&l.inode)));
        locks.extend(given);
    }
}

/// The OFD locks `pid` holds, from the `lock:` lines of its fdinfo files.
fn read_held(pid: Pid) -> Vec<LockEntry> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    let lines: String = entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|line| line.strip_prefix("lock:"))
                .map(|line| format!("{}\n", line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    parse_locks(&lines)
        .into_iter()
        .filter(|l| l.class == "OFDLCK")
        .collect()
}

/// The inode `pid` waits to lock, if it is blocked in `fcntl(fd, F_OFD_SETLKW, …)`.
fn read_waiting(pid: Pid) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let (fd, command) = parse_fcntl(&text)?;
    (command == F_OFD_SETLKW).then_some(())?;
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("ino:"))?
        .trim()
        .parse()
        .ok()
}

/// From /proc/PID/syscall: the descriptor and command of a process blocked in fcntl().
fn parse_fcntl(text: &str) -> Option<(i64, i64)> {
    let mut words = text.split_whitespace();
    let number: i64 = words.next()?.parse().ok()?;
    let mut arg = || {
        let word = words.next()?;
        i64::from_str_radix(word.strip_prefix("0x").unwrap_or(word), 16).ok()
    };
    let (fd, command) = (arg()?, arg()?);
    (number == libc::SYS_fcntl).then_some((fd, command))
}

/// [`attribute`] with what /proc says now: `waiters` are the processes sleeping in a file-lock
/// wait, `candidates` those that may hold a lock. Costly (every descriptor of every candidate),
/// so it runs only when /proc/locks has an OFD request with no process.
pub fn attribute_from_proc(
    locks: &mut Vec<LockEntry>,
    waiters: impl Iterator<Item = Pid>,
    candidates: impl Iterator<Item = Pid>,
) {
    if !locks
        .iter()
        .any(|l| l.class == "OFDLCK" && l.blocked && l.pid.is_none())
    {
        return;
    }
    let waiting: Vec<(Pid, u64)> = waiters
        .filter_map(|pid| Some((pid, read_waiting(pid)?)))
        .collect();
    let held: Vec<(Pid, LockEntry)> = candidates
        .flat_map(|pid| read_held(pid).into_iter().map(move |l| (pid, l)))
        .collect();
    attribute(locks, &held, &waiting);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::ipc::{IpcState, find_deadlocks};

    /// Two OFD lockers in crossed order, as /proc/locks lists them: two held, two waiting,
    /// every PID -1.
    const CROSSED: &str = "\
1: OFDLCK ADVISORY  WRITE -1 fe:00:200 0 EOF
1: -> OFDLCK ADVISORY  WRITE -1 fe:00:200 0 EOF
2: OFDLCK ADVISORY  WRITE -1 fe:00:100 0 EOF
2: -> OFDLCK ADVISORY  WRITE -1 fe:00:100 0 EOF
";

    fn held(pid: Pid, inode: u64) -> (Pid, LockEntry) {
        let line = format!("1: OFDLCK ADVISORY  WRITE -1 fe:00:{inode} 0 EOF\n");
        (pid, parse_locks(&line).remove(0))
    }

    #[test]
    fn crossed_ofd_locks_get_their_processes_and_are_one_deadlock() {
        let mut locks = parse_locks(CROSSED);
        // 7 holds inode 100 and waits for 200; 8 holds 200 and waits for 100.
        attribute(
            &mut locks,
            &[held(7, 100), held(8, 200)],
            &[(7, 200), (8, 100)],
        );
        assert!(locks.iter().all(|l| l.pid.is_some()), "{locks:?}");
        let state = IpcState {
            locks,
            ..IpcState::default()
        };
        let deadlocks = find_deadlocks(&state.waits());
        assert_eq!(deadlocks.len(), 1, "{deadlocks:?}");
        let mut members: Vec<Pid> = deadlocks[0].members().map(|m| m.pid).collect();
        members.sort_unstable();
        assert_eq!(members, vec![7, 8]);
    }

    #[test]
    fn without_attribution_ofd_locks_hide_the_deadlock() {
        let state = IpcState {
            locks: parse_locks(CROSSED),
            ..IpcState::default()
        };
        assert!(find_deadlocks(&state.waits()).is_empty());
    }

    #[test]
    fn a_lock_held_through_a_shared_open_file_is_left_without_a_process() {
        let mut locks = parse_locks(CROSSED);
        // 7 and 9 share the open file that holds inode 100 (a fork): either could release it.
        attribute(
            &mut locks,
            &[held(7, 100), held(9, 100), held(8, 200)],
            &[(7, 200), (8, 100)],
        );
        let holder_of_100 = locks
            .iter()
            .find(|l| l.inode == 100 && !l.blocked)
            .and_then(|l| l.pid);
        assert_eq!(holder_of_100, None);
        let state = IpcState {
            locks,
            ..IpcState::default()
        };
        assert!(
            find_deadlocks(&state.waits()).is_empty(),
            "no guess, no claim"
        );
    }

    #[test]
    fn the_fcntl_call_of_a_blocked_process_is_read_from_its_syscall_file() {
        let line = format!(
            "{} 0x5 0x26 0x7ffe 0x0 0x0 0x0 0x7ffd 0x7f16\n",
            libc::SYS_fcntl
        );
        assert_eq!(parse_fcntl(&line), Some((5, 38)));
        assert_eq!(parse_fcntl("0 0x3 0x0 0x0"), None, "a read is not an fcntl");
        assert_eq!(parse_fcntl("running"), None);
    }
}
