//! OP-TEE threads and RPC resumption: holding every thread, duplicate RPC cookies, resuming
//! threads that are not ours or no longer suspended.

use super::cx::{finish_all, outcome, until_alloc, Cx, Outcome, Twist};
use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use kernel::xenif::hook::call::smccc_hvc;
use mediator::abi::teec as gp;
use mediator::abi::{msg, ret, smc, split};
use tee_client::client::{self, ipa, new_page, read_answer, write_msg, Answer, Page};
use tee_client::MISSING_TA_UUID;

/// Starts OPEN_SESSION of a TA nobody has in `page`; OP-TEE suspends the call in its first RPC
/// (RPC_FUNC_ALLOC of an argument buffer). The first answer.
pub(crate) fn start_missing_open(page: &mut Page) -> [u64; 8] {
    write_msg(
        page,
        msg::CMD_OPEN_SESSION,
        0,
        0,
        &client::open_params(&MISSING_TA_UUID),
    );
    let (hi, lo) = split(ipa(page));
    smccc_hvc([u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0])
}

/// **thread-exhaustion**: holds every OP-TEE thread (GET_THREAD_COUNT of them) by leaving as
/// many calls suspended in an RPC, then starts one more, then resumes all. Each held call is
/// first resumed past any foreign interrupt to its RPC_ALLOC: a foreign interrupt that Xen gives
/// the guest itself (hv-patches 0015) never reaches the mediator, which then counts that call as
/// still starting (OP-TEE may yet refuse it), not as holding a thread, and lets the extra call
/// wait for a thread instead of answering ETHREAD_LIMIT (found under host load, when timer
/// interrupts hit these calls).
///
/// Expected: each held call returns an RPC (`OPTEE_SMC_RETURN_RPC_ALLOC`); the extra call gets
/// `OPTEE_SMC_RETURN_ETHREAD_LIMIT` (1) from the mediator, which bounds a guest's calls by the
/// thread count (Xen `allocate_std_call`); after resumption every held call ends with x0 = OK,
/// `TEEC_ERROR_ITEM_NOT_FOUND` with origin TEE (no such TA). Defence: per-guest call bound in `call::start`.
/// Limit: OP-TEE's threads are shared by all guests (see README).
pub(crate) fn thread_exhaustion(cx: &mut Cx<'_>) -> Outcome {
    let n = cx.threads.clamp(1, 8) as usize;
    let mut held: Vec<(Box<Page>, [u64; 8])> = Vec::new();
    for _ in 0..n {
        let mut page = new_page();
        let r = until_alloc(&mut cx.t, cx.k, start_missing_open(&mut page));
        held.push((page, r));
    }
    let all_rpc = held
        .iter()
        .all(|(_, r)| ret::is_rpc(r[0]) && ret::rpc_func(r[0]) == ret::RPC_FUNC_ALLOC);
    let mut extra = new_page();
    let x = start_missing_open(&mut extra);
    let extra_x0 = x[0];
    let limited = extra_x0 == ret::ETHREAD_LIMIT;
    if ret::is_rpc(extra_x0) {
        // Not refused after all: finish it so that nothing stays held.
        cx.t.finish(cx.k, x);
    }
    let x0s = finish_all(&mut cx.t, cx.k, held.iter().map(|(_, r)| *r).collect());
    let ends: Vec<Answer> = held
        .iter_mut()
        .zip(x0s)
        .map(|((page, _), x0)| read_answer(page, x0))
        .collect();
    let all_done = ends
        .iter()
        .all(|a| a.is(gp::ERROR_ITEM_NOT_FOUND, gp::ORIGIN_TEE));
    outcome(
        all_rpc && limited && all_done,
        format!(
            "threads={n} held_rpc={all_rpc} extra_x0={extra_x0:#x} ends={:?}",
            ends.iter()
                .map(|a| (a.x0, a.ret, a.origin))
                .collect::<Vec<_>>()
        ),
    )
}

/// **rpc-alloc-duplicate-cookie**: two calls suspended in RPC_FUNC_ALLOC; the first gets a page
/// with cookie C, the second a different page with the same cookie C.
///
/// Expected: the mediator refuses the duplicate (Xen `handle_rpc_func_alloc`) and resumes the
/// second call with a null buffer; OP-TEE fails that allocation (`thread_rpc_alloc_arg`) and the
/// second call ends with x0 = OK; the first call, whose buffer C is legitimate, is unaffected and
/// ends with `TEEC_ERROR_ITEM_NOT_FOUND`, origin TEE. Defence: `call::rpc::rpc_alloc`.
///
/// Found by this attack and fixed in ef00994 (see README): the null answer used to carry the
/// guest's cookie C in a4/a5 (Xen still does); OP-TEE answers a failed allocation with
/// RPC_FUNC_FREE of that cookie, and the mediator then freed the *first* call's buffer C while
/// OP-TEE's thread still used it. The mediator now resumes a refused allocation with cookie 0, so
/// OP-TEE frees C exactly once (`optee_freed_cookie_times=1`, when the first call completes).
pub(crate) fn rpc_alloc_duplicate_cookie(cx: &mut Cx<'_>) -> Outcome {
    if cx.threads < 2 {
        return outcome(
            false,
            format!("needs 2 OP-TEE threads, have {}", cx.threads),
        );
    }
    let mut p1 = new_page();
    let mut p2 = new_page();
    let r1 = start_missing_open(&mut p1);
    let r2 = start_missing_open(&mut p2);
    // Foreign interrupts may come first: serve them until both wait in ALLOC.
    let r1 = until_alloc(&mut cx.t, cx.k, r1);
    let r2 = until_alloc(&mut cx.t, cx.k, r2);
    let in_alloc = |r: &[u64; 8]| ret::is_rpc(r[0]) && ret::rpc_func(r[0]) == ret::RPC_FUNC_ALLOC;
    if !(in_alloc(&r1) && in_alloc(&r2)) {
        let x = finish_all(&mut cx.t, cx.k, alloc::vec![r1, r2]);
        let (x1, x2) = (x[0], x[1]);
        return outcome(
            false,
            format!(
                "not both in ALLOC: {:#x} {:#x} (ends {x1:#x} {x2:#x})",
                r1[0], r2[0]
            ),
        );
    }
    // First call: an ordinary answer; remember its cookie.
    let r1 = cx.t.resume(cx.k, &r1);
    let c1 = cx.t.rpc_args.last().map(|(c, _)| *c).unwrap_or(0);
    cx.t.hooks.twist = Twist::AllocCookie(c1);
    let r2 = cx.t.resume(cx.k, &r2);
    let x = finish_all(&mut cx.t, cx.k, alloc::vec![r1, r2]);
    let (x1, x2) = (x[0], x[1]);
    let a2 = read_answer(&mut p2, x2);
    let a1 = read_answer(&mut p1, x1);
    let freed_c1 = cx.t.hooks.freed.iter().filter(|&&c| c == c1).count();
    outcome(
        a1.is(gp::ERROR_ITEM_NOT_FOUND, gp::ORIGIN_TEE) && a2.x0 == ret::OK,
        format!("cookie={c1:#x} first: {a1} second: {a2} optee_freed_cookie_times={freed_c1}"),
    )
}

/// **return-from-rpc-unowned-thread**: RETURN_FROM_RPC naming OP-TEE threads 0–3, 0xffffffff and
/// 2^32 while no call of ours is suspended (another guest's thread, or none).
///
/// Expected: `OPTEE_SMC_RETURN_ERESUME` (3) for each; nothing reaches OP-TEE (Xen `get_std_call`:
/// a thread ID is looked up among the caller's own suspended calls). Defence:
/// `call::rpc::return_from_rpc`.
pub(crate) fn return_from_rpc_unowned_thread(_cx: &mut Cx<'_>) -> Outcome {
    let mut got = Vec::new();
    for t in [0u64, 1, 2, 3, 0xFFFF_FFFF, 1 << 32] {
        let r = smccc_hvc([u64::from(smc::RETURN_FROM_RPC), 0, 0, t, 0, 0, 0, 0]);
        got.push(r[0]);
    }
    outcome(
        got.iter().all(|&x| x == ret::ERESUME),
        format!("x0s={got:x?}"),
    )
}

/// **return-from-rpc-replayed**: completes a call that went through RPCs, then sends its last
/// RETURN_FROM_RPC again (same thread ID, same registers).
///
/// Expected: `OPTEE_SMC_RETURN_ERESUME` (3): the call is gone, the thread may already serve
/// someone else. Defence: `call::rpc::return_from_rpc` (thread forgotten when resumed).
pub(crate) fn return_from_rpc_replayed(cx: &mut Cx<'_>) -> Outcome {
    let before = cx.t.rpcs.alloc;
    let a = cx.t.open(cx.k, &MISSING_TA_UUID);
    let replay = cx.t.hooks.last_resume;
    let r = smccc_hvc(replay);
    outcome(
        a.ret == gp::ERROR_ITEM_NOT_FOUND && cx.t.rpcs.alloc > before && r[0] == ret::ERESUME,
        format!("call: {a} replayed thread={:#x} x0={:#x}", replay[3], r[0]),
    )
}
