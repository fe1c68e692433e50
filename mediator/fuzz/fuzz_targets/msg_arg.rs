//! Fuzzes the decoding of a guest's `struct optee_msg_arg` in a standard
//! call (`CALL_WITH_ARG`, `CALL_WITH_RPC_ARG`, `CALL_WITH_REGD_ARG`): the
//! input is the argument's raw bytes (header and parameters, any
//! `num_params`, command and attributes), placed at a fuzzed offset; a
//! well-behaved driver then answers every RPC until the call completes.
//!
//! Invariants beyond "no panic":
//! - reference decisions: `num_params` whose argument (plus the RPC area)
//!   does not fit the page → x0 OK with `ret = TEEC_ERROR_BAD_PARAMETERS`,
//!   `ret_origin = TEEC_ORIGIN_COMMS`, nothing reaches OP-TEE; an unknown
//!   command → x0 EBADCMD, nothing reaches OP-TEE; a misaligned
//!   CALL_WITH_ARG/RPC_ARG address → EBADADDR;
//! - copy-back discipline: after the call, the guest's argument differs
//!   from what it wrote only in `session`, `ret`, `ret_origin`, the size of
//!   output memrefs, the values of output value parameters and the RPC area
//!   (checked when no output memref could have written data into the
//!   argument's own page);
//! - OP-TEE records no protocol violation, the call completes, no
//!   temporary buffer stays pinned, teardown releases everything.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use common::{check, finish, teardown, world, Bytes, G, RAM};
use libfuzzer_sys::fuzz_target;
use mediator::abi::{msg, regpair, ret, smc, split, teec, PAGE_SIZE};

const ARG: u64 = RAM + 2 * 4096;
const REG_COOKIE: u64 = 0x77;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from(u32_at(b, o)) | (u64::from(u32_at(b, o + 4)) << 32)
}

fuzz_target!(|data: &[u8]| {
    let (mut w, session) = world(8);
    // A registered 2-page buffer holding the argument page, for REGD_ARG.
    let p = w.tmem(
        G,
        msg::ATTR_TYPE_TMEM_INOUT,
        RAM + 40 * 4096,
        ARG,
        2 * 4096,
        REG_COOKIE,
    );
    w.write_arg(G, RAM + 4 * 4096, msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    let o = w.run(G, RAM + 4 * 4096, 1);
    assert_eq!((o.x0, o.ret), (0, 0), "setup: register");
    let pins0 = w.p.mem.pins(G);

    let mut b = Bytes::new(data);
    let variant = b.pick(3);
    let offset = match variant {
        0 => {
            if b.pick(8) == 0 {
                u64::from(b.u16() & 0xfff)
            } else {
                0
            }
        }
        _ => u64::from(b.u16() & 0xfff) & !if b.pick(8) == 0 { 0 } else { 7 },
    };
    // Fill in the session and a valid command by default so that the
    // fuzzer starts from calls that reach OP-TEE.
    let keep_session = b.pick(2) == 0;
    let raw = b.rest();
    // The header may cross into the next page (an RPC_ARG/REGD_ARG address
    // near the end of its page); the mediator then rejects the size.
    let room = PAGE_SIZE - offset as usize;
    let len = room.max(32);
    let mut arg = vec![0u8; len];
    for (d, s) in arg.iter_mut().zip(raw.iter()) {
        *d = *s;
    }
    if keep_session {
        arg[8..12].copy_from_slice(&session.to_le_bytes());
    }
    let ipa = ARG + offset;
    w.p.mem.poke(G, ipa, &arg);
    let regs = match variant {
        0 => common::call_with_arg(ipa),
        1 => {
            let (hi, lo) = split(ipa);
            [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0]
        }
        _ => {
            let (hi, lo) = split(REG_COOKIE);
            [
                u64::from(smc::CALL_WITH_REGD_ARG),
                hi,
                lo,
                offset,
                0,
                0,
                0,
                0,
            ]
        }
    };
    let before = w.p.optee.smc_count;
    let seen_before = w.p.optee.seen.len();
    let out = w.call(G, regs);
    check(&w);
    let out = finish(&mut w, G, out);
    assert!(!ret::is_rpc(out[0]), "call did not complete: {out:x?}");
    assert_eq!(w.m.suspended_calls(G), 0);

    if common::debug() {
        eprintln!(
            "variant {variant} offset {offset:#x} cmd {} n {}: x0 {:#x}, smcs {}, ret {:#x}",
            u32_at(&arg, 0),
            u32_at(&arg, 28),
            out[0],
            w.p.optee.smc_count - before,
            w.read_arg(G, ipa, 0).ret
        );
    }
    // Reference decisions.
    let misaligned = match variant {
        0 => offset != 0,
        _ => offset & 7 != 0,
    };
    let rpc_size = if variant == 0 { 0 } else { 32 + 32 * 4 };
    let mut after = vec![0u8; len];
    w.p.mem.peek(G, ipa, &mut after);
    if misaligned {
        assert_eq!(out[0], ret::EBADADDR);
        assert_eq!(w.p.optee.smc_count, before);
        assert_eq!(after, arg, "rejected call changed the argument");
    } else {
        let n = u32_at(&arg, 28) as usize;
        let cmd = u32_at(&arg, 0);
        let fits = 32 + 32 * n + rpc_size <= room;
        if !fits {
            assert_eq!(out[0], ret::OK);
            assert_eq!(u32_at(&after, 20), teec::ERROR_BAD_PARAMETERS);
            assert_eq!(u32_at(&after, 24), teec::ORIGIN_COMMS);
            assert_eq!(
                w.p.optee.smc_count, before,
                "oversized argument reached OP-TEE"
            );
        } else if cmd > msg::CMD_STOP_ASYNC_NOTIF {
            assert_eq!(out[0], ret::EBADCMD);
            assert_eq!(
                w.p.optee.smc_count, before,
                "unknown command reached OP-TEE"
            );
            assert_eq!(after, arg, "rejected call changed the argument");
        } else {
            assert!(
                out[0] == ret::OK || out[0] == ret::EBADADDR,
                "x0 {:#x}",
                out[0]
            );
            // Copy-back discipline.
            let mut may = vec![false; len];
            let mut mark = |s: usize, l: usize| {
                may[s.min(len)..(s + l).min(len)]
                    .iter_mut()
                    .for_each(|x| *x = true)
            };
            mark(8, 4);
            mark(20, 8);
            if variant != 0 {
                mark(32 + 32 * n, rpc_size);
            }
            let mut output_memref = false;
            for i in 0..n {
                let o = 32 + 32 * i;
                if o + 32 > len {
                    break;
                }
                match u64_at(&arg, o) & msg::ATTR_TYPE_MASK {
                    msg::ATTR_TYPE_TMEM_OUTPUT
                    | msg::ATTR_TYPE_TMEM_INOUT
                    | msg::ATTR_TYPE_RMEM_OUTPUT
                    | msg::ATTR_TYPE_RMEM_INOUT => {
                        output_memref = true;
                        mark(o + 16, 8);
                    }
                    msg::ATTR_TYPE_VALUE_OUTPUT | msg::ATTR_TYPE_VALUE_INOUT => mark(o + 8, 24),
                    _ => {}
                }
            }
            if !output_memref {
                for k in 0..len {
                    assert!(
                        may[k] || after[k] == arg[k],
                        "byte {k} of the argument changed ({:#x} -> {:#x})",
                        arg[k],
                        after[k]
                    );
                }
            }
            // What OP-TEE saw came from the mediator's copy: same command,
            // same number of parameters.
            if let Some(s) = w.p.optee.seen.get(seen_before) {
                assert_eq!(s.cmd, cmd);
                assert_eq!(s.params.len(), n);
            }
        }
    }
    // Temporary buffers are gone; only the registration (unless the call
    // unregistered it or registered another one) keeps pins.
    let cmd_was = u32_at(&arg, 0);
    if cmd_was != msg::CMD_REGISTER_SHM && cmd_was != msg::CMD_UNREGISTER_SHM {
        assert_eq!(w.p.mem.pins(G), pins0, "temporary pins left");
    }
    let _ = regpair;
    teardown(w);
});
