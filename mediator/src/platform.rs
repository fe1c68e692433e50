//! Consumer-side traits: what the mediator needs from its host, and nothing
//! about how it is provided. The mediator domain (`stubdom`) implements them
//! on Xen's hook, with the kernel's hypercalls (foreign mapping, the
//! forwarder's pin/translate and secure-call hypercalls, its own heap pages);
//! the tests implement them with the simulators (`sim`).

use alloc::vec::Vec;

use crate::abi::PAGE_SIZE;
use crate::types::{DomId, Ipa, Pa, Regs};

/// A guest memory access failed (the IPA is not RAM the guest owns, or the
/// mapping failed). Carries no detail on purpose: the guest sees one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault;

/// Byte access to a guest's RAM by IPA (Xen: `access_guest_memory_by_ipa`).
/// Only `p2m_ram_rw` pages may be accessed. Accesses may cross pages.
pub trait GuestMemory {
    /// Copies `buf.len()` bytes at `ipa` of `dom` into `buf`.
    fn read(&mut self, dom: DomId, ipa: Ipa, buf: &mut [u8]) -> Result<(), MemFault>;
    /// Copies `buf` to `ipa` of `dom`.
    fn write(&mut self, dom: DomId, ipa: Ipa, buf: &[u8]) -> Result<(), MemFault>;
}

/// Pinning a guest page failed: not RAM, not the guest's, or the platform's
/// own per-guest cap (the Xen hook's accounting) is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinFault;

/// A guest page the platform holds a reference on. Not `Clone`: each one is
/// given back exactly once through [`Pinning::unpin`].
#[derive(Debug, PartialEq, Eq)]
pub struct PinnedPage {
    /// The guest page (4 KiB aligned).
    pub ipa: Ipa,
    /// Its machine address.
    pub pa: Pa,
}

/// Taking and dropping references on guest RAM pages, and translating them
/// (Xen: `get_page_from_gfn` + `p2m_ram_rw` check + `page_to_maddr`,
/// `put_page`).
///
/// The batched operations exist because each call may cost the platform an
/// entry into the hypervisor (on Xen, hv-patches 0018's
/// `TEE_STUBDOM_OP_pin_list`: one per page-list page instead of one per
/// page). Their default implementations call [`Pinning::pin`] and
/// [`Pinning::unpin`] page by page, and an implementation must behave
/// exactly as they do.
pub trait Pinning {
    /// Pins the 4 KiB page at `page` (aligned) of `dom`.
    fn pin(&mut self, dom: DomId, page: Ipa) -> Result<PinnedPage, PinFault>;
    /// Drops a reference taken by [`Pinning::pin`].
    fn unpin(&mut self, dom: DomId, page: PinnedPage);

    /// Pins `pages` of `dom` in order, as [`Pinning::pin`] each, appending
    /// each pinned page to `out`. On `Err((i, fault))` page `pages[i]`
    /// failed with `fault`: `pages[..i]` are pinned and appended (the
    /// caller holds them and gives each back), `pages[i..]` are not pinned.
    fn pin_many(
        &mut self,
        dom: DomId,
        pages: &[Ipa],
        out: &mut Vec<PinnedPage>,
    ) -> Result<(), (usize, PinFault)> {
        for (i, &page) in pages.iter().enumerate() {
            match self.pin(dom, page) {
                Ok(pin) => out.push(pin),
                Err(fault) => return Err((i, fault)),
            }
        }
        Ok(())
    }

    /// Drops the references of every page of `pages`, as [`Pinning::unpin`]
    /// each.
    fn unpin_many<I: IntoIterator<Item = PinnedPage>>(&mut self, dom: DomId, pages: I) {
        for page in pages {
            self.unpin(dom, page);
        }
    }
}

/// Issuing an SMC to the secure world. The mediator fills all of x0..x7,
/// including the client ID in x7; the platform adds nothing.
pub trait SecureWorld {
    /// One SMC; returns x0..x7 as the secure world left them.
    fn smc(&mut self, regs: Regs) -> Regs;
}

/// The platform could not give the mediator a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoShadowPage;

/// A 4 KiB page of mediator memory holding a message or page list for
/// OP-TEE, named by its machine address in the SMC (on Xen, hv-patches 0009
/// copies it into a page Xen lends to OP-TEE and copies OP-TEE's writes
/// back, so OP-TEE never reads the mediator's page itself).
/// Not `Clone`: freed exactly once.
#[derive(Debug, PartialEq, Eq)]
pub struct ShadowPage {
    /// Platform handle (an index into its pool).
    pub id: usize,
    /// Machine address of the page.
    pub pa: Pa,
}

/// Physically contiguous mediator pages for shadow copies (Xen:
/// `alloc_domheap_page` + `__map_domain_page`).
pub trait ShadowPages {
    /// A fresh page (content unspecified).
    fn alloc(&mut self) -> Result<ShadowPage, NoShadowPage>;
    /// Gives a page back.
    fn free(&mut self, page: ShadowPage);
    /// The page's bytes.
    fn bytes(&self, page: &ShadowPage) -> &[u8; PAGE_SIZE];
    /// The page's bytes, writable.
    fn bytes_mut(&mut self, page: &ShadowPage) -> &mut [u8; PAGE_SIZE];
}

/// What the mediator needs to know of a guest's notification interrupt (the interrupt of its
/// `/firmware/optee` node, which the mediator's caller raises when the guest has values to
/// read: [`crate::Mediator::async_notification`]).
pub trait GuestNotification {
    /// Whether `dom` has a notification interrupt. Asked at most once per guest (the mediator
    /// keeps the answer until the guest is destroyed), when it decides whether to offer the
    /// guest asynchronous notifications: at its first EXCHANGE_CAPABILITIES answer, or its
    /// first ENABLE_ASYNC_NOTIF / GET_ASYNC_NOTIF_VALUE.
    fn has_notif_interrupt(&mut self, dom: DomId) -> bool;
}

/// Everything the mediator needs, as one bound. Blanket-implemented.
pub trait Platform: GuestMemory + Pinning + SecureWorld + ShadowPages + GuestNotification {}
impl<T: GuestMemory + Pinning + SecureWorld + ShadowPages + GuestNotification> Platform for T {}
