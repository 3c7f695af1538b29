//! Shared-memory tasks: a `MAP_SHARED` region of counters with a process-shared mutex (robust if
//! asked) and semaphore, and the processes that use it (adders, semaphore users, mutex holders).
//! The region is mapped before the fork, so parent and children see the same pages.

use std::cell::UnsafeCell;
use std::fs::OpenOptions;
use std::mem::offset_of;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::unistd::getpid;

use super::{Kit, publish, spend};
use crate::lab::shared_file::{Shareable, SharedFile};
use crate::proc::Pid;

/// The layout of a shared region. The counters come first so a reader of the file finds them
/// at fixed offsets; the mutex and semaphore live in the same pages, marked process-shared.
/// Other processes change every field at any time: the counters are atomics, and the mutex and
/// semaphore sit in `UnsafeCell`s, reached only through raw pointers handed to pthread.
#[repr(C)]
struct Region {
    counter: AtomicU64,
    inside: AtomicU32,
    max_inside: AtomicU32,
    done: AtomicU32,
    /// The process holding the mutex now (0: nobody), as it said itself.
    holder: AtomicI32,
    /// How many times a holder found the mutex's owner dead and repaired it.
    repairs: AtomicU32,
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    semaphore: UnsafeCell<libc::sem_t>,
}

const REGION_BYTES: usize = 4096;
const _: () = assert!(std::mem::size_of::<Region>() <= REGION_BYTES);
/// Increments between pauses in [`super::Task::Add`].
const ADD_BURST: u32 = 10_000;

// SAFETY: counters are atomics; the mutex and semaphore sit in `UnsafeCell`s and are reached
// only through pthread; a new file's zeros are valid for all of them.
unsafe impl Shareable for Region {}

/// A `MAP_SHARED` mapping; fork() gives the child the same pages, not a copy.
pub(super) struct Mapping {
    file: SharedFile<Region>,
}

impl Mapping {
    fn region(&self) -> &Region {
        self.file.get()
    }
}

/// The counters at the start of a shared region, as another process reads them from the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedFigures {
    pub counter: u64,
    pub inside: u32,
    pub max_inside: u32,
    pub done: u32,
    pub holder: Pid,
    pub repairs: u32,
}

fn shared_path(dir: &Path, owner: Pid) -> PathBuf {
    dir.join(format!("shared-{owner}"))
}

/// The counters of the region `owner` mapped, read from its file (a tmpfs: no disk involved).
pub fn read_shared(dir: &Path, owner: Pid) -> Option<SharedFigures> {
    let bytes = std::fs::read(shared_path(dir, owner)).ok()?;
    let word = |at: usize| -> Option<[u8; 4]> { bytes.get(at..at + 4)?.try_into().ok() };
    let u32_at = |at: usize| word(at).map(u32::from_ne_bytes);
    Some(SharedFigures {
        counter: u64::from_ne_bytes(bytes.get(0..8)?.try_into().ok()?),
        inside: u32_at(offset_of!(Region, inside))?,
        max_inside: u32_at(offset_of!(Region, max_inside))?,
        done: u32_at(offset_of!(Region, done))?,
        holder: word(offset_of!(Region, holder)).map(i32::from_ne_bytes)?,
        repairs: u32_at(offset_of!(Region, repairs))?,
    })
}

pub(super) fn map(dir: &Path, permits: u32, robust: bool) -> Result<Mapping, String> {
    let path = shared_path(dir, getpid().as_raw());
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.set_len(REGION_BYTES as u64)
        .map_err(|e| format!("cannot size the shared file: {e}"))?;
    let mapping = Mapping {
        file: SharedFile::map(&file).map_err(|e| format!("mmap failed: {e}"))?,
    };
    let region = mapping.region();
    // SAFETY: the region is zeroed (a new file) and no other process maps it yet: the mutex
    // and semaphore are initialised once, here, before any child that uses them is forked.
    let ready = unsafe {
        let mut attributes: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attributes);
        libc::pthread_mutexattr_setpshared(&mut attributes, libc::PTHREAD_PROCESS_SHARED);
        if robust {
            libc::pthread_mutexattr_setrobust(&mut attributes, libc::PTHREAD_MUTEX_ROBUST);
        }
        let mutex_ok = libc::pthread_mutex_init(region.mutex.get(), &attributes) == 0;
        libc::pthread_mutexattr_destroy(&mut attributes);
        mutex_ok && libc::sem_init(region.semaphore.get(), 1, permits) == 0
    };
    if !ready {
        return Err("cannot set up the process-shared mutex and semaphore".into());
    }
    Ok(mapping)
}

pub(super) fn add(kit: &Kit, count: u32, locked: bool, spread_ms: u32) -> i32 {
    let Some(region) = kit.shared.as_ref().map(Mapping::region) else {
        return 1;
    };
    let mutex = region.mutex.get();
    publish("adding");
    // Paced so a person can watch the counter climb: bursts on a fixed schedule, the same for
    // every child, so the bursts of different children run at the same moments and collide.
    let start = Instant::now();
    let spread = Duration::from_millis(u64::from(spread_ms));
    for i in 1..=count {
        if locked {
            // SAFETY: a process-shared mutex initialised before this process was forked.
            unsafe { libc::pthread_mutex_lock(mutex) };
        }
        // Read, then write back one more: two steps, not one atomic add. Another process can
        // write in between, and then one of the two updates is lost. The pause between them is
        // there on purpose, to widen that window so the loss shows on any machine with more
        // than one CPU; a plain `counter += 1` loses far fewer.
        let value = region.counter.load(Ordering::Relaxed);
        for _ in 0..50 {
            std::hint::spin_loop();
        }
        region.counter.store(value + 1, Ordering::Relaxed);
        if locked {
            // SAFETY: this process holds the mutex.
            unsafe { libc::pthread_mutex_unlock(mutex) };
        }
        if i % ADD_BURST == 0 {
            let due = spread.mul_f64(f64::from(i) / f64::from(count.max(1)));
            std::thread::sleep(due.saturating_sub(start.elapsed()));
        }
    }
    region.done.fetch_add(1, Ordering::SeqCst);
    publish(&format!("added={count} of={count}"));
    0
}

pub(super) fn enter(kit: &Kit, work_ms: u32) -> i32 {
    let Some(region) = kit.shared.as_ref().map(Mapping::region) else {
        return 1;
    };
    let semaphore = region.semaphore.get();
    publish("waiting");
    // SAFETY: a process-shared semaphore initialised before this process was forked.
    while unsafe { libc::sem_wait(semaphore) } != 0 {
        if nix::errno::Errno::last() != nix::errno::Errno::EINTR {
            return 1;
        }
    }
    let now = region.inside.fetch_add(1, Ordering::SeqCst) + 1;
    region.max_inside.fetch_max(now, Ordering::SeqCst);
    publish("inside");
    spend(work_ms, true);
    region.inside.fetch_sub(1, Ordering::SeqCst);
    region.done.fetch_add(1, Ordering::SeqCst);
    publish("done");
    // SAFETY: this process took one permit above and gives it back.
    unsafe { libc::sem_post(semaphore) };
    0
}

/// Takes the shared mutex `rounds` times, holding it `hold_ms` each time (asleep: a holder
/// needs no CPU). If the last holder died holding it, a robust mutex is handed over with
/// EOWNERDEAD and repaired here; a plain one is never released, and this process waits forever.
pub(super) fn hold_mutex(kit: &Kit, rounds: u32, hold_ms: u32) -> i32 {
    let Some(region) = kit.shared.as_ref().map(Mapping::region) else {
        return 1;
    };
    let mutex = region.mutex.get();
    let me = getpid().as_raw();
    let mut repaired = 0u32;
    for round in 1..=rounds {
        publish(&format!("round={round} waiting repaired={repaired}"));
        // SAFETY: a process-shared mutex initialised before this process was forked.
        match unsafe { libc::pthread_mutex_lock(mutex) } {
            0 => {}
            libc::EOWNERDEAD => {
                // The lock is ours, but what it protects may be half-changed: this is where a
                // program checks and repairs its data, then marks the mutex usable again.
                // SAFETY: this process holds the mutex (EOWNERDEAD hands it over).
                if unsafe { libc::pthread_mutex_consistent(mutex) } != 0 {
                    return 1;
                }
                repaired += 1;
                region.repairs.fetch_add(1, Ordering::SeqCst);
            }
            _ => {
                publish(&format!("round={round} lock-failed repaired={repaired}"));
                return 1;
            }
        }
        region.holder.store(me, Ordering::SeqCst);
        publish(&format!("round={round} holding repaired={repaired}"));
        spend(hold_ms, false);
        region.holder.store(0, Ordering::SeqCst);
        // SAFETY: this process holds the mutex.
        unsafe { libc::pthread_mutex_unlock(mutex) };
        publish(&format!("round={round} released repaired={repaired}"));
        // Let a waiter in: a mutex is not fair, and the one that just let go would take it again.
        spend(hold_ms / 4, false);
    }
    region.done.fetch_add(1, Ordering::SeqCst);
    publish(&format!("rounds={rounds} done repaired={repaired}"));
    0
}
