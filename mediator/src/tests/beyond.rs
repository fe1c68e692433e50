//! What Xen's mediator lacks: async notifications, CALL_WITH_RPC_ARG and
//! CALL_WITH_REGD_ARG, allow-lists, statistics.

use super::*;
use crate::abi::{caps, msg as m, ret, smc, split, teec, SMCCC_UNKNOWN_FUNCTION};
use crate::sim::{FN_ECHO, FN_GET_TIME, FN_NOP, FN_NOTIFY, SIM_PTA};
use crate::{GuestError, LabelPolicy, Limits};

#[test]
fn async_notification_routed_to_the_right_guest() {
    let mut w = world();
    assert_eq!(w.fast(G1, smc::ENABLE_ASYNC_NOTIF)[0], ret::OK);
    assert_eq!(w.fast(G2, smc::ENABLE_ASYNC_NOTIF)[0], ret::OK);
    w.p.optee.post_notif(3, 9);
    w.p.optee.post_notif(3, 10);
    let mut signalled = vec![];
    w.m.async_notification(&mut w.p, |d| signalled.push(d));
    assert_eq!(signalled, vec![G2]);
    let r = w.fast(G2, smc::GET_ASYNC_NOTIF_VALUE);
    assert_eq!(
        &r[..3],
        &[
            ret::OK,
            9,
            caps::NOTIF_VALUE_VALID | caps::NOTIF_VALUE_PENDING
        ]
    );
    let r = w.fast(G2, smc::GET_ASYNC_NOTIF_VALUE);
    assert_eq!(&r[..3], &[ret::OK, 10, caps::NOTIF_VALUE_VALID]);
    let r = w.fast(G2, smc::GET_ASYNC_NOTIF_VALUE);
    assert_eq!(&r[..3], &[ret::OK, 0, 0]);
    let r = w.fast(G1, smc::GET_ASYNC_NOTIF_VALUE);
    assert_eq!(&r[..3], &[ret::OK, 0, 0]);
    assert_eq!(w.m.stats(G2).unwrap().notifications, 2);
    // A TA posting for its own client.
    let s = open(&mut w, G1);
    invoke(&mut w, G1, s, FN_NOTIFY, &[]);
    let mut signalled = vec![];
    w.m.async_notification(&mut w.p, |d| signalled.push(d));
    assert_eq!(signalled, vec![G1]);
    assert_eq!(w.fast(G1, smc::GET_ASYNC_NOTIF_VALUE)[1], 5);
}

#[test]
fn async_notification_needs_enable() {
    let mut w = world();
    assert_eq!(w.fast(G1, smc::GET_ASYNC_NOTIF_VALUE)[0], ret::ENOTAVAIL);
    w.p.optee.post_notif(2, 1);
    let mut n = 0;
    w.m.async_notification(&mut w.p, |_| n += 1);
    assert_eq!(n, 0);
}

#[test]
fn do_bottom_half_and_stop_async_notif_commands_pass() {
    let mut w = world();
    for c in [m::CMD_DO_BOTTOM_HALF, m::CMD_STOP_ASYNC_NOTIF] {
        w.write_arg(G1, arg(0), c, 0, 0, &[]);
        assert_eq!(w.run(G1, arg(0), 0).ret, 0);
    }
}

/// Drives a CALL_WITH_RPC_ARG / REGD_ARG call whose RPC argument lives at
/// `rpc_ipa` of guest `G1`.
fn drive_rpc_arg(w: &mut World, mut r: crate::Regs, rpc_ipa: u64) -> crate::Regs {
    let mut n = 0;
    while ret::is_rpc(r[0]) && n < 20 {
        n += 1;
        if ret::rpc_func(r[0]) == ret::RPC_FUNC_CMD {
            w.answer_rpc_cmd(G1, rpc_ipa);
        }
        r = w.call(
            G1,
            [u64::from(smc::RETURN_FROM_RPC), 0, 0, r[3], 0, 0, 0, 0],
        );
    }
    r
}

#[test]
fn call_with_rpc_arg() {
    let mut w = world();
    let s = open(&mut w, G1);
    // Argument at a sub-page offset, RPC argument right after it.
    let ipa = arg(4) + 0x100;
    w.write_arg(
        G1,
        ipa,
        m::CMD_INVOKE_COMMAND,
        FN_GET_TIME,
        s,
        &[value(m::ATTR_TYPE_VALUE_OUTPUT, 0)],
    );
    let (hi, lo) = split(ipa);
    let r = w.call(
        G1,
        [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        ret::rpc_func(r[0]),
        ret::RPC_FUNC_CMD,
        "no RPC_FUNC_ALLOC needed"
    );
    let r = drive_rpc_arg(&mut w, r, ipa + 64);
    assert_eq!(r[0], ret::OK);
    let o = w.read_arg(G1, ipa, 1);
    assert_eq!((o.ret, o.params[0].a), (0, 1_700_000_000));
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_clean(&w);
}

#[test]
fn call_with_rpc_arg_needs_negotiation_and_room() {
    let mut w = World::new(4, Config::default(), &[G1]);
    let (hi, lo) = split(arg(0));
    let r = w.call(
        G1,
        [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0],
    );
    assert_eq!(r[0], ret::ENOTAVAIL, "RPC_ARG not negotiated");
    w.exchange(G1);
    let ipa = arg(0) + 4096 - 64;
    w.write_arg(G1, ipa, m::CMD_CANCEL, 0, 0, &[]);
    let (hi, lo) = split(ipa);
    let r = w.call(
        G1,
        [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0],
    );
    assert_eq!(r[0], ret::OK);
    let o = w.read_arg(G1, ipa, 0);
    assert_eq!(
        o.ret,
        teec::ERROR_BAD_PARAMETERS,
        "RPC argument would cross the page"
    );
    let r = w.call(
        G1,
        [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo + 4, 0, 0, 0, 0, 0],
    );
    assert_eq!(r[0], ret::EBADADDR);
}

/// Behaviour change of `Ipa::new` (the 48-bit IPA space): CALL_WITH_RPC_ARG at an 8-aligned
/// address beyond it is EBADADDR at once, where it used to be ENOTAVAIL when the guest had
/// not negotiated the RPC argument (the address was only found unreadable after that check).
/// An unaligned address was already EBADADDR first.
#[test]
fn call_with_rpc_arg_beyond_the_ipa_space_is_ebadaddr() {
    let mut w = World::new(4, Config::default(), &[G1]);
    for a in [crate::Ipa::LIMIT, 0xFFFF_FFFF_FFFF_FFC0, arg(0) + 4] {
        let (hi, lo) = split(a);
        let r = w.call(
            G1,
            [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0],
        );
        assert_eq!(r[0], ret::EBADADDR, "not negotiated, {a:#x}");
    }
    w.exchange(G1);
    for a in [crate::Ipa::LIMIT, crate::Ipa::LIMIT - 64] {
        let (hi, lo) = split(a);
        let r = w.call(
            G1,
            [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0],
        );
        assert_eq!(r[0], ret::EBADADDR, "{a:#x}");
    }
    assert_eq!(w.p.mem.pins(G1), 0);
}

#[test]
fn call_with_regd_arg() {
    let mut w = world();
    let s = open(&mut w, G1);
    // Register two pages; put the argument in the second, at offset 0x80.
    let p = w.tmem(
        G1,
        m::ATTR_TYPE_TMEM_INOUT,
        list(0),
        data(10) + 0x40,
        2 * 4096 - 0x40,
        0x99,
    );
    w.write_arg(G1, arg(0), m::CMD_REGISTER_SHM, 0, 0, &[p]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    let off = 4096 - 0x40 + 0x80; // from the buffer start
    let ipa = data(11) + 0x80;
    w.write_arg(
        G1,
        ipa,
        m::CMD_INVOKE_COMMAND,
        FN_ECHO,
        s,
        &[value(m::ATTR_TYPE_VALUE_INOUT, 1)],
    );
    let r = w.call(
        G1,
        [u64::from(smc::CALL_WITH_REGD_ARG), 0, 0x99, off, 0, 0, 0, 0],
    );
    let r = drive_rpc_arg(&mut w, r, ipa + 64);
    assert_eq!(r[0], ret::OK);
    assert_eq!(w.read_arg(G1, ipa, 1).params[0].a, 2);
    // Offsets outside the buffer.
    let r = w.call(
        G1,
        [
            u64::from(smc::CALL_WITH_REGD_ARG),
            0,
            0x99,
            3 * 4096,
            0,
            0,
            0,
            0,
        ],
    );
    assert_eq!(r[0], ret::EBADADDR);
    let r = w.call(
        G1,
        [
            u64::from(smc::CALL_WITH_REGD_ARG),
            0,
            0x99,
            u64::MAX,
            0,
            0,
            0,
            0,
        ],
    );
    assert_eq!(r[0], ret::EBADADDR);
    assert_clean(&w);
}

fn allow_config() -> Config {
    Config {
        default_limits: Limits::default(),
        labels: vec![LabelPolicy {
            label: "restricted".into(),
            limits: Limits::default(),
            allowed_tas: Some(vec![SIM_PTA]),
        }],
        ..Config::default()
    }
}

#[test]
fn allow_list_checked_at_open_session() {
    let mut w = World::new(4, allow_config(), &[G1]);
    w.p.mem.add_guest(G2, crate::sim::world::RAM, 64);
    w.add(G2, "restricted");
    w.exchange(G2);
    let o = w.open(G2, arg(0), crate::sim::SIM_TA);
    assert_eq!(
        (o.x0, o.ret, o.origin),
        (0, teec::ERROR_ACCESS_DENIED, teec::ORIGIN_COMMS)
    );
    assert_eq!(w.p.optee.sessions(3), 0);
    let o = w.open(G2, arg(0), SIM_PTA);
    assert_eq!(o.ret, 0);
    // Without the META parameter there is nothing to check: denied.
    w.write_arg(G2, arg(0), m::CMD_OPEN_SESSION, 0, 0, &[value(1, 0)]);
    assert_eq!(w.run(G2, arg(0), 1).ret, teec::ERROR_ACCESS_DENIED);
    // Unlabelled guests are not restricted.
    assert_eq!(w.open(G1, arg(0), crate::sim::SIM_TA).ret, 0);
    assert_eq!(
        w.m.stats(G2).unwrap().errors_of(GuestError::AccessDenied),
        2
    );
}

#[test]
fn statistics_per_guest() {
    let mut w = world();
    let s = open(&mut w, G1);
    let p = w.tmem(G1, m::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 3 * 4096, 1);
    invoke(&mut w, G1, s, FN_NOP, &[p]);
    w.fast(G1, 0xdead);
    let st = w.m.stats(G1).unwrap();
    assert_eq!(st.calls, 4, "exchange, open, invoke, unknown");
    assert_eq!(st.std_calls, 2);
    assert_eq!(st.errors_of(GuestError::UnknownFunction), 1);
    assert_eq!(st.sessions_opened, 1);
    assert_eq!(st.open_sessions, 1);
    assert_eq!(st.pinned_pages, 0);
    assert_eq!(st.peak_pinned_pages, 3);
    assert_eq!(w.m.stats(G2).unwrap().calls, 1);
    assert_eq!(w.m.stats(DomId::new(7).unwrap()), None);
}

/// A configuration that offers none of the optional features.
fn nothing_offered() -> Config {
    Config {
        features: crate::Features {
            async_notif: false,
            rpc_arg: false,
            shm_cache: false,
        },
        ..Config::default()
    }
}

#[test]
fn features_not_offered_are_masked_in_the_capabilities() {
    let mut w = world_with(nothing_offered());
    let r = w.exchange(G1);
    assert_eq!(r[0], ret::OK);
    assert_eq!(r[1] & (caps::SEC_ASYNC_NOTIF | caps::SEC_RPC_ARG), 0);
    assert_ne!(r[1] & caps::SEC_DYNAMIC_SHM, 0);
    assert_eq!(
        (r[2], r[3]),
        (0, 0),
        "no notification value, no RPC parameters"
    );
    // Notifications off: the guest's interrupt is never asked about.
    assert!(w.p.notif_irq_asked.is_empty());
    // Offered by default.
    let mut w = world();
    let r = w.exchange(G1);
    assert_ne!(r[1] & caps::SEC_ASYNC_NOTIF, 0);
    assert_ne!(r[1] & caps::SEC_RPC_ARG, 0);
}

#[test]
fn async_notif_masked_for_a_guest_without_a_notification_interrupt() {
    let mut w = World::new(4, Config::default(), &[G1, G2]);
    w.p.no_notif_irq.insert(G2);
    let with = w.exchange(G1);
    let without = w.exchange(G2);
    assert_ne!(with[1] & caps::SEC_ASYNC_NOTIF, 0);
    assert_eq!(with[2], 63);
    assert_eq!(without[1] & caps::SEC_ASYNC_NOTIF, 0);
    assert_eq!(without[2], 0);
    // Asked once per guest, however often it asks.
    w.exchange(G2);
    assert_eq!(
        w.fast(G2, smc::ENABLE_ASYNC_NOTIF)[0],
        SMCCC_UNKNOWN_FUNCTION
    );
    assert_eq!(w.p.notif_irq_asked, vec![G1, G2]);
}

/// A guest that ignores the masked capability bits and uses the features anyway gets what
/// OP-TEE built without them answers (unknown function), and OP-TEE never sees the call.
#[test]
fn features_not_offered_are_refused_when_used_anyway() {
    let mut w = world_with(nothing_offered());
    w.exchange(G1);
    let s = open(&mut w, G1);
    let smcs = w.p.optee.smc_count;
    // RPC argument area: CALL_WITH_RPC_ARG with a valid argument and room for the area.
    let ipa = arg(4) + 0x100;
    w.write_arg(G1, ipa, m::CMD_INVOKE_COMMAND, FN_NOP, s, &[]);
    let (hi, lo) = split(ipa);
    let r = w.call(
        G1,
        [u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0],
    );
    assert_eq!(r[0], SMCCC_UNKNOWN_FUNCTION);
    assert_eq!((r[1], r[2]), (hi, lo), "the guest's registers kept");
    // CALL_WITH_REGD_ARG naming a registered buffer.
    let p = w.tmem(G1, m::ATTR_TYPE_TMEM_INOUT, list(0), data(10), 4096, 0x99);
    w.write_arg(G1, arg(5), m::CMD_REGISTER_SHM, 0, 0, &[p]);
    let o = w.run(G1, arg(5), 1);
    assert_eq!((o.x0, o.ret), (ret::OK, 0));
    let smcs_after_register = w.p.optee.smc_count;
    w.write_arg(G1, data(10), m::CMD_INVOKE_COMMAND, FN_NOP, s, &[]);
    let r = w.call(
        G1,
        [u64::from(smc::CALL_WITH_REGD_ARG), 0, 0x99, 0, 0, 0, 0, 0],
    );
    assert_eq!(r[0], SMCCC_UNKNOWN_FUNCTION);
    // Async notifications: neither enabled nor read, and never fetched for the guest.
    assert_eq!(
        w.fast(G1, smc::ENABLE_ASYNC_NOTIF)[0],
        SMCCC_UNKNOWN_FUNCTION
    );
    assert_eq!(
        w.fast(G1, smc::GET_ASYNC_NOTIF_VALUE)[0],
        SMCCC_UNKNOWN_FUNCTION
    );
    w.p.optee.post_notif(2, 7);
    let mut signalled = vec![];
    w.m.async_notification(&mut w.p, |d| signalled.push(d));
    assert!(signalled.is_empty());
    // SHM cache off: ENABLE_SHM_CACHE is answered OK without OP-TEE.
    assert_eq!(w.fast(G1, smc::ENABLE_SHM_CACHE)[0], ret::OK);
    assert_eq!(
        w.p.optee.smc_count, smcs_after_register,
        "no refused call reached OP-TEE"
    );
    assert!(smcs_after_register > smcs);
    let st = w.m.stats(G1).unwrap();
    assert_eq!(st.errors_of(GuestError::UnknownFunction), 4);
    assert_clean(&w);
}
