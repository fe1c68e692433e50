//! Host scenario tests against the simulators, one per behaviour (see the
//! table in mediator/README.md).
// Test code: constants and small counters; an overflow would panic and fail
// the test, which is what we want.
#![allow(clippy::arithmetic_side_effects)]

mod access;
mod beyond;
mod calls;
mod fast;
mod fuzz_regressions;
mod isolation;
mod lifecycle;
mod limits;
mod props;
mod rpc;
mod steps;
mod threads;
mod toctou;

use crate::abi::{msg, Param};
use crate::sim::world::{World, ARG_AREA, DATA_AREA, LIST_AREA};
use crate::sim::SIM_TA;
use crate::{Config, DomId, Limits};

pub(crate) const G1: DomId = DomId::new(1).unwrap();
pub(crate) const G2: DomId = DomId::new(2).unwrap();

/// Two guests, 4 OP-TEE threads, default limits, caps exchanged.
pub(crate) fn world() -> World {
    world_with(Config::default())
}

pub(crate) fn world_with(config: Config) -> World {
    let mut w = World::new(4, config, &[G1, G2]);
    w.exchange(G1);
    w.exchange(G2);
    w
}

/// Argument page `i`.
pub(crate) fn arg(i: u64) -> u64 {
    ARG_AREA + i * 4096
}
/// Page-list page `i`.
pub(crate) fn list(i: u64) -> u64 {
    LIST_AREA + i * 4096
}
/// Data page `i`.
pub(crate) fn data(i: u64) -> u64 {
    DATA_AREA + i * 4096
}

/// Opens a session to SIM_TA; returns its ID.
pub(crate) fn open(w: &mut World, dom: DomId) -> u32 {
    let o = w.open(dom, arg(0), SIM_TA);
    assert_eq!((o.x0, o.ret), (0, 0), "open session failed: {o:?}");
    o.session
}

pub(crate) fn value(ty: u64, a: u64) -> Param {
    Param {
        attr: ty,
        a,
        b: 0,
        c: 0,
    }
}

/// Invokes `func` on `session` with `params`, driven to completion.
pub(crate) fn invoke(
    w: &mut World,
    dom: DomId,
    session: u32,
    func: u32,
    params: &[Param],
) -> crate::sim::world::Outcome {
    w.write_arg(dom, arg(1), msg::CMD_INVOKE_COMMAND, func, session, params);
    w.run(dom, arg(1), params.len())
}

/// Nothing pinned, no shadow page lost, no protocol violation.
pub(crate) fn assert_clean(w: &World) {
    assert!(
        w.p.optee.violations.is_empty(),
        "violations: {:?}",
        w.p.optee.violations
    );
    assert_eq!(w.p.mem.bad_unpins, 0);
}
