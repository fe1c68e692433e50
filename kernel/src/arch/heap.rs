//! The global allocator: a first-fit free list (`linked_list_allocator`) over the largest free
//! RAM range, behind a spin lock. Never used from interrupt context (the IRQ path only sets
//! flags), so the lock cannot deadlock against an interrupted holder.

use crate::memmap::Region;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use linked_list_allocator::Heap;
use spin::{Mutex, Once};

struct KernelHeap(Mutex<Heap>);

// SAFETY: `alloc` returns blocks from the free list that fit `layout` (the allocator's contract),
// `dealloc` returns them with the same layout; the lock serialises all access.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(core::ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: GlobalAlloc's contract: `ptr` came from `alloc` with this `layout`.
            unsafe { self.0.lock().deallocate(p, layout) }
        }
    }
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Heap::empty()));
static INIT: Once<Region> = Once::new();

/// Give the heap `r` (once; later calls are ignored). `r` must be RAM that nothing else uses:
/// the boot code passes the largest range left after the image, the device tree and the
/// reserved ranges.
pub(crate) fn init(r: Region) {
    INIT.call_once(|| {
        // SAFETY: `r` is identity-mapped RAM owned by nobody else (the caller's contract above),
        // and `call_once` guarantees a single initialisation.
        unsafe {
            HEAP.0
                .lock()
                .init(r.base as usize as *mut u8, r.size as usize)
        };
        r
    });
}

/// (bytes in use, bytes total).
pub fn stats() -> (usize, usize) {
    let h = HEAP.0.lock();
    (h.used(), h.size())
}
