//! Interrupt dispatch. The handlers only record work (ready event-channel ports, "timer fired",
//! shared peripheral interrupts taken) in lock-free state; the event loop does the rest in thread
//! context. So nothing here takes a lock or allocates.
#![forbid(unsafe_code)]

use crate::gicreg::{Spi, SPI_END};
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
pub(crate) static SPI_IRQS: AtomicU64 = AtomicU64::new(0);

const SPI_WORDS: usize = SPI_END.div_ceil(32) as usize;

/// One bit per INTID: an SPI acknowledged (and EOId) since the loop last looked.
static SPI_PENDING: [AtomicU32; SPI_WORDS] = [const { AtomicU32::new(0) }; SPI_WORDS];
/// One bit per INTID: a level-sensitive SPI with a handler. The IRQ path disables it in the
/// distributor, so that the source still asserting it does not re-interrupt before its handler
/// has run; the loop enables it again after the handler.
pub(crate) static SPI_LEVEL: [AtomicU32; SPI_WORDS] = [const { AtomicU32::new(0) }; SPI_WORDS];

/// Word index and bit of an INTID in the SPI bitmaps.
pub(crate) fn spi_slot(spi: Spi) -> (usize, u32) {
    ((spi.intid() / 32) as usize, 1 << (spi.intid() % 32))
}

/// Record that `spi` fired (the IRQ path); a level-sensitive one is disabled until its handler
/// ran.
fn spi_fired(spi: Spi) {
    let (w, bit) = spi_slot(spi);
    if SPI_LEVEL[w].load(Ordering::Relaxed) & bit != 0 {
        crate::arch::gic::disable_spi(spi);
    }
    SPI_PENDING[w].fetch_or(bit, Ordering::Release);
}

/// Take every recorded SPI (the event loop), lowest INTID first.
pub(crate) fn drain_spis(mut f: impl FnMut(Spi)) {
    for (w, word) in SPI_PENDING.iter().enumerate() {
        let mut bits = word.swap(0, Ordering::Acquire);
        while bits != 0 {
            let b = bits.trailing_zeros();
            bits &= bits - 1;
            if let Some(s) = Spi::new(w as u32 * 32 + b) {
                f(s);
            }
        }
    }
}

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
    } else if let Some(spi) = Spi::new(intid) {
        SPI_IRQS.fetch_add(1, Ordering::Relaxed);
        spi_fired(spi);
    } else {
        OTHER_IRQS.fetch_add(1, Ordering::Relaxed);
    }
}

/// True if the event loop has work the interrupt handlers left.
pub(crate) fn work_pending() -> bool {
    !READY.is_empty()
        || TIMER_FIRED.load(Ordering::Acquire)
        || SPI_PENDING.iter().any(|w| w.load(Ordering::Acquire) != 0)
}
