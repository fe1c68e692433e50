//! Lifecycle (Xen optee_domain_init, optee_relinquish_resources).

use super::*;
use crate::abi::{ret, smc, split};
use crate::sim::{FN_FOREIGN_INTR, FN_SHM_RPC};
use crate::{LifecycleError, Progress};

#[test]
fn vm_created_once_per_client_id() {
    let mut w = world();
    assert_eq!(w.p.optee.vm_created.get(&2), Some(&1));
    assert_eq!(w.p.optee.vm_created.get(&3), Some(&1));
    assert_eq!(
        w.m.guest_created(&mut w.p, G1, "x"),
        Err(LifecycleError::AlreadyExists)
    );
    assert_eq!(w.p.optee.vm_created.get(&2), Some(&1));
}

#[test]
fn vm_created_failure_marks_guest_unavailable() {
    let mut w = world();
    w.p.optee.max_guests = 2;
    w.p.mem
        .add_guest(DomId::new(3).unwrap(), crate::sim::world::RAM, 16);
    assert_eq!(
        w.m.guest_created(&mut w.p, DomId::new(3).unwrap(), "x"),
        Err(LifecycleError::VmCreatedFailed(ret::ENOTAVAIL))
    );
    let n = w.p.optee.smc_count;
    assert_eq!(
        w.fast(DomId::new(3).unwrap(), smc::CALLS_UID)[0],
        ret::ENOTAVAIL
    );
    assert_eq!(w.p.optee.smc_count, n);
    assert_eq!(w.destroy(DomId::new(3).unwrap(), 8), 1);
    assert_eq!(w.p.optee.vm_destroyed.get(&4), None, "never created");
}

#[test]
fn probe_checks_uid_threads_and_virtualization() {
    let mut p = crate::sim::SimPlatform::new(3);
    let m = crate::Mediator::probe(Config::default(), &mut p).unwrap();
    assert_eq!(m.threads(), 3);
    assert_eq!(
        p.optee.vm_destroyed.get(&0),
        Some(&1),
        "Xen's VM_DESTROYED(0) probe"
    );
}

#[test]
fn teardown_with_calls_in_flight_releases_everything() {
    let mut w = world();
    let s = open(&mut w, G1);
    // A registered buffer, a cached RPC buffer, and calls suspended in RPCs
    // with temporary memrefs and an RPC-allocated buffer.
    w.fast(G1, smc::ENABLE_SHM_CACHE);
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INOUT,
        list(0),
        data(0),
        7 * 4096,
        0x70,
    );
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    let t = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INPUT,
        list(3),
        data(20),
        3 * 4096,
        0x71,
    );
    w.write_arg(
        G1,
        arg(2),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s,
        &[t],
    );
    let (hi, lo) = split(arg(2));
    let r = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    assert!(ret::is_rpc(r[0]));
    w.write_arg(G1, arg(3), msg::CMD_INVOKE_COMMAND, FN_SHM_RPC, s, &[]);
    let (hi, lo) = split(arg(3));
    let mut r = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    for _ in 0..2 {
        let a = w.answer_rpc(G1, &r);
        r = w.call(G1, a);
    }
    assert!(ret::is_rpc(r[0]));
    assert_eq!(w.p.mem.pins(G1), 7 + 3 + 1 + 1);
    assert_eq!(w.m.suspended_calls(G1), 2);
    let g2_pins = w.p.mem.pins(G2);
    // Teardown in steps of one unit: it takes many steps, each bounded.
    let steps = w.destroy(G1, 1);
    assert!(steps > 10, "{steps} steps");
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_eq!(w.p.optee.vm_destroyed.get(&2), Some(&1));
    assert!(!w.m.has_guest(G1));
    // Calls after teardown: not a TEE guest any more.
    assert_eq!(
        w.fast(G1, smc::CALLS_UID)[0],
        crate::abi::SMCCC_UNKNOWN_FUNCTION
    );
    // Destroying again does nothing.
    assert_eq!(w.m.guest_destroying(&mut w.p, G1, 1), Progress::Done);
    assert_eq!(w.p.optee.vm_destroyed.get(&2), Some(&1));
    assert_eq!(w.p.mem.pins(G2), g2_pins);
    assert_eq!(w.p.mem.shadow_outstanding(), w.m.cached_shadow_pages());
    assert_clean(&w);
}

#[test]
fn calls_during_teardown_get_enotavail() {
    let mut w = world();
    let p = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INOUT,
        list(0),
        data(0),
        40 * 4096,
        1,
    );
    w.write_arg(G1, arg(0), msg::CMD_REGISTER_SHM, 0, 0, &[p]);
    assert_eq!(w.run(G1, arg(0), 1).ret, 0);
    assert_eq!(w.m.guest_destroying(&mut w.p, G1, 3), Progress::Pending);
    assert_eq!(w.fast(G1, smc::CALLS_UID)[0], ret::ENOTAVAIL);
    w.destroy(G1, 1000);
    assert_eq!(w.p.mem.pins(G1), 0);
}

#[test]
fn guest_recreated_after_destroy_gets_a_fresh_partition() {
    let mut w = world();
    open(&mut w, G1);
    w.destroy(G1, 100);
    assert!(w.add(G1, "default"));
    assert_eq!(w.p.optee.vm_created.get(&2), Some(&2));
    assert_eq!(w.p.optee.sessions(2), 0);
}

/// The teardown is bounded step by step and in all: each `guest_destroying` call with budget 1
/// unpins at most one page, also of a suspended call's temporary memref (which it once freed
/// whole, as one unit), and the steps stay within `teardown_steps`, which depends on the
/// guest's limits only.
#[test]
fn teardown_is_bounded_per_step_and_in_all() {
    let mut w = world();
    let s = open(&mut w, G1);
    let t = w.tmem(
        G1,
        msg::ATTR_TYPE_TMEM_INPUT,
        list(0),
        data(0),
        20 * 4096,
        0x71,
    );
    w.write_arg(
        G1,
        arg(2),
        msg::CMD_INVOKE_COMMAND,
        FN_FOREIGN_INTR,
        s,
        &[t],
    );
    let (hi, lo) = split(arg(2));
    let r = w.call(G1, [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]);
    assert!(ret::is_rpc(r[0]));
    assert_eq!(w.p.mem.pins(G1), 20);
    let bound = w.m.teardown_steps(G1, 1);
    let l = Limits::default();
    assert_eq!(bound, 4 + 64 + l.max_pinned_pages + l.max_buffers + 1);
    assert_eq!(w.m.teardown_steps(G1, 64), bound.div_ceil(64));
    let mut steps = 0;
    loop {
        let before = w.p.mem.pins(G1);
        let done = w.m.guest_destroying(&mut w.p, G1, 1) == Progress::Done;
        assert!(
            before - w.p.mem.pins(G1) <= 1,
            "step {steps}: more than one unit"
        );
        steps += 1;
        assert!(steps <= bound);
        if done {
            break;
        }
    }
    assert!(steps > 20, "{steps} steps");
    assert_eq!(w.p.mem.pins(G1), 0);
    assert_eq!(w.p.optee.vm_destroyed.get(&2), Some(&1));
    assert_clean(&w);
}
