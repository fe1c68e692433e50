//! The malicious TEE guest's catalogue and the pure helpers its attacks are built with, which
//! test on the host; with the feature `image` (aarch64 only) also the image's code ([`image`]:
//! one module per attack family).
//!
//! The attacks are one table, [`ATTACKS`] (`src/catalogue.rs`): each row's name, family, what
//! it does, the expected outcome, what defends, whether it holds OP-TEE threads and whether a
//! known bug makes it fail, and its code. The image runs the rows in order; the "Attacks" table
//! of `tests/attacker/README.md` is made from them, and a host test fails when the two differ.
//! Each attack's function has a longer doc comment beside its code (how it works, what was
//! found).
//!
//! References: `optee_smc.h`, `optee_msg.h`, `optee_rpc_cmd.h` (OP-TEE 4.10), Arm SMCCC (DEN 0028)
//! §2.5 (function identifiers: bit 31 fast, bit 30 SMC64, bits 29:24 owner), Xen
//! `public/arch-arm.h` (guest memory map).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "image")]
extern crate alloc;

mod catalogue;
#[cfg(feature = "image")]
pub mod image;

pub use catalogue::{Attack, Family, ATTACKS};

/// An SMCCC function identifier (DEN 0028 §2.5): `fast` (bit 31), `smc64` (bit 30), owner
/// (bits 29:24), function number (bits 15:0).
///
/// ```
/// use attacker::fid;
/// assert_eq!(fid(true, false, 50, 1), 0xB200_0001); // OPTEE_SMC_GET_OS_REVISION
/// assert_eq!(fid(true, true, 50, 1), 0xF200_0001);  // its SMC64 twin
/// assert_eq!(fid(false, true, 50, 4), 0x7200_0004); // CALL_WITH_ARG as SMC64
/// ```
pub const fn fid(fast: bool, smc64: bool, owner: u32, func: u32) -> u32 {
    (if fast { 1 << 31 } else { 0 })
        | (if smc64 { 1 << 30 } else { 0 })
        | ((owner & 0x3F) << 24)
        | (func & 0xFFFF)
}

/// The secure world's memory on QEMU virt with TF-A + OP-TEE (`BL32_RAM_LOCATION=tdram`:
/// 0x0e000000–0x0effffff); an address a guest may know from public documentation.
pub const SECURE_RAM_PA: u64 = 0x0e10_0000;
/// OP-TEE's static (non-secure) shared memory on QEMU virt: 0x42000000–0x421fffff.
pub const OPTEE_STATIC_SHM_PA: u64 = 0x4200_0000;
/// A guest's vPL011 (`GUEST_PL011_BASE`, Xen `public/arch-arm.h`): emulated MMIO, no RAM.
pub const GUEST_PL011_BASE: u64 = 0x2200_0000;

/// Whether `addr` lies in `[base, base + size)` (no overflow on the end).
pub fn within(addr: u64, base: u64, size: u64) -> bool {
    addr >= base && addr - base < size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fids() {
        assert_eq!(fid(true, false, 63, 0xFF01), 0xBF00_FF01);
        assert_eq!(fid(true, false, 48, 0), 0xB000_0000);
        assert_eq!(fid(false, false, 50, 4), 0x3200_0004);
    }

    #[test]
    fn within_does_not_overflow() {
        assert!(within(0x4000_0000, 0x4000_0000, 1));
        assert!(!within(0x4000_0001, 0x4000_0000, 1));
        assert!(!within(1, 2, u64::MAX));
        assert!(!within(u64::MAX, 0, u64::MAX));
    }
}
