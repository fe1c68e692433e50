//! Memory beyond the heap: `reserve=` ranges of our RAM, other domains' pages mapped into the
//! foreign window, and grants of our pages.
#![forbid(unsafe_code)]

use super::boot::image_region;
use super::{parse_reserve, Kernel};
use crate::arch::{self, grant::SharedPage, window::ForeignPage};
use crate::memmap::Region;
use alloc::vec::Vec;
use xenif::abi::{DomId, GrantRef};
use xenif::foreign::ForeignMapError;
use xenif::grant::GrantError;
use xenif::XenResult;

impl Kernel {
    /// The bytes of a `reserve=ADDR[+SIZE]` range of the command line (RAM kept out of the heap,
    /// e.g. a page shared with another domain). Each range is handed out once.
    pub fn take_reserved(&mut self, addr: u64) -> Option<&'static mut [u8]> {
        let r = self
            .bootargs
            .iter()
            .filter(|(k, _)| *k == "reserve")
            .filter_map(|(_, v)| v.and_then(parse_reserve))
            .find(|r| r.base == addr)?;
        let in_ram = self
            .dt
            .memory
            .iter()
            .any(|m| m.base <= r.base && r.end() <= m.end());
        let clear = [
            image_region(),
            Region::new(self.dt_addr(), self.dt.total_size as u64),
        ]
        .iter()
        .all(|u| u.end() <= r.base || r.end() <= u.base);
        if !in_ram || !clear || r.base % 4096 != 0 || r.size == 0 || self.taken.contains(&r.base) {
            return None;
        }
        self.taken.push(r.base);
        Some(arch::rawmem::reserved_slice(&self.mapped, r))
    }

    fn dt_addr(&self) -> u64 {
        self.dt_blob_addr
    }

    // ---- foreign mapping ----

    /// Map page `gfn` of domain `dom` into the window.
    pub fn map_foreign(&mut self, dom: DomId, gfn: u64) -> Result<ForeignPage, ForeignMapError> {
        self.window.map(dom, gfn)
    }

    /// Map several pages of `dom` in one hypercall, all or nothing (see
    /// [`Window::map_many`](crate::arch::window::Window::map_many)).
    pub fn map_foreign_many(
        &mut self,
        dom: DomId,
        gfns: &[u64],
    ) -> Result<Vec<ForeignPage>, ForeignMapError> {
        self.window.map_many(dom, gfns)
    }

    /// Unmap a foreign page.
    pub fn unmap_foreign(&mut self, page: ForeignPage) -> XenResult<()> {
        self.window.unmap(page)
    }

    /// Let `dom` map `page` (read-only if `readonly`); returns the grant reference to tell it.
    pub fn grant_access(
        &mut self,
        dom: DomId,
        page: &SharedPage,
        readonly: bool,
    ) -> Result<GrantRef, GrantError> {
        self.grants.grant(dom, page, readonly)
    }

    /// Revoke a grant; `GNTST_permission_denied` while the other domain still has it mapped.
    pub fn end_access(&mut self, gref: GrantRef) -> Result<(), GrantError> {
        self.grants.revoke(gref)
    }

    /// Map grant `gref` of `dom` into the window (unmap with [`Kernel::unmap_foreign`]).
    pub fn map_grant(
        &mut self,
        dom: DomId,
        gref: GrantRef,
        readonly: bool,
    ) -> Result<ForeignPage, GrantError> {
        self.window.map_grant(dom, gref, readonly)
    }

    /// Free window slots.
    pub fn window_free(&self) -> usize {
        self.window.free()
    }
}
