//! Fuzzes the decoding of a trapped call's registers x0..x7
//! (`Mediator::handle_call`: SMCCC function-ID classification and the
//! per-function register decoding) with sequences of arbitrary register
//! sets from one guest, against the full simulators (a session and a
//! registered buffer exist, a valid argument waits in guest memory).
//!
//! Invariants beyond "no panic", for every call:
//! - a function ID the mediator does not serve (any x0 above 32 bits,
//!   VM_CREATED/VM_DESTROYED, unknown numbers) answers SMCCC
//!   UNKNOWN_FUNCTION, leaves x1..x7 as the guest gave them and never
//!   reaches OP-TEE; GET_SHM_CONFIG answers ENOTAVAIL and CALLS_COUNT the
//!   mediator's own count, neither reaching OP-TEE;
//! - x4..x7 of every answer are the guest's own values (nothing of OP-TEE's
//!   or the mediator's leaks through them);
//! - every SMC that reaches OP-TEE carries the guest's client ID in a7, and
//!   the simulated OP-TEE records no protocol violation;
//! - pins: platform count equals the mediator's accounting; at teardown
//!   everything is released and VM_DESTROYED sent once.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish, teardown, world, Bytes, G, RAM};
use libfuzzer_sys::fuzz_target;
use mediator::abi::{msg, ret, smc, split, SMCCC_UNKNOWN_FUNCTION};
use mediator::MEDIATOR_SMC_COUNT;

const SERVED: [u32; 16] = [
    smc::CALLS_COUNT,
    smc::CALLS_UID,
    smc::CALLS_REVISION,
    smc::GET_OS_UUID,
    smc::GET_OS_REVISION,
    smc::RETURN_FROM_RPC,
    smc::CALL_WITH_ARG,
    smc::GET_SHM_CONFIG,
    smc::EXCHANGE_CAPABILITIES,
    smc::DISABLE_SHM_CACHE,
    smc::ENABLE_SHM_CACHE,
    smc::GET_THREAD_COUNT,
    smc::ENABLE_ASYNC_NOTIF,
    smc::GET_ASYNC_NOTIF_VALUE,
    smc::CALL_WITH_RPC_ARG,
    smc::CALL_WITH_REGD_ARG,
];

/// Page holding a valid INVOKE argument; the registered buffer's cookie.
const ARG: u64 = RAM + 2 * 4096;
const REG_COOKIE: u64 = 0x77;

fn x0(b: &mut Bytes<'_>) -> u64 {
    match b.pick(4) {
        // A served function, possibly with garbage in the upper half.
        0 | 1 => {
            let f = u64::from(SERVED[b.pick(SERVED.len())]);
            if b.pick(4) == 0 {
                f | (u64::from(b.u32()) << 32)
            } else {
                f
            }
        }
        // Near a served one: other owners, other numbers, SMC64 bit.
        2 => u64::from(SERVED[b.pick(SERVED.len())] ^ (1u32 << b.pick(32))),
        _ => b.u64(),
    }
}

fn reg(b: &mut Bytes<'_>) -> u64 {
    match b.pick(5) {
        0 => 0,
        1 => u64::from(b.u8()),
        // Halves of a guest address (page, maybe unaligned).
        2 => split(RAM + b.pick(130) as u64 * 4096 + u64::from(b.u8() & 0x18)).1,
        3 => split(RAM).0,
        _ => b.u64(),
    }
}

fuzz_target!(|data: &[u8]| {
    let (mut w, session) = world(8);
    let client = mediator::ClientId::of(G).raw();
    // A registered buffer of 2 pages (cookie REG_COOKIE) for REGD_ARG.
    let p = w.tmem(
        G,
        msg::ATTR_TYPE_TMEM_INOUT,
        RAM + 40 * 4096,
        RAM + 2 * 4096,
        2 * 4096,
        REG_COOKIE,
    );
    w.write_arg(G, ARG, msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    let o = w.run(G, ARG, 1);
    assert_eq!((o.x0, o.ret), (0, 0), "setup: register");
    // A valid INVOKE in the same page (also what REGD_ARG offset 0 finds).
    common::invoke(
        &mut w,
        ARG,
        session,
        mediator::sim::FN_ECHO,
        &[common::value(msg::ATTR_TYPE_VALUE_INOUT, 1, 2, 3)],
    );
    let mut b = Bytes::new(data);
    let mut last = [0u64; 8];
    let mut steps = 0;
    while !b.done() && steps < 64 {
        steps += 1;
        let mut regs = [0u64; 8];
        regs[0] = x0(&mut b);
        for r in regs.iter_mut().skip(1) {
            *r = reg(&mut b);
        }
        if b.pick(4) == 0 {
            // Resume with the thread OP-TEE named.
            regs[3] = last[3];
        }
        let before = w.p.optee.smc_count;
        let out = w.call(G, regs);
        check(&w);
        let reached = w.p.optee.smc_count != before;
        if common::debug() {
            eprintln!("{regs:x?} -> {out:x?} (reached OP-TEE: {reached})");
        }
        assert_eq!(
            out[4..],
            regs[4..],
            "x4..x7 not the guest's: {regs:x?} -> {out:x?}"
        );
        if reached {
            assert_eq!(w.p.optee.last.1, client, "SMC with another client ID");
        }
        let served = u32::try_from(regs[0]).is_ok_and(|f| SERVED.contains(&f));
        if !served {
            assert_eq!(out[0], SMCCC_UNKNOWN_FUNCTION, "{regs:x?} -> {out:x?}");
            assert_eq!(out[1..], regs[1..]);
            assert!(!reached, "unknown function reached OP-TEE: {regs:x?}");
        } else if regs[0] == u64::from(smc::GET_SHM_CONFIG) {
            assert_eq!(out[0], ret::ENOTAVAIL);
            assert!(!reached);
        } else if regs[0] == u64::from(smc::CALLS_COUNT) {
            assert_eq!(out[0], MEDIATOR_SMC_COUNT);
            assert!(!reached);
        }
        last = out;
        if ret::is_rpc(out[0]) && b.pick(2) == 0 {
            last = finish(&mut w, G, out);
        }
    }
    finish(&mut w, G, last);
    teardown(w);
});
