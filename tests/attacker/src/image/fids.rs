//! Function identifiers: calls the mediator must not forward (other owners, SMC64, the
//! hypervisor's own VM_CREATED/VM_DESTROYED, upper bits set) and capability exchange.

use super::cx::{fast, outcome, value_inout, Cx, Outcome};
use crate::fid;
use alloc::format;
use kernel::xenif::hook::call::smccc_hvc;
use mediator::abi::{caps, msg, ret, smc, split, MsgArg};
use tee_client::client::{ipa, read_answer, write_msg};
use tee_client::{is_unknown, pta};

fn unknown_fid(f: u64, x1: u64) -> Outcome {
    let r = fast(f, x1);
    outcome(is_unknown(r[0]), format!("fid={f:#x} x0={:#x}", r[0]))
}

/// **vm-created-from-guest**: OPTEE_SMC_VM_CREATED (0xb200000d) for client 1 (dom0's).
///
/// Expected: SMCCC unknown function (-1): only the hypervisor (client ID 0) may create OP-TEE
/// partitions; the mediator never forwards it, and Xen's secure-call hypercall refuses it to
/// anyone but the mediator. Defence: `Mediator::handle_call`, hv-patches 0005 `tsd_secure_call`.
pub(crate) fn vm_created_from_guest(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(smc::VM_CREATED), 1)
}

/// **vm-destroyed-from-guest**: OPTEE_SMC_VM_DESTROYED (0xb200000e) for client 1 (dom0's,
/// which is running xtest meanwhile).
///
/// Expected: SMCCC unknown function (-1), and dom0's xtest still passes. Defence: as above.
pub(crate) fn vm_destroyed_from_guest(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(smc::VM_DESTROYED), 1)
}

/// **trusted-os-owner-51**: fast SMC32 call 0 of owner 51 (0xb3000000), a Trusted OS owner that
/// is not OP-TEE's (50).
///
/// Expected: SMCCC unknown function (-1). Defence: the mediator's function table.
pub(crate) fn trusted_os_owner_51(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(fid(true, false, 51, 0)), 0)
}

/// **trusted-os-end-unknown**: 0xbf00ff10, an unassigned function of the Trusted OS end owner
/// (63, where CALLS_COUNT/UID/REVISION live).
///
/// Expected: SMCCC unknown function (-1).
pub(crate) fn trusted_os_end_unknown(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(fid(true, false, 63, 0xFF10)), 0)
}

/// **trusted-app-owner-48**: 0xb0000000 (Trusted Application owner 48, which Xen forwards to
/// the TEE mediator like 49–63).
///
/// Expected: SMCCC unknown function (-1).
pub(crate) fn trusted_app_owner_48(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(fid(true, false, 48, 0)), 0)
}

/// **smc64-fast-call**: GET_OS_REVISION with the SMC64 bit (0xf2000001).
///
/// Expected: SMCCC unknown function (-1): OP-TEE's ABI is SMC32 only, the mediator matches the
/// full identifier. Defence: `Mediator::handle_call`.
pub(crate) fn smc64_fast_call(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(u64::from(fid(true, true, 50, 1)), 0)
}

/// **smc64-std-call**: CALL_WITH_ARG with the SMC64 bit (0x72000004) and a valid INVOKE in the
/// argument page.
///
/// Expected: SMCCC unknown function (-1), and the argument page is not touched (its `ret`
/// field keeps our marker 0x5a5a5a5a).
pub(crate) fn smc64_std_call(cx: &mut Cx<'_>) -> Outcome {
    let s = cx.session;
    write_msg(
        &mut cx.t.arg,
        msg::CMD_INVOKE_COMMAND,
        pta::CMD_PARAMS,
        s,
        &[value_inout(1, 2)],
    );
    MsgArg::new(&mut cx.t.arg.0, 0).set_ret(0x5a5a_5a5a);
    let (hi, lo) = split(ipa(&*cx.t.arg));
    let r = smccc_hvc([u64::from(fid(false, true, 50, 4)), hi, lo, 0, 0, 0, 0, 0]);
    let a = read_answer(&mut cx.t.arg, r[0]);
    outcome(
        is_unknown(r[0]) && a.ret == 0x5a5a_5a5a && a.p[0].a == 1,
        format!("x0={:#x} ret={:#x} value.a={}", r[0], a.ret, a.p[0].a),
    )
}

/// **fid-upper-bits-set**: GET_OS_REVISION with garbage in x0's upper half
/// (0xffffffff_b2000001).
///
/// Expected: SMCCC unknown function (-1): the mediator matches all 64 bits of x0, as Xen's
/// `optee_handle_call` does (`switch (get_user_reg(regs, 0))`).
pub(crate) fn fid_upper_bits_set(_cx: &mut Cx<'_>) -> Outcome {
    unknown_fid(0xFFFF_FFFF_0000_0000 | u64::from(smc::GET_OS_REVISION), 0)
}

/// **get-shm-config**: GET_SHM_CONFIG asks where OP-TEE's static shared memory is (a physically
/// contiguous pool every client would share).
///
/// Expected: `OPTEE_SMC_RETURN_ENOTAVAIL` (7). Defence: `Mediator::handle_call` (Xen does the
/// same).
pub(crate) fn get_shm_config(_cx: &mut Cx<'_>) -> Outcome {
    let r = fast(u64::from(smc::GET_SHM_CONFIG), 0);
    outcome(
        r[0] == ret::ENOTAVAIL,
        format!("x0={:#x} a1={:#x}", r[0], r[1]),
    )
}

/// **exchange-caps-all-bits**: EXCHANGE_CAPABILITIES offering every normal-world bit
/// (x1 = 0xffffffffffffffff).
///
/// Expected: x0 = OK; the secure capabilities shown are a subset of what the mediator mediates
/// (`caps::SUPPORTED_SEC`), with DYNAMIC_SHM and without HAVE_RESERVED_SHM. Defence:
/// `mediator::exchange_caps` (both directions masked).
pub(crate) fn exchange_caps_all_bits(_cx: &mut Cx<'_>) -> Outcome {
    let r = fast(u64::from(smc::EXCHANGE_CAPABILITIES), u64::MAX);
    outcome(
        r[0] == ret::OK
            && r[1] & !caps::SUPPORTED_SEC == 0
            && r[1] & caps::SEC_DYNAMIC_SHM != 0
            && r[1] & caps::SEC_HAVE_RESERVED_SHM == 0,
        format!("x0={:#x} sec_caps={:#x}", r[0], r[1]),
    )
}
