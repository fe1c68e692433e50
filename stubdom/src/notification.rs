//! [`mediator::GuestNotification`] on the hook: whether a guest has a TEE notification
//! interrupt. A dom0less domU gets one in its `/firmware/optee` node (hv-patches 0007), a
//! toolstack-created guest does not. The hook has no query for it, so the answer is an attempt:
//! `TEE_STUBDOM_OP_notify` raises the interrupt, and `ENODEV` means there is none. The core
//! asks once per guest, when it decides whether to offer the guest async notifications (at its
//! capability exchange, before its driver requests the interrupt; the driver's handler then
//! finds no value and returns, counted as one `err_notavail`).

use crate::hook::{Hook, HookPlatform};
use mediator::{DomId, GuestNotification};

impl<H: Hook> GuestNotification for HookPlatform<'_, H> {
    fn has_notif_interrupt(&mut self, dom: DomId) -> bool {
        self.hook.notify(dom.raw()).is_ok()
    }
}
