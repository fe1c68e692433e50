//! CALL_WITH_ARG (Xen handle_std_call, translate_params,
//! translate_noncontig, copy_std_request_back, do_call_with_arg).

use super::*;
use crate::abi::{ret, smc, split, teec};
use crate::sim::{Owner, FN_ECHO, FN_NOP};
use crate::Limits;

fn call_with_arg(w: &mut World, dom: DomId, ipa: u64) -> crate::Regs {
    let (hi, lo) = split(ipa);
    w.call(dom, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0])
}

#[test]
fn unaligned_argument_is_ebadaddr() {
    let mut w = world();
    assert_eq!(call_with_arg(&mut w, G1, arg(0) + 8)[0], ret::EBADADDR);
    assert_eq!(w.p.optee.busy_threads(), 0);
}

#[test]
fn unreadable_argument_is_ebadaddr() {
    let mut w = world();
    assert_eq!(call_with_arg(&mut w, G1, 0x1000)[0], ret::EBADADDR);
    w.p.mem.inject_fault(G1, arg(3));
    assert_eq!(call_with_arg(&mut w, G1, arg(3))[0], ret::EBADADDR);
    w.p.mem.map_device(G1, 0x9000_0000);
    assert_eq!(call_with_arg(&mut w, G1, 0x9000_0000)[0], ret::EBADADDR);
    assert_eq!(w.m.cached_shadow_pages(), w.p.mem.shadow_outstanding());
}

#[test]
fn num_params_beyond_page_is_bad_parameters() {
    let mut w = world();
    w.write_arg(G1, arg(0), msg::CMD_INVOKE_COMMAND, 0, 0, &[]);
    w.p.mem.poke(G1, arg(0) + 28, &128u32.to_le_bytes());
    let r = call_with_arg(&mut w, G1, arg(0));
    assert_eq!(r[0], ret::OK);
    let o = w.read_arg(G1, arg(0), 0);
    assert_eq!(
        (o.ret, o.origin),
        (teec::ERROR_BAD_PARAMETERS, teec::ORIGIN_COMMS)
    );
    assert!(w.p.optee.seen.is_empty());
    // 127 parameters fill the page exactly and are accepted.
    let params = vec![value(msg::ATTR_TYPE_NONE, 0); 127];
    w.write_arg(G1, arg(0), msg::CMD_CANCEL, 0, 0, &params);
    assert_eq!(call_with_arg(&mut w, G1, arg(0))[0], ret::OK);
    assert_eq!(w.p.optee.seen.len(), 1);
}

#[test]
fn unknown_command_is_ebadcmd() {
    let mut w = world();
    w.write_arg(G1, arg(0), 99, 0, 0, &[]);
    assert_eq!(call_with_arg(&mut w, G1, arg(0))[0], ret::EBADCMD);
    assert!(w.p.optee.seen.is_empty());
}

#[test]
fn open_invoke_close_session() {
    let mut w = world();
    let s = open(&mut w, G1);
    let o = invoke(
        &mut w,
        G1,
        s,
        FN_ECHO,
        &[value(msg::ATTR_TYPE_VALUE_INOUT, 41)],
    );
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(o.params[0].a, 42);
    assert_eq!(o.params[0].b, 2, "OP-TEE saw client ID domid + 1");
    assert_eq!(w.p.optee.seen.last().unwrap().client, 2);
    w.write_arg(G1, arg(1), msg::CMD_CLOSE_SESSION, 0, s, &[]);
    let o = w.run(G1, arg(1), 0);
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(w.p.optee.sessions(2), 0);
    assert_clean(&w);
}

#[test]
fn cancel_passed_through() {
    let mut w = world();
    w.write_arg(G1, arg(0), msg::CMD_CANCEL, 0, 0, &[]);
    assert_eq!(w.run(G1, arg(0), 0).ret, 0);
    assert_eq!(w.p.optee.seen[0].cmd, msg::CMD_CANCEL);
}

/// Addresses beyond the 48-bit IPA space (`Ipa::LIMIT`) are refused where they are parsed, with
/// the answer a failed access gives: the argument (EBADADDR), a page list with pages
/// (BAD_PARAMETERS, as an unreadable list), an entry of a list (BAD_PARAMETERS, as an
/// unpinnable page). A NONCONTIG buffer of 0 pages needs no list and still goes through, as in
/// Xen, whatever its `buf_ptr`.
#[test]
fn addresses_beyond_the_ipa_space() {
    let mut w = world();
    let s = open(&mut w, G1);
    for a in [crate::Ipa::LIMIT, 0xFFFF_FFFF_FFFF_F000] {
        let (hi, lo) = split(a);
        let r = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
        assert_eq!(r[0], ret::EBADADDR, "{a:#x}");
    }
    // The list itself beyond the space.
    let mut p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 4096, 1);
    p.a = crate::Ipa::LIMIT;
    let o = invoke(&mut w, G1, s, FN_NOP, &[p]);
    assert_eq!((o.x0, o.ret), (0, teec::ERROR_BAD_PARAMETERS));
    // An entry beyond it.
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 2 * 4096, 1);
    w.p.mem
        .poke(G1, list(0) + 8, &crate::Ipa::LIMIT.to_le_bytes());
    let o = invoke(&mut w, G1, s, FN_NOP, &[p]);
    assert_eq!((o.x0, o.ret), (0, teec::ERROR_BAD_PARAMETERS));
    assert_eq!(w.p.mem.pins(G1), 0);
    // 0 pages: no list is read.
    let n = w.p.optee.seen.len();
    let empty = Param {
        attr: msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
        a: 0xFFFF_FFFF_FFFF_F000,
        b: 0,
        c: 2,
    };
    let o = invoke(&mut w, G1, s, FN_NOP, &[empty]);
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(w.p.optee.seen.len(), n + 1);
    assert_clean(&w);
}

#[test]
fn old_style_tmem_rejected_null_memref_allowed() {
    let mut w = world();
    let s = open(&mut w, G1);
    let old = Param {
        attr: msg::ATTR_TYPE_TMEM_INPUT,
        a: data(0),
        b: 16,
        c: 1,
    };
    let o = invoke(&mut w, G1, s, FN_NOP, &[old]);
    assert_eq!(
        (o.x0, o.ret, o.origin),
        (0, teec::ERROR_BAD_PARAMETERS, teec::ORIGIN_COMMS)
    );
    let n = w.p.optee.seen.len();
    // A null memref, contiguous or not, goes through untouched.
    for attr in [
        msg::ATTR_TYPE_TMEM_OUTPUT,
        msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG,
    ] {
        let null = Param {
            attr,
            a: 0,
            b: 0,
            c: 7,
        };
        let o = invoke(&mut w, G1, s, FN_NOP, &[null]);
        assert_eq!((o.x0, o.ret), (0, 0));
    }
    assert_eq!(w.p.optee.seen.len(), n + 2);
    assert_eq!(w.p.optee.seen.last().unwrap().params[0].a, 0);
    assert_clean(&w);
}

#[test]
fn memref_translated_pinned_and_unpinned_after_call() {
    let mut w = world();
    let s = open(&mut w, G1);
    w.p.mem.poke(G1, data(0) + 0x10, b"secret-input");
    let pin = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INPUT,
        list(0),
        data(0) + 0x10,
        12,
        5,
    );
    let pout = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_OUTPUT,
        list(1),
        data(4),
        3 * 4096,
        6,
    );
    let o = invoke(&mut w, G1, s, FN_ECHO, &[pin, pout]);
    assert_eq!((o.x0, o.ret), (0, 0));
    let seen = w.p.optee.seen.last().unwrap().clone();
    assert_eq!(seen.input, b"secret-input");
    // OP-TEE got a page list in mediator memory, with the offset kept.
    assert_eq!(w.p.mem.owner_of(seen.params[0].a), Some(Owner::Shadow));
    assert_eq!(seen.params[0].a & 0xfff, 0x10);
    // The output was written into the guest's pages.
    let mut b = [0u8; 4];
    w.p.mem.peek(G1, data(6) + 100, &mut b);
    assert_eq!(b, [0xA5; 4]);
    // The guest's buf_ptr is not replaced by a machine address.
    assert_eq!(o.params[0].a, list(0) + 0x10);
    assert_eq!(w.p.mem.pins(G1), 0, "temporary pins dropped on completion");
    assert_eq!(w.m.shm_pages(G1), 0);
    assert_clean(&w);
}

#[test]
fn page_list_spanning_several_list_pages() {
    let limits = Limits {
        max_pages_per_buffer: 600,
        ..Limits::default()
    };
    let mut w = world_with(Config {
        default_limits: limits,
        labels: vec![],
        ..Config::default()
    });
    let s = open(&mut w, G1);
    for i in 0..600u64 {
        w.p.mem.poke(G1, data(0) + i * 4096, &[(i % 251) as u8]);
    }
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INPUT,
        list(0),
        data(0),
        600 * 4096,
        9,
    );
    let o = invoke(&mut w, G1, s, FN_ECHO, &[p]);
    assert_eq!((o.x0, o.ret), (0, 0));
    let seen = &w.p.optee.seen.last().unwrap().input;
    assert_eq!(seen.len(), 600 * 4096);
    assert_eq!(seen[599 * 4096], (599 % 251) as u8);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn page_lists_are_pinned_a_list_page_per_batch_and_unpinned_in_one() {
    let mut w = world_with(Config {
        default_limits: Limits {
            max_pages_per_buffer: 600,
            ..Limits::default()
        },
        labels: vec![],
        ..Config::default()
    });
    let s = open(&mut w, G1);
    // A 600-page temporary memref: the guest's list pages hold 511 and 89 entries.
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INPUT,
        list(0),
        data(0),
        600 * 4096,
        9,
    );
    let (pins, unpins) = (w.p.pin_batches.len(), w.p.unpin_batches.len());
    assert_eq!(invoke(&mut w, G1, s, FN_NOP, &[p]).ret, 0);
    assert_eq!(w.p.pin_batches[pins..], [511, 89]);
    assert_eq!(w.p.unpin_batches[unpins..], [600]);
    // A 16-page registration and its unregistration: one batch each.
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INOUT,
        list(2),
        data(0),
        16 * 4096,
        0x16,
    );
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    let (pins, unpins) = (w.p.pin_batches.len(), w.p.unpin_batches.len());
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    assert_eq!(w.p.pin_batches[pins..], [16]);
    assert_eq!(w.p.unpin_batches.len(), unpins);
    assert_eq!(w.p.mem.pins(G1), 16);
    let un = Param {
        attr: msg::ATTR_TYPE_RMEM_INPUT,
        a: 0,
        b: 0,
        c: 0x16,
    };
    w.write_arg(G1, arg(0), msg::CMD_UNREGISTER_SHM, 0, 0, &[un]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    assert_eq!(w.p.pin_batches.len(), pins + 1, "no pin to unregister");
    assert_eq!(w.p.unpin_batches[unpins..], [16]);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn a_page_failing_inside_a_batch_releases_the_pages_before_it_once() {
    // (buffer pages, the page that cannot be pinned): the first, second, a middle and the last
    // page of one list page's batch, and a page of the second batch of a 600-page buffer.
    for (pages, k) in [(16u64, 0u64), (16, 1), (16, 7), (16, 15), (600, 520)] {
        let mut w = world_with(Config {
            default_limits: Limits {
                max_pages_per_buffer: 600,
                ..Limits::default()
            },
            labels: vec![],
            ..Config::default()
        });
        let s = open(&mut w, G1);
        w.p.mem.inject_pin_failure(G1, data(k));
        let p = w.tmem(
            G1,
            msg::ATTR_TYPE_TMEM_INPUT,
            list(0),
            data(0),
            pages * 4096,
            1,
        );
        let (pins, unpins) = (w.p.pin_batches.len(), w.p.unpin_batches.len());
        let o = invoke(&mut w, G1, s, FN_NOP, &[p]);
        assert_eq!(
            (o.ret, o.origin),
            (teec::ERROR_BAD_PARAMETERS, teec::ORIGIN_COMMS),
            "page {k} of {pages}"
        );
        // Batches tried: every list page up to the failing one.
        let tried: usize = w.p.pin_batches[pins..].iter().sum();
        let want = if k < 511 { pages.min(511) } else { pages };
        assert_eq!(tried as u64, want, "page {k}");
        // The k pages pinned before it, given back in one batch, each exactly once.
        let expect: &[usize] = if k == 0 { &[] } else { &[k as usize] };
        assert_eq!(w.p.unpin_batches[unpins..], *expect, "page {k} of {pages}");
        assert_eq!(w.p.mem.pins(G1), 0);
        assert_eq!(w.m.shm_pages(G1), 0);
        assert_clean(&w);
        // The guest's next call with good pages works.
        let good = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(2), data(k + 1), 4096, 2);
        assert_eq!(invoke(&mut w, G1, s, FN_NOP, &[good]).ret, 0);
        assert_eq!(w.p.mem.pins(G1), 0);
    }
}

#[test]
fn bad_page_list_entries_rejected_without_leaking_pins() {
    let mut w = world();
    let s = open(&mut w, G1);
    // Second entry unaligned.
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 3 * 4096, 1);
    w.p.mem.poke(G1, list(0) + 8, &(data(1) + 4).to_le_bytes());
    let o = invoke(&mut w, G1, s, FN_NOP, &[p]);
    assert_eq!(
        (o.ret, o.origin),
        (teec::ERROR_BAD_PARAMETERS, teec::ORIGIN_COMMS)
    );
    // Third entry cannot be pinned (not guest RAM).
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 3 * 4096, 1);
    w.p.mem
        .poke(G1, list(0) + 16, &0x10_0000_0000u64.to_le_bytes());
    let o = invoke(&mut w, G1, s, FN_NOP, &[p]);
    assert_eq!(o.ret, teec::ERROR_BAD_PARAMETERS);
    // Page list itself unreadable.
    let mut p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 4096, 1);
    p.a = 0x10_0000_0000;
    let o = invoke(&mut w, G1, s, FN_NOP, &[p]);
    assert_eq!(o.ret, teec::ERROR_BAD_PARAMETERS);
    // Size overflow.
    let mut p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0) + 1, 4096, 1);
    p.b = u64::MAX;
    let o = invoke(&mut w, G1, s, FN_NOP, &[p]);
    assert_eq!(o.ret, teec::ERROR_BAD_PARAMETERS);
    // A good buffer before a bad one is released too.
    let good = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(2), data(0), 4096, 2);
    let o = invoke(&mut w, G1, s, FN_NOP, &[good, p]);
    assert_eq!(o.ret, teec::ERROR_BAD_PARAMETERS);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_eq!(w.m.shm_pages(G1), 0);
    // Duplicate cookie within one call.
    let a = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(2), data(0), 4096, 3);
    let b = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(3), data(1), 4096, 3);
    let o = invoke(&mut w, G1, s, FN_NOP, &[a, b]);
    assert_eq!(o.ret, teec::ERROR_BAD_PARAMETERS);
    // Unknown parameter type.
    let o = invoke(&mut w, G1, s, FN_NOP, &[value(0x4, 0)]);
    assert_eq!(o.ret, teec::ERROR_BAD_PARAMETERS);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
    assert_eq!(
        w.m.stats(G1)
            .unwrap()
            .errors_of(crate::GuestError::BadParameters),
        7
    );
}

#[test]
fn rmem_and_value_pass_through_only_results_copied_back() {
    let mut w = world();
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INOUT, list(0), data(0), 4096, 0x55);
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    let s = open(&mut w, G1);
    let rm = Param {
        attr: msg::ATTR_TYPE_RMEM_OUTPUT,
        a: 0,
        b: 64,
        c: 0x55,
    };
    let v = Param {
        attr: msg::ATTR_TYPE_VALUE_INPUT,
        a: 1,
        b: 2,
        c: 3,
    };
    let o = invoke(&mut w, G1, s, FN_NOP, &[rm, v]);
    // OP-TEE saw both unchanged.
    assert_eq!(w.p.optee.seen.last().unwrap().params, vec![rm, v]);
    assert_eq!(o.params, vec![rm, v]);
    // Fields other than results are never written back: cmd/func intact.
    let mut hdr = [0u8; 8];
    w.p.mem.peek(G1, arg(1), &mut hdr);
    assert_eq!(
        u32::from_le_bytes(hdr[..4].try_into().unwrap()),
        msg::CMD_INVOKE_COMMAND
    );
}

/// Deviation from Xen (which passes any shm_ref through): an RMEM must name a buffer this
/// mediator tracks for the guest. A cookie it never registered — forged, another guest's, one
/// already unregistered, or one registered through an earlier mediator whose pins Xen dropped
/// when it died — is refused before OP-TEE sees it, so OP-TEE never touches unpinned pages.
#[test]
fn rmem_naming_an_unknown_cookie_never_reaches_optee() {
    let mut w = world();
    let s = open(&mut w, G1);
    let seen = w.p.optee.seen.len();
    for cookie in [0xdead, 0x55] {
        let rm = Param {
            attr: msg::ATTR_TYPE_RMEM_INOUT,
            a: 0,
            b: 64,
            c: cookie,
        };
        let o = invoke(&mut w, G1, s, FN_NOP, &[rm]);
        assert_eq!(
            (o.x0, o.ret, o.origin),
            (0, teec::ERROR_BAD_PARAMETERS, teec::ORIGIN_COMMS)
        );
    }
    assert_eq!(w.p.optee.seen.len(), seen);
    // Registered, used, unregistered: the old cookie is unknown again (also for a second
    // UNREGISTER_SHM, whose parameter is an RMEM too).
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INOUT, list(0), data(0), 4096, 0x55);
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    let rm = Param {
        attr: msg::ATTR_TYPE_RMEM_INPUT,
        a: 0,
        b: 0,
        c: 0x55,
    };
    w.write_arg(G1, arg(0), msg::CMD_UNREGISTER_SHM, 0, 0, &[rm]);
    let o = w.run(G1, arg(0), 1);
    assert_eq!((o.x0, o.ret), (0, 0));
    let seen = w.p.optee.seen.len();
    w.write_arg(G1, arg(0), msg::CMD_UNREGISTER_SHM, 0, 0, &[rm]);
    let o = w.run(G1, arg(0), 1);
    assert_eq!(
        (o.x0, o.ret, o.origin),
        (0, teec::ERROR_BAD_PARAMETERS, teec::ORIGIN_COMMS)
    );
    assert_eq!(w.p.optee.seen.len(), seen);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn register_shm_keeps_pins_until_unregister() {
    let mut w = world();
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INOUT,
        list(0),
        data(0),
        5 * 4096,
        0x77,
    );
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    let o = w.run(G1, arg(0), 1);
    assert_eq!((o.x0, o.ret), (0, 0));
    assert_eq!(w.p.mem.pins(G1), 5);
    assert_eq!(w.p.optee.registered(2), 1);
    // Use it through RMEM.
    let s = open(&mut w, G1);
    let rm = Param {
        attr: msg::ATTR_TYPE_RMEM_OUTPUT,
        a: 8,
        b: 8,
        c: 0x77,
    };
    let o = invoke(&mut w, G1, s, FN_ECHO, &[rm]);
    assert_eq!(o.ret, 0);
    let mut b = [0u8; 8];
    w.p.mem.peek(G1, data(0) + 8, &mut b);
    assert_eq!(b, [0xA5; 8]);
    // Registering the same cookie again fails and leaves things as they were.
    let p2 = w.tmem(G1, msg::ATTR_TYPE_TMEM_INOUT, list(1), data(9), 4096, 0x77);
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p2]);
    assert_eq!(w.run(G1, arg(0), 1).ret, teec::ERROR_BAD_PARAMETERS);
    assert_eq!(w.p.mem.pins(G1), 5);
    // A failed UNREGISTER keeps the pins.
    let un = |c| Param {
        attr: msg::ATTR_TYPE_RMEM_INPUT,
        a: 0,
        b: 0,
        c,
    };
    w.write_arg(G1, arg(0), msg::CMD_UNREGISTER_SHM, 0, 0, &[un(0x78)]);
    assert_ne!(w.run(G1, arg(0), 1).ret, 0);
    assert_eq!(w.p.mem.pins(G1), 5);
    w.write_arg(G1, arg(0), msg::CMD_UNREGISTER_SHM, 0, 0, &[un(0x77)]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn failed_register_shm_unpins() {
    let mut w = world();
    // OP-TEE refuses a buffer without NONCONTIG pages? Make it refuse by
    // registering a cookie twice with OP-TEE directly through two guests'
    // views is impossible; use a full OP-TEE thread pool instead.
    let s = open(&mut w, G1);
    let mut busy = vec![];
    for i in 0..4 {
        w.write_arg(
            G1,
            arg(2 + i),
            msg::CMD_INVOKE_COMMAND,
            crate::sim::FN_FOREIGN_INTR,
            s,
            &[],
        );
        let (hi, lo) = split(arg(2 + i));
        busy.push(w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]));
    }
    // G2 gets ETHREAD_LIMIT from OP-TEE (threads are shared) when asked at
    // once (submit would keep the call waiting instead, tests/threads.rs).
    let p = w.tmem(G2, msg::ATTR_TYPE_TMEM_INOUT, list(0), data(0), 2 * 4096, 1);
    w.write_arg(G2, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    let (hi, lo) = split(arg(0));
    let r = w.m.handle_call(
        &mut w.p,
        G2,
        [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0],
    );
    let o = w.finish(G2, arg(0), 1, r);
    assert_eq!(o.x0, ret::ETHREAD_LIMIT);
    assert_eq!(w.p.mem.pins(G2), 0);
    for (i, r) in busy.into_iter().enumerate() {
        w.finish(G1, arg(2 + i as u64), 0, r);
    }
    assert_clean(&w);
}

#[test]
fn concurrent_calls_bounded_by_thread_count() {
    let mut w = world();
    let s = open(&mut w, G1);
    let mut pending = vec![];
    for i in 0..4 {
        w.write_arg(
            G1,
            arg(2 + i),
            msg::CMD_INVOKE_COMMAND,
            crate::sim::FN_FOREIGN_INTR,
            s,
            &[],
        );
        let (hi, lo) = split(arg(2 + i));
        let r = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
        assert!(ret::is_rpc(r[0]));
        pending.push(r);
    }
    w.write_arg(G1, arg(7), msg::CMD_INVOKE_COMMAND, FN_NOP, s, &[]);
    let (hi, lo) = split(arg(7));
    let r = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    assert_eq!(r[0], ret::ETHREAD_LIMIT);
    assert_eq!(
        w.m.stats(G1)
            .unwrap()
            .errors_of(crate::GuestError::ThreadLimit),
        1
    );
    // Completing one frees a slot.
    let r0 = pending.remove(0);
    assert_eq!(w.finish(G1, arg(2), 0, r0).x0, 0);
    let r = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    assert_eq!(r[0], ret::OK);
    for (i, r) in pending.into_iter().enumerate() {
        w.finish(G1, arg(3 + i as u64), 0, r);
    }
    assert_clean(&w);
}

#[test]
fn shadow_allocation_failure_is_enomem() {
    let mut w = world();
    w.m.trim(&mut w.p);
    w.p.mem.shadow_limit = Some(w.p.mem.shadow_outstanding());
    w.write_arg(G1, arg(0), msg::CMD_CANCEL, 0, 0, &[]);
    assert_eq!(call_with_arg(&mut w, G1, arg(0))[0], ret::ENOMEM);
}
