//! Our grant table (v1, `public/grant_table.h`) and pages we share through it.
//!
//! The table's first frame is mapped (`XENMAPSPACE_grant_table`) at the start of the grant-table
//! region the device tree's `/hypervisor` node names, on first use. Entries are written as the ABI
//! requires: `domid` and `frame` first, a store barrier, then `flags`; a grant is revoked by a
//! compare-and-swap of `flags` to 0 that fails while Xen has the entry in use.
//!
//! [`SharedPage`]s are page-aligned heap pages that are only ever accessed through volatile copies
//! (another domain may write them at any time) and are never freed (a revoked grant may still be
//! mapped for an instant on the other side; a shared page is cheap to keep).

use crate::foreign::SlotAllocator;
use crate::memmap::Region;
use core::sync::atomic::{AtomicU16, Ordering};
use xenif::abi::{DomId, GrantEntryV1, GrantRef};
use xenif::grant::{access_flags, can_revoke, GrantError};

const PAGE: usize = 4096;
/// Entries in the one table frame we map.
const ENTRIES: usize = PAGE / core::mem::size_of::<GrantEntryV1>();
/// Refs 0–7 are reserved for toolstacks by convention (Linux `GNTTAB_NR_RESERVED_ENTRIES`).
const FIRST_REF: usize = 8;

/// A page of our memory meant to be shared with other domains.
#[derive(Debug)]
pub struct SharedPage {
    addr: usize,
}

impl SharedPage {
    /// A zeroed page from the heap (`None` if the heap is exhausted). Never freed.
    pub fn new() -> Option<Self> {
        let layout = core::alloc::Layout::from_size_align(PAGE, PAGE).ok()?;
        // SAFETY: the layout has a non-zero size; the block is never freed (see module docs) and
        // only accessed through volatile copies below.
        let p = unsafe { alloc::alloc::alloc_zeroed(layout) };
        (!p.is_null()).then_some(Self { addr: p as usize })
    }

    /// Our frame number of the page.
    pub fn gfn(&self) -> u64 {
        (self.addr / PAGE) as u64
    }

    /// Copy bytes out of the page at `offset` (clamped to the page).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> usize {
        let n = buf.len().min(PAGE.saturating_sub(offset));
        for (i, b) in buf[..n].iter_mut().enumerate() {
            // SAFETY: inside our page-sized heap block, which lives forever.
            *b = unsafe { ((self.addr + offset + i) as *const u8).read_volatile() };
        }
        n
    }

    /// Copy bytes into the page at `offset` (clamped to the page).
    pub fn write(&self, offset: usize, data: &[u8]) -> usize {
        let n = data.len().min(PAGE.saturating_sub(offset));
        for (i, b) in data[..n].iter().enumerate() {
            // SAFETY: as `read`.
            unsafe { ((self.addr + offset + i) as *mut u8).write_volatile(*b) };
        }
        n
    }
}

/// The grant table.
#[derive(Debug)]
pub struct GrantTable {
    /// Guest physical address where the table frame goes (0: no grant-table region).
    base: usize,
    mapped: bool,
    refs: SlotAllocator,
}

impl GrantTable {
    /// The table for the grant-table region `region` (the first `/hypervisor` `reg` entry); the
    /// MMU maps its first page (`mmu::init_full`).
    pub(crate) fn new(region: Option<Region>) -> Self {
        let base = region
            .filter(|r| r.size as usize >= PAGE && r.base as usize % PAGE == 0)
            .map_or(0, |r| r.base as usize);
        let mut refs = SlotAllocator::new(ENTRIES);
        // The reserved refs stay allocated for good.
        for _ in 0..FIRST_REF {
            refs.alloc();
        }
        Self {
            base,
            mapped: false,
            refs,
        }
    }

    fn entry_flags(&self, gref: usize) -> &AtomicU16 {
        // SAFETY: `gref < ENTRIES`, so the entry lies in the mapped table frame (mapped by
        // `ensure_mapped` before any caller gets here); `flags` is the first, 2-byte aligned
        // field of the 8-byte entry, and Xen updates it atomically.
        unsafe { &*((self.base + gref * 8) as *const AtomicU16) }
    }

    fn ensure_mapped(&mut self) -> Result<(), GrantError> {
        if self.mapped {
            return Ok(());
        }
        if self.base == 0 {
            return Err(GrantError::GENERAL);
        }
        // SAFETY: the frame is in the grant-table region, outside RAM: no Rust object lives
        // there; it is only accessed through this module's atomics and volatile stores.
        unsafe { xenif::hypercall::map_grant_table_frame(0, (self.base / PAGE) as u64) }
            .map_err(|_| GrantError::GENERAL)?;
        self.mapped = true;
        Ok(())
    }

    /// Let `dom` map our frame `gfn` (read-only if `readonly`).
    pub fn grant(
        &mut self,
        dom: DomId,
        page: &SharedPage,
        readonly: bool,
    ) -> Result<GrantRef, GrantError> {
        self.ensure_mapped()?;
        let frame = u32::try_from(page.gfn()).map_err(|_| GrantError::BAD_PAGE)?;
        let r = self.refs.alloc().ok_or(GrantError::NO_SPACE)?;
        let e = self.base + r * 8;
        // SAFETY: entry `r` (< ENTRIES) is in the mapped frame and unused (flags 0, from the
        // allocator); domid (offset 2) and frame (offset 4) are naturally aligned.
        unsafe {
            ((e + 2) as *mut u16).write_volatile(dom);
            ((e + 4) as *mut u32).write_volatile(frame);
            core::arch::asm!("dmb ishst", options(nostack, preserves_flags));
        }
        self.entry_flags(r)
            .store(access_flags(readonly), Ordering::Release);
        Ok(r as GrantRef)
    }

    /// Revoke a grant; fails (and keeps it) while the other domain still has it mapped.
    pub fn revoke(&mut self, gref: GrantRef) -> Result<(), GrantError> {
        let r = gref as usize;
        if !self.mapped || !(FIRST_REF..ENTRIES).contains(&r) {
            return Err(GrantError::BAD_GNTREF);
        }
        let f = self.entry_flags(r);
        let mut cur = f.load(Ordering::Acquire);
        loop {
            if cur == 0 {
                return Err(GrantError::BAD_GNTREF);
            }
            if !can_revoke(cur) {
                return Err(GrantError::PERMISSION_DENIED);
            }
            match f.compare_exchange(cur, 0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        self.refs.release(r);
        Ok(())
    }
}
