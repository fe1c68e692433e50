//! The Rust ends of the assembly entry points: boot, fatal exceptions, IRQs, and the call into
//! the application.

use super::boot::TrapFrame;
use crate::Kernel;

extern "Rust" {
    /// Defined by the image with [`crate::entry!`].
    fn __tsd_app_main(k: &mut Kernel);
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
    crate::crash::trap(kind, frame)
}

#[no_mangle]
extern "C" fn __tsd_irq_handler() {
    loop {
        let intid = super::gic::ack();
        if intid >= super::gic::SPURIOUS {
            break;
        }
        crate::irq::dispatch(intid);
        super::gic::eoi(intid);
    }
}
