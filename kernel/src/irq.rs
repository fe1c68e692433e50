//! Interrupt dispatch. The handlers only record work (ready event-channel ports, "timer fired")
//! in lock-free state; the event loop does the rest in thread context. So nothing here takes a
//! lock or allocates.
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use xenif::evtchn::PortSet;

/// INTID of the event-channel upcall (from `/hypervisor`).
pub(crate) static EVTCHN_INTID: AtomicU32 = AtomicU32::new(u32::MAX);
/// INTID of the virtual timer.
pub(crate) static VTIMER_INTID: AtomicU32 = AtomicU32::new(u32::MAX);
/// Ports taken from the shared bitmaps, waiting for the event loop.
pub(crate) static READY: PortSet = PortSet::new();
/// The timer interrupt fired since the loop last looked.
pub(crate) static TIMER_FIRED: AtomicBool = AtomicBool::new(false);
/// Counters (upcalls, timer interrupts, other interrupts).
pub(crate) static UPCALLS: AtomicU64 = AtomicU64::new(0);
pub(crate) static TIMER_IRQS: AtomicU64 = AtomicU64::new(0);
pub(crate) static OTHER_IRQS: AtomicU64 = AtomicU64::new(0);

/// Move every pending, unmasked port from the shared-info bitmaps to [`READY`]. Clearing
/// `evtchn_upcall_pending` first means an event raised during the scan re-raises the upcall.
pub(crate) fn upcall() {
    crate::arch::shared::upcall_pending().store(0, Ordering::SeqCst);
    xenif::evtchn::scan(
        crate::arch::shared::pending_sel(),
        crate::arch::shared::pending(),
        crate::arch::shared::mask(),
        |p| {
            READY.insert(p);
        },
    );
}

/// Handle one acknowledged interrupt.
pub(crate) fn dispatch(intid: u32) {
    if intid == EVTCHN_INTID.load(Ordering::Relaxed) {
        UPCALLS.fetch_add(1, Ordering::Relaxed);
        upcall();
    } else if intid == VTIMER_INTID.load(Ordering::Relaxed) {
        TIMER_IRQS.fetch_add(1, Ordering::Relaxed);
        crate::arch::timer::disarm();
        TIMER_FIRED.store(true, Ordering::Release);
    } else {
        OTHER_IRQS.fetch_add(1, Ordering::Relaxed);
    }
}

/// True if the event loop has work the interrupt handlers left.
pub(crate) fn work_pending() -> bool {
    !READY.is_empty() || TIMER_FIRED.load(Ordering::Acquire)
}
