//! Fuzzes the decoding of non-contiguous buffer page lists
//! (`OPTEE_MSG_ATTR_NONCONTIG`: 511 page addresses and a next-page pointer
//! per 4 KiB list page, `translate_noncontig`) in a REGISTER_SHM or in an
//! INVOKE with a TMEM_INPUT memref. The input picks `buf_ptr`'s offset and
//! first list page, the size, and the contents of 8 list pages (entries:
//! guest RAM pages, unaligned addresses, addresses outside RAM, a device
//! page, raw values; next pointers likewise), so chains, loops and
//! truncated lists all occur.
//!
//! Invariants beyond "no panic", against a reference walk of the same list:
//! - the mediator accepts exactly the lists the reference accepts; a
//!   rejected list answers `TEEC_ERROR_BAD_PARAMETERS` (malformed, overflow,
//!   unpinnable page) or `TEEC_ERROR_OUT_OF_MEMORY` (more pages than the
//!   per-buffer limit) with origin COMMS and never reaches OP-TEE;
//! - an accepted list names exactly the guest pages the guest listed: the
//!   bytes OP-TEE reads through the translated list (INVOKE, and RMEM over
//!   the registration) equal the bytes of those guest pages, and OP-TEE's
//!   ownership check (every page is RAM of the calling guest) holds;
//! - an accepted registration pins exactly `pages` pages until
//!   UNREGISTER_SHM; a temporary memref's pins are gone after the call;
//! - teardown releases everything.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish, teardown, world, Bytes, DEVICE, G, PAGES, PATTERNED, RAM};
use libfuzzer_sys::fuzz_target;
use mediator::abi::{msg, ret, teec, Param};
use mediator::sim::FN_ECHO;

/// Per-buffer page limit: two list pages are needed beyond 511 pages.
const MAX_PAGES: usize = 600;
const ARG: u64 = RAM;
/// The 8 list pages the input fills.
const LISTS: u64 = RAM + 48 * 4096;
const COOKIE: u64 = 0x55;

/// A page-list entry from one byte.
fn entry(e: u8) -> u64 {
    let i = u64::from(e & 0x3f);
    match e >> 6 {
        // Any patterned RAM page (data, argument or list pages alike).
        0 | 1 => RAM + i * 4096,
        2 => match i {
            0 => DEVICE,
            1 => 0,
            2 => !0xfff,
            3 => RAM - 4096,
            // RAM the driver uses, or beyond RAM.
            _ => RAM + (PATTERNED + i) * 4096,
        },
        _ => RAM + (i % 8) * 4096 + 8 * (1 + i / 8),
    }
}

fn next(e: u8) -> u64 {
    match e % 8 {
        0..=4 => LISTS + u64::from(e / 8 % 8) * 4096,
        5 => LISTS + u64::from(e / 8 % 8) * 4096 + 8,
        6 => DEVICE,
        _ => RAM + PAGES * 4096 + 4096,
    }
}

/// The guest's view: which IPAs can be read and pinned.
fn pinnable(ipa: u64) -> bool {
    ipa & 0xfff == 0 && (RAM..RAM + PAGES * 4096).contains(&ipa)
}

enum Want {
    Accept(Vec<u64>),
    Reject(u32),
}

/// The reference walk (optee_msg.h NONCONTIG; Xen translate_noncontig).
fn reference(w: &mut mediator::sim::World, buf_ptr: u64, size: u64) -> Want {
    let off = buf_ptr & 0xfff;
    let Some(span) = size.checked_add(off) else {
        return Want::Reject(teec::ERROR_BAD_PARAMETERS);
    };
    let pages = span.div_ceil(4096) as usize;
    if pages > MAX_PAGES {
        return Want::Reject(teec::ERROR_OUT_OF_MEMORY);
    }
    let mut out = Vec::new();
    let mut lp = buf_ptr & !0xfff;
    while out.len() < pages {
        if !pinnable(lp) {
            return Want::Reject(teec::ERROR_BAD_PARAMETERS);
        }
        let mut page = [0u8; 4096];
        w.p.mem.peek(G, lp, &mut page);
        let word = |j: usize| u64::from_le_bytes(page[j * 8..j * 8 + 8].try_into().unwrap());
        let n = (pages - out.len()).min(msg::PAGELIST_ENTRIES);
        for j in 0..n {
            let e = word(j);
            if !pinnable(e) {
                return Want::Reject(teec::ERROR_BAD_PARAMETERS);
            }
            out.push(e);
        }
        lp = word(msg::PAGELIST_ENTRIES);
    }
    Want::Accept(out)
}

/// The bytes `off..off+size` of the buffer made of guest pages `pages`.
fn expected(w: &mut mediator::sim::World, pages: &[u64], off: u64, size: u64) -> Vec<u8> {
    let mut v = Vec::new();
    for p in pages {
        let mut page = [0u8; 4096];
        w.p.mem.peek(G, *p, &mut page);
        v.extend_from_slice(&page);
    }
    v[off as usize..(off + size) as usize].to_vec()
}

fuzz_target!(|data: &[u8]| {
    let (mut w, session) = world(MAX_PAGES);
    let pins0 = w.p.mem.pins(G);
    let mut b = Bytes::new(data);
    let register = b.pick(2) == 0;
    let first = u64::from(b.u8() % 8);
    let off = u64::from(b.u16() & 0xfff);
    let size = match b.pick(8) {
        0 => b.u64(),
        1 => u64::MAX - u64::from(b.u16()),
        2 => 0,
        3 => (u64::from(b.u16()) * 4096).saturating_sub(off.min(u64::from(b.u8()))),
        _ => u64::from(b.u16()) % (16 * 4096),
    };
    // Up to 8 list pages: explicit entries, then a fill rule, then the next
    // pointer.
    for l in 0..8 {
        let mut page = [0u8; 4096];
        let k = usize::from(b.u8());
        for j in 0..k {
            page[j * 8..j * 8 + 8].copy_from_slice(&entry(b.u8()).to_le_bytes());
        }
        let fill = b.u8();
        for j in k..msg::PAGELIST_ENTRIES {
            let e = if fill & 1 == 0 {
                // Consecutive data pages (wrapping inside pages 8..48).
                RAM + (8 + (u64::from(fill >> 1) + j as u64) % 40) * 4096
            } else {
                0
            };
            page[j * 8..j * 8 + 8].copy_from_slice(&e.to_le_bytes());
        }
        let nx = next(b.u8());
        page[msg::PAGELIST_ENTRIES * 8..].copy_from_slice(&nx.to_le_bytes());
        w.p.mem.poke(G, LISTS + l * 4096, &page);
    }
    let buf_ptr = LISTS + first * 4096 + off;
    let want = reference(&mut w, buf_ptr, size);
    let memref = Param {
        attr: if register {
            msg::ATTR_TYPE_TMEM_INOUT
        } else {
            msg::ATTR_TYPE_TMEM_INPUT
        } | msg::ATTR_NONCONTIG,
        a: buf_ptr,
        b: size,
        c: COOKIE,
    };
    let smcs = w.p.optee.smc_count;
    let seen = w.p.optee.seen.len();
    if register {
        w.write_arg(G, ARG, msg::CMD_REGISTER_SHM, 0, 0, &[memref]);
    } else {
        common::invoke(&mut w, ARG, session, FN_ECHO, &[memref]);
    }
    let r = w.call(G, common::call_with_arg(ARG));
    check(&w);
    let r = finish(&mut w, G, r);
    let o = w.read_arg(G, ARG, 1);
    if common::debug() {
        let w = match &want {
            Want::Accept(p) => format!("accept {} pages", p.len()),
            Want::Reject(c) => format!("reject {c:#x}"),
        };
        eprintln!("register {register} buf_ptr {buf_ptr:#x} size {size:#x}: want {w}, got x0 {:#x} ret {:#x}", r[0], o.ret);
    }
    assert_eq!(r[0], ret::OK);
    match want {
        Want::Reject(code) => {
            assert_eq!((o.ret, o.origin), (code, teec::ORIGIN_COMMS), "{o:x?}");
            assert_eq!(w.p.optee.smc_count, smcs, "rejected list reached OP-TEE");
            assert_eq!(w.p.mem.pins(G), pins0, "rejected list left pins");
        }
        Want::Accept(pages) => {
            assert_eq!(o.ret, 0, "list rejected: {o:x?} ({} pages)", pages.len());
            if register {
                assert_eq!(w.p.mem.pins(G), pins0 + pages.len(), "registration pins");
                // Read the registration through OP-TEE's list (RMEM_INPUT).
                let rmem = Param {
                    attr: msg::ATTR_TYPE_RMEM_INPUT,
                    a: off,
                    b: size,
                    c: COOKIE,
                };
                common::invoke(&mut w, ARG, session, FN_ECHO, &[rmem]);
                let r = w.call(G, common::call_with_arg(ARG));
                let r = finish(&mut w, G, r);
                let o = w.read_arg(G, ARG, 1);
                assert_eq!((r[0], o.ret), (0, 0), "RMEM over the registration");
                let want = expected(&mut w, &pages, off, size);
                let s = w.p.optee.seen.last().expect("seen");
                assert!(s.input == want, "registered pages differ");
                // Unregister: the pins go.
                let unreg = Param {
                    attr: msg::ATTR_TYPE_RMEM_INPUT,
                    a: 0,
                    b: 0,
                    c: COOKIE,
                };
                w.write_arg(G, ARG, msg::CMD_UNREGISTER_SHM, 0, 0, &[unreg]);
                let o = w.run(G, ARG, 1);
                assert_eq!((o.x0, o.ret), (0, 0), "unregister");
                assert_eq!(w.p.mem.pins(G), pins0, "unregister left pins");
            } else {
                let want = expected(&mut w, &pages, off, size);
                let s = w.p.optee.seen.get(seen).expect("OP-TEE saw the call");
                assert!(s.input == want, "memref pages differ");
                assert_eq!(w.p.mem.pins(G), pins0, "temporary memref left pins");
            }
        }
    }
    check(&w);
    teardown(w);
});
