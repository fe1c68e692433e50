//! Shared-memory cookies: duplicates, forged ones, reuse after unregistering, offsets past a
//! registered buffer.

use super::cx::{outcome, Cx, Outcome};
use alloc::format;
use kernel::xenif::hook::call::smccc_hvc;
use mediator::abi::teec as gp;
use mediator::abi::{msg, ret, smc, PAGE_SIZE};
use tee_client::client::{rmem, Scatter};

/// `TEE_ERROR_SECURITY` (GP TEE Internal Core API): OP-TEE's answer to an RMEM reference
/// outside its registered buffer (`entry_std.c`, `set_rmem_param`).
const TEE_ERROR_SECURITY: u32 = 0xFFFF_000F;

/// **register-duplicate-cookie**: REGISTER_SHM of buffer A with cookie C, then of buffer B with
/// the same C; then uses and unregisters A.
///
/// Expected: the second registration gets `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS (a cookie
/// names one buffer per guest); A still works (RMEM invoke OK) and unregisters OK. Defence:
/// `call::params::translate_noncontig` (`find_buf`).
pub(crate) fn register_duplicate_cookie(cx: &mut Cx<'_>) -> Outcome {
    let mut a_buf = Scatter::new(2);
    let b_buf = Scatter::new(2);
    let c = 0x7a_1001;
    let len = 2 * PAGE_SIZE;
    let ra =
        cx.t.register(cx.k, a_buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, len, c));
    let rb =
        cx.t.register(cx.k, b_buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, len, c));
    let sum = a_buf.fill(0, len);
    let use_a = cx.invoke(&[rmem(msg::ATTR_TYPE_RMEM_INOUT, 0, len as u64, c)]);
    let used = use_a.ok() && a_buf.byte(0) == sum;
    let un = cx.t.unregister(cx.k, c);
    outcome(
        ra.ok() && rb.comms(gp::ERROR_BAD_PARAMETERS) && used && un.ok(),
        format!("first: {ra} second: {rb} use_first={used} unregister: {un}"),
    )
}

/// **tmem-reuses-registered-cookie**: a temporary NONCONTIG memref carrying the cookie of a
/// buffer registered before.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS; the registered buffer is unaffected and
/// unregisters OK.
pub(crate) fn tmem_reuses_registered_cookie(cx: &mut Cx<'_>) -> Outcome {
    let reg = Scatter::new(1);
    let tmp = Scatter::new(1);
    let c = 0x7a_1002;
    let r = cx.t.register(
        cx.k,
        reg.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, PAGE_SIZE, c),
    );
    let a = cx.invoke(&[tmp.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 64, c)]);
    let un = cx.t.unregister(cx.k, c);
    outcome(
        r.ok() && a.comms(gp::ERROR_BAD_PARAMETERS) && un.ok(),
        format!("register: {r} tmem: {a} unregister: {un}"),
    )
}

/// **rmem-forged-cookie**: RMEM_INOUT naming cookie 0xdeadbeef, never registered (another
/// guest's cookie would look the same: OP-TEE keeps cookies per guest partition).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS` with origin COMMS: the mediator passes an RMEM only if
/// its cookie names a buffer it tracks for this guest, so OP-TEE never sees it (Xen passes it
/// through and OP-TEE answers BAD_PARAMETERS, origin TEE, `set_rmem_param`). Defence:
/// `call::params::translate_params` (it also keeps registrations made through a dead mediator, whose
/// pages are no longer pinned, out of reach), OP-TEE's per-partition cookie lookup behind it.
pub(crate) fn rmem_forged_cookie(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.invoke(&[rmem(msg::ATTR_TYPE_RMEM_INOUT, 0, 64, 0xdead_beef)]);
    outcome(a.comms(gp::ERROR_BAD_PARAMETERS), format!("{a}"))
}

/// **unregister-twice**: REGISTER_SHM, UNREGISTER_SHM, UNREGISTER_SHM of the same cookie.
///
/// Expected: the second UNREGISTER gets x0 = OK with `TEEC_ERROR_BAD_PARAMETERS`: the cookie is
/// no longer tracked, so the mediator refuses its RMEM parameter (Xen: OP-TEE answers, from
/// `mobj_reg_shm_release_by_cookie`); the pins were released at the first one. Defence:
/// `call::complete` (unpin only on OP-TEE's success), the RMEM cookie check.
pub(crate) fn unregister_twice(cx: &mut Cx<'_>) -> Outcome {
    let buf = Scatter::new(2);
    let c = 0x7a_1003;
    let r = cx.t.register(
        cx.k,
        buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, 2 * PAGE_SIZE, c),
    );
    let u1 = cx.t.unregister(cx.k, c);
    let u2 = cx.t.unregister(cx.k, c);
    outcome(
        r.ok() && u1.ok() && u2.x0 == ret::OK && u2.ret == gp::ERROR_BAD_PARAMETERS,
        format!("register: {r} first: {u1} second: {u2}"),
    )
}

/// **unregister-forged-cookie**: UNREGISTER_SHM of cookie 0x1 that we never registered.
///
/// Expected: x0 = OK, `TEEC_ERROR_BAD_PARAMETERS` (origin COMMS: the mediator's RMEM cookie
/// check); no pin changes.
pub(crate) fn unregister_forged_cookie(cx: &mut Cx<'_>) -> Outcome {
    let u = cx.t.unregister(cx.k, 1);
    outcome(
        u.x0 == ret::OK && u.ret == gp::ERROR_BAD_PARAMETERS,
        format!("{u}"),
    )
}

/// **regd-arg-forged-cookie**: CALL_WITH_REGD_ARG naming cookie 0x1234 (no such registered
/// buffer) as the place of the argument.
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4). Defence: `call::arg::locate` (Regd: the cookie must be
/// one of the guest's registered buffers).
pub(crate) fn regd_arg_forged_cookie(_cx: &mut Cx<'_>) -> Outcome {
    let r = smccc_hvc([u64::from(smc::CALL_WITH_REGD_ARG), 0, 0x1234, 0, 0, 0, 0, 0]);
    outcome(r[0] == ret::EBADADDR, format!("x0={:#x}", r[0]))
}

/// **rmem-offset-overflow**: registers one page, then an RMEM reference into it at offset
/// 0xfffffffffffffff8 with size 16 (offset + size overflows).
///
/// Expected: OP-TEE answers `TEE_ERROR_SECURITY` (0xffff000f) with origin TEE
/// (`set_rmem_param`: ADD_OVERFLOW); nothing was pinned for it. The buffer unregisters OK.
pub(crate) fn rmem_offset_overflow(cx: &mut Cx<'_>) -> Outcome {
    let buf = Scatter::new(1);
    let c = 0x7a_1004;
    let r = cx.t.register(
        cx.k,
        buf.memref(msg::ATTR_TYPE_TMEM_OUTPUT, 0, PAGE_SIZE, c),
    );
    let a = cx.invoke(&[rmem(
        msg::ATTR_TYPE_RMEM_INOUT,
        0xFFFF_FFFF_FFFF_FFF8,
        16,
        c,
    )]);
    let un = cx.t.unregister(cx.k, c);
    outcome(
        r.ok() && a.is(TEE_ERROR_SECURITY, gp::ORIGIN_TEE) && un.ok(),
        format!("register: {r} rmem: {a} unregister: {un}"),
    )
}
