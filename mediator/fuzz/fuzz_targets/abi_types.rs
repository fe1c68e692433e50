//! Fuzzes the pure decoders of guest values against reference models:
//! - `MsgArg` (`struct optee_msg_arg` view over a shadow page) at any base:
//!   every field and parameter reads the little-endian bytes at its offset
//!   (zero beyond the page), writes round-trip and touch no other byte;
//! - `PageList::new` (buf_ptr/size of a NONCONTIG memref): the result or
//!   error equals a 128-bit reference computation, and an accepted list
//!   covers the buffer exactly;
//! - `msg::arg_size`, `regpair`/`split`, `ret::is_rpc`/`rpc_func`/`rpc_val`,
//!   `Ipa` range (the 48-bit IPA space), alignment and page arithmetic,
//!   `TaUuid` words.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::Bytes;
use libfuzzer_sys::fuzz_target;
use mediator::abi::{msg, regpair, ret, split, MsgArg, Param, PAGE_SIZE};
use mediator::types::{PageList, PageListError};
use mediator::{Ipa, TaUuid};

fn le(page: &[u8], o: usize, n: usize) -> u64 {
    // Reference: the n-byte little-endian word at o, zero if it does not
    // fit in the page.
    match o.checked_add(n).and_then(|e| page.get(o..e)) {
        Some(s) => s.iter().rev().fold(0u64, |v, b| (v << 8) | u64::from(*b)),
        None => 0,
    }
}

fn msg_arg(b: &mut Bytes<'_>) {
    let base = usize::from(b.u16()) % (PAGE_SIZE + 64);
    let i = b.pick(130);
    let p = Param {
        attr: b.u64(),
        a: b.u64(),
        b: b.u64(),
        c: b.u64(),
    };
    let v = b.u32();
    let mut page = [0u8; PAGE_SIZE];
    for (d, s) in page.iter_mut().zip(b.rest().iter().cycle()) {
        *d = *s;
    }
    let orig = page;
    {
        let m = MsgArg::new(&mut page, base);
        let at = |o: usize| base.saturating_add(o);
        assert_eq!(u64::from(m.cmd()), le(&orig, at(0), 4));
        assert_eq!(u64::from(m.func()), le(&orig, at(4), 4));
        assert_eq!(u64::from(m.session()), le(&orig, at(8), 4));
        assert_eq!(u64::from(m.ret()), le(&orig, at(20), 4));
        assert_eq!(u64::from(m.ret_origin()), le(&orig, at(24), 4));
        assert_eq!(u64::from(m.num_params()), le(&orig, at(28), 4));
        let o = at(32 + 32 * i);
        let q = m.param(i);
        assert_eq!(q.attr, le(&orig, o, 8));
        assert_eq!(q.a, le(&orig, o + 8, 8));
        assert_eq!(q.b, le(&orig, o + 16, 8));
        assert_eq!(q.c, le(&orig, o + 24, 8));
        assert_eq!(q.ty(), q.attr & msg::ATTR_TYPE_MASK);
    }
    // Writes: each in-page word takes the value, nothing else changes.
    let o = base + 32 + 32 * i;
    let fits = |o: usize, n: usize| o + n <= PAGE_SIZE;
    {
        let mut m = MsgArg::new(&mut page, base);
        m.set_param(i, p);
        m.set_ret(v);
        m.set_num_params(v ^ 1);
        let got = m.param(i);
        for (k, (w, g)) in [p.attr, p.a, p.b, p.c]
            .iter()
            .zip([got.attr, got.a, got.b, got.c])
            .enumerate()
        {
            if fits(o + 8 * k, 8) {
                assert_eq!(*w, g);
            } else {
                assert_eq!(g, 0);
            }
        }
        if fits(base + 20, 4) {
            assert_eq!(m.ret(), v);
        }
        if fits(base + 28, 4) {
            assert_eq!(m.num_params(), v ^ 1);
        }
    }
    let mut written = [false; PAGE_SIZE];
    for (s, n) in [
        (o, 8),
        (o + 8, 8),
        (o + 16, 8),
        (o + 24, 8),
        (base + 20, 4),
        (base + 28, 4),
    ] {
        if fits(s, n) {
            written[s..s + n].iter_mut().for_each(|x| *x = true);
        }
    }
    for k in 0..PAGE_SIZE {
        if !written[k] {
            assert_eq!(
                page[k], orig[k],
                "byte {k} changed (base {base}, param {i})"
            );
        }
    }
}

fn page_list(b: &mut Bytes<'_>) {
    let buf_ptr = b.u64();
    let size = match b.pick(3) {
        0 => u64::from(b.u32()),
        1 => u64::MAX - u64::from(b.u16()),
        _ => b.u64(),
    };
    let max = usize::from(b.u16());
    let offset = buf_ptr & 0xfff;
    let span = u128::from(size) + u128::from(offset);
    let want = if span > u128::from(u64::MAX) {
        Err(PageListError::Overflow)
    } else {
        let pages = span.div_ceil(4096);
        if pages > max as u128 {
            Err(PageListError::TooManyPages)
        } else {
            // The list's page, if inside the 48-bit IPA space.
            let list = buf_ptr & !0xfff;
            Ok(((list < 1 << 48).then_some(list), offset, pages as usize))
        }
    };
    let got =
        PageList::new(buf_ptr, size, max).map(|p| (p.list().map(Ipa::raw), p.offset(), p.pages()));
    assert_eq!(got, want, "PageList::new({buf_ptr:#x}, {size:#x}, {max})");
    if let Ok((list, off, pages)) = got {
        assert_eq!(list.unwrap_or(0) & 0xfff, 0);
        assert!(off < 4096);
        // The pages cover offset..offset+size and not one page more.
        assert!(pages as u128 * 4096 >= span);
        assert!(pages == 0 || (pages as u128 - 1) * 4096 < span);
    }
}

fn words(b: &mut Bytes<'_>) {
    let (x, y, n, f) = (b.u64(), b.u64(), b.u32(), b.u32());
    // SMC32 register pairs.
    assert_eq!(split(regpair(x, y)), (x & 0xFFFF_FFFF, y & 0xFFFF_FFFF));
    let (hi, lo) = split(x);
    assert_eq!(regpair(hi, lo), x);
    // RPC return classification (OPTEE_SMC_RETURN_IS_RPC on w0).
    let w = x as u32;
    assert_eq!(ret::is_rpc(x), w >> 16 == 0xFFFF && w != 0xFFFF_FFFF);
    assert_eq!(ret::rpc_func(x), x as u32 & 0xFFFF);
    let f = f & 0xFFFF;
    assert_eq!(ret::rpc_func(ret::rpc_val(f)), f);
    assert_eq!(ret::is_rpc(ret::rpc_val(f)), f != 0xFFFF);
    // Argument sizes: exact, and within a page iff num_params <= 127.
    assert_eq!(msg::arg_size(n), Some(32 + 32 * n as usize));
    assert_eq!(
        msg::arg_size(n).is_some_and(|s| s <= PAGE_SIZE),
        n <= msg::MAX_PARAMS_PER_PAGE
    );
    // Guest addresses: inside the 48-bit IPA space only.
    let inside = |v: u64| v < 1 << 48;
    assert_eq!(Ipa::LIMIT, 1 << 48);
    assert_eq!(Ipa::page_aligned(x).is_some(), x & 0xfff == 0 && inside(x));
    assert_eq!(Ipa::new(x).map(Ipa::raw), inside(x).then_some(x));
    // Also below the limit, where the low bits are the fuzzer's.
    for v in [x, x & (Ipa::LIMIT - 1)] {
        let Some(a) = Ipa::new(v) else { continue };
        assert_eq!(a.page().raw() + a.page_offset(), v);
        assert_eq!(
            a.checked_add(y).map(Ipa::raw),
            v.checked_add(y).filter(|&s| inside(s))
        );
        let small = y & 0xffff;
        assert_eq!(
            a.checked_add(small).map(Ipa::raw),
            v.checked_add(small).filter(|&s| inside(s))
        );
    }
    // TA UUIDs.
    let u = TaUuid::from_words(x, y);
    assert_eq!(u.to_words(), (x, y));
    assert_eq!(TaUuid::from_words(u.to_words().0, u.to_words().1), u);
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    match b.pick(3) {
        0 => msg_arg(&mut b),
        1 => page_list(&mut b),
        _ => words(&mut b),
    }
});
