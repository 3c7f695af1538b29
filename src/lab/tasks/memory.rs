//! Copy-on-write tasks: a parent touches private memory before forking, and a child writes it
//! page by page afterwards, so each write fault copies one page for the child alone.

use super::{Kit, publish, spend};

/// Private memory, every page of it written once. A child forked afterwards maps the same
/// physical pages, read-only until one side writes. A buffer this big is its own anonymous
/// mapping (the allocator maps it apart from the heap).
pub(super) struct Touched {
    bytes: Vec<u8>,
}

impl Touched {
    fn pages(&self) -> usize {
        self.bytes.len() / page_size()
    }

    /// Writes `value` into the first byte of each page in `pages`.
    fn write(&mut self, pages: std::ops::Range<usize>, value: u8) {
        let size = page_size();
        for page in pages {
            if let Some(byte) = self.bytes.get_mut(page * size) {
                *byte = value;
            }
        }
        // The writes are the point (they fault the pages in, or copy them): keep them.
        std::hint::black_box(&self.bytes);
    }
}

fn page_size() -> usize {
    usize::try_from(procfs::page_size()).unwrap_or(4096)
}

pub(super) fn touch(mb: u32) -> Result<Touched, String> {
    let size = usize::try_from(mb).map_err(|_| "too much memory")? << 20;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size)
        .map_err(|_| format!("cannot allocate {mb} MiB"))?;
    // Filling it writes every byte: each page is touched, resident, and the parent's alone
    // until it forks.
    bytes.resize(size, 1);
    std::hint::black_box(&bytes);
    Ok(Touched { bytes })
}

/// After `after_ms`, writes every page of the memory the parent touched, spread over
/// `over_ms`, publishing how far it got; then holds the copies `hold_ms` and exits.
pub(super) fn rewrite(kit: &mut Kit, after_ms: u32, over_ms: u32, hold_ms: u32) -> i32 {
    let Some(memory) = kit.memory.as_mut() else {
        return 1;
    };
    let pages = memory.pages();
    publish(&format!("rewritten=0 of={pages}"));
    spend(after_ms, false);
    // In steps of 1 %: write the pages due, publish, rest a hundredth of the time.
    let steps = 100;
    for step in 1..=steps {
        memory.write(pages * (step - 1) / steps..pages * step / steps, 2);
        publish(&format!("rewritten={} of={pages}", pages * step / steps));
        spend(over_ms / steps as u32, false);
    }
    publish(&format!("rewritten={pages} of={pages} holding"));
    spend(hold_ms, false);
    0
}
