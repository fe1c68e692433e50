//! The hostile mediator's tables and helpers, separate from its images so that they test on the
//! host.
//!
//! The image (`src/main.rs`) registers with Xen's OP-TEE forwarder (`tee=stubdom`, hv-patches
//! 0005 + 0009) and then tries, one by one, to make OP-TEE reach memory that is not its TEE
//! guest's; Xen must refuse each with the error `public/tee_stubdom.h` documents for
//! `TEE_STUBDOM_OP_secure_call`. The canary (`src/canary.rs`) is an ordinary guest whose page
//! must come out of the attacks unchanged.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use mediator::abi::smc;

/// The canary page's byte `i`: a pattern no zeroed or OP-TEE-written page has (OP-TEE's
/// invoke-tests PTA would write the byte sum into byte 0; a cleared page is all zeroes).
pub fn canary_byte(i: usize) -> u8 {
    // Truncation intended: a repeating byte pattern.
    ((i.wrapping_mul(31) ^ (i >> 8)) as u8) ^ 0xA5
}

/// SMCCC function ID of a fast (bit 31) SMC32 call of `owner` (DEN 0028 §2.5).
pub const fn fast32(owner: u32, func: u32) -> u64 {
    (0x8000_0000 | (owner << 24) | func) as u64
}

/// The same, yielding (bit 31 clear).
pub const fn yield32(owner: u32, func: u32) -> u64 {
    ((owner << 24) | func) as u64
}

/// SMC64 (bit 30) of a 32-bit function ID.
pub const fn smc64(fid: u64) -> u64 {
    fid | 0x4000_0000
}

/// Function IDs Xen must refuse with -EPERM at the secure call (hv-patches 0009,
/// `stubdom_check.c`, `tsd_classify`): not OP-TEE's, OP-TEE's with an entry address, or not
/// for a mediator. (name, x0).
pub const DENIED_FIDS: &[(&str, u64)] = &[
    // Owner 50 (Trusted OS), function numbers OP-TEE does not define (2, 3, 5, 6, 0xff, 0xfff0).
    ("os50-fast-2", fast32(50, 2)),
    ("os50-fast-3", fast32(50, 3)),
    ("os50-fast-5", fast32(50, 5)),
    ("os50-fast-6", fast32(50, 6)),
    ("os50-fast-0xff", fast32(50, 0xff)),
    ("os50-fast-0xff10", fast32(50, 0xff10)),
    ("os50-yield-0", yield32(50, 0)),
    ("os50-yield-5", yield32(50, 5)),
    // OP-TEE's IDs that carry an address or are not for guests.
    ("get-shm-config", smc::GET_SHM_CONFIG as u64),
    ("l2cc-mutex", 0xB200_0008),
    ("boot-secondary", 0xB200_000C),
    ("call-with-regd-arg", smc::CALL_WITH_REGD_ARG as u64),
    // SMC64 variants of OP-TEE's own IDs.
    ("smc64-get-os-uuid", smc64(smc::GET_OS_UUID as u64)),
    ("smc64-calls-uid", smc64(smc::CALLS_UID as u64)),
    ("smc64-call-with-arg", smc64(smc::CALL_WITH_ARG as u64)),
    ("smc64-return-from-rpc", smc64(smc::RETURN_FROM_RPC as u64)),
    ("smc64-vm-destroyed", smc64(smc::VM_DESTROYED as u64)),
    // Owners 51-62 (other Trusted OSes), fast and yielding.
    ("os51-fast-0", fast32(51, 0)),
    ("os54-fast-0xff01", fast32(54, 0xff01)),
    ("os58-yield-4", yield32(58, 4)),
    ("os62-fast-1", fast32(62, 1)),
    ("os62-yield-0", yield32(62, 0)),
    // Owner 63 beyond CALLS_COUNT / CALLS_UID / CALLS_REVISION.
    ("os63-fast-0", fast32(63, 0)),
    ("os63-fast-0xff02", fast32(63, 0xff02)),
    // A valid ID with bits set in x0's upper half (SMCCC ignores them; Xen must not).
    ("upper-half-calls-uid", (1 << 32) | smc::CALLS_UID as u64),
    // PSCI (owner 4), SiP (2), Arm architecture (0), standard hypervisor (5).
    ("psci-version", 0x8400_0000),
    ("psci-system-off", 0x8400_0008),
    ("psci-system-reset", 0x8400_0009),
    ("psci-cpu-on64", 0xC400_0003),
    ("sip-fast-0", 0x8200_0000),
    ("sip-fast64-0", 0xC200_0000),
    ("arch-smccc-version", 0x8000_0000),
    ("arch-workaround-1", 0x8000_8000),
    ("hyp-fast-0", 0x8500_0000),
];

/// The IDs `tsd_classify` lets through (fast calls, VM_*, the standard calls), as a check that
/// [`DENIED_FIDS`] names none of them.
pub const ALLOWED_FIDS: &[u32] = &[
    smc::CALLS_COUNT,
    smc::CALLS_UID,
    smc::CALLS_REVISION,
    smc::GET_OS_UUID,
    smc::GET_OS_REVISION,
    smc::EXCHANGE_CAPABILITIES,
    smc::DISABLE_SHM_CACHE,
    smc::ENABLE_SHM_CACHE,
    smc::GET_THREAD_COUNT,
    smc::ENABLE_ASYNC_NOTIF,
    smc::GET_ASYNC_NOTIF_VALUE,
    smc::VM_CREATED,
    smc::VM_DESTROYED,
    smc::RETURN_FROM_RPC,
    smc::CALL_WITH_ARG,
    smc::CALL_WITH_RPC_ARG,
];

/// x0–x7 of a call that names a machine address in x1:x2 (high, low: `optee_smc.h`) for
/// `client`, with x3 `x3`.
pub fn addr_call(fid: u32, maddr: u64, x3: u64, client: u64) -> [u64; 8] {
    [
        u64::from(fid),
        maddr >> 32,
        maddr & 0xFFFF_FFFF,
        x3,
        0,
        0,
        0,
        client,
    ]
}

/// OP-TEE's client ID of a domain: domid + 1 (0 is the hypervisor).
pub fn client_id(domid: u16) -> u64 {
    u64::from(domid) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_ids_are_not_allowed_ones() {
        for (name, fid) in DENIED_FIDS {
            assert!(
                *fid >> 32 != 0 || !ALLOWED_FIDS.contains(&(*fid as u32)),
                "{name} {fid:#x}"
            );
        }
        assert_eq!(fast32(50, 9), u64::from(smc::EXCHANGE_CAPABILITIES));
        assert_eq!(yield32(50, 4), u64::from(smc::CALL_WITH_ARG));
        assert_eq!(fast32(63, 0xff01), u64::from(smc::CALLS_UID));
    }

    #[test]
    fn the_listed_opteee_ids_are_right() {
        assert_eq!(smc::GET_SHM_CONFIG, 0xB200_0007);
        assert_eq!(smc::CALL_WITH_REGD_ARG, 0x3200_0013);
    }

    #[test]
    fn canary_pattern_is_not_trivial() {
        let distinct: std::collections::BTreeSet<u8> = (0..4096).map(canary_byte).collect();
        assert!(distinct.len() > 200);
        assert_ne!(canary_byte(0), 0);
    }

    #[test]
    fn address_calls_split_high_low() {
        let x = addr_call(smc::CALL_WITH_ARG, 0x1_4800_1000, 0, 4);
        assert_eq!((x[1], x[2], x[7]), (1, 0x4800_1000, 4));
        assert_eq!(client_id(2), 3);
    }
}
