//! Standard calls and their RPCs (Xen `optee.c`: `handle_std_call`,
//! `translate_params`, `translate_noncontig`, `copy_std_request_back`,
//! `do_call_with_arg`, `handle_rpc`, `handle_rpc_cmd`, ...).
//!
//! The guest's `struct optee_msg_arg` (`optee_msg.h`) is copied once into a
//! shadow page of mediator memory; OP-TEE only ever gets the shadow's
//! physical address, so nothing the guest changes after the copy reaches
//! OP-TEE. Results go back field by field: `ret`, `ret_origin`, `session`,
//! and the sizes and values of output parameters, nothing else.
//!
//! A call is owned by the code that runs it: it is taken out of the guest's
//! call list while it runs and put back when it waits, either in a secure
//! call the mediator's caller makes for the guest (then `Mediator::result`
//! finds it by the caller's tag) or suspended in an RPC (then the guest's
//! RETURN_FROM_RPC finds it by its OP-TEE thread ID).
//!
//! The mediator makes no secure call for a guest itself: where the code
//! needs OP-TEE it parks the call and returns [`Stage::Smc`]; OP-TEE's
//! answer comes back to [`std_result`], which continues where `start` or
//! `return_from_rpc` stopped (`after_smc`).
//!
//! One module per phase of a call: [`arg`] finds the guest's argument,
//! checks and shadows it, and copies the results back; [`params`]
//! translates its parameters (memrefs: page lists walked, pinned and
//! shadowed); [`rpc`] forwards the RPCs OP-TEE asks for and handles the
//! guest's answers. This module starts a call, handles what each SMC
//! returns (`after_smc`) and completes it.

mod arg;
mod params;
mod rpc;

pub(crate) use rpc::return_from_rpc;

use crate::abi::{msg, regpair, ret, smc, split, MsgArg, Param};
use crate::access::TaAccess;
use crate::error::{Answer, GuestError};
use crate::guest::{
    free_buf, free_rpc, release_list, BufKind, CallPhase, CmdRpc, Guest, Rpc, ShadowPool, StdCall,
};
use crate::platform::Platform;
use crate::types::{Regs, ShmCookie, ThreadId};
use arg::{copy_back, locate, prepare, Prepared};
use params::free_call_bufs;
use rpc::forward_rpc_cmd;

/// What a standard call needs from the mediator besides the guest.
pub(crate) struct Cx<'a, P> {
    pub p: &'a mut P,
    pub pool: &'a mut ShadowPool,
    pub threads: usize,
    /// The security server's decisions on TA access, if FLASK decides.
    pub access: Option<&'a mut TaAccess>,
}

/// What the code of a call decided for the guest's trapped call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The answer for the guest's vCPU (an RPC the guest must serve, too).
    Answer(Regs),
    /// Make this secure call with the guest's client ID (in x7); the call
    /// is parked under its tag until OP-TEE's answer comes back.
    Smc(Regs),
}

/// The three ways a guest starts a standard call (`optee_smc.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// `OPTEE_SMC_CALL_WITH_ARG`: a1/a2 the argument's address.
    Plain,
    /// `OPTEE_SMC_CALL_WITH_RPC_ARG`: same, with the RPC argument after it.
    RpcArg,
    /// `OPTEE_SMC_CALL_WITH_REGD_ARG`: a1/a2 a registered buffer's cookie,
    /// a3 the offset of the argument in it; RPC argument after it.
    Regd,
}

/// Records `e` and puts its x0 answer in `out`.
pub(crate) fn fail_x0(g: &mut Guest, e: GuestError, out: &mut Regs) {
    g.stats.error(e);
    out[0] = match e.answer() {
        Answer::X0(v) => v,
        Answer::Message { .. } => ret::OK,
    };
}

/// Entry point for CALL_WITH_ARG and its variants (the caller's `tag`
/// names the guest's trapped call).
pub(crate) fn std_call<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    tag: u64,
    regs: &Regs,
    v: Variant,
) -> Stage {
    g.stats.std_calls = g.stats.std_calls.saturating_add(1);
    match start(cx, g, tag, regs, v) {
        Ok(s) => s,
        Err(e) => {
            let mut out = *regs;
            fail_x0(g, e, &mut out);
            Stage::Answer(out)
        }
    }
}

fn start<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    tag: u64,
    regs: &Regs,
    v: Variant,
) -> Result<Stage, GuestError> {
    // Xen: allocate_std_call, bounded by OP-TEE's thread count (and the
    // guest's own share of it, Limits::max_threads). Calls in a secure call
    // count too.
    if g.calls.len() >= g.thread_cap(cx.threads) {
        return Err(GuestError::ThreadLimit);
    }
    let (arg, with_rpc) = locate(g, regs, v)?;
    // The argument in a registration whose UNREGISTER_SHM is in OP-TEE: as an RMEM naming it
    // (`params::unregistering`, checks-vs-optee.md F5); serial 0 is no call's.
    if matches!(v, Variant::Regd)
        && params::unregistering(cx, g, ShmCookie::from_guest(regpair(regs[1], regs[2])), 0)
    {
        return Err(GuestError::BadAddress);
    }
    if with_rpc && g.rpc_param_count == 0 {
        return Err(GuestError::NotAvailable);
    }
    let shadow = cx.pool.alloc(cx.p).ok_or(GuestError::NoMemory)?;
    let serial = g.serial();
    let mut call = StdCall {
        serial,
        shadow,
        guest_arg: arg,
        num_params: 0,
        cmd: 0,
        rpc_area: None,
        phase: CallPhase::Running,
        rpc_data_cookie: None,
    };
    match prepare(cx, g, &mut call, with_rpc) {
        Ok(Prepared::Go) => {}
        Ok(Prepared::Message(e)) => {
            g.stats.error(e);
            if let Answer::Message { ret: r, origin } = e.answer() {
                let mut m = MsgArg::new(cx.p.bytes_mut(&call.shadow), 0);
                m.set_ret(r);
                m.set_ret_origin(origin);
            }
            let mut out = *regs;
            out[0] = match copy_back(cx, g.dom, &call, false) {
                Ok(()) => ret::OK,
                Err(()) => ret::EBADADDR,
            };
            drop_call(cx, g, call);
            return Ok(Stage::Answer(out));
        }
        Err(e) => {
            drop_call(cx, g, call);
            return Err(e);
        }
    }
    let (hi, lo) = split(call.shadow.pa.raw());
    let fid = if call.rpc_area.is_some() {
        smc::CALL_WITH_RPC_ARG
    } else {
        smc::CALL_WITH_ARG
    };
    park(g, call, tag, 0, false, *regs);
    Ok(Stage::Smc([
        u64::from(fid),
        hi,
        lo,
        smc::SHM_CACHED,
        0,
        0,
        0,
        g.client.raw(),
    ]))
}

/// OP-TEE's answer `res` (x0-x3) to the secure call of the standard call with the
/// caller's `tag`: the call's trapped registers and what follows. `None`
/// when no standard call of `g` is in a secure call with that tag.
pub(crate) fn std_result<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    tag: u64,
    res: &Regs,
) -> Option<(Regs, Stage)> {
    let (i, restarts, regs) = g
        .calls
        .iter()
        .enumerate()
        .find_map(|(i, c)| match c.phase {
            CallPhase::Executing {
                tag: t,
                restarts,
                regs,
                ..
            } if t == tag => Some((i, restarts, regs)),
            _ => None,
        })?;
    let mut call = g.calls.swap_remove(i);
    call.phase = CallPhase::Running;
    let next = after_smc(
        cx,
        g,
        call,
        *res,
        Resume {
            tag,
            restarts,
            regs,
        },
    );
    Some((regs, next))
}

/// What `after_smc` needs of the guest's trapped call to park the call in
/// one more secure call or to answer it.
#[derive(Clone, Copy, Debug)]
struct Resume {
    /// The caller's tag.
    tag: u64,
    /// Internal resumes so far.
    restarts: u32,
    /// The trapped registers.
    regs: Regs,
}

/// Parks `call` in the guest while its vCPU makes the secure call of step `tag` (`resumes`: a
/// RETURN_FROM_RPC, which holds an OP-TEE thread; `regs`: the guest's call, for the thread-wait
/// policy).
pub(crate) fn park(
    g: &mut Guest,
    mut call: StdCall,
    tag: u64,
    restarts: u32,
    resumes: bool,
    regs: Regs,
) {
    call.phase = CallPhase::Executing {
        tag,
        restarts,
        resumes,
        regs,
    };
    g.calls.push(call);
}

/// Frees a call that is not suspended in OP-TEE.
fn drop_call<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, call: StdCall) {
    free_call_bufs(cx, g, call.serial);
    cx.pool.free(cx.p, call.shadow);
}

/// Consecutive internal resumes of OP-TEE within one guest call.
const MAX_RESTARTS: u32 = 32;

/// Handles what OP-TEE answered to a call or a resume (Xen:
/// do_call_with_arg + handle_rpc_return): either the call is suspended in an
/// RPC that goes to the guest, or OP-TEE is resumed at once (the RPC cannot
/// reach the guest), or it is complete.
fn after_smc<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    mut call: StdCall,
    res: Regs,
    r: Resume,
) -> Stage {
    let mut out = r.regs;
    // OP-TEE has read the page lists of RPC-allocated buffers given in the
    // SMC that just returned, unless a foreign interrupt stopped the resumed
    // thread before it got to them (it reads them when resumed again): Xen
    // keeps them until the next RPC command or completion.
    if !(ret::is_rpc(res[0]) && ret::rpc_func(res[0]) == ret::RPC_FUNC_FOREIGN_INTR) {
        release_rpc_lists(cx, g, call.serial);
    }
    if !ret::is_rpc(res[0]) {
        complete(cx, g, call, res, &mut out);
        return Stage::Answer(out);
    }
    let func = ret::rpc_func(res[0]);
    let (a1, a2) = (res[1], res[2]);
    let thread = u32::try_from(res[3] & 0xFFFF_FFFF).unwrap_or(u32::MAX);
    out[0] = res[0];
    out[1] = res[1];
    out[2] = res[2];
    out[3] = res[3];
    if func == ret::RPC_FUNC_FREE {
        // OP-TEE is done with this RPC buffer: release it now, as Xen
        // 4.17.5 does in handle_rpc_return.
        if let Some(i) = g.find_rpc(ShmCookie::from_optee(regpair(a1, a2))) {
            free_rpc(g, i, cx.pool, cx.p);
        }
    }
    let rpc = match func {
        ret::RPC_FUNC_ALLOC => Rpc::Alloc,
        ret::RPC_FUNC_CMD => {
            let forwarded = forward_rpc_cmd(cx, g, &mut call, a1, a2);
            // Restarts happen only when an RPC cannot reach the guest;
            // OP-TEE then sees an error and normally completes. Bound them
            // anyway so that one guest call is always a bounded number of
            // steps.
            if forwarded.is_none() && r.restarts < MAX_RESTARTS {
                // Xen: -ERESTART, the RPC cannot reach the guest; OP-TEE
                // gets the default error it put in the argument.
                park(g, call, r.tag, r.restarts.saturating_add(1), true, r.regs);
                return Stage::Smc([
                    u64::from(smc::RETURN_FROM_RPC),
                    res[1],
                    res[2],
                    res[3],
                    0,
                    0,
                    0,
                    g.client.raw(),
                ]);
            }
            Rpc::Cmd(CmdRpc { a1, a2, forwarded })
        }
        _ => Rpc::Other { func, a1, a2 },
    };
    call.phase = CallPhase::InRpc {
        thread: ThreadId::from_optee(thread),
        rpc,
    };
    g.calls.push(call);
    Stage::Answer(out)
}

fn release_rpc_lists<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, serial: u64) {
    for b in g.bufs.iter_mut() {
        if b.kind == BufKind::RpcAlloc && b.list_call == serial && !b.list.is_empty() {
            release_list(b, cx.pool, cx.p);
        }
    }
}

fn complete<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    call: StdCall,
    res: Regs,
    out: &mut Regs,
) {
    out[0] = match copy_back(cx, g.dom, &call, true) {
        Ok(()) => res[0],
        // The guest made its own argument unwritable during the call: it
        // cannot get results; say so in x0 (OP-TEE has completed).
        Err(()) => ret::EBADADDR,
    };
    let m = MsgArg::new(cx.p.bytes_mut(&call.shadow), 0);
    let done = res[0] == ret::OK && m.ret() == 0;
    let p0 = if call.num_params > 0 {
        m.param(0)
    } else {
        Param::default()
    };
    match call.cmd {
        msg::CMD_REGISTER_SHM => {
            let c = ShmCookie::from_optee(p0.c);
            if let Some(i) = g
                .bufs
                .iter()
                .position(|b| b.cookie == c && b.kind == BufKind::Temp(call.serial))
            {
                if done {
                    // OP-TEE has its own copy of the list now; the pins stay
                    // until UNREGISTER_SHM.
                    if let Some(b) = g.bufs.get_mut(i) {
                        b.kind = BufKind::Registered;
                        release_list(b, cx.pool, cx.p);
                    }
                } else {
                    free_buf(g, i, cx.pool, cx.p);
                }
            }
        }
        msg::CMD_UNREGISTER_SHM if done => {
            let c = ShmCookie::from_optee(p0.c);
            if let Some(i) = g
                .bufs
                .iter()
                .position(|b| b.cookie == c && b.kind == BufKind::Registered)
            {
                free_buf(g, i, cx.pool, cx.p);
            }
        }
        msg::CMD_OPEN_SESSION if done => {
            g.stats.sessions_opened = g.stats.sessions_opened.saturating_add(1);
            g.stats.open_sessions = g.stats.open_sessions.saturating_add(1);
        }
        msg::CMD_CLOSE_SESSION if done => {
            g.stats.open_sessions = g.stats.open_sessions.saturating_sub(1);
        }
        _ => {}
    }
    drop_call(cx, g, call);
}
