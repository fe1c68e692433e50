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
use alloc::vec::Vec;
use xenif::abi::{DomId, GrantHandle, GrantRef};
use xenif::foreign::ForeignMapError;
use xenif::grant::GrantError;
use xenif::XenResult;

const PAGE: usize = 4096;

/// A page of another domain, mapped into the window.
#[derive(Debug)]
pub struct ForeignPage {
    slot: usize,
    dom: DomId,
    gfn: u64,
    /// The grant handle if the page came from a grant reference (`gfn` is then the ref).
    grant: Option<GrantHandle>,
    /// The page's machine address as Xen reported it for a grant map (0 for a foreign map).
    maddr: u64,
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

    /// The page's machine address, for a grant map (`dev_bus_addr`); 0 for a foreign map.
    pub fn maddr(&self) -> u64 {
        self.maddr
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
    /// The window set up by `mmu::init_full` (no slots if there is none).
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
        let mut v = self.map_many(dom, &[gfn])?;
        v.pop().ok_or(ForeignMapError::BadRequest)
    }

    /// Map pages `gfns` of domain `dom` with one `XENMEM_add_to_physmap_batch`. All or nothing:
    /// if any page fails, the pages that did map are unmapped again and the first failure is
    /// returned as [`ForeignMapError::Page`] with its index in `gfns`.
    pub fn map_many(
        &mut self,
        dom: DomId,
        gfns: &[u64],
    ) -> Result<Vec<ForeignPage>, ForeignMapError> {
        if gfns.is_empty() || gfns.len() > u16::MAX as usize {
            return Err(ForeignMapError::BadRequest);
        }
        let mut slots = Vec::with_capacity(gfns.len());
        for _ in gfns {
            match self.slots.alloc() {
                Some(s) => slots.push(s),
                None => {
                    slots.iter().for_each(|&s| self.slots.release(s));
                    return Err(ForeignMapError::WindowFull);
                }
            }
        }
        let gpfns: Vec<u64> = slots
            .iter()
            .map(|&s| ((mmu::window_base() + s * PAGE) / PAGE) as u64)
            .collect();
        let mut errs = alloc::vec![0i32; gfns.len()];
        // SAFETY: every frame of `gpfns` is a free window slot: no Rust object lives there and its
        // stage-1 entry stays invalid until the mapping succeeded.
        let r = unsafe { xenif::hypercall::map_foreign_batch(dom, gfns, &gpfns, &mut errs) };
        if let Err(e) = r {
            for (i, (&s, &g)) in slots.iter().zip(&gpfns).enumerate() {
                if matches!(e, ForeignMapError::Page { .. }) && errs[i] == 0 {
                    // SAFETY: this frame now holds a foreign page that no stage-1 entry maps.
                    let _ = unsafe { xenif::hypercall::remove_from_physmap(g) };
                }
                self.slots.release(s);
            }
            return Err(e);
        }
        Ok(slots
            .into_iter()
            .zip(gfns)
            .map(|(slot, &gfn)| {
                // SAFETY: `slot` was allocated above and is ours (condition 1); the batch put
                // page `gfn` of `dom` at its frame, which is not our RAM (condition 2).
                unsafe { mmu::window_set(slot, Some((mmu::window_base() + slot * PAGE) as u64)) };
                ForeignPage {
                    slot,
                    dom,
                    gfn,
                    grant: None,
                    maddr: 0,
                }
            })
            .collect())
    }

    /// Map grant `gref` of domain `dom` (`GNTTABOP_map_grant_ref`), read-only if `readonly`.
    pub fn map_grant(
        &mut self,
        dom: DomId,
        gref: GrantRef,
        readonly: bool,
    ) -> Result<ForeignPage, GrantError> {
        let slot = self.slots.alloc().ok_or(GrantError::NO_SPACE)?;
        let va = mmu::window_base() + slot * PAGE;
        // SAFETY: `va` is a free window slot: no Rust object lives there and its stage-1 entry
        // is invalid until the mapping succeeded.
        match unsafe { xenif::hypercall::gnttab_map(dom, gref, va as u64, readonly) } {
            Ok((h, maddr)) => {
                // SAFETY: `slot` was allocated above and is ours (condition 1); Xen mapped the
                // grant at its frame `va`, which is not our RAM (condition 2).
                unsafe { mmu::window_set(slot, Some(va as u64)) };
                Ok(ForeignPage {
                    slot,
                    dom,
                    gfn: u64::from(gref),
                    grant: Some(h),
                    maddr,
                })
            }
            Err(e) => {
                self.slots.release(slot);
                Err(e)
            }
        }
    }

    /// Unmap a page: stage-1 entry first (with TLB invalidation), then the physmap entry
    /// (`XENMEM_remove_from_physmap`, or `GNTTABOP_unmap_grant_ref` for a grant), which drops
    /// Xen's reference on the page.
    pub fn unmap(&mut self, page: ForeignPage) -> XenResult<()> {
        // SAFETY: `page` owns its slot (condition 1: a `ForeignPage` is the slot's only holder,
        // not `Clone`) and is consumed here, so nothing accesses its address any more
        // (condition 3).
        unsafe { mmu::window_set(page.slot, None) };
        let gpfn = (page.va() / PAGE) as u64;
        let r = match page.grant {
            // SAFETY: the stage-1 entry is gone, so nothing can access the frame any more.
            Some(h) => unsafe { xenif::hypercall::gnttab_unmap(page.va() as u64, h) }
                .map_err(|_| xenif::XenError::EINVAL),
            // SAFETY: as above.
            None => unsafe { xenif::hypercall::remove_from_physmap(gpfn) },
        };
        // The slot is reusable even on failure: a later map to it replaces the entry.
        self.slots.release(page.slot);
        r
    }
}
