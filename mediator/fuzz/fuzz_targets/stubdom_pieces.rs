//! Fuzzes `stubdom::memory::pieces`, the image's splitter of a guest
//! memory access (`[ipa, ipa + len)`, both chosen by the guest through the
//! core) into per-page foreign-mapping pieces.
//!
//! Invariants: `None` exactly when the range wraps the address space;
//! otherwise the pieces are non-empty, each inside one 4 KiB page, in
//! order, back to back in the buffer and in the address space, cover
//! exactly `len` bytes, and there is one piece per page touched.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut w = [0u8; 12];
    for (d, s) in w.iter_mut().zip(data) {
        *d = *s;
    }
    let ipa = u64::from_le_bytes(w[..8].try_into().unwrap());
    // Up to 16 MiB (4097 pieces at most), or a length near usize::MAX.
    let raw = u32::from_le_bytes(w[8..].try_into().unwrap());
    let len = if raw & 0x8000_0000 != 0 {
        usize::MAX - (raw & 0xFFFF) as usize
    } else {
        (raw & 0x00FF_FFFF) as usize
    };
    let wraps = ipa.checked_add(len as u64).is_none();
    let Some(it) = stubdom::memory::pieces(ipa, len) else {
        assert!(wraps, "rejected {ipa:#x}+{len:#x}");
        return;
    };
    assert!(!wraps, "accepted a wrapping range {ipa:#x}+{len:#x}");
    // A huge (non-wrapping) access: check its first pieces only.
    let huge = len > 1 << 24;
    let mut at = 0usize;
    let mut count = 0u64;
    for (frame, off, buf_off, n) in it.take(if huge { 3 } else { usize::MAX }) {
        assert!(
            n >= 1 && off + n <= 4096,
            "piece {frame:#x}/{off:#x}/{n:#x}"
        );
        assert_eq!(buf_off, at, "pieces not back to back");
        assert_eq!((frame << 12) + off as u64, ipa + at as u64, "piece address");
        assert!(
            count == 0 || off == 0,
            "only the first piece starts inside a page"
        );
        at += n;
        count += 1;
    }
    if huge {
        return;
    }
    assert_eq!(at, len, "pieces do not cover the access");
    let pages = if len == 0 {
        0
    } else {
        ((ipa + len as u64 - 1) >> 12) - (ipa >> 12) + 1
    };
    assert_eq!(count, pages, "one piece per page touched");
});
