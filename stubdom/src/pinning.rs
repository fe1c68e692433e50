//! [`mediator::Pinning`] on the hook: `TEE_STUBDOM_OP_pin` takes a reference on a guest's
//! `p2m_ram_rw` page and returns its machine address; Xen keeps the per-guest accounting and cap
//! (`TEE_STUBDOM_MAX_PINS`) and drops whatever is left when the guest or the mediator dies.

use crate::hook::{Hook, HookPlatform};
use mediator::{DomId, Ipa, Pa, PinFault, PinnedPage, Pinning};

impl<H: Hook> Pinning for HookPlatform<'_, H> {
    fn pin(&mut self, dom: DomId, page: Ipa) -> Result<PinnedPage, PinFault> {
        let maddr = self
            .hook
            .pin(dom.0, page.raw() >> 12)
            .map_err(|_| PinFault)?;
        Ok(PinnedPage {
            ipa: page,
            pa: Pa::new(maddr),
        })
    }

    fn unpin(&mut self, dom: DomId, page: PinnedPage) {
        // ENOENT would mean Xen already dropped the guest's pins (it is being destroyed):
        // nothing is left to release.
        let _ = self.hook.unpin(dom.0, page.ipa.raw() >> 12);
    }
}
