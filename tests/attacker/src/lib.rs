//! The malicious TEE guest's catalogue: the attacks in the order the image runs them, and the
//! pure helpers it builds them with, which test on the host; with the feature `image`
//! (aarch64 only) also the image's code ([`image`]: one module per attack family).
//!
//! Every attack is documented twice, on purpose: beside its code in `src/image/` (a doc comment
//! with what it does, the expected outcome and the defence) and in the table of
//! `tests/attacker/README.md`. The host test `readme_lists_every_attack` keeps the table and
//! [`ATTACKS`] in step; the image refuses to run (TSD-RESULT FAIL) if its own table and
//! [`ATTACKS`] differ.
//!
//! References: `optee_smc.h`, `optee_msg.h`, `optee_rpc_cmd.h` (OP-TEE 4.10), Arm SMCCC (DEN 0028)
//! §2.5 (function identifiers: bit 31 fast, bit 30 SMC64, bits 29:24 owner), Xen
//! `public/arch-arm.h` (guest memory map).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "image")]
extern crate alloc;

#[cfg(feature = "image")]
pub mod image;

/// The attacks, in run order. The first ones hold OP-TEE threads and must run before the other
/// TEE guest starts its own calls (see README, "OP-TEE threads are shared"); the last two need a
/// second vCPU (`kernel::smp`).
pub const ATTACKS: &[&str] = &[
    "thread-exhaustion",
    "rpc-alloc-duplicate-cookie",
    "return-from-rpc-unowned-thread",
    "return-from-rpc-replayed",
    "vm-created-from-guest",
    "vm-destroyed-from-guest",
    "trusted-os-owner-51",
    "trusted-os-end-unknown",
    "trusted-app-owner-48",
    "smc64-fast-call",
    "smc64-std-call",
    "fid-upper-bits-set",
    "get-shm-config",
    "exchange-caps-all-bits",
    "arg-misaligned",
    "rpc-arg-misaligned",
    "arg-beyond-ram",
    "arg-huge-ipa",
    "arg-gic-mmio",
    "arg-vpl011-mmio",
    "arg-dom0-ram",
    "arg-secure-ram",
    "arg-optee-static-shm",
    "num-params-128",
    "num-params-u32-max",
    "unknown-command",
    "tmem-old-style-dom0-pa",
    "pagelist-entry-dom0-ram",
    "pagelist-entry-gic-mmio",
    "pagelist-entry-secure-ram",
    "pagelist-in-mmio",
    "pagelist-entry-grant-frame",
    "pagelist-loop-within-limit",
    "pagelist-loop-overlong",
    "memref-size-offset-overflow",
    "memref-size-huge",
    "unknown-param-type",
    "second-param-bad-frees-first",
    "register-duplicate-cookie",
    "tmem-reuses-registered-cookie",
    "rmem-forged-cookie",
    "unregister-twice",
    "unregister-forged-cookie",
    "regd-arg-forged-cookie",
    "rmem-offset-overflow",
    "rpc-alloc-answer-dom0-pa",
    "rpc-alloc-answer-unaligned",
    "rpc-shm-alloc-bad-list",
    "rpc-shm-alloc-old-style",
    "invoke-forged-session",
    "pinned-pages-exhaustion",
    "arg-changed-by-other-vcpu",
    "flood-all-vcpus",
];

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
    fn names_are_unique_and_at_least_thirty() {
        let mut all: Vec<&str> = ATTACKS.to_vec();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "duplicate attack name");
        assert!(ATTACKS.len() >= 30);
    }

    #[test]
    fn readme_lists_every_attack() {
        let readme = include_str!("../README.md");
        for a in ATTACKS {
            assert!(
                readme.contains(&format!("| `{a}` |")),
                "README table has no row for {a}"
            );
        }
    }

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
