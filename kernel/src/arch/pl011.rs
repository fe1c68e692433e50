//! Minimal SBSA/PL011 transmitter (Xen's vpl011 for domUs): poll TXFF, write DR.

use core::sync::atomic::{AtomicUsize, Ordering};

const DR: usize = 0x0;
const FR: usize = 0x18;
const FR_TXFF: u32 = 1 << 5;

static BASE: AtomicUsize = AtomicUsize::new(0);

/// Use the UART at `base` (must be mapped as device memory before the first write).
pub(crate) fn init(base: u64) {
    BASE.store(base as usize, Ordering::Relaxed);
}

/// True once a UART is configured.
pub fn present() -> bool {
    BASE.load(Ordering::Relaxed) != 0
}

/// Write bytes, waiting for FIFO space. No-op without a UART.
pub fn write(bytes: &[u8]) {
    let b = BASE.load(Ordering::Relaxed);
    if b == 0 {
        return;
    }
    for &c in bytes {
        // SAFETY: `b` is the UART from the device tree, mapped Device-nGnRE by `mmu::init_full`; FR
        // and DR are 32-bit registers at these offsets (PL011 TRM, SBSA generic UART).
        unsafe {
            while super::mmio::read32(b + FR) & FR_TXFF != 0 {}
            super::mmio::write32(b + DR, u32::from(c));
        }
    }
}
