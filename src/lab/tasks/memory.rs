//! Copy-on-write tasks: a parent touches private memory before forking, and a child writes it
//! page by page afterwards, so each write fault copies one page for the child alone.

use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};

use super::{Kit, publish, spend};

/// Private anonymous memory, every page of it written once. A child forked afterwards maps the
/// same physical pages, read-only until one side writes.
pub(super) struct Touched {
    start: NonNull<u8>,
    bytes: usize,
}

impl Drop for Touched {
    fn drop(&mut self) {
        // SAFETY: the address and length are those mmap returned; nothing uses it afterwards.
        let _ = unsafe { munmap(self.start.cast(), self.bytes) };
    }
}

impl Touched {
    fn pages(&self) -> usize {
        self.bytes / page_size()
    }

    /// Writes `value` into the first byte of page `page`.
    fn write(&self, page: usize, value: u8) {
        if page < self.pages() {
            // SAFETY: the byte lies inside the mapping, which this process owns for as long as
            // `self` lives; after a fork each process writes its own copy of the page.
            unsafe { self.start.add(page * page_size()).write_volatile(value) };
        }
    }
}

fn page_size() -> usize {
    usize::try_from(procfs::page_size()).unwrap_or(4096)
}

pub(super) fn touch(mb: u32) -> Result<Touched, String> {
    let bytes = usize::try_from(mb).map_err(|_| "too much memory")? << 20;
    let length = NonZeroUsize::new(bytes).ok_or("no memory to touch")?;
    // SAFETY: a new private anonymous mapping, used only through `Touched`.
    let start = unsafe {
        mmap_anonymous(
            None,
            length,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_PRIVATE,
        )
    }
    .map_err(|e| format!("cannot map {mb} MiB: {}", e.desc()))?;
    let touched = Touched {
        start: start.cast(),
        bytes,
    };
    for page in 0..touched.pages() {
        touched.write(page, 1);
    }
    Ok(touched)
}

/// After `after_ms`, writes every page of the memory the parent touched, spread over
/// `over_ms`, publishing how far it got; then holds the copies `hold_ms` and exits.
pub(super) fn rewrite(kit: &Kit, after_ms: u32, over_ms: u32, hold_ms: u32) -> i32 {
    let Some(memory) = kit.memory.as_ref() else {
        return 1;
    };
    let pages = memory.pages();
    publish(&format!("rewritten=0 of={pages}"));
    spend(after_ms, false);
    // In steps of 1 %: write the pages due, publish, rest a hundredth of the time.
    let steps = 100;
    for step in 1..=steps {
        for page in pages * (step - 1) / steps..pages * step / steps {
            memory.write(page, 2);
        }
        publish(&format!("rewritten={} of={pages}", pages * step / steps));
        spend(over_ms / steps as u32, false);
    }
    publish(&format!("rewritten={pages} of={pages} holding"));
    spend(hold_ms, false);
    0
}
