//! The global allocator: first-fit free lists (`linked_list_allocator`) over up to two free RAM
//! ranges (typically the RAM above the image and the RAM below it, see `link.ld`), behind a spin
//! lock, shared by all vCPUs. Never used from interrupt context (the IRQ path only sets flags), so the lock cannot
//! deadlock against an interrupted holder.

use super::mmu::Mapped;
use crate::memmap::Region;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use linked_list_allocator::Heap;
use spin::{Mutex, Once};

/// Heap ranges managed.
pub const MAX_RANGES: usize = 2;

struct KernelHeap(Mutex<[Heap; MAX_RANGES]>);

// SAFETY: `alloc` returns blocks from one of the free lists that fit `layout` (the allocator's
// contract), `dealloc` returns a block to the list whose range contains it, with the same layout;
// the ranges are disjoint; the lock serialises all access.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heaps = self.0.lock();
        for h in heaps.iter_mut() {
            if let Ok(p) = h.allocate_first_fit(layout) {
                return p.as_ptr();
            }
        }
        core::ptr::null_mut()
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(p) = NonNull::new(ptr) else { return };
        let mut heaps = self.0.lock();
        if let Some(h) = heaps
            .iter_mut()
            .find(|h| h.size() > 0 && h.bottom() <= ptr && ptr < h.top())
        {
            // SAFETY: GlobalAlloc's contract: `ptr` came from `alloc` with this `layout`, and
            // it lies in `h`'s range, so `h` handed it out.
            unsafe { h.deallocate(p, layout) }
        }
    }
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new([Heap::empty(), Heap::empty()]));
static INIT: Once<()> = Once::new();

/// Give the heap up to [`MAX_RANGES`] disjoint ranges (once; later calls are ignored).
///
/// Takes the [`Mapped`] token, which only the boot sequence's `mmu::init_full` makes: the
/// caller is the boot code, after the RAM is identity-mapped. What the token cannot check is
/// its holder's duty: the ranges must be RAM of the device tree's memory that nothing else uses.
/// The boot code passes the largest ranges left after the image, the stacks' guard pages, the
/// device tree, the initrd and the reserved ranges.
pub(crate) fn init(_mapped: &Mapped, ranges: &[Region]) {
    INIT.call_once(|| {
        let mut heaps = HEAP.0.lock();
        for (h, r) in heaps.iter_mut().zip(ranges) {
            // SAFETY: `r` is identity-mapped (the `Mapped` token) RAM owned by nobody else (its
            // holder's duty, above), disjoint from the other ranges, and `call_once`
            // guarantees a single initialisation.
            unsafe { h.init(r.base as usize as *mut u8, r.size as usize) };
        }
    });
}

/// (bytes in use, bytes total).
pub fn stats() -> (usize, usize) {
    let h = HEAP.0.lock();
    h.iter()
        .fold((0, 0), |(u, t), h| (u + h.used(), t + h.size()))
}
