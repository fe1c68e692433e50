//! The RPCs of a standard call: OP-TEE's RPC_FUNC_CMD request forwarded
//! to the guest (`forward_rpc_cmd`), and the guest's RETURN_FROM_RPC
//! (`return_from_rpc`: RPC_FUNC_ALLOC, the answer to a command, SHM_ALLOC
//! and the mediator's own SHM_FREE).

use super::params::translate_noncontig;
use super::{fail_x0, Cx, Stage};
use crate::abi::{
    field, msg, read_u32, read_u64, regpair, ret, rpc, smc, split, teec, write_u32, write_u64,
    MsgArg, PAGE_SIZE,
};
use crate::error::GuestError;
use crate::guest::{
    free_buf, release_list, BufKind, CallPhase, CmdRpc, ForwardedCmd, Guest, Rpc, StdCall,
};
use crate::platform::{Platform, ShadowPage};
use crate::types::{Ipa, Regs, ShmCookie, ThreadId};

fn ok_or_count<T>(g: &mut Guest, r: Result<T, GuestError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            g.stats.error(e);
            None
        }
    }
}

/// Where the RPC argument of the current RPC lives.
struct RpcLoc {
    /// Index in `g.rpc_bufs`, or `None` for the call's own RPC area.
    rpc_buf: Option<usize>,
    base: usize,
    guest: Ipa,
    max_params: u32,
}

/// The RPC argument of `call`'s current RPC: its RPC area, else the RPC
/// buffer whose cookie OP-TEE returned in a1/a2.
fn rpc_loc(g: &Guest, call: &StdCall, a1: u64, a2: u64) -> Option<RpcLoc> {
    if let Some(a) = call.rpc_area {
        return Some(RpcLoc {
            rpc_buf: None,
            base: a.shadow_off,
            guest: a.guest,
            max_params: a.max_params,
        });
    }
    let i = g.find_rpc(ShmCookie::from_optee(regpair(a1, a2)))?;
    let r = g.rpc_bufs.get(i)?;
    Some(RpcLoc {
        rpc_buf: Some(i),
        base: 0,
        guest: r.pin.ipa,
        max_params: msg::MAX_PARAMS_PER_PAGE,
    })
}

fn loc_shadow<'a>(g: &'a Guest, call: &'a StdCall, loc: &RpcLoc) -> Option<&'a ShadowPage> {
    match loc.rpc_buf {
        None => Some(&call.shadow),
        Some(i) => g.rpc_bufs.get(i).map(|r| &r.shadow),
    }
}

/// Bounded parameter count for an RPC argument at `loc`.
fn bound_params(loc: &RpcLoc, n: u32) -> u32 {
    let room = PAGE_SIZE
        .saturating_sub(loc.base)
        .saturating_sub(msg::ARG_HEADER_SIZE)
        / msg::PARAM_SIZE;
    let room = u32::try_from(room).unwrap_or(0);
    n.min(room).min(loc.max_params)
}

/// Marks the RPC argument at `loc` failed (`ret = TEEC_ERROR_GENERIC`),
/// optionally with no parameters.
fn rpc_fail<P: Platform>(cx: &mut Cx<'_, P>, g: &Guest, call: &StdCall, loc: &RpcLoc, clear: bool) {
    if let Some(s) = loc_shadow(g, call, loc) {
        let mut m = MsgArg::new(cx.p.bytes_mut(s), loc.base);
        m.set_ret(teec::ERROR_GENERIC);
        if clear {
            m.set_num_params(0);
        }
    }
}

/// OP-TEE asked for RPC_FUNC_CMD (a1/a2 as it returned them): copy its
/// request to the guest's RPC buffer (Xen: the RPC_FUNC_CMD part of
/// handle_rpc_return). `None` when the request cannot reach the guest and
/// OP-TEE must be resumed at once.
pub(super) fn forward_rpc_cmd<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    call: &mut StdCall,
    a1: u64,
    a2: u64,
) -> Option<ForwardedCmd> {
    let Some(loc) = rpc_loc(g, call, a1, a2) else {
        // OP-TEE used a cookie we do not know; it pre-sets an error in its
        // argument, so resuming it is safe (Xen does the same).
        return None;
    };
    let mut tmp = [0u8; PAGE_SIZE];
    let (n, size) = {
        let page = cx.p.bytes(loc_shadow(g, call, &loc)?);
        let n = bound_params(
            &loc,
            read_u32(page, loc.base.saturating_add(field::NUM_PARAMS)),
        );
        let size = msg::arg_size(n).unwrap_or(msg::ARG_HEADER_SIZE);
        if let (Some(d), Some(src)) = (
            tmp.get_mut(..size),
            page.get(loc.base..loc.base.saturating_add(size)),
        ) {
            d.copy_from_slice(src);
        }
        (n, size)
    };
    let src = tmp.get(..size).unwrap_or(&[]);
    if cx.p.write(g.dom, loc.guest, src).is_err() {
        rpc_fail(cx, g, call, &loc, false);
        return None;
    }
    let cmd = read_u32(&tmp, field::CMD);
    let p0a = read_u64(&tmp, field::param(0).saturating_add(field::PARAM_A));
    let p0b = read_u64(&tmp, field::param(0).saturating_add(field::PARAM_B));
    let buffer_type = if cmd == rpc::CMD_SHM_ALLOC { p0a } else { 0 };
    if cmd == rpc::CMD_SHM_FREE {
        // OP-TEE has let go of the buffer: unpin it now (Xen does too).
        let c = ShmCookie::from_optee(p0b);
        if let Some(i) = g
            .bufs
            .iter()
            .position(|b| b.cookie == c && b.kind == BufKind::RpcAlloc)
        {
            free_buf(g, i, cx.pool, cx.p);
        }
        if call.rpc_data_cookie == Some(c) {
            call.rpc_data_cookie = None;
        }
    }
    Some(ForwardedCmd {
        cmd,
        num_params: n,
        buffer_type,
    })
}

/// What the guest's RETURN_FROM_RPC leads to.
enum Next {
    /// Resume OP-TEE with these a1/a2 (and a4/a5).
    Resume(u64, u64, u64, u64),
    /// The mediator's own SHM_FREE is in the RPC argument of OP-TEE's
    /// SHM_ALLOC (this one): the guest gets it as one more RPC_FUNC_CMD.
    AskFree(CmdRpc),
}

/// RETURN_FROM_RPC (Xen handle_rpc): finds the guest's suspended call by
/// OP-TEE thread ID and resumes it (a secure call parked under the caller's
/// `tag`, unless the mediator's own SHM_FREE goes to the guest first).
pub(crate) fn return_from_rpc<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    tag: u64,
    regs: &Regs,
) -> Stage {
    g.stats.rpc_returns = g.stats.rpc_returns.saturating_add(1);
    let mut out = *regs;
    // The edge: a3 names one of OP-TEE's threads or none.
    let Some(t) = ThreadId::parse(regs[3], cx.threads) else {
        fail_x0(g, GuestError::BadResume, &mut out);
        return Stage::Answer(out);
    };
    let Some((ci, rpc)) = g.calls.iter().enumerate().find_map(|(i, c)| match c.phase {
        CallPhase::InRpc { thread, rpc } if thread == t => Some((i, rpc)),
        _ => None,
    }) else {
        fail_x0(g, GuestError::BadResume, &mut out);
        return Stage::Answer(out);
    };
    let mut call = g.calls.swap_remove(ci);
    // OP-TEE may reuse the thread ID as soon as it resumes: from here on the
    // call is no longer found by it.
    call.phase = CallPhase::Running;
    let next = match rpc {
        Rpc::Alloc => rpc_alloc(cx, g, regs),
        Rpc::Cmd(c) => rpc_cmd_return(cx, g, &mut call, c),
        Rpc::MediatorFree(c) => mediator_free_return(cx, g, &call, c),
        // FREE (released when OP-TEE asked), FOREIGN_INTR (the guest took
        // its interrupt) and anything else: resume with OP-TEE's a1/a2.
        Rpc::Other { a1, a2, .. } => Next::Resume(a1, a2, 0, 0),
    };
    match next {
        Next::AskFree(c) => {
            // The same thread and RPC argument as OP-TEE's SHM_ALLOC.
            out[0] = ret::rpc_val(ret::RPC_FUNC_CMD);
            out[1] = c.a1;
            out[2] = c.a2;
            out[3] = u64::from(t.raw());
            call.phase = CallPhase::InRpc {
                thread: t,
                rpc: Rpc::MediatorFree(c),
            };
            g.calls.push(call);
            Stage::Answer(out)
        }
        Next::Resume(a1, a2, a4, a5) => {
            super::park(g, call, tag, 0, true, *regs);
            Stage::Smc([
                u64::from(smc::RETURN_FROM_RPC),
                a1,
                a2,
                u64::from(t.raw()),
                a4,
                a5,
                0,
                g.client.raw(),
            ])
        }
    }
}

/// Xen handle_rpc_func_alloc: the guest gives the page (a1/a2) and cookie
/// (a4/a5) of an RPC argument buffer; OP-TEE gets a shadow page, or a null
/// address and cookie 0 when the guest's answer is unusable.
fn rpc_alloc<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, regs: &Regs) -> Next {
    let cookie = ShmCookie::from_guest(regpair(regs[4], regs[5]));
    let r = (|| {
        let ipa = Ipa::page_aligned(regpair(regs[1], regs[2])).ok_or(GuestError::BadParameters)?;
        if g.find_rpc(cookie).is_some() {
            return Err(GuestError::BadParameters);
        }
        if g.rpc_bufs.len() >= crate::guest::MAX_RPC_BUFS {
            return Err(GuestError::NoMemory);
        }
        let pin =
            cx.p.pin(g.dom, ipa)
                .map_err(|_| GuestError::BadParameters)?;
        let Some(shadow) = cx.pool.alloc(cx.p) else {
            cx.p.unpin(g.dom, pin);
            return Err(GuestError::NoMemory);
        };
        let pa = shadow.pa.raw();
        g.rpc_bufs.push(crate::guest::ShmRpc {
            cookie,
            pin,
            shadow,
        });
        g.stats.pinned(1);
        Ok(pa)
    })();
    // A refused answer resumes OP-TEE with a null buffer AND cookie 0
    // (deviation from Xen, which passes the guest's cookie on): OP-TEE gives
    // back a buffer it cannot use with an RPC_FUNC_FREE of the cookie it was
    // handed (thread_optee_smc.c thread_rpc_alloc_arg → thread_rpc_free_arg,
    // which sends nothing for cookie 0), and that FREE would release
    // whichever of this guest's RPC buffers has the cookie, e.g. another
    // call's live one, whose shadow page OP-TEE still writes into.
    match ok_or_count(g, r) {
        Some(pa) => {
            let (hi, lo) = split(pa);
            Next::Resume(hi, lo, regs[4], regs[5])
        }
        None => Next::Resume(0, 0, 0, 0),
    }
}

/// The guest answered the mediator's own SHM_FREE (Xen
/// handle_xen_rpc_return): now tell OP-TEE its allocation failed.
fn mediator_free_return<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &Guest,
    call: &StdCall,
    c: CmdRpc,
) -> Next {
    // The buffer is looked up again: it is named by OP-TEE's cookie.
    if let Some(loc) = rpc_loc(g, call, c.a1, c.a2) {
        rpc_fail(cx, g, call, &loc, true);
    }
    Next::Resume(0, 0, 0, 0)
}

/// The guest answered an RPC_FUNC_CMD (Xen handle_rpc_cmd): read its answer
/// back (header first, `num_params` bounded), keep OP-TEE's command, handle
/// SHM_ALLOC.
fn rpc_cmd_return<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    call: &mut StdCall,
    c: CmdRpc,
) -> Next {
    // The buffer is looked up again: it is named by OP-TEE's cookie.
    let Some(loc) = rpc_loc(g, call, c.a1, c.a2) else {
        return Next::Resume(0, 0, 0, 0);
    };
    let mut hdr = [0u8; msg::ARG_HEADER_SIZE];
    if cx.p.read(g.dom, loc.guest, &mut hdr).is_err() {
        rpc_fail(cx, g, call, &loc, false);
        return Next::Resume(0, 0, 0, 0);
    }
    let gn = read_u32(&hdr, field::NUM_PARAMS);
    if bound_params(&loc, gn) != gn {
        rpc_fail(cx, g, call, &loc, false);
        return Next::Resume(0, 0, 0, 0);
    }
    // A request that did not reach the guest takes no parameters back.
    let np = gn.min(c.forwarded.map_or(0, |f| f.num_params));
    let size = msg::arg_size(np)
        .unwrap_or(msg::ARG_HEADER_SIZE)
        .saturating_sub(msg::ARG_HEADER_SIZE);
    let mut tmp = [0u8; PAGE_SIZE];
    if size > 0 {
        let ok = match (
            tmp.get_mut(..size),
            loc.guest.checked_add(msg::ARG_HEADER_SIZE as u64),
        ) {
            (Some(d), Some(ipa)) => cx.p.read(g.dom, ipa, d).is_ok(),
            _ => false,
        };
        if !ok {
            rpc_fail(cx, g, call, &loc, false);
            return Next::Resume(0, 0, 0, 0);
        }
    }
    let Some(s) = loc_shadow(g, call, &loc) else {
        return Next::Resume(0, 0, 0, 0);
    };
    let page = cx.p.bytes_mut(s);
    // Only the answer: ret, ret_origin and the parameters. OP-TEE's cmd and
    // num_params stay as OP-TEE wrote them.
    write_u32(
        page,
        loc.base.saturating_add(field::RET),
        read_u32(&hdr, field::RET),
    );
    write_u32(
        page,
        loc.base.saturating_add(field::RET_ORIGIN),
        read_u32(&hdr, field::RET_ORIGIN),
    );
    let pstart = loc.base.saturating_add(msg::ARG_HEADER_SIZE);
    if let (Some(d), Some(src)) = (
        page.get_mut(pstart..pstart.saturating_add(size)),
        tmp.get(..size),
    ) {
        d.copy_from_slice(src);
    }
    match c.forwarded {
        Some(f) if f.cmd == rpc::CMD_SHM_ALLOC => {
            rpc_shm_alloc(cx, g, call, &loc, np, c, f.buffer_type)
        }
        _ => Next::Resume(0, 0, 0, 0),
    }
}

/// Xen handle_rpc_cmd_alloc: the guest allocated a buffer for OP-TEE; it
/// must come as one TMEM_OUTPUT|NONCONTIG parameter, which is translated.
/// If translation fails the guest is asked to free the buffer with an
/// SHM_FREE RPC of our own before OP-TEE hears of the failure.
fn rpc_shm_alloc<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    call: &mut StdCall,
    loc: &RpcLoc,
    np: u32,
    c: CmdRpc,
    buffer_type: u64,
) -> Next {
    let Some(s) = loc_shadow(g, call, loc) else {
        return Next::Resume(0, 0, 0, 0);
    };
    let m = MsgArg::new(cx.p.bytes_mut(s), loc.base);
    if m.ret() != 0 || np != 1 {
        return Next::Resume(0, 0, 0, 0);
    }
    let p0 = m.param(0);
    if p0.attr != (msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_NONCONTIG) {
        // Anything else would hand OP-TEE an untranslated guest address.
        g.stats.error(GuestError::BadParameters);
        rpc_fail(cx, g, call, loc, true);
        return Next::Resume(0, 0, 0, 0);
    }
    if let Some(c) = call.rpc_data_cookie.take() {
        if let Some(b) = g
            .bufs
            .iter_mut()
            .find(|b| b.cookie == c && b.kind == BufKind::RpcAlloc)
        {
            release_list(b, cx.pool, cx.p);
        }
    }
    match translate_noncontig(cx, g, p0, BufKind::RpcAlloc, call.serial) {
        Ok(np0) => {
            if let Some(s) = loc_shadow(g, call, loc) {
                MsgArg::new(cx.p.bytes_mut(s), loc.base).set_param(0, np0);
            }
            call.rpc_data_cookie = Some(ShmCookie::from_guest(p0.c));
            Next::Resume(0, 0, 0, 0)
        }
        Err(e) => {
            g.stats.error(e);
            // Xen issue_rpc_cmd_free.
            // One VALUE_INPUT parameter: the buffer's type and cookie
            // (`optee_rpc_cmd.h` OPTEE_RPC_CMD_SHM_FREE).
            let mut req = [0u8; msg::ARG_HEADER_SIZE + msg::PARAM_SIZE];
            let at = field::param(0);
            write_u32(&mut req, field::CMD, rpc::CMD_SHM_FREE);
            write_u32(&mut req, field::RET, teec::ERROR_GENERIC);
            write_u32(&mut req, field::NUM_PARAMS, 1);
            write_u64(
                &mut req,
                at.saturating_add(field::PARAM_ATTR),
                msg::ATTR_TYPE_VALUE_INPUT,
            );
            write_u64(&mut req, at.saturating_add(field::PARAM_A), buffer_type);
            write_u64(&mut req, at.saturating_add(field::PARAM_B), p0.c);
            let fits = bound_params(loc, 1) == 1;
            if !fits || cx.p.write(g.dom, loc.guest, &req).is_err() {
                rpc_fail(cx, g, call, loc, true);
                return Next::Resume(0, 0, 0, 0);
            }
            Next::AskFree(c)
        }
    }
}
