//! OP-TEE's threads are shared by every guest, but each guest only knows its
//! own calls. Linux's driver (6.1 and later, `optee_cq_wait_for_completion`)
//! answers ETHREAD_LIMIT, and EBUSY from the SHM cache switches, by waiting
//! until one of its *own* calls completes: a guest told ETHREAD_LIMIT while
//! it holds no thread waits forever (issue 11, cause 1). These tests show
//! the hazard at the immediate entry point (`handle_call`) and that
//! `Mediator::submit` keeps such a call waiting instead, hands freed threads
//! to waiting guests first come, first served, and bounds the wait.

use super::*;
use crate::abi::{ret, smc, split};
use crate::mediator::Reply;
use crate::sim::world::World;
use crate::sim::{FN_FOREIGN_INTR, FN_NOP};
use crate::types::Regs;
use crate::GuestError;

const G3: DomId = DomId::new(3).unwrap();

/// CALL_WITH_ARG for the argument at `ipa`.
fn cwa(ipa: u64) -> Regs {
    let (hi, lo) = split(ipa);
    [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]
}

/// Writes an INVOKE of `func` at argument page `page` and starts it; the
/// answer (an RPC when `func` suspends the thread).
fn start(w: &mut World, dom: DomId, session: u32, page: u64, func: u32) -> Regs {
    w.write_arg(dom, arg(page), msg::CMD_INVOKE_COMMAND, func, session, &[]);
    w.call(dom, cwa(arg(page)))
}

/// `g` holds every one of the world's 4 OP-TEE threads, each suspended in a
/// foreign-interrupt RPC (argument pages 2..6); returns their last answers.
fn hold_all(w: &mut World, g: DomId, session: u32) -> Vec<Regs> {
    (0..4)
        .map(|i| {
            let r = start(w, g, session, 2 + i, FN_FOREIGN_INTR);
            assert!(ret::is_rpc(r[0]), "thread {i} not suspended: {r:x?}");
            r
        })
        .collect()
}

/// G1 holds every thread; G2, which holds none, has an INVOKE of `func` at argument page 0
/// waiting for one (tag `tag`). Returns G1's session, G2's and G1's calls' last answers.
fn g2_waits_behind_g1(w: &mut World, func: u32, tag: u64) -> (u32, u32, Vec<Regs>) {
    let s1 = open(w, G1);
    let s2 = open(w, G2);
    let busy = hold_all(w, G1, s1);
    w.write_arg(G2, arg(0), msg::CMD_INVOKE_COMMAND, func, s2, &[]);
    assert_eq!(w.submit(G2, tag, cwa(arg(0))), Reply::Held);
    (s1, s2, busy)
}

/// Three guests, 4 OP-TEE threads, capabilities exchanged.
fn three_guests() -> World {
    let mut w = World::new(4, Config::default(), &[G1, G2, G3]);
    for g in [G1, G2, G3] {
        w.exchange(g);
    }
    w
}

/// Completes G1's calls (argument pages from `first` on).
fn finish_all(w: &mut World, g: DomId, first: u64, busy: Vec<Regs>) {
    for (i, r) in busy.into_iter().enumerate() {
        w.finish(g, arg(first + i as u64), 0, r);
    }
}

#[test]
fn at_once_a_guest_without_threads_gets_another_guests_thread_limit() {
    // The hazard itself, at the immediate entry point: G2 holds nothing and
    // is told ETHREAD_LIMIT because G1 holds every thread.
    let mut w = world();
    let s1 = open(&mut w, G1);
    let s2 = open(&mut w, G2);
    let busy = hold_all(&mut w, G1, s1);
    w.write_arg(G2, arg(0), msg::CMD_INVOKE_COMMAND, FN_NOP, s2, &[]);
    let r = w.m.handle_call(&mut w.p, G2, cwa(arg(0)));
    assert_eq!(r[0], ret::ETHREAD_LIMIT);
    assert_eq!(w.m.suspended_calls(G2), 0);
    finish_all(&mut w, G1, 2, busy);
    assert_clean(&w);
}

#[test]
fn a_call_waits_for_a_thread_another_guest_holds() {
    let mut w = world();
    let (_, _, mut busy) = g2_waits_behind_g1(&mut w, FN_NOP, 7);
    assert_eq!(w.m.waiting_calls_of(G2), 1);
    // Nothing is due while every thread is held.
    assert!(w.answers().is_empty());
    // G1 completes one call: the freed thread goes to G2's call.
    let r = busy.remove(0);
    assert_eq!(w.finish(G1, arg(2), 0, r).x0, ret::OK);
    let a = w.answers();
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].0, a[0].1, a[0].2[0]), (G2, 7, ret::OK));
    let o = w.read_arg(G2, arg(0), 0);
    assert_eq!(o.ret, 0);
    let st = w.m.stats(G2).unwrap();
    assert_eq!(st.thread_waits, 1);
    assert_eq!(st.errors_of(GuestError::ThreadLimit), 0);
    // Counted once, when answered.
    assert_eq!(st.std_calls, 2);
    finish_all(&mut w, G1, 3, busy);
    assert_eq!(w.m.waiting_calls(), 0);
    assert_clean(&w);
}

#[test]
fn a_waiting_call_fails_after_the_bound() {
    let mut w = world();
    let (_, _, busy) = g2_waits_behind_g1(&mut w, FN_NOP, 1);
    w.now_ms += crate::config::DEFAULT_THREAD_WAIT_MS - 1;
    assert!(w.answers().is_empty());
    w.now_ms += 1;
    let a = w.answers();
    assert_eq!(a.len(), 1);
    // EBUSY: Linux reports a communication error instead of waiting for a
    // call of its own that does not exist.
    assert_eq!((a[0].0, a[0].2[0]), (G2, ret::EBUSY));
    assert_eq!(w.m.stats(G2).unwrap().errors_of(GuestError::NoThread), 1);
    assert_eq!(w.p.mem.pins(G2), 0);
    finish_all(&mut w, G1, 2, busy);
    assert!(w.answers().is_empty());
    assert_clean(&w);
}

#[test]
fn a_guest_holding_threads_still_gets_thread_limit_while_another_waits() {
    let mut w = world();
    let s1 = open(&mut w, G1);
    let s2 = open(&mut w, G2);
    let mut busy = hold_all(&mut w, G1, s1);
    w.write_arg(
        G2,
        arg(0),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s2,
        &[],
    );
    assert_eq!(w.submit(G2, 1, cwa(arg(0))), Reply::Held);
    let r = busy.remove(0);
    w.finish(G1, arg(2), 0, r);
    // A thread is free, but G2 waited first: G1 (which holds three) is told
    // ETHREAD_LIMIT, and its own calls will wake it.
    w.write_arg(G1, arg(6), msg::CMD_INVOKE_COMMAND, FN_NOP, s1, &[]);
    assert_eq!(w.call(G1, cwa(arg(6)))[0], ret::ETHREAD_LIMIT);
    let a = w.answers();
    assert_eq!(a.len(), 1);
    assert!(ret::is_rpc(a[0].2[0]), "G2's call now holds the thread");
    assert_eq!(w.m.suspended_calls(G2), 1);
    // All four are held again (3 by G1, 1 by G2): G1 gets OP-TEE's
    // ETHREAD_LIMIT, caused by its own calls among others.
    assert_eq!(w.call(G1, cwa(arg(6)))[0], ret::ETHREAD_LIMIT);
    w.finish(G2, arg(0), 0, a[0].2);
    finish_all(&mut w, G1, 3, busy);
    assert_clean(&w);
}

#[test]
fn waiting_calls_get_freed_threads_first_come_first_served() {
    let mut w = three_guests();
    let s1 = open(&mut w, G1);
    let s2 = open(&mut w, G2);
    let s3 = open(&mut w, G3);
    let mut busy = hold_all(&mut w, G1, s1);
    w.write_arg(
        G2,
        arg(0),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s2,
        &[],
    );
    w.write_arg(
        G3,
        arg(0),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s3,
        &[],
    );
    assert_eq!(w.submit(G2, 2, cwa(arg(0))), Reply::Held);
    assert_eq!(w.submit(G3, 3, cwa(arg(0))), Reply::Held);
    let r = busy.remove(0);
    w.finish(G1, arg(2), 0, r);
    let a = w.answers();
    assert_eq!(a.iter().map(|x| x.0).collect::<Vec<_>>(), vec![G2]);
    assert_eq!(w.m.waiting_calls_of(G3), 1);
    let r = busy.remove(0);
    w.finish(G1, arg(3), 0, r);
    let b = w.answers();
    assert_eq!(b.iter().map(|x| x.0).collect::<Vec<_>>(), vec![G3]);
    w.finish(G2, arg(0), 0, a[0].2);
    w.finish(G3, arg(0), 0, b[0].2);
    finish_all(&mut w, G1, 4, busy);
    assert_clean(&w);
}

#[test]
fn shm_cache_switches_wait_for_other_guests_threads() {
    // OP-TEE refuses ENABLE/DISABLE_SHM_CACHE (EBUSY) while any thread of
    // any guest is in use; Linux's probe retries it only when one of its own
    // calls completes.
    let mut w = world();
    let s1 = open(&mut w, G1);
    let r = start(&mut w, G1, s1, 2, FN_FOREIGN_INTR);
    assert_eq!(
        w.m.handle_call(
            &mut w.p,
            G2,
            [u64::from(smc::DISABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0]
        )[0],
        ret::EBUSY
    );
    for fid in [smc::DISABLE_SHM_CACHE, smc::ENABLE_SHM_CACHE] {
        assert_eq!(
            w.submit(G2, 1, [u64::from(fid), 0, 0, 0, 0, 0, 0, 0]),
            Reply::Held
        );
        assert!(w.answers().is_empty());
        w.now_ms += crate::config::DEFAULT_THREAD_WAIT_MS;
        let a = w.answers();
        // Out of time: DISABLE has nothing more to give back, ENABLE leaves
        // OP-TEE's cache off; neither makes Linux wait for itself.
        let want = if fid == smc::DISABLE_SHM_CACHE {
            ret::ENOTAVAIL
        } else {
            ret::OK
        };
        assert_eq!((a[0].0, a[0].2[0]), (G2, want));
    }
    assert_eq!(
        w.submit(
            G2,
            1,
            [u64::from(smc::DISABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0]
        ),
        Reply::Held
    );
    w.finish(G1, arg(2), 0, r);
    let a = w.answers();
    assert_eq!((a[0].0, a[0].2[0]), (G2, ret::ENOTAVAIL));
    assert_clean(&w);
}

#[test]
fn a_destroyed_guests_waiting_call_is_dropped() {
    let mut w = world();
    let (_, _, busy) = g2_waits_behind_g1(&mut w, FN_NOP, 1);
    w.destroy(G2, 8);
    assert_eq!(w.m.waiting_calls(), 0);
    finish_all(&mut w, G1, 2, busy);
    assert!(w.answers().is_empty());
    assert_clean(&w);
}

#[test]
fn a_per_guest_thread_share_keeps_threads_for_others() {
    // Limits::max_threads: with 2 per guest and 4 threads, G1 cannot hold
    // them all, so G2 never waits.
    let mut w = world_with(Config {
        default_limits: Limits {
            max_threads: 2,
            ..Limits::default()
        },
        ..Config::default()
    });
    let s1 = open(&mut w, G1);
    let s2 = open(&mut w, G2);
    let a = start(&mut w, G1, s1, 2, FN_FOREIGN_INTR);
    let b = start(&mut w, G1, s1, 3, FN_FOREIGN_INTR);
    assert_eq!(start(&mut w, G1, s1, 4, FN_NOP)[0], ret::ETHREAD_LIMIT);
    assert_eq!(w.m.stats(G1).unwrap().errors_of(GuestError::ThreadLimit), 1);
    assert_eq!(start(&mut w, G2, s2, 5, FN_NOP)[0], ret::OK);
    w.finish(G1, arg(2), 0, a);
    w.finish(G1, arg(3), 0, b);
    assert_clean(&w);
}

#[test]
fn a_waiting_shm_cache_switch_does_not_hold_up_standard_calls() {
    // DISABLE_SHM_CACHE waits for every thread to be free; a standard call
    // that needs just one goes ahead of it.
    let mut w = three_guests();
    let s1 = open(&mut w, G1);
    let s3 = open(&mut w, G3);
    let r = start(&mut w, G1, s1, 2, FN_FOREIGN_INTR);
    let disable = [u64::from(smc::DISABLE_SHM_CACHE), 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(w.submit(G2, 1, disable), Reply::Held);
    assert_eq!(start(&mut w, G3, s3, 3, FN_NOP)[0], ret::OK);
    assert!(w.answers().is_empty());
    w.finish(G1, arg(2), 0, r);
    let a = w.answers();
    assert_eq!((a[0].0, a[0].2[0]), (G2, ret::ENOTAVAIL));
    assert_clean(&w);
}
