//! The step API (`Mediator::start`, `result`, `next_step`): the mediator
//! hands every secure call of a guest's call to its caller
//! (`Step::Execute`) and continues when the caller gives OP-TEE's answer
//! back, so that calls of several guests can be in OP-TEE at once (on Xen,
//! each on its guest's own vCPU). The same workloads through the
//! synchronous API are compared in `props.rs`.

use super::*;
use crate::abi::{ret, smc, split};
use crate::platform::SecureWorld;
use crate::sim::world::World;
use crate::sim::{FN_ECHO, FN_FOREIGN_INTR, FN_GET_TIME, FN_NOP};
use crate::stats::GuestStats;
use crate::types::{ClientId, Regs};
use crate::{GuestError, Step};

/// CALL_WITH_ARG for the argument at `ipa`.
fn cwa(ipa: u64) -> Regs {
    let (hi, lo) = split(ipa);
    [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]
}

/// The secure call of an `Execute` step (panics on any other step).
fn execute(step: Step) -> Regs {
    match step {
        Step::Execute(r) => r,
        s => panic!("expected a secure call, got {s:x?}"),
    }
}

/// The guest's answer of a `Return` step (panics on any other step).
fn answer(step: Option<Step>) -> Regs {
    match step {
        Some(Step::Return(x)) => x,
        s => panic!("expected an answer, got {s:x?}"),
    }
}

/// The secure call `r` as Xen makes it: OP-TEE's x0-x3 come back.
fn smc_x03(w: &mut World, r: Regs) -> Regs {
    let res = w.p.smc(r);
    [res[0], res[1], res[2], res[3], 0, 0, 0, 0]
}

/// Starts `dom`'s call `tag` and drives it through the step API to its
/// answer; panics if it waits.
fn step_call(w: &mut World, dom: DomId, tag: u64, regs: Regs) -> Regs {
    let mut step = w.m.start(&mut w.p, dom, tag, regs, w.now_ms);
    loop {
        let r = match step {
            Step::Return(x) => return x,
            Step::Held => panic!("{dom:?}'s call {tag} waits"),
            Step::Execute(r) => r,
        };
        let res = smc_x03(w, r);
        step =
            w.m.result(&mut w.p, dom, tag, res, w.now_ms)
                .expect("the call's result is taken");
    }
}

/// Everything a result must not change when it is refused.
fn snapshot(w: &World) -> ([Option<GuestStats>; 2], [usize; 5], u64) {
    (
        [w.m.stats(G1), w.m.stats(G2)],
        [
            w.m.executing_calls_of(G1),
            w.m.suspended_calls(G1),
            w.m.waiting_calls(),
            w.m.cached_shadow_pages(),
            w.p.mem.pins(G1),
        ],
        w.p.optee.smc_count,
    )
}

#[test]
fn a_secure_call_is_the_callers_with_the_guests_client_id() {
    let mut w = world();
    let s1 = open(&mut w, G1);
    w.write_arg(G1, arg(1), msg::CMD_INVOKE_COMMAND, FN_NOP, s1, &[]);
    let smcs = w.p.optee.smc_count;
    let r = execute(w.m.start(&mut w.p, G1, 1, cwa(arg(1)), 0));
    // The mediator made no secure call of its own: the step is the caller's.
    assert_eq!(w.p.optee.smc_count, smcs);
    assert_eq!(u32::try_from(r[0]).unwrap(), smc::CALL_WITH_ARG);
    assert_eq!(r[7], ClientId::of(G1).raw());
    // The argument OP-TEE gets is the mediator's shadow, not the guest's page.
    assert_ne!(split(arg(1)), (r[1], r[2]));
    assert_eq!(w.m.executing_calls_of(G1), 1);
    // A call in a secure call is not suspended in an RPC.
    assert_eq!(w.m.suspended_calls(G1), 0);
    assert_eq!(w.m.suspended(G1).count(), 0);
    let res = smc_x03(&mut w, r);
    let x = answer(w.m.result(&mut w.p, G1, 1, res, 0));
    assert_eq!(x[0], ret::OK);
    assert_eq!(w.m.executing_calls_of(G1), 0);
    // Fast calls too: ENABLE_SHM_CACHE is OP-TEE's to answer.
    let r = execute(w.m.start(
        &mut w.p,
        G1,
        2,
        [u64::from(smc::ENABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0],
        0,
    ));
    assert_eq!(r[7], ClientId::of(G1).raw());
    assert_eq!(w.m.executing_calls_of(G1), 1);
    let res = smc_x03(&mut w, r);
    assert_eq!(answer(w.m.result(&mut w.p, G1, 2, res, 0))[0], ret::OK);
    assert_eq!(w.m.executing_calls_of(G1), 0);
    assert_clean(&w);
}

#[test]
fn two_guests_calls_in_optee_at_once_complete_in_the_other_order() {
    let mut w = world();
    let s1 = open(&mut w, G1);
    let s2 = open(&mut w, G2);
    let inout = msg::ATTR_TYPE_VALUE_INOUT;
    w.write_arg(
        G1,
        arg(1),
        msg::CMD_INVOKE_COMMAND,
        FN_ECHO,
        s1,
        &[value(inout, 10)],
    );
    w.write_arg(
        G2,
        arg(1),
        msg::CMD_INVOKE_COMMAND,
        FN_ECHO,
        s2,
        &[value(inout, 20)],
    );
    w.write_arg(G1, arg(2), msg::CMD_INVOKE_COMMAND, FN_GET_TIME, s1, &[]);
    let e1 = execute(w.m.start(&mut w.p, G1, 11, cwa(arg(1)), 0));
    let e2 = execute(w.m.start(&mut w.p, G2, 22, cwa(arg(1)), 0));
    // A second call of G1 with an RPC, in OP-TEE at the same time.
    let e3 = execute(w.m.start(&mut w.p, G1, 13, cwa(arg(2)), 0));
    assert_eq!(w.m.executing_calls_of(G1), 2);
    assert_eq!(w.m.executing_calls_of(G2), 1);
    // OP-TEE runs them in one order (G2's first)...
    let r2 = smc_x03(&mut w, e2);
    let r3 = smc_x03(&mut w, e3);
    let r1 = smc_x03(&mut w, e1);
    assert!(ret::is_rpc(r3[0]));
    // ...and the results come back in another.
    let x3 = answer(w.m.result(&mut w.p, G1, 13, r3, 0));
    assert!(ret::is_rpc(x3[0]), "G1's GET_TIME call asks its guest");
    assert_eq!(w.m.suspended_calls(G1), 1);
    let x1 = answer(w.m.result(&mut w.p, G1, 11, r1, 0));
    let x2 = answer(w.m.result(&mut w.p, G2, 22, r2, 0));
    assert_eq!((x1[0], x2[0]), (ret::OK, ret::OK));
    let o1 = w.read_arg(G1, arg(1), 1);
    let o2 = w.read_arg(G2, arg(1), 1);
    assert_eq!(o1.ret, 0);
    assert_eq!(o2.ret, 0);
    // Each guest got its own call's result, from its own OP-TEE client.
    assert_eq!(
        (o1.params[0].a, o1.params[0].b),
        (11, ClientId::of(G1).raw())
    );
    assert_eq!(
        (o2.params[0].a, o2.params[0].b),
        (21, ClientId::of(G2).raw())
    );
    // G1 serves its RPCs; every RETURN_FROM_RPC is a new trapped call.
    let mut x = x3;
    for tag in 14.. {
        if !ret::is_rpc(x[0]) {
            break;
        }
        let rfr = w.answer_rpc(G1, &x);
        x = step_call(&mut w, G1, tag, rfr);
    }
    assert_eq!(x[0], ret::OK);
    assert_eq!(w.read_arg(G1, arg(2), 0).ret, 0);
    assert_eq!(w.drivers[&G1].cmds, vec![crate::abi::rpc::CMD_GET_TIME]);
    for g in [G1, G2] {
        assert_eq!(w.m.executing_calls_of(g), 0);
        assert_eq!(w.m.suspended_calls(g), 0);
    }
    assert_eq!(w.p.optee.busy_threads(), 0);
    assert_clean(&w);
}

#[test]
fn a_forged_or_stale_result_is_refused_and_changes_nothing() {
    let mut w = world();
    let s1 = open(&mut w, G1);
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 3 * 4096, 1);
    w.write_arg(G1, arg(1), msg::CMD_INVOKE_COMMAND, FN_ECHO, s1, &[p]);
    let e = execute(w.m.start(&mut w.p, G1, 5, cwa(arg(1)), 0));
    let res = smc_x03(&mut w, e);
    let before = snapshot(&w);
    assert_eq!(before.1[0], 1);
    assert_eq!(before.1[4], 3, "the memref's pages are pinned");
    // Wrong tag, another guest, a guest that does not exist.
    for (d, t) in [(G1, 6), (G1, 0), (G2, 5), (DomId::new(9).unwrap(), 5)] {
        assert_eq!(w.m.result(&mut w.p, d, t, res, 0), None, "{d:?} {t}");
        assert_eq!(snapshot(&w), before);
    }
    // A tag already in flight is refused at once and changes nothing.
    let cc = [u64::from(smc::CALLS_COUNT), 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        answer(Some(w.m.start(&mut w.p, G1, 5, cc, 0)))[0],
        ret::EBUSY
    );
    assert_eq!(snapshot(&w), before);
    // The real result completes the call.
    let x = answer(w.m.result(&mut w.p, G1, 5, res, 0));
    assert_eq!(x[0], ret::OK);
    assert_eq!(w.read_arg(G1, arg(1), 1).ret, 0);
    let after = snapshot(&w);
    assert_eq!(after.1[0], 0);
    assert_eq!(after.1[4], 0, "the memref's pages are unpinned");
    // The same result again is stale.
    assert_eq!(w.m.result(&mut w.p, G1, 5, res, 0), None);
    assert_eq!(snapshot(&w), after);
    // A fast call's result is keyed the same way.
    let dis = [u64::from(smc::DISABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0];
    let e = execute(w.m.start(&mut w.p, G1, 8, dis, 0));
    let res = smc_x03(&mut w, e);
    let before = snapshot(&w);
    assert_eq!(w.m.result(&mut w.p, G1, 9, res, 0), None);
    assert_eq!(w.m.result(&mut w.p, G2, 8, res, 0), None);
    assert_eq!(snapshot(&w), before);
    assert!(w.m.result(&mut w.p, G1, 8, res, 0).is_some());
    assert_eq!(w.m.result(&mut w.p, G1, 8, res, 0), None);
    assert_clean(&w);
}

/// `g` holds `n` of the world's OP-TEE threads, each suspended in a
/// foreign-interrupt RPC (argument pages 2..2+n); returns their answers.
fn hold(w: &mut World, g: DomId, session: u32, n: u64) -> Vec<Regs> {
    (0..n)
        .map(|i| {
            w.write_arg(
                g,
                arg(2 + i),
                msg::CMD_INVOKE_COMMAND,
                FN_FOREIGN_INTR,
                session,
                &[],
            );
            let r = w.call(g, cwa(arg(2 + i)));
            assert!(ret::is_rpc(r[0]), "thread {i} not suspended: {r:x?}");
            r
        })
        .collect()
}

#[test]
fn optee_thread_limit_in_a_result_keeps_the_call_waiting() {
    let mut w = world();
    let s1 = open(&mut w, G1);
    let s2 = open(&mut w, G2);
    let mut busy = hold(&mut w, G1, s1, 4);
    let g2_before = w.m.stats(G2).unwrap();
    w.write_arg(G2, arg(0), msg::CMD_INVOKE_COMMAND, FN_NOP, s2, &[]);
    // The mediator does not know OP-TEE is full: the call goes to OP-TEE...
    let e = execute(w.m.start(&mut w.p, G2, 7, cwa(arg(0)), 0));
    let res = smc_x03(&mut w, e);
    assert_eq!(res[0], ret::ETHREAD_LIMIT);
    // ...which refuses it for want of a thread G1 holds: G2, which holds none, waits.
    assert_eq!(w.m.result(&mut w.p, G2, 7, res, 0), Some(Step::Held));
    assert_eq!(w.m.waiting_calls_of(G2), 1);
    assert_eq!(w.m.executing_calls_of(G2), 0);
    // Not counted yet: a waiting call counts once, when it is answered.
    let st = w.m.stats(G2).unwrap();
    assert_eq!(
        (st.calls, st.std_calls),
        (g2_before.calls, g2_before.std_calls)
    );
    assert_eq!(st.thread_waits, 1);
    // G1's earlier calls freed threads since the waiting calls were last tried: it is tried
    // once more, OP-TEE refuses it again, and it keeps its place without being counted.
    let Some((d, t, step)) = w.m.next_step(&mut w.p, 0) else {
        panic!("G2's call is not tried");
    };
    assert_eq!((d, t), (G2, 7));
    let res = smc_x03(&mut w, execute(step));
    assert_eq!(res[0], ret::ETHREAD_LIMIT);
    assert_eq!(w.m.result(&mut w.p, G2, 7, res, 0), Some(Step::Held));
    assert_eq!(w.m.waiting_calls_of(G2), 1);
    assert_eq!(w.m.stats(G2).unwrap().calls, g2_before.calls);
    // Nothing is due while every thread is held.
    assert_eq!(w.m.next_step(&mut w.p, 0), None);
    // G1 completes one call: the freed thread goes to G2's call, as a secure call.
    let r = busy.remove(0);
    assert_eq!(w.finish(G1, arg(2), 0, r).x0, ret::OK);
    let Some((d, t, step)) = w.m.next_step(&mut w.p, 0) else {
        panic!("G2's call is not tried again");
    };
    assert_eq!((d, t), (G2, 7));
    let e = execute(step);
    // While its retry is in OP-TEE, nothing else is due, and it does not time out.
    assert_eq!(w.m.next_step(&mut w.p, 1_000_000), None);
    let res = smc_x03(&mut w, e);
    let x = answer(w.m.result(&mut w.p, G2, 7, res, 0));
    assert_eq!(x[0], ret::OK);
    assert_eq!(w.read_arg(G2, arg(0), 0).ret, 0);
    assert_eq!(w.m.waiting_calls(), 0);
    assert_eq!(w.m.next_step(&mut w.p, 0), None);
    let st = w.m.stats(G2).unwrap();
    assert_eq!(st.calls, g2_before.calls + 1);
    assert_eq!(st.std_calls, g2_before.std_calls + 1);
    assert_eq!(st.errors_of(GuestError::ThreadLimit), 0);
    for (i, r) in busy.into_iter().enumerate() {
        w.finish(G1, arg(3 + i as u64), 0, r);
    }
    assert_clean(&w);
}

#[test]
fn a_resume_in_optee_holds_a_thread_a_new_call_does_not() {
    let mut w = world();
    let s1 = open(&mut w, G1);
    let s2 = open(&mut w, G2);
    let busy = hold(&mut w, G1, s1, 3);
    // G2's call A takes the last thread in OP-TEE; its result is not back yet.
    w.write_arg(
        G2,
        arg(0),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s2,
        &[],
    );
    let ea = execute(w.m.start(&mut w.p, G2, 1, cwa(arg(0)), 0));
    let ra = smc_x03(&mut w, ea);
    assert!(ret::is_rpc(ra[0]));
    // G2's call B: OP-TEE has no thread left. A new call in OP-TEE holds none (yet), so B
    // waits rather than being told ETHREAD_LIMIT.
    w.write_arg(G2, arg(1), msg::CMD_INVOKE_COMMAND, FN_NOP, s2, &[]);
    let eb = execute(w.m.start(&mut w.p, G2, 2, cwa(arg(1)), 0));
    let rb = smc_x03(&mut w, eb);
    assert_eq!(rb[0], ret::ETHREAD_LIMIT);
    assert_eq!(w.m.result(&mut w.p, G2, 2, rb, 0), Some(Step::Held));
    // A's RPC reaches the guest; A's RETURN_FROM_RPC goes to OP-TEE.
    let xa = answer(w.m.result(&mut w.p, G2, 1, ra, 0));
    assert_eq!(w.m.suspended_calls(G2), 1);
    let rfr = w.answer_rpc(G2, &xa);
    let ea = execute(w.m.start(&mut w.p, G2, 3, rfr, 0));
    assert_eq!(w.m.suspended_calls(G2), 0);
    // While that resume runs, G2 holds its thread: its call C is told ETHREAD_LIMIT at once
    // (its own call A will wake it), and B keeps its place.
    let limits = w.m.stats(G2).unwrap().errors_of(GuestError::ThreadLimit);
    w.write_arg(G2, arg(2), msg::CMD_INVOKE_COMMAND, FN_NOP, s2, &[]);
    let xc = answer(Some(w.m.start(&mut w.p, G2, 4, cwa(arg(2)), 0)));
    assert_eq!(xc[0], ret::ETHREAD_LIMIT);
    let st = w.m.stats(G2).unwrap();
    assert_eq!(st.errors_of(GuestError::ThreadLimit), limits + 1);
    assert_eq!(w.m.waiting_calls_of(G2), 1);
    // A completes and gives its thread back: B gets it.
    let ra = smc_x03(&mut w, ea);
    assert_eq!(answer(w.m.result(&mut w.p, G2, 3, ra, 0))[0], ret::OK);
    let Some((d, t, step)) = w.m.next_step(&mut w.p, 0) else {
        panic!("B is not tried again");
    };
    assert_eq!((d, t), (G2, 2));
    let rb = smc_x03(&mut w, execute(step));
    assert_eq!(answer(w.m.result(&mut w.p, G2, 2, rb, 0))[0], ret::OK);
    assert_eq!(w.m.waiting_calls(), 0);
    for (i, r) in busy.into_iter().enumerate() {
        w.finish(G1, arg(2 + i as u64), 0, r);
    }
    assert_clean(&w);
}

#[test]
fn a_destroyed_guests_executing_calls_are_freed() {
    let mut w = world();
    let s1 = open(&mut w, G1);
    // Call 1: OP-TEE never runs it. Call 2: OP-TEE ran it (it holds a thread, suspended in a
    // foreign interrupt), but its result comes after teardown began. Call 3: a fast call.
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INPUT, list(0), data(0), 3 * 4096, 1);
    w.write_arg(G1, arg(1), msg::CMD_INVOKE_COMMAND, FN_ECHO, s1, &[p]);
    let _never = execute(w.m.start(&mut w.p, G1, 1, cwa(arg(1)), 0));
    let p = w.tmem(G1, msg::ATTR_TYPE_TMEM_INOUT, list(1), data(8), 2 * 4096, 2);
    w.write_arg(
        G1,
        arg(2),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s1,
        &[p],
    );
    let e2 = execute(w.m.start(&mut w.p, G1, 2, cwa(arg(2)), 0));
    let r2 = smc_x03(&mut w, e2);
    assert!(ret::is_rpc(r2[0]));
    let dis = [u64::from(smc::DISABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0];
    let e3 = execute(w.m.start(&mut w.p, G1, 3, dis, 0));
    assert_eq!(w.m.executing_calls_of(G1), 3);
    assert_eq!(w.p.mem.pins(G1), 5);
    assert!(w.p.mem.shadow_outstanding() > w.m.cached_shadow_pages());
    // Teardown begins: the results no longer count.
    assert_eq!(
        w.m.guest_destroying(&mut w.p, G1, 1),
        crate::Progress::Pending
    );
    assert_eq!(w.m.executing_calls_of(G1), 0);
    assert_eq!(w.m.result(&mut w.p, G1, 2, r2, 0), None);
    let r3 = smc_x03(&mut w, e3);
    assert_eq!(w.m.result(&mut w.p, G1, 3, r3, 0), None);
    w.destroy(G1, 1);
    assert!(!w.m.has_guest(G1));
    // Nothing leaked: no pin, every shadow page back in the mediator's cache, OP-TEE's
    // thread given back with VM_DESTROYED.
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_eq!(w.p.mem.total_pins(), 0);
    assert_eq!(w.p.mem.shadow_outstanding(), w.m.cached_shadow_pages());
    assert_eq!(w.p.optee.busy_threads(), 0);
    assert_eq!(w.m.result(&mut w.p, G1, 1, [0; 8], 0), None);
    // The other guest is untouched.
    let s2 = open(&mut w, G2);
    w.write_arg(G2, arg(1), msg::CMD_INVOKE_COMMAND, FN_NOP, s2, &[]);
    assert_eq!(step_call(&mut w, G2, 1, cwa(arg(1)))[0], ret::OK);
    assert_clean(&w);
}

#[test]
fn the_synchronous_drivers_pass_the_thread_tests_as_steps() {
    // World::steps drives every call through start/result/next_step (World::drive offers
    // forged results before each secure call, and drops x4-x7 as Xen does): G2 waits behind
    // G1, gets the freed thread, and times out on a second wait, as through submit.
    let mut w = world();
    w.steps = true;
    let s1 = open(&mut w, G1);
    let s2 = open(&mut w, G2);
    let mut busy = hold(&mut w, G1, s1, 4);
    w.write_arg(G2, arg(0), msg::CMD_INVOKE_COMMAND, FN_NOP, s2, &[]);
    assert_eq!(w.submit(G2, 7, cwa(arg(0))), crate::Reply::Held);
    assert!(w.answers().is_empty());
    let r = busy.remove(0);
    assert_eq!(w.finish(G1, arg(2), 0, r).x0, ret::OK);
    let a = w.answers();
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].0, a[0].1, a[0].2[0]), (G2, 7, ret::OK));
    // The thread is taken again; G2's next call waits and runs out of time.
    let r = hold(&mut w, G1, s1, 1).remove(0);
    busy.insert(0, r);
    assert_eq!(w.submit(G2, 8, cwa(arg(0))), crate::Reply::Held);
    w.now_ms += crate::config::DEFAULT_THREAD_WAIT_MS;
    let a = w.answers();
    assert_eq!((a[0].0, a[0].1, a[0].2[0]), (G2, 8, ret::EBUSY));
    let st = w.m.stats(G2).unwrap();
    assert_eq!(st.thread_waits, 2);
    assert_eq!(st.errors_of(GuestError::NoThread), 1);
    for (i, r) in busy.into_iter().enumerate() {
        w.finish(G1, arg(2 + i as u64), 0, r);
    }
    assert_clean(&w);
}

/// `checks-vs-optee.md` F5 and F1: while a guest's UNREGISTER_SHM of a registration is in OP-TEE
/// (here: its secure call not answered yet), no other call of the guest may use that registration
/// (an RMEM parameter, a second UNREGISTER, the argument of CALL_WITH_REGD_ARG): OP-TEE 4.10 would
/// take a reference on a registration it is releasing and panic. And an RMEM parameter names only
/// a registration, never another call's temporary buffer. Each is refused without a secure call;
/// the registration works again, and is gone, as OP-TEE's answer to the UNREGISTER says.
#[test]
fn a_registration_being_unregistered_or_a_temporary_buffer_is_no_rmem() {
    let mut w = world();
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INOUT,
        list(0),
        data(0),
        2 * 4096,
        0x77,
    );
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    let s = open(&mut w, G1);
    let rm = |attr, c| Param {
        attr,
        a: 0,
        b: 8,
        c,
    };
    // UNREGISTER_SHM of 0x77 goes into OP-TEE and stays there for now.
    w.write_arg(
        G1,
        arg(1),
        msg::CMD_UNREGISTER_SHM,
        0,
        0,
        &[rm(msg::ATTR_TYPE_RMEM_INPUT, 0x77)],
    );
    let unreg = execute(w.m.start(&mut w.p, G1, 1, cwa(arg(1)), 0));
    let smcs = w.p.optee.smc_count;
    // An INVOKE naming 0x77, a second UNREGISTER of it: refused, no secure call.
    w.write_arg(
        G1,
        arg(2),
        msg::CMD_INVOKE_COMMAND,
        FN_ECHO,
        s,
        &[rm(msg::ATTR_TYPE_RMEM_OUTPUT, 0x77)],
    );
    let x = step_call(&mut w, G1, 2, cwa(arg(2)));
    assert_eq!(x[0], ret::OK);
    assert_eq!(
        w.read_arg(G1, arg(2), 1).ret,
        crate::abi::teec::ERROR_BAD_PARAMETERS
    );
    w.write_arg(
        G1,
        arg(3),
        msg::CMD_UNREGISTER_SHM,
        0,
        0,
        &[rm(msg::ATTR_TYPE_RMEM_INPUT, 0x77)],
    );
    step_call(&mut w, G1, 3, cwa(arg(3)));
    assert_eq!(
        w.read_arg(G1, arg(3), 1).ret,
        crate::abi::teec::ERROR_BAD_PARAMETERS
    );
    // CALL_WITH_REGD_ARG with its argument in 0x77: EBADADDR.
    let (hi, lo) = split(0x77);
    let x = step_call(
        &mut w,
        G1,
        4,
        [u64::from(smc::CALL_WITH_REGD_ARG), hi, lo, 0, 0, 0, 0, 0],
    );
    assert_eq!(x[0], ret::EBADADDR);
    assert_eq!(w.p.optee.smc_count, smcs, "nothing reached OP-TEE");
    // A temporary buffer of a call in OP-TEE is no RMEM either.
    let t = w.tmem(G1, msg::ATTR_TYPE_TMEM_INOUT, list(2), data(4), 4096, 0x99);
    w.write_arg(G1, arg(4), msg::CMD_INVOKE_COMMAND, FN_ECHO, s, &[t]);
    let temp = execute(w.m.start(&mut w.p, G1, 5, cwa(arg(4)), 0));
    w.write_arg(
        G1,
        arg(5),
        msg::CMD_INVOKE_COMMAND,
        FN_ECHO,
        s,
        &[rm(msg::ATTR_TYPE_RMEM_OUTPUT, 0x99)],
    );
    step_call(&mut w, G1, 6, cwa(arg(5)));
    assert_eq!(
        w.read_arg(G1, arg(5), 1).ret,
        crate::abi::teec::ERROR_BAD_PARAMETERS
    );
    assert_eq!(w.p.optee.smc_count, smcs, "nothing reached OP-TEE");
    let r = smc_x03(&mut w, temp);
    assert_eq!(answer(w.m.result(&mut w.p, G1, 5, r, 0))[0], ret::OK);
    // OP-TEE answers the UNREGISTER: the registration is gone.
    let r = smc_x03(&mut w, unreg);
    assert_eq!(answer(w.m.result(&mut w.p, G1, 1, r, 0))[0], ret::OK);
    assert_eq!(w.read_arg(G1, arg(1), 1).ret, 0);
    assert_eq!(w.p.optee.registered(2), 0);
    assert_clean(&w);
}
