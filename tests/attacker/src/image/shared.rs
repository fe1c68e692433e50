//! What guests share behind the mediator: OP-TEE's session IDs and Xen's pins.

use super::cx::{outcome, pins, value_inout, Cx, Outcome};
use alloc::format;
use alloc::vec::Vec;
use mediator::abi::teec as gp;
use mediator::abi::{msg, PAGE_SIZE};
use tee_client::client::Scatter;
use tee_client::pta;

/// **invoke-forged-session**: INVOKE on session 0xdeadbeef (never opened by us; OP-TEE's session
/// IDs of another guest live in its partition).
///
/// Expected: x0 = OK, `TEEC_ERROR_BAD_PARAMETERS` with origin TEE (`entry_invoke_command`:
/// `tee_ta_get_session` fails).
pub(crate) fn invoke_forged_session(cx: &mut Cx<'_>) -> Outcome {
    let a =
        cx.t.invoke(cx.k, 0xdead_beef, pta::CMD_PARAMS, &[value_inout(1, 2)]);
    outcome(
        a.is(gp::ERROR_BAD_PARAMETERS, gp::ORIGIN_TEE),
        format!("{a}"),
    )
}

/// **pinned-pages-exhaustion**: REGISTER_SHM of 129-page buffers (the most per buffer) until
/// refused, reading Xen's pin count for us at the peak, then unregisters them all.
///
/// Expected: 16 registrations succeed (16 × 129 = 2064 pins, as Xen's query confirms); the 17th
/// gets `TEEC_ERROR_OUT_OF_MEMORY`, origin COMMS (MAX_SHM_BUFFER_COUNT 16 is reached before the
/// 16384-page cap, as in Xen); all unregister OK; then pins are 0. Defence: `Limits`
/// (`call::params::translate_noncontig`), Xen's per-domain pin cap behind it.
pub(crate) fn pinned_pages_exhaustion(cx: &mut Cx<'_>) -> Outcome {
    // One pool, registered again and again: the pins count per registration.
    let buf = Scatter::new(129);
    let mut done = Vec::new();
    let mut refused = None;
    for i in 0..40u64 {
        let c = 0x7a_2000 + i;
        let a = cx.t.register(
            cx.k,
            buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, 129 * PAGE_SIZE, c),
        );
        if a.ok() {
            done.push(c);
        } else {
            refused = Some((i, a));
            break;
        }
    }
    let peak = pins();
    let mut unreg = true;
    for c in &done {
        unreg &= cx.t.unregister(cx.k, *c).ok();
    }
    let ok = done.len() == 16
        && matches!(refused, Some((16, a)) if a.comms(gp::ERROR_OUT_OF_MEMORY))
        && peak == Ok(16 * 129)
        && unreg;
    outcome(
        ok,
        format!(
            "registered={} refused={:?} peak_pins={peak:?} unregistered_all={unreg}",
            done.len(),
            refused.map(|(i, a)| (i, a.x0, a.ret, a.origin))
        ),
    )
}
