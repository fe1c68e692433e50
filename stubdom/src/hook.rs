//! What the mediator needs from Xen, as one provider-side trait: the forwarder's hypercalls
//! (`xen/include/public/tee_stubdom.h`) and foreign mapping. The image implements it with
//! `xenif::hook::call::tee_stubdom_op` and the kernel's window; tests with a fake.

use crate::shadow::ShadowStore;
use xenif::abi::DomId;
use xenif::hook::ListError;
use xenif::XenResult;

/// Xen as the mediator sees it.
pub trait Hook {
    /// A guest page mapped into our address space.
    type Page;

    /// `TEE_STUBDOM_OP_respond`: complete the call `seq` of `domid`/`vcpu` with `x`.
    fn respond(&mut self, seq: u64, domid: DomId, vcpu: u32, x: [u64; 8]) -> XenResult<()>;
    /// `TEE_STUBDOM_OP_respond` with `TEE_STUBDOM_RESPOND_EXECUTE` (hv-patches 0013): the vCPU
    /// of call `seq` makes secure call `x` for its domain (checked as [`Hook::secure_call`] is,
    /// x7 set by Xen); its outcome comes back as a `RESULT` request of the same `seq`. With
    /// `direct_intr` (`TEE_STUBDOM_RESPOND_DIRECT_INTR`, hv-patches 0015) OP-TEE's foreign
    /// interrupts go to the guest and its resumes from them are Xen's: the RESULT is the first
    /// other answer, from whichever vCPU resumed the thread last.
    fn execute(
        &mut self,
        seq: u64,
        domid: DomId,
        vcpu: u32,
        x: [u64; 8],
        direct_intr: bool,
    ) -> XenResult<()>;
    /// `TEE_STUBDOM_OP_pin` of `gfn` of `domid` (`DOMID_SELF`: our own page); its machine
    /// address.
    fn pin(&mut self, domid: DomId, gfn: u64) -> XenResult<u64>;
    /// `TEE_STUBDOM_OP_unpin`.
    fn unpin(&mut self, domid: DomId, gfn: u64) -> XenResult<()>;
    /// `TEE_STUBDOM_OP_pin_list` of the pages `gfns` of `domid` (hv-patches 0018; any number,
    /// Xen's partial progress resumed: `xenif::hook::call::pin_list`): each gfn pinned is
    /// replaced by its machine address. On [`ListError`] `{ done, error }` the first `done`
    /// pages are pinned (and hold their machine addresses), page `done` failed with `error` as
    /// [`Hook::pin`] would, and the rest are untouched gfns.
    fn pin_list(&mut self, domid: DomId, gfns: &mut [u64]) -> Result<(), ListError>;
    /// `TEE_STUBDOM_OP_unpin_list` of the pages `gfns` of `domid`, as [`Hook::pin_list`] (the
    /// list is not changed): on [`ListError`] `{ done, error }` the first `done` pages are
    /// unpinned, page `done` failed as [`Hook::unpin`] would, the rest were not tried.
    fn unpin_list(&mut self, domid: DomId, gfns: &mut [u64]) -> Result<(), ListError>;
    /// `TEE_STUBDOM_OP_secure_call`: x0–x7 in, x0–x3 out (x4–x7 zero).
    fn secure_call(&mut self, x: [u64; 8]) -> XenResult<[u64; 8]>;
    /// `TEE_STUBDOM_OP_release`: done with a destroyed domain.
    fn release(&mut self, domid: DomId) -> XenResult<()>;
    /// `TEE_STUBDOM_OP_query`: the pins Xen holds for `domid` (our bookkeeping's ground truth).
    fn pinned(&mut self, domid: DomId) -> XenResult<u32>;
    /// `TEE_STUBDOM_OP_notify`: raise the guest's TEE notification interrupt.
    fn notify(&mut self, domid: DomId) -> XenResult<()>;
    /// Map page `gfn` of `domid`.
    fn map(&mut self, domid: DomId, gfn: u64) -> XenResult<Self::Page>;
    /// Copy from a mapped page at `off` (within the page).
    fn read_page(&self, page: &Self::Page, off: usize, buf: &mut [u8]);
    /// Copy into a mapped page at `off` (within the page).
    fn write_page(&self, page: &Self::Page, off: usize, data: &[u8]);
    /// Done with a page (an implementation may keep it mapped: see [`crate::mapcache`]).
    fn unmap(&mut self, page: Self::Page);
    /// A monotonic clock in milliseconds (the bound on calls waiting for an OP-TEE thread,
    /// [`mediator::Mediator::submit`]).
    fn now_ms(&self) -> u64;
    /// A CALL request is about to be handled (for profiling; its end is `respond`).
    fn begin_call(&mut self) {}
    /// Drop every mapping of `domid` still kept (it is created anew or destroyed).
    fn forget(&mut self, domid: DomId) {
        let _ = domid;
    }
}

/// The core's [`mediator::Platform`] over a [`Hook`] and our shadow pages, for one step of the
/// core (built per request: it only borrows).
#[derive(Debug)]
pub struct HookPlatform<'a, H: Hook> {
    /// Xen.
    pub hook: &'a mut H,
    /// Our pages OP-TEE reads by machine address.
    pub shadow: &'a mut ShadowStore,
}
