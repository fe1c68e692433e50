//! Our answers to OP-TEE's RPCs, wrong on purpose: argument buffers at addresses that are not
//! ours or misaligned, bad page lists and old-style buffers for SHM_ALLOC.

use super::cx::{outcome, Cx, Outcome, Twist};
use alloc::format;
use mediator::abi::ret;
use tee_client::client::{ipa, new_page, Answer};
use tee_client::{teec, MISSING_TA_UUID};

/// Opens the missing TA with `twist` armed; the answer.
fn twisted_open(cx: &mut Cx<'_>, twist: Twist) -> Answer {
    cx.t.hooks.twist = twist;
    cx.t.open(cx.k, &MISSING_TA_UUID)
}

/// **rpc-alloc-answer-dom0-pa**: answers OP-TEE's RPC_FUNC_ALLOC (argument buffer for its RPCs)
/// with a physical address of dom0's RAM.
///
/// Expected: the mediator cannot pin it and resumes OP-TEE with a null buffer (Xen
/// `handle_rpc_func_alloc`); OP-TEE gives up on that RPC and the open ends with x0 = OK and an
/// error in arg.ret (not SUCCESS). dom0's memory is never handed to OP-TEE.
pub(crate) fn rpc_alloc_answer_dom0_pa(cx: &mut Cx<'_>) -> Outcome {
    let a = twisted_open(cx, Twist::AllocAt(cx.dom0_pa));
    outcome(
        a.x0 == ret::OK && a.ret != teec::SUCCESS && cx.t.hooks.twist == Twist::None,
        format!("alloc_answer={:#x} {a}", cx.dom0_pa),
    )
}

/// **rpc-alloc-answer-unaligned**: answers RPC_FUNC_ALLOC with a page of ours + 0x10.
///
/// Expected: as rpc-alloc-answer-dom0-pa (the buffer must be page-aligned).
pub(crate) fn rpc_alloc_answer_unaligned(cx: &mut Cx<'_>) -> Outcome {
    let page = new_page();
    let at = ipa(&*page) + 0x10;
    let a = twisted_open(cx, Twist::AllocAt(at));
    outcome(
        a.x0 == ret::OK && a.ret != teec::SUCCESS && cx.t.hooks.twist == Twist::None,
        format!("alloc_answer={at:#x} {a}"),
    )
}

/// **rpc-shm-alloc-bad-list**: answers OP-TEE's RPC command SHM_ALLOC with a NONCONTIG buffer
/// whose page list names dom0's RAM.
///
/// Expected: the mediator cannot translate it, asks us to free our buffer (an RPC SHM_FREE of
/// our own cookie, Xen `issue_rpc_cmd_free`), then tells OP-TEE the allocation failed; the open
/// ends with x0 = OK and ret ≠ SUCCESS. Defence: `call::rpc::rpc_shm_alloc`.
pub(crate) fn rpc_shm_alloc_bad_list(cx: &mut Cx<'_>) -> Outcome {
    let before = cx.t.rpcs.shm_alloc;
    let a = twisted_open(cx, Twist::ShmAllocEntry(cx.dom0_pa));
    let asked = cx.t.rpcs.shm_alloc > before;
    let freed = cx.t.hooks.freed_twisted;
    outcome(
        asked && freed == 1 && a.x0 == ret::OK && a.ret != teec::SUCCESS,
        format!("shm_alloc_asked={asked} our_cookie_freed={freed} {a}"),
    )
}

/// **rpc-shm-alloc-old-style**: answers SHM_ALLOC with an old-style contiguous TMEM_OUTPUT (a raw
/// address, no NONCONTIG).
///
/// Expected: OP-TEE gets `TEEC_ERROR_GENERIC` with no parameters (fail closed; our deviation:
/// Xen passes the raw address through); the open ends with x0 = OK, ret ≠ SUCCESS.
pub(crate) fn rpc_shm_alloc_old_style(cx: &mut Cx<'_>) -> Outcome {
    let before = cx.t.rpcs.shm_alloc;
    let a = twisted_open(cx, Twist::ShmAllocOldStyle);
    let asked = cx.t.rpcs.shm_alloc > before;
    outcome(
        asked && a.x0 == ret::OK && a.ret != teec::SUCCESS,
        format!("shm_alloc_asked={asked} {a}"),
    )
}
