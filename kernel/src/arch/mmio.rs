//! MMIO accessors with a fixed instruction form: a plain `ldr`/`str` with a base register and no
//! writeback. Xen (and KVM) can only emulate a trapped access whose syndrome is valid (ISV=1);
//! post-indexed forms that the compiler may pick for volatile pointer loops are not (Xen 4.17
//! decodes some of them and logs each one; other hypervisors fail).

/// Read a 32-bit device register.
///
/// # Safety
/// 1. `addr` is a 4-byte aligned device register mapped Device-nGnRE, whose read has no effect
///    on memory that Rust code owns.
pub unsafe fn read32(addr: usize) -> u32 {
    let v: u32;
    // SAFETY: the caller guarantees condition 1; the asm only loads from `addr`.
    unsafe {
        core::arch::asm!("ldr {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack, readonly, preserves_flags))
    };
    v
}

/// Read a 64-bit device register.
///
/// # Safety
/// As [`read32`], 8-byte aligned.
pub unsafe fn read64(addr: usize) -> u64 {
    let v: u64;
    // SAFETY: the caller guarantees the conditions; the asm only loads from `addr`.
    unsafe {
        core::arch::asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack, readonly, preserves_flags))
    };
    v
}

/// Write a 32-bit device register.
///
/// # Safety
/// 1. `addr` is a 4-byte aligned device register mapped Device-nGnRE, whose write has no effect
///    on memory that Rust code owns.
pub unsafe fn write32(addr: usize, v: u32) {
    // SAFETY: the caller guarantees condition 1; the asm only stores to `addr`.
    unsafe {
        core::arch::asm!("str {v:w}, [{a}]", a = in(reg) addr, v = in(reg) v, options(nostack, preserves_flags))
    };
}

/// Write a 64-bit device register.
///
/// # Safety
/// As [`write32`], 8-byte aligned.
pub unsafe fn write64(addr: usize, v: u64) {
    // SAFETY: the caller guarantees the conditions; the asm only stores to `addr`.
    unsafe {
        core::arch::asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) v, options(nostack, preserves_flags))
    };
}
