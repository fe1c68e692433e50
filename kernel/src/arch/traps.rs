//! The Rust ends of the assembly entry points: boot, fatal exceptions, IRQs, and the call into
//! the application.
//!
//! What a fatal exception or an interrupt means is decided above `arch` (STYLE.md rule 13):
//! `crash` reports the one, `irq` records the other. This module does not name them; it calls
//! the handlers of one table, [`Entry`], which the image links in as `__TSD_ENTRY` (its
//! [`crate::entry!`] fills it). A table fixed at link time, not handlers registered at boot,
//! because a fault can come before any Rust has run, with the MMU off, where the atomic
//! read-modify-writes a one-time registration needs do not work yet; and the image already
//! defines a symbol that this module calls (its entry), so the table costs no new mechanism.

use super::boot::TrapFrame;
use crate::Kernel;

extern "Rust" {
    /// Defined by the image with [`crate::entry!`].
    fn __tsd_app_main(k: &mut Kernel);
    /// Defined by the image with [`crate::entry!`], filled by the kernel (`crate::__entry`).
    static __TSD_ENTRY: Entry;
}

/// What the layers above do with an exception: the table this module calls through (see the
/// module doc). Only the kernel crate fills one (its fields are crate-private); the image
/// places it.
#[derive(Debug)]
pub struct Entry {
    /// Report a fatal exception of vector slot `kind` with the saved registers and stop the
    /// domain (`crash::trap`).
    pub(crate) fatal: fn(u64, &TrapFrame) -> !,
    /// Handle one acknowledged interrupt (`irq::dispatch`); the EOI follows here. Runs in
    /// interrupt context: it must not take a lock or allocate.
    pub(crate) irq: fn(u32),
}

/// The image's table.
fn entry() -> &'static Entry {
    // SAFETY: `entry!` defines `__TSD_ENTRY` as an immutable `static` of this type (the linker
    // makes sure there is exactly one), and nothing writes it.
    unsafe { &*core::ptr::addr_of!(__TSD_ENTRY) }
}

/// The boot sequence's right to set up this domain's memory. Made once, by
/// `__tsd_kernel_start` below (its field is private to this module, and the assembly entry calls
/// that function once, on the boot vCPU, with all exceptions masked and nothing else running),
/// and handed to `kernel::boot`. Neither `Copy` nor `Clone`: [`super::mmu::init_early`] consumes
/// it, and the tokens it leads to ([`super::mmu::Early`], [`super::mmu::Mapped`]) are made once
/// too, so each boot step that needs one runs once and in order.
pub(crate) struct Boot(());

#[no_mangle]
extern "C" fn __tsd_kernel_start(dtb: usize, t0: u64) -> ! {
    let mut hdr = [0u8; 8];
    for (i, b) in hdr.iter_mut().enumerate() {
        // SAFETY: the boot protocol puts a device tree at x0 in our RAM; the first 8 bytes of
        // any blob are its magic and size. A bogus x0 is caught by the magic check below.
        *b = unsafe { ((dtb + i) as *const u8).read_volatile() };
    }
    let blob: &'static [u8] = match crate::dt::header_total_size(&hdr) {
        // SAFETY: the header says the blob is `n` bytes at `dtb`; the kernel never writes to it
        // and keeps it out of the heap, so it lives (unchanged) forever.
        Some(n) if dtb != 0 => unsafe { core::slice::from_raw_parts(dtb as *const u8, n) },
        _ => &[],
    };
    let mut k = crate::kernel::boot(blob, t0, Boot(()));
    // SAFETY: the image defines `__tsd_app_main` with this signature through `entry!`.
    unsafe { __tsd_app_main(&mut k) };
    k.run()
}

#[no_mangle]
extern "C" fn __tsd_trap_fatal(kind: u64, frame: &TrapFrame) -> ! {
    (entry().fatal)(kind, frame)
}

#[no_mangle]
extern "C" fn __tsd_irq_handler() {
    let dispatch = entry().irq;
    loop {
        let intid = super::gic::ack();
        if intid >= super::gic::SPURIOUS {
            break;
        }
        dispatch(intid);
        super::gic::eoi(intid);
    }
}
