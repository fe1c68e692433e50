//! The argument: its address (misaligned, outside our RAM, MMIO, other domains' or the secure
//! world's memory) and its header (parameter count, command).

use super::cx::{outcome, Cx, Outcome};
use crate::{GUEST_PL011_BASE, OPTEE_STATIC_SHM_PA, SECURE_RAM_PA};
use alloc::format;
use kernel::xenif::hook::call::smccc_hvc;
use mediator::abi::teec as gp;
use mediator::abi::{msg, ret, smc, split, MsgArg};
use tee_client::client::{ipa, write_msg};
use tee_client::pta;

fn ebadaddr_at(cx: &mut Cx<'_>, pa: u64) -> Outcome {
    let x0 = cx.call_at(pa);
    outcome(x0 == ret::EBADADDR, format!("arg={pa:#x} x0={x0:#x}"))
}

fn ebadaddr_outside(cx: &mut Cx<'_>, pa: u64) -> Outcome {
    if !cx.outside_ram(pa) {
        return outcome(false, format!("{pa:#x} is inside our RAM {:#x?}", cx.ram));
    }
    ebadaddr_at(cx, pa)
}

/// **arg-misaligned**: CALL_WITH_ARG at a valid page + 0x80.
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4) (the argument starts on a page boundary; Xen
/// `copy_std_request`). Defence: `Ipa::page_aligned` in `call::arg::locate`.
pub(crate) fn arg_misaligned(cx: &mut Cx<'_>) -> Outcome {
    let s = cx.session;
    write_msg(
        &mut cx.t.arg,
        msg::CMD_INVOKE_COMMAND,
        pta::CMD_PARAMS,
        s,
        &[],
    );
    let pa = ipa(&*cx.t.arg) + 0x80;
    ebadaddr_at(cx, pa)
}

/// **rpc-arg-misaligned**: CALL_WITH_RPC_ARG at page + 4 (the ABI wants 8-byte alignment).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4). Defence: `call::arg::locate` (RpcArg variant).
pub(crate) fn rpc_arg_misaligned(cx: &mut Cx<'_>) -> Outcome {
    let (hi, lo) = split(ipa(&*cx.t.arg) + 4);
    let r = smccc_hvc([u64::from(smc::CALL_WITH_RPC_ARG), hi, lo, 0, 0, 0, 0, 0]);
    outcome(r[0] == ret::EBADADDR, format!("x0={:#x}", r[0]))
}

/// **arg-beyond-ram**: CALL_WITH_ARG at the first page after our RAM.
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4): the mediator cannot map it (no p2m entry).
/// Defence: the mediator reads guest memory only through Xen's foreign mapping of the guest's
/// own p2m (`stubdom::memory`).
pub(crate) fn arg_beyond_ram(cx: &mut Cx<'_>) -> Outcome {
    let end = cx.ram.0 + cx.ram.1;
    ebadaddr_outside(cx, end)
}

/// **arg-huge-ipa**: CALL_WITH_ARG at 0xfffffffffffff000 (a1 = a2 = 0xffffffff-ish: beyond any
/// IPA size).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4).
pub(crate) fn arg_huge_ipa(cx: &mut Cx<'_>) -> Outcome {
    ebadaddr_outside(cx, 0xFFFF_FFFF_FFFF_F000)
}

/// **arg-gic-mmio**: CALL_WITH_ARG at our GIC distributor (emulated MMIO, from our DT).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4): MMIO is not RAM, Xen refuses to map it.
pub(crate) fn arg_gic_mmio(cx: &mut Cx<'_>) -> Outcome {
    let g = cx.gic_dist;
    ebadaddr_outside(cx, g)
}

/// **arg-vpl011-mmio**: CALL_WITH_ARG at our vPL011 UART (0x22000000, emulated MMIO).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4).
pub(crate) fn arg_vpl011_mmio(cx: &mut Cx<'_>) -> Outcome {
    ebadaddr_outside(cx, GUEST_PL011_BASE)
}

/// **arg-dom0-ram**: CALL_WITH_ARG at a physical address of dom0's RAM (dom0 is mapped 1:1;
/// `dom0-pa=`, dom0's device tree), named as if it were our IPA.
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4): an IPA is translated through our p2m only, where
/// that address is a hole; dom0's memory is never read. Defence: IPA → machine translation
/// only by Xen for the calling domain (`stubdom::memory`, hv-patches 0005 `tsd_pin`).
pub(crate) fn arg_dom0_ram(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.dom0_pa;
    ebadaddr_outside(cx, a)
}

/// **arg-secure-ram**: CALL_WITH_ARG at 0x0e100000 (OP-TEE's own secure RAM on QEMU virt).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4).
pub(crate) fn arg_secure_ram(cx: &mut Cx<'_>) -> Outcome {
    ebadaddr_outside(cx, SECURE_RAM_PA)
}

/// **arg-optee-static-shm**: CALL_WITH_ARG at 0x42000000 (OP-TEE's static SHM pool, physical).
///
/// Expected: `OPTEE_SMC_RETURN_EBADADDR` (4) (with 32 MiB of RAM at 0x40000000 that IPA is past
/// our RAM).
pub(crate) fn arg_optee_static_shm(cx: &mut Cx<'_>) -> Outcome {
    ebadaddr_outside(cx, OPTEE_STATIC_SHM_PA)
}

fn num_params_over(cx: &mut Cx<'_>, n: u32) -> Outcome {
    write_msg(
        &mut cx.t.arg,
        msg::CMD_INVOKE_COMMAND,
        pta::CMD_PARAMS,
        cx.session,
        &[],
    );
    MsgArg::new(&mut cx.t.arg.0, 0).set_num_params(n);
    let a = cx.t.send(cx.k);
    outcome(
        a.comms(gp::ERROR_BAD_PARAMETERS) && a.num_params == n,
        format!("num_params={n} {a} num_params_back={}", a.num_params),
    )
}

/// **num-params-128**: an INVOKE claiming 128 parameters (32 + 128 × 32 bytes > one page; 127
/// fit).
///
/// Expected: x0 = OK, `TEEC_ERROR_BAD_PARAMETERS` in arg.ret with origin COMMS; num_params in
/// our page unchanged (only ret, ret_origin and session are copied back, as in Xen
/// `handle_std_call`; x0 = OK is our deviation, see mediator/README.md). Nothing reaches
/// OP-TEE. Defence: `call::arg::prepare` size check.
pub(crate) fn num_params_128(cx: &mut Cx<'_>) -> Outcome {
    num_params_over(cx, 128)
}

/// **num-params-u32-max**: num_params = 0xffffffff (the size computation would overflow 32 bits).
///
/// Expected: as num-params-128. Defence: `msg::arg_size` is checked arithmetic.
pub(crate) fn num_params_u32_max(cx: &mut Cx<'_>) -> Outcome {
    num_params_over(cx, u32::MAX)
}

/// **unknown-command**: a message with cmd 0x1234.
///
/// Expected: `OPTEE_SMC_RETURN_EBADCMD` (5), nothing reaches OP-TEE (Xen: the command switch).
pub(crate) fn unknown_command(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.t.msg(cx.k, 0x1234, 0, 0, &[]);
    outcome(a.x0 == ret::EBADCMD, format!("{a}"))
}
