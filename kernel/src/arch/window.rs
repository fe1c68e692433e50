//! The foreign-mapping window: guest-physical frames (from a Xen extended region) where pages of
//! other domains are mapped with `XENMEM_add_to_physmap_batch`, and their identity stage-1
//! entries.
//!
//! Invariant: a [`ForeignPage`] exists exactly while its slot holds a foreign page that is mapped
//! both in our physmap (stage 2, by Xen) and in our stage-1 tables; it is not `Clone`, and
//! unmapping consumes it. Accesses go through volatile copies, because the other domain may
//! change the page at any time.

use super::mmu;
use crate::foreign::SlotAllocator;
use xenif::abi::DomId;
use xenif::foreign::ForeignMapError;
use xenif::XenResult;

const PAGE: usize = 4096;

/// A page of another domain, mapped into the window.
#[derive(Debug)]
pub struct ForeignPage {
    slot: usize,
    dom: DomId,
    gfn: u64,
}

impl ForeignPage {
    /// The owning domain.
    pub fn domain(&self) -> DomId {
        self.dom
    }

    /// The page's frame number in the owning domain.
    pub fn gfn(&self) -> u64 {
        self.gfn
    }

    fn va(&self) -> usize {
        mmu::window_base() + self.slot * PAGE
    }

    /// Our guest-physical address of the mapping.
    pub fn addr(&self) -> u64 {
        self.va() as u64
    }

    /// Copy bytes out of the page at `offset` (clamped to the page).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> usize {
        let n = buf.len().min(PAGE.saturating_sub(offset));
        let p = self.va() + offset;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            // SAFETY: `p + i` is inside this page (n is clamped), which is mapped while `self`
            // exists (module invariant).
            *b = unsafe { ((p + i) as *const u8).read_volatile() };
        }
        n
    }

    /// Copy bytes into the page at `offset` (clamped to the page; fails on a read-only mapping
    /// with a permission fault, which Xen reports as a data abort).
    pub fn write(&self, offset: usize, data: &[u8]) -> usize {
        let n = data.len().min(PAGE.saturating_sub(offset));
        let p = self.va() + offset;
        for (i, b) in data[..n].iter().enumerate() {
            // SAFETY: as `read`.
            unsafe { ((p + i) as *mut u8).write_volatile(*b) };
        }
        n
    }
}

/// The window and its slots.
#[derive(Debug)]
pub struct Window {
    slots: SlotAllocator,
}

impl Window {
    /// The window set up by `mmu::init` (no slots if there is none).
    pub(crate) fn new() -> Self {
        let n = if mmu::window_base() == 0 {
            0
        } else {
            mmu::WINDOW_PAGES
        };
        Self {
            slots: SlotAllocator::new(n),
        }
    }

    /// Free slots.
    pub fn free(&self) -> usize {
        self.slots.free()
    }

    /// Map page `gfn` of domain `dom`.
    pub fn map(&mut self, dom: DomId, gfn: u64) -> Result<ForeignPage, ForeignMapError> {
        let slot = self.slots.alloc().ok_or(ForeignMapError::WindowFull)?;
        let va = mmu::window_base() + slot * PAGE;
        let gpfn = (va / PAGE) as u64;
        let mut err = [0i32; 1];
        // SAFETY: `gpfn` is a free window slot: no Rust object lives there and its stage-1 entry
        // is invalid until the mapping succeeded.
        let r = unsafe { xenif::hypercall::map_foreign_batch(dom, &[gfn], &[gpfn], &mut err) };
        if let Err(e) = r {
            self.slots.release(slot);
            return Err(e);
        }
        mmu::window_set(slot, Some(va as u64));
        Ok(ForeignPage { slot, dom, gfn })
    }

    /// Unmap a page: stage-1 entry first (with TLB invalidation), then the physmap entry,
    /// which drops Xen's reference on the foreign page.
    pub fn unmap(&mut self, page: ForeignPage) -> XenResult<()> {
        mmu::window_set(page.slot, None);
        let gpfn = (page.va() / PAGE) as u64;
        // SAFETY: the stage-1 entry is gone, so nothing can access the frame any more.
        let r = unsafe { xenif::hypercall::remove_from_physmap(gpfn) };
        // The slot is reusable even on failure: a later map to it replaces the entry.
        self.slots.release(page.slot);
        r
    }
}
