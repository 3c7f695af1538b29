//! A file mapped `MAP_SHARED` and seen as one `T`: memory that other processes change at any
//! moment. It only ever hands out `&T`, so `T` must be made of atomics and cells and be valid
//! for any bytes (the [`Shareable`] promise); never plain data behind a shared reference.

use std::fs::File;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

/// A type that may live in memory shared with other processes.
///
/// # Safety
/// Implementors are valid for any bit pattern (a new file is zeros, and another process may
/// write anything) and change only through atomics or `UnsafeCell`s.
pub(crate) unsafe trait Shareable: Sized {}

pub(crate) struct SharedFile<T: Shareable> {
    start: NonNull<T>,
}

// SAFETY: a `Shareable` changes only through atomics and cells; when it is `Sync` those are
// made for access from several threads, and the mapping lives as long as `self`.
unsafe impl<T: Shareable + Sync> Send for SharedFile<T> {}
// SAFETY: as above.
unsafe impl<T: Shareable + Sync> Sync for SharedFile<T> {}

impl<T: Shareable> SharedFile<T> {
    /// Maps the start of `file`, which must hold at least one `T`.
    pub(crate) fn map(file: &File) -> std::io::Result<SharedFile<T>> {
        let bytes = std::mem::size_of::<T>();
        if file.metadata()?.len() < bytes as u64 {
            return Err(std::io::Error::other("the shared file is too short"));
        }
        let length = NonZeroUsize::new(bytes).ok_or(std::io::ErrorKind::InvalidInput)?;
        // SAFETY: a new shared mapping, within the file's length; no Rust object aliases it.
        let start = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                file,
                0,
            )
        }?;
        Ok(SharedFile {
            start: start.cast(),
        })
    }

    pub(crate) fn get(&self) -> &T {
        // SAFETY: the mapping is page-aligned, large enough and alive while `self` is; a
        // `Shareable` is valid for any bytes and a shared reference to it promises no one that
        // the memory stays unchanged.
        unsafe { self.start.as_ref() }
    }
}

impl<T: Shareable> Drop for SharedFile<T> {
    fn drop(&mut self) {
        // SAFETY: the address and length are the mapping's own; nothing uses it after this.
        let _ = unsafe { munmap(self.start.cast(), std::mem::size_of::<T>()) };
    }
}
