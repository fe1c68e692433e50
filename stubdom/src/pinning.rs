//! [`mediator::Pinning`] on the hook: `TEE_STUBDOM_OP_pin` takes a reference on a guest's
//! `p2m_ram_rw` page and returns its machine address; Xen keeps the per-guest accounting and cap
//! (`TEE_STUBDOM_MAX_PINS`) and drops whatever is left when the guest or the mediator dies.
//!
//! The batches (`pin_many`, `unpin_many`) are `TEE_STUBDOM_OP_pin_list` / `unpin_list`
//! (hv-patches 0018): each entry exactly a pin or unpin, up to [`MAX_PIN_LIST`] pages per entry
//! into Xen, so a page-list page of a guest's buffer costs one hypercall instead of one per page.
//! The gfns go through a stack buffer of [`MAX_PIN_LIST`] entries: no heap on the call path.

use crate::hook::{Hook, HookPlatform};
use alloc::vec::Vec;
use mediator::{DomId, Ipa, Pa, PinFault, PinnedPage, Pinning};

/// Pages per list hypercall (`TEE_STUBDOM_MAX_PIN_LIST`).
const MAX_PIN_LIST: usize = xenif::hook::MAX_PIN_LIST as usize;

impl<H: Hook> Pinning for HookPlatform<'_, H> {
    fn pin(&mut self, dom: DomId, page: Ipa) -> Result<PinnedPage, PinFault> {
        let maddr = self
            .hook
            .pin(dom.raw(), page.raw() >> 12)
            .map_err(|_| PinFault)?;
        Ok(PinnedPage {
            ipa: page,
            pa: Pa::new(maddr),
        })
    }

    fn unpin(&mut self, dom: DomId, page: PinnedPage) {
        // ENOENT would mean Xen already dropped the guest's pins (it is being destroyed):
        // nothing is left to release.
        let _ = self.hook.unpin(dom.raw(), page.ipa.raw() >> 12);
    }

    fn pin_many(
        &mut self,
        dom: DomId,
        pages: &[Ipa],
        out: &mut Vec<PinnedPage>,
    ) -> Result<(), (usize, PinFault)> {
        let mut buf = [0u64; MAX_PIN_LIST];
        let mut base = 0usize;
        for chunk in pages.chunks(MAX_PIN_LIST) {
            let list = buf.get_mut(..chunk.len()).unwrap_or_default();
            for (gfn, page) in list.iter_mut().zip(chunk) {
                *gfn = page.raw() >> 12;
            }
            let r = self.hook.pin_list(dom.raw(), list);
            // Xen's count of pages pinned, from the first (all of them on success).
            let done = r.err().map_or(chunk.len(), |e| e.done.min(chunk.len()));
            for (&page, &maddr) in chunk.iter().zip(list.iter()).take(done) {
                out.push(PinnedPage {
                    ipa: page,
                    pa: Pa::new(maddr),
                });
            }
            if r.is_err() {
                return Err((base.saturating_add(done), PinFault));
            }
            base = base.saturating_add(chunk.len());
        }
        Ok(())
    }

    fn unpin_many<I: IntoIterator<Item = PinnedPage>>(&mut self, dom: DomId, pages: I) {
        let mut buf = [0u64; MAX_PIN_LIST];
        let mut n = 0;
        for page in pages {
            if let Some(gfn) = buf.get_mut(n) {
                *gfn = page.ipa.raw() >> 12;
                n += 1;
            }
            if n == MAX_PIN_LIST {
                unpin_all(self.hook, dom, &mut buf);
                n = 0;
            }
        }
        unpin_all(self.hook, dom, buf.get_mut(..n).unwrap_or_default());
    }
}

/// Unpins every page of `gfns`: a page Xen refuses (ENOENT: it already dropped the guest's
/// pins, as [`Pinning::unpin`] ignores) is skipped and the rest still given back, one more
/// entry into Xen from the page after it.
fn unpin_all<H: Hook>(hook: &mut H, dom: DomId, gfns: &mut [u64]) {
    let mut rest = gfns;
    while !rest.is_empty() {
        let Err(e) = hook.unpin_list(dom.raw(), rest) else {
            return;
        };
        rest = rest.get_mut(e.done.saturating_add(1)..).unwrap_or_default();
    }
}
