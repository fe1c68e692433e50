//! What the hook self-test's guest expects of OP-TEE's fast calls (OP-TEE 4.10,
//! `optee_smc.h` / `optee_msg.h`), separate from its image so that it tests on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use mediator::abi::OPTEE_MSG_UID;

/// OP-TEE's OS UUID (`OPTEE_OS_UUID`, 486178e0-e7f8-11e3-bc5e-0002a5d5c51b) in a0..a3.
pub const OPTEE_OS_UUID: [u32; 4] = [0x4861_78e0, 0xe7f8_11e3, 0xbc5e_0002, 0xa5d5_c51b];
/// `OPTEE_MSG_REVISION_MAJOR` / `_MINOR` (CALLS_REVISION).
pub const OPTEE_MSG_REVISION: (u64, u64) = (2, 0);

/// a0..a3 are the four words `w` (SMC32: the upper halves are not compared).
pub fn words_are(r: &[u64; 8], w: &[u32; 4]) -> bool {
    r.iter().zip(w).all(|(&a, &b)| a as u32 == b)
}

/// CALLS_UID answered OP-TEE's API UID.
pub fn is_optee_uid(r: &[u64; 8]) -> bool {
    words_are(r, &OPTEE_MSG_UID)
}

/// Median and minimum of samples (sorted in place); (0, 0) when empty.
pub fn median_min(v: &mut [u64]) -> (u64, u64) {
    v.sort_unstable();
    (
        v.get(v.len() / 2).copied().unwrap_or(0),
        v.first().copied().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_compares_low_words_only() {
        let mut r = [0u64; 8];
        for (d, w) in r.iter_mut().zip(OPTEE_MSG_UID) {
            *d = 0xFFFF_FFFF_0000_0000 | u64::from(w);
        }
        assert!(is_optee_uid(&r));
        r[3] ^= 1;
        assert!(!is_optee_uid(&r));
    }

    #[test]
    fn median() {
        assert_eq!(median_min(&mut [5, 1, 3]), (3, 1));
        assert_eq!(median_min(&mut []), (0, 0));
    }
}
