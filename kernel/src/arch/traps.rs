//! The Rust ends of the assembly entry points: boot, fatal exceptions and IRQs.
//!
//! What comes after each entry is decided above `arch` (STYLE.md rule 13): the kernel boots and
//! runs the image, `crash` reports a fatal exception, `irq` records an interrupt. This module
//! names none of them; it calls the handlers of one table, [`Entry`], which the image links in
//! as `__TSD_ENTRY` (its [`crate::entry!`] places it, the kernel fills it). A table fixed at
//! link time, not handlers registered at boot: the boot entry needs its handler before any Rust
//! has run, and so may a fault, with the MMU off, where the atomic read-modify-writes of a
//! one-time registration do not work yet; a static the image defines is there from the first
//! instruction, checked by the linker (missing or defined twice is a link error), and is what
//! an image had to define already (its entry function).

use super::boot::TrapFrame;

extern "Rust" {
    /// Defined by the image with [`crate::entry!`], filled by the kernel (`crate::__entry`).
    static __TSD_ENTRY: Entry;
}

/// What the layers above do at each entry: the table this module calls through (see the
/// module doc). Only the kernel crate fills one (its fields are crate-private); the image
/// places it.
#[derive(Debug)]
pub struct Entry {
    /// Boot the kernel and run the image: its entry function, then the event loop forever
    /// (`kernel::start`).
    pub(crate) start: fn(Start) -> !,
    /// Report a fatal exception of vector slot `kind` with the saved registers and stop the
    /// domain (`crash::trap`).
    pub(crate) fatal: fn(u64, &TrapFrame) -> !,
    /// Handle one acknowledged interrupt (`irq::dispatch`); the EOI follows here. Runs in
    /// interrupt context: it must not take a lock or allocate.
    pub(crate) irq: fn(u32),
}

/// The image's table.
fn entry() -> &'static Entry {
    // SAFETY: `entry!` defines `__TSD_ENTRY` as an immutable `static` of this type, the one
    // definition (the linker refuses a second; an image defining its own would need a
    // `#[no_mangle]`, unsafe code, which the images deny), and nothing writes it.
    unsafe { &*core::ptr::addr_of!(__TSD_ENTRY) }
}

/// The boot sequence's right to set up this domain's memory. Made once, by
/// `__tsd_kernel_start` below (its field is private to this module, and the assembly entry calls
/// that function once, on the boot vCPU, with all exceptions masked and nothing else running),
/// and handed, inside the [`Start`], to the kernel's boot. Neither `Copy` nor `Clone`:
/// [`super::mmu::init_early`] consumes it, and the tokens it leads to ([`super::mmu::Early`],
/// [`super::mmu::Mapped`]) are made once too, so each boot step that needs one runs once and in
/// order.
#[derive(Debug)]
pub(crate) struct Boot(());

/// What the boot entry hands the layer above ([`Entry`]'s `start`): the device tree blob (empty
/// if x0 held none), the virtual counter at entry, and the `Boot` token. Made once, by
/// `__tsd_kernel_start` (its fields are private to this module), so no one else can make one.
#[derive(Debug)]
pub struct Start {
    blob: &'static [u8],
    t0: u64,
    boot: Boot,
}

impl Start {
    /// The device tree blob, the counter at entry and the boot token.
    pub(crate) fn into_parts(self) -> (&'static [u8], u64, Boot) {
        (self.blob, self.t0, self.boot)
    }
}

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
    (entry().start)(Start {
        blob,
        t0,
        boot: Boot(()),
    })
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
