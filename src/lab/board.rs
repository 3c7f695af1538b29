//! The status board: a shared memory file in the run directory where each task process keeps one
//! line saying what it is doing, and the scenario watcher reads them all. Publishing is a store
//! to memory, never a system call, so the lab's bookkeeping never shows in a lesson (no disk wait,
//! no extra wakeup). Nothing here may block or fail a task: without a board, nothing is published.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering, fence};

use super::shared_file::{Shareable, SharedFile};
use crate::proc::Pid;

/// The board's file name in a run directory.
const FILE: &str = "board";
/// Slots are handed out in turn and reused after this many claims (a run seldom makes more
/// than a few hundred task processes).
const SLOTS: usize = 2048;
const TEXT_WORDS: usize = 31;
/// The longest line a slot holds; longer ones are cut at a character boundary.
const TEXT_BYTES: usize = TEXT_WORDS * 8;

/// One process's line, guarded by a sequence number: odd while its owner writes, so a reader
/// that sees it change reads again and never takes half a line.
#[repr(C)]
struct Slot {
    seq: AtomicU32,
    pid: AtomicI32,
    len: AtomicU32,
    _pad: u32,
    text: [AtomicU64; TEXT_WORDS],
}

#[repr(C)]
struct Layout {
    claimed: AtomicU32,
    _pad: [u32; 15],
    slots: [Slot; SLOTS],
}

const BYTES: usize = std::mem::size_of::<Layout>();

// SAFETY: every field is an atomic, valid for any bit pattern.
unsafe impl Shareable for Layout {}

/// A mapping of a run's board.
pub struct Board {
    file: SharedFile<Layout>,
}

impl Board {
    /// Makes the board of a new run (brood, before any lab process exists).
    pub fn create(dir: &Path) -> std::io::Result<Board> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.join(FILE))?;
        // A file of zeros is an empty board: no slot claimed. On a tmpfs only written pages
        // take memory.
        file.set_len(BYTES as u64)?;
        Board::map(&file)
    }

    /// Maps the board of a running run (a lab process).
    fn open(dir: &Path) -> std::io::Result<Board> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(FILE))?;
        if file.metadata()?.len() != BYTES as u64 {
            return Err(std::io::Error::other("the board has the wrong size"));
        }
        Board::map(&file)
    }

    fn map(file: &File) -> std::io::Result<Board> {
        Ok(Board {
            file: SharedFile::map(file)?,
        })
    }

    fn layout(&self) -> &Layout {
        self.file.get()
    }

    /// Takes a slot for `pid`.
    fn claim(&self, pid: Pid) -> usize {
        let layout = self.layout();
        let slot = layout.claimed.fetch_add(1, Ordering::Relaxed) as usize % SLOTS;
        // A reused slot still holds its last owner's line: it is cleared under the new owner.
        self.write(slot, pid, "");
        slot
    }

    fn owner(&self, slot: usize) -> Pid {
        self.layout().slots[slot].pid.load(Ordering::Relaxed)
    }

    fn write(&self, slot: usize, pid: Pid, text: &str) {
        let slot = &self.layout().slots[slot];
        let mut end = text.len().min(TEXT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; TEXT_BYTES];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        let seq = slot.seq.load(Ordering::Relaxed);
        slot.seq.store(seq.wrapping_add(1) | 1, Ordering::Relaxed);
        fence(Ordering::Release);
        slot.pid.store(pid, Ordering::Relaxed);
        slot.len.store(end as u32, Ordering::Relaxed);
        for (word, chunk) in slot.text.iter().zip(bytes.chunks_exact(8)) {
            let mut value = [0u8; 8];
            value.copy_from_slice(chunk);
            word.store(u64::from_ne_bytes(value), Ordering::Relaxed);
        }
        slot.seq
            .store((seq.wrapping_add(1) | 1).wrapping_add(1), Ordering::Release);
    }

    /// A consistent copy of one slot: its owner and line, or `None` if it is empty or its owner
    /// kept writing while it was read.
    fn read(&self, slot: usize) -> Option<(Pid, String)> {
        let slot = &self.layout().slots[slot];
        for _ in 0..100 {
            let before = slot.seq.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let pid = slot.pid.load(Ordering::Relaxed);
            let len = (slot.len.load(Ordering::Relaxed) as usize).min(TEXT_BYTES);
            let mut bytes = Vec::with_capacity(TEXT_BYTES);
            for word in &slot.text {
                bytes.extend_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
            }
            fence(Ordering::Acquire);
            if slot.seq.load(Ordering::Relaxed) == before {
                bytes.truncate(len);
                return Some((pid, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        None
    }

    /// Every process's latest line, by PID (a later claim of a reused PID wins).
    pub fn lines(&self) -> HashMap<Pid, String> {
        let claimed = self.layout().claimed.load(Ordering::Acquire) as usize;
        let first = claimed.saturating_sub(SLOTS);
        (first..claimed)
            .filter_map(|claim| self.read(claim % SLOTS))
            .collect()
    }
}

/// This process's board and slot: a lab process attaches once; a child forked from it shares
/// the mapping and takes a slot of its own at its first line.
static ATTACHED: OnceLock<Board> = OnceLock::new();
/// The PID that owns `SLOT` (a forked child sees its parent's here until it claims its own).
static SLOT_OWNER: AtomicI32 = AtomicI32::new(0);
static SLOT: AtomicU32 = AtomicU32::new(0);

/// Maps the run's board for this lab process; without it, [`publish`] does nothing.
pub fn attach(dir: &Path) {
    if let Ok(board) = Board::open(dir) {
        let _ = ATTACHED.set(board);
    }
}

/// Replaces this process's line on the board.
pub fn publish(text: &str) {
    let Some(board) = ATTACHED.get() else {
        return;
    };
    let me = nix::unistd::getpid().as_raw();
    let mut slot = SLOT.load(Ordering::Relaxed) as usize;
    // A slot is this process's until the claims wrap around and someone else takes it.
    if SLOT_OWNER.load(Ordering::Relaxed) != me || board.owner(slot) != me {
        slot = board.claim(me);
        SLOT.store(slot as u32, Ordering::Relaxed);
        SLOT_OWNER.store(me, Ordering::Relaxed);
    }
    board.write(slot, me, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_back_whole_and_the_latest_claim_of_a_pid_wins() {
        let dir = std::env::temp_dir().join(format!("brood-board-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let board = Board::create(&dir).unwrap();
        let reader = Board::open(&dir).unwrap();
        assert!(reader.lines().is_empty(), "a new board is empty");
        let first = board.claim(41);
        board.write(first, 41, "sent=1");
        board.write(first, 41, "sent=2");
        let other = board.claim(42);
        board.write(other, 42, &"é".repeat(200));
        let again = board.claim(41);
        board.write(again, 41, "reused");
        let lines = reader.lines();
        assert_eq!(lines.get(&41).map(String::as_str), Some("reused"));
        let long = &lines[&42];
        assert!(
            long.len() <= TEXT_BYTES && long.chars().all(|c| c == 'é'),
            "{long}"
        );
        drop((board, reader));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
