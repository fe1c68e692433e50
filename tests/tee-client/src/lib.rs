//! What the OP-TEE conformance client expects, and the pure helpers it builds messages with,
//! separate from the image so that they test on the host.
//!
//! The expectations are those of OP-TEE 4.10 (Debian's `vexpress-qemu_armv8a-virtualized` build)
//! behind a mediator: Xen 4.17.5's in-hypervisor one (`tee=optee`, `xen/arch/arm/tee/optee.c`) or
//! our stub domain (`tee=stubdom`, `mediator/`). Where the two deliberately differ, the expectation
//! takes a [`Mode`]; `tests/tee-client/README.md` lists each difference and why.
//!
//! References: `optee_smc.h` (SMC function IDs, return codes, capabilities, RPC register usage),
//! `optee_msg.h` (`struct optee_msg_arg`, parameter attributes, the non-contiguous page list),
//! `optee_rpc_cmd.h` (RPC commands), `pta_invoke_tests.h` (the pseudo-TA), Arm SMCCC (DEN 0028).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod client;

use mediator::abi::{caps, msg, PAGE_SIZE};

/// Which mediator the client runs behind (`mode=` boot argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Xen's in-hypervisor mediator (`tee=optee`).
    Optee,
    /// The stub-domain mediator (`tee=stubdom`).
    Stubdom,
}

impl Mode {
    /// `optee` or `stubdom`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "optee" => Some(Mode::Optee),
            "stubdom" => Some(Mode::Stubdom),
            _ => None,
        }
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Optee => "optee",
            Mode::Stubdom => "stubdom",
        }
    }

    /// CALLS_COUNT: answered by the mediator itself. Xen: `OPTEE_MEDIATOR_SMC_COUNT` (11);
    /// ours: `MEDIATOR_SMC_COUNT` (16, the functions it handles).
    pub fn calls_count(self) -> u64 {
        match self {
            Mode::Optee => 11,
            Mode::Stubdom => 16,
        }
    }

    /// The secure-world capabilities a guest may see after EXCHANGE_CAPABILITIES. Xen:
    /// `OPTEE_KNOWN_SEC_CAPS` minus HAVE_RESERVED_SHM; ours also passes VIRTUALIZATION,
    /// ASYNC_NOTIF and RPC_ARG (`mediator::abi::caps::SUPPORTED_SEC`).
    pub fn visible_sec_caps(self) -> u64 {
        match self {
            Mode::Optee => {
                caps::SEC_UNREGISTERED_SHM | caps::SEC_DYNAMIC_SHM | caps::SEC_MEMREF_NULL
            }
            Mode::Stubdom => caps::SUPPORTED_SEC,
        }
    }

    /// GET_THREAD_COUNT reaches OP-TEE: Xen 4.17.5 does not handle it for guests (SMCCC
    /// unknown function); ours forwards it.
    pub fn forwards_thread_count(self) -> bool {
        self == Mode::Stubdom
    }

    /// A page-list entry that is not 4 KiB aligned: Xen truncates it to its frame and goes on;
    /// ours refuses the memref (BAD_PARAMETERS, origin COMMS), because OP-TEE's page lists hold
    /// page addresses only (`optee_msg.h`, OPTEE_MSG_ATTR_NONCONTIG).
    pub fn accepts_unaligned_list_entry(self) -> bool {
        self == Mode::Optee
    }
}

/// OP-TEE's OS UUID (`OPTEE_OS_UUID`, 486178e0-e7f8-11e3-bc5e-0002a5d5c51b) in a0..a3.
pub const OPTEE_OS_UUID: [u32; 4] = [0x4861_78e0, 0xe7f8_11e3, 0xbc5e_0002, 0xa5d5_c51b];
/// `OPTEE_MSG_REVISION_MAJOR` / `_MINOR` (CALLS_REVISION).
pub const OPTEE_MSG_REVISION: (u64, u64) = (2, 0);
/// GET_OS_REVISION of Debian's optee-os 4.10.0.
pub const OPTEE_OS_REVISION: (u64, u64) = (4, 10);

/// `PTA_INVOKE_TESTS_UUID` (`pta_invoke_tests.h`), d96a5b40-c3e5-21e3-8794-1002a5d5c61b: the
/// "invoke tests" pseudo-TA (`core/pta/tests/invoke.c`, `CFG_TEE_CORE_EMBED_INTERNAL_TESTS`) that
/// xtest 1001 uses; Debian's build contains it (its secure log says `Open invoke_tests.pta`).
pub const PTA_INVOKE_TESTS_UUID: [u8; 16] = [
    0xd9, 0x6a, 0x5b, 0x40, 0xc3, 0xe5, 0x21, 0xe3, 0x87, 0x94, 0x10, 0x02, 0xa5, 0xd5, 0xc6, 0x1b,
];
/// A UUID no TA or pseudo-TA has: opening it makes OP-TEE look for a user TA, which goes
/// through the RPC path (argument allocation, LOAD_TA to the normal world).
pub const MISSING_TA_UUID: [u8; 16] = [
    0x7e, 0xe5, 0x7e, 0xe5, 0x00, 0x00, 0x40, 0x00, 0x80, 0x00, 0x7e, 0x57, 0xc1, 0x1e, 0x47, 0x00,
];

/// Pseudo-TA commands (`pta_invoke_tests.h`).
pub mod pta {
    /// Prints "Hello world !" on the secure console; parameters unused.
    pub const CMD_TRACE: u32 = 0;
    /// Parameter tests: VALUE_INOUT `a += b`; MEMREF_INOUT byte 0 = sum of all bytes.
    pub const CMD_PARAMS: u32 = 1;
    /// OP-TEE core self tests.
    pub const CMD_SELF_TESTS: u32 = 2;
    /// AES over a memref, repeated (`PTA_INVOKE_TEST_CMD_AES_PERF`, `core/pta/tests/aes_perf.c`):
    /// value[0].a = key bits (top 16 bits: decrypt), value[0].b = mode, value[1].a =
    /// repetitions, value[1].b = unit size, memref[2] in, memref[3] out (at least as long). One
    /// call computes for as long as the repetitions say: the long-TA benchmark's load.
    pub const CMD_AES_PERF: u32 = 9;
    /// A NULL memory reference of size 0 must arrive as such (xtest 1025).
    pub const CMD_MEMREF_NULL: u32 = 10;
    /// `PTA_INVOKE_TESTS_AES_ECB` (value[0].b of CMD_AES_PERF).
    pub const AES_ECB: u64 = 0;
}

/// Repetitions of CMD_AES_PERF for one call of `target_ns`, from a calibration call of
/// `reps` repetitions that took `took_ns`; at least 1, at most 1 << 24.
pub fn scaled_reps(reps: u64, took_ns: u64, target_ns: u64) -> u64 {
    let r = u128::from(reps) * u128::from(target_ns) / u128::from(took_ns.max(1));
    r.clamp(1, 1 << 24) as u64
}

/// GP TEE Client API codes not in `mediator::abi::teec`.
pub mod teec {
    /// `TEEC_SUCCESS`.
    pub const SUCCESS: u32 = 0;
    /// `TEEC_ERROR_NOT_SUPPORTED`.
    pub const ERROR_NOT_SUPPORTED: u32 = 0xFFFF_000A;
    /// `TEEC_ORIGIN_TRUSTED_APP`.
    pub const ORIGIN_TRUSTED_APP: u32 = 4;
}

/// `TEE_IOCTL_LOGIN_PUBLIC` (value c of the client-identity parameter).
pub const LOGIN_PUBLIC: u64 = 0;

/// A UUID as the two octet words of an OPEN_SESSION meta parameter (`optee_msg.h`: the octets
/// in RFC 4122 byte order, read as little-endian u64s, as Linux's `export_uuid` leaves them).
pub fn uuid_words(u: &[u8; 16]) -> (u64, u64) {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&u[..8]);
    b.copy_from_slice(&u[8..]);
    (u64::from_le_bytes(a), u64::from_le_bytes(b))
}

/// The attribute of a non-contiguous temporary memory reference of `ty`
/// (`OPTEE_MSG_ATTR_TYPE_TMEM_*`).
pub const fn tmem_noncontig(ty: u64) -> u64 {
    ty | msg::ATTR_NONCONTIG
}

/// The low 32 bits of a result register (SMC32 calls return 32-bit values; Xen writes the
/// SMCCC "unknown function" -1 as a 64-bit all-ones value).
pub const fn w(x: u64) -> u32 {
    x as u32
}

/// The SMCCC "unknown function" answer, compared on 32 bits.
pub const fn is_unknown(x0: u64) -> bool {
    w(x0) == 0xFFFF_FFFF
}

/// a0..a3 are the four words `words` (SMC32: the upper halves are not compared).
pub fn words_are(r: &[u64], words: &[u32; 4]) -> bool {
    r.len() >= 4 && r.iter().zip(words).all(|(&a, &b)| w(a) == b)
}

/// Number of page-list pages for `n` data pages (511 entries each, `OPTEE_MSG_NONCONTIG`).
pub const fn list_pages(n: usize) -> usize {
    n.div_ceil(msg::PAGELIST_ENTRIES)
}

/// Fills one page-list page: entries from `pages` (at most 511), zero after them, and the
/// address of the next list page (0 for the last) in the final slot.
pub fn fill_page_list(list: &mut [u8; PAGE_SIZE], pages: &[u64], next: u64) {
    list.fill(0);
    for (slot, pa) in list
        .chunks_exact_mut(8)
        .zip(pages.iter().take(msg::PAGELIST_ENTRIES))
    {
        slot.copy_from_slice(&pa.to_le_bytes());
    }
    let last = msg::PAGELIST_ENTRIES * 8;
    list[last..last + 8].copy_from_slice(&next.to_le_bytes());
}

/// How `pages` spread over the list pages at `lists` (`list_pages(pages.len())` of them): for
/// each list page, its index, its entries and the address of the next list page (0 for the last).
pub fn page_list_chain<'a>(
    pages: &'a [u64],
    lists: &'a [u64],
) -> impl Iterator<Item = (usize, &'a [u64], u64)> + 'a {
    pages
        .chunks(msg::PAGELIST_ENTRIES)
        .enumerate()
        .map(move |(i, chunk)| (i, chunk, lists.get(i + 1).copied().unwrap_or(0)))
}

/// What the invoke-tests pseudo-TA computes for a MEMREF_INOUT parameter: the byte sum
/// (wrapping, as `uint8_t d8`) of the whole buffer, written into its first byte.
pub fn byte_sum<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> u8 {
    chunks
        .into_iter()
        .flatten()
        // u8 wrap-around is the pseudo-TA's own arithmetic.
        .fold(0u8, |s, &b| s.wrapping_add(b))
}

/// The test pattern byte at offset `i` of a buffer (not a multiple of the page size, so that a
/// page in the wrong place changes the sum).
pub fn pattern(i: usize) -> u8 {
    (i % 251) as u8 ^ 0x5A
}

/// Median, minimum and 90th percentile of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Median (the upper one for an even count).
    pub median: u64,
    /// Minimum.
    pub min: u64,
    /// 90th percentile (nearest rank).
    pub p90: u64,
    /// Number of samples.
    pub n: usize,
}

impl Summary {
    /// Summarises `v` (sorted in place); all zero when empty.
    pub fn of(v: &mut [u64]) -> Summary {
        v.sort_unstable();
        let n = v.len();
        if n == 0 {
            return Summary::default();
        }
        // Nearest rank: ceil(0.9 n), 1-based.
        let rank = (n * 9).div_ceil(10).max(1);
        Summary {
            median: v[n / 2],
            min: v[0],
            p90: v[rank - 1],
            n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_octets_little_endian_words() {
        let (a, b) = uuid_words(&PTA_INVOKE_TESTS_UUID);
        assert_eq!(a, 0xe321_e5c3_405b_6ad9);
        assert_eq!(b, 0x1bc6_d5a5_0210_9487);
    }

    #[test]
    fn page_list_entries_and_next() {
        let mut p = [0xFFu8; PAGE_SIZE];
        fill_page_list(&mut p, &[0x4000_1000, 0x4000_5000], 0x4100_0000);
        assert_eq!(&p[..8], &0x4000_1000u64.to_le_bytes());
        assert_eq!(&p[8..16], &0x4000_5000u64.to_le_bytes());
        assert!(p[16..4088].iter().all(|&b| b == 0));
        assert_eq!(&p[4088..], &0x4100_0000u64.to_le_bytes());
        assert_eq!((list_pages(1), list_pages(511), list_pages(512)), (1, 1, 2));
    }

    #[test]
    fn page_list_chain_links_full_list_pages() {
        let pages: Vec<u64> = (0..1000u64).map(|i| 0x4000_0000 + 0x2000 * i).collect();
        let lists = [0x5000_0000, 0x5000_3000];
        assert_eq!(list_pages(pages.len()), 2);
        let plan: Vec<_> = page_list_chain(&pages, &lists).collect();
        assert_eq!(plan.len(), 2);
        assert_eq!(
            (plan[0].0, plan[0].1.len(), plan[0].2),
            (0, 511, 0x5000_3000)
        );
        assert_eq!((plan[1].0, plan[1].1.len(), plan[1].2), (1, 489, 0));
        assert_eq!(plan[1].1[0], pages[511]);
    }

    #[test]
    fn summary_percentiles() {
        let mut v: Vec<u64> = (1..=10).rev().collect();
        assert_eq!(
            Summary::of(&mut v),
            Summary {
                median: 6,
                min: 1,
                p90: 9,
                n: 10
            }
        );
        assert_eq!(Summary::of(&mut []), Summary::default());
        assert_eq!(Summary::of(&mut [7]).p90, 7);
    }

    #[test]
    fn aes_repetitions_scale_to_the_target() {
        assert_eq!(scaled_reps(16, 4_000_000, 500_000_000), 2000);
        assert_eq!(scaled_reps(16, 0, 1), 16);
        assert_eq!(scaled_reps(1, u64::MAX, 1), 1);
        assert_eq!(scaled_reps(u64::MAX, 1, u64::MAX), 1 << 24);
    }

    #[test]
    fn sums_wrap_like_the_pta() {
        assert_eq!(byte_sum([&[200u8, 100][..], &[1][..]]), 45);
    }

    #[test]
    fn modes_differ_only_where_documented() {
        assert_eq!(Mode::parse("optee"), Some(Mode::Optee));
        assert_eq!(Mode::parse("x"), None);
        assert_eq!(Mode::Optee.calls_count(), 11);
        assert!(!Mode::Optee.forwards_thread_count());
        assert_eq!(
            Mode::Stubdom.visible_sec_caps() & Mode::Optee.visible_sec_caps(),
            Mode::Optee.visible_sec_caps()
        );
        assert!(is_unknown(u64::MAX) && is_unknown(0xFFFF_FFFF) && !is_unknown(0));
    }
}
