//! Fuzzes the decoding of a guest's answers to OP-TEE RPCs
//! (`RETURN_FROM_RPC`: a1/a2 page and a4/a5 cookie of RPC_FUNC_ALLOC, a3
//! thread ID, and the RPC argument the guest writes back for
//! RPC_FUNC_CMD: `ret`, `num_params`, parameters, the SHM_ALLOC memref and
//! its page list). One or two calls whose TA functions issue RPCs
//! (SHM_ALLOC/SHM_FREE with a foreign interrupt, GET_TIME, NOTIFICATION and
//! SUSPEND) run through CALL_WITH_ARG or CALL_WITH_RPC_ARG; at every RPC the
//! input chooses between the well-behaved driver's answer, a raw
//! RETURN_FROM_RPC, a rewritten RPC argument, or a fuzzed SHM_ALLOC answer.
//!
//! Invariants beyond "no panic":
//! - a RETURN_FROM_RPC naming no suspended thread answers ERESUME and
//!   leaves everything as it was (same suspended calls, same pins);
//! - OP-TEE records no protocol violation (RPC arguments and SHM_ALLOC
//!   lists in mediator memory, no contiguous buffer, pages of the caller);
//! - pins: platform equals accounting after every step;
//! - whatever the guest answered, a well-behaved driver can afterwards
//!   drive every call to completion, and teardown releases everything.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish, teardown, world, Bytes, DEVICE, G, RAM};
use libfuzzer_sys::fuzz_target;
use mediator::abi::{msg, regpair, ret, rpc, smc, split, Param};
use mediator::sim::{FN_FOREIGN_INTR, FN_GET_TIME, FN_RPC_CMDS, FN_SHM_RPC};

const FUNCS: [u32; 4] = [FN_SHM_RPC, FN_GET_TIME, FN_RPC_CMDS, FN_FOREIGN_INTR];
const ARGS: [u64; 2] = [RAM + 2 * 4096, RAM + 3 * 4096];

fn page(b: &mut Bytes<'_>) -> u64 {
    match b.pick(6) {
        0 => RAM + b.pick(128) as u64 * 4096,
        1 => RAM + b.pick(128) as u64 * 4096 + 8,
        2 => DEVICE,
        3 => b.u64(),
        _ => RAM + (64 + b.pick(64) as u64) * 4096,
    }
}

/// Where the guest's RPC argument for the RPC in `r` lives: the RPC buffer
/// the driver gave for OP-TEE's cookie, or the call's own RPC area.
fn rpc_arg(w: &mut mediator::sim::World, r: &mediator::Regs, call: u64, rpc_arg: bool) -> u64 {
    let cookie = regpair(r[1], r[2]);
    let drv = w.drivers.get(&G);
    match drv.and_then(|d| d.rpc_pages.get(&cookie).copied()) {
        Some(p) => p,
        None if rpc_arg => call + 32 + 32,
        None => RAM,
    }
}

fuzz_target!(|data: &[u8]| {
    let (mut w, session) = world(8);
    let mut b = Bytes::new(data);
    // Start one or two calls.
    let ncalls = 1 + b.pick(2);
    let mut last = [[0u64; 8]; 2];
    let mut with_rpc = [false; 2];
    for c in 0..ncalls {
        let func = FUNCS[b.pick(FUNCS.len())];
        with_rpc[c] = b.pick(2) == 0;
        common::invoke(
            &mut w,
            ARGS[c],
            session,
            func,
            &[common::value(msg::ATTR_TYPE_VALUE_INPUT, 1, 2, 3)],
        );
        let (hi, lo) = split(ARGS[c]);
        let fid = if with_rpc[c] {
            smc::CALL_WITH_RPC_ARG
        } else {
            smc::CALL_WITH_ARG
        };
        last[c] = w.call(G, [u64::from(fid), hi, lo, 0, 0, 0, 0, 0]);
        check(&w);
    }
    let mut steps = 0;
    while !b.done() && steps < 48 {
        steps += 1;
        let c = b.pick(ncalls);
        let r = last[c];
        if !ret::is_rpc(r[0]) {
            continue;
        }
        let rfr = u64::from(smc::RETURN_FROM_RPC);
        let a = match b.pick(5) {
            0 => w.answer_rpc(G, &r),
            1 => {
                // Raw RETURN_FROM_RPC registers.
                let (hi, lo) = split(page(&mut b));
                let t = if b.pick(3) == 0 { b.u64() } else { r[3] };
                let (chi, clo) = split(u64::from(b.u8() % 4) + 0x1000 * 2 + 1);
                [rfr, hi, lo, t, chi, clo, b.u64(), b.u64()]
            }
            2 => {
                // The guest rewrites its RPC argument (header and 2 params).
                let at = rpc_arg(&mut w, &r, ARGS[c], with_rpc[c]);
                let mut a = [0u8; 96];
                for x in a.iter_mut() {
                    *x = b.u8();
                }
                if b.pick(2) == 0 {
                    // Keep OP-TEE's command and a sane count.
                    let mut h = [0u8; 32];
                    w.p.mem.peek(G, at, &mut h);
                    a[..4].copy_from_slice(&h[..4]);
                    a[28..32].copy_from_slice(&(b.pick(3) as u32).to_le_bytes());
                }
                w.p.mem.poke(G, at, &a);
                [rfr, 0, 0, r[3], 0, 0, 0, 0]
            }
            3 => {
                // A fuzzed SHM_ALLOC answer: one memref and its list.
                let at = rpc_arg(&mut w, &r, ARGS[c], with_rpc[c]);
                let list = RAM + (100 + b.pick(8) as u64) * 4096;
                let mut l = [0u8; 32];
                for j in 0..4 {
                    l[j * 8..j * 8 + 8].copy_from_slice(&page(&mut b).to_le_bytes());
                }
                w.p.mem.poke(G, list, &l);
                let attrs = [
                    msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
                    msg::ATTR_TYPE_TMEM_OUTPUT,
                    msg::ATTR_TYPE_TMEM_INOUT | msg::ATTR_NONCONTIG,
                    msg::ATTR_TYPE_RMEM_OUTPUT,
                    b.u64(),
                ];
                let p = Param {
                    attr: attrs[b.pick(attrs.len())],
                    a: if b.pick(4) == 0 {
                        b.u64()
                    } else {
                        list + u64::from(b.u16() & 0xfff)
                    },
                    b: if b.pick(4) == 0 {
                        b.u64()
                    } else {
                        u64::from(b.u16())
                    },
                    c: u64::from(b.u8() % 4) + 0x2000,
                };
                let mut h = [0u8; 32];
                w.p.mem.peek(G, at, &mut h);
                let mut m = [0u8; 4096];
                let mut a = mediator::abi::MsgArg::new(&mut m, 0);
                a.set_cmd(if b.pick(4) == 0 {
                    u32::from(b.u8() % 8)
                } else {
                    rpc::CMD_SHM_ALLOC
                });
                a.set_ret(if b.pick(4) == 0 { b.u32() } else { 0 });
                a.set_num_params(if b.pick(4) == 0 { b.pick(6) as u32 } else { 1 });
                a.set_param(0, p);
                w.p.mem.poke(G, at, &m[..64]);
                [rfr, 0, 0, r[3], 0, 0, 0, 0]
            }
            _ => {
                // Another function while the call is suspended.
                let f = [
                    smc::DISABLE_SHM_CACHE,
                    smc::ENABLE_SHM_CACHE,
                    smc::CALL_WITH_ARG,
                ];
                let f = f[b.pick(f.len())];
                let (hi, lo) = split(ARGS[1 - c]);
                let out = w.call(G, [u64::from(f), hi, lo, 0, 0, 0, 0, 0]);
                check(&w);
                if ret::is_rpc(out[0]) {
                    let out = finish(&mut w, G, out);
                    assert!(!ret::is_rpc(out[0]));
                }
                continue;
            }
        };
        let suspended = w.m.suspended_calls(G);
        let pins = w.p.mem.pins(G);
        let known = u32::try_from(a[3])
            .is_ok_and(|_| last.iter().any(|l| ret::is_rpc(l[0]) && l[3] == a[3]));
        let out = w.call(G, a);
        check(&w);
        if common::debug() {
            eprintln!(
                "call {c} rpc {:#x}: answer {a:x?} -> {out:x?} (known {known})",
                r[0]
            );
        }
        if !known {
            assert_eq!(
                out[0],
                ret::ERESUME,
                "resume of an unknown thread: {a:x?} -> {out:x?}"
            );
            assert_eq!(w.m.suspended_calls(G), suspended);
            assert_eq!(w.p.mem.pins(G), pins);
            continue;
        }
        // The thread answered may belong to the other call.
        let owner = if last[c][3] == a[3] { c } else { 1 - c };
        last[owner] = out;
    }
    if common::debug() {
        eprintln!(
            "driver cmds {:?}",
            w.drivers.get(&G).map(|d| d.cmds.clone())
        );
    }
    // A well-behaved driver finishes every call.
    for (c, l) in last.iter().enumerate().take(ncalls) {
        if ret::is_rpc(l[0]) {
            let out = finish(&mut w, G, *l);
            assert!(!ret::is_rpc(out[0]), "call {c} did not complete: {out:x?}");
        }
    }
    assert_eq!(w.m.suspended_calls(G), 0);
    teardown(w);
});
