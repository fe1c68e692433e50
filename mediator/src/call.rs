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
//! call list while it runs and put back only when it is suspended in an RPC
//! (then it can be found by its OP-TEE thread ID).

use crate::abi::{
    field, msg, read_u32, read_u64, regpair, ret, rpc, smc, split, teec, write_u32, write_u64,
    MsgArg, Param, PAGE_SIZE, PAGE_SIZE_U64,
};
use crate::error::{Answer, GuestError};
use crate::guest::{
    free_buf, free_rpc, release_list, BufKind, CallState, Guest, RpcArea, ShadowPool, ShmBuf,
    StdCall,
};
use crate::platform::{Platform, ShadowPage};
use crate::types::{DomId, Ipa, PageList, PageListError, Regs, ShmCookie, TaUuid, ThreadId};

/// What a standard call needs from the mediator besides the guest.
pub(crate) struct Cx<'a, P> {
    pub p: &'a mut P,
    pub pool: &'a mut ShadowPool,
    pub threads: usize,
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

fn ok_or_count<T>(g: &mut Guest, r: Result<T, GuestError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            g.stats.error(e);
            None
        }
    }
}

/// Entry point for CALL_WITH_ARG and its variants.
pub(crate) fn std_call<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    regs: &Regs,
    v: Variant,
    out: &mut Regs,
) {
    g.stats.std_calls = g.stats.std_calls.saturating_add(1);
    if let Err(e) = start(cx, g, regs, v, out) {
        fail_x0(g, e, out);
    }
}

/// Finds the guest address of the argument.
fn locate(g: &Guest, regs: &Regs, v: Variant) -> Result<(Ipa, bool), GuestError> {
    match v {
        Variant::Plain => {
            // OP-TEE ABI: the argument starts on a page boundary (Xen:
            // copy_std_request).
            let ipa = Ipa::page_aligned(regpair(regs[1], regs[2])).ok_or(GuestError::BadAddress)?;
            Ok((ipa, false))
        }
        Variant::RpcArg => {
            let ipa = Ipa::new(regpair(regs[1], regs[2]));
            if !ipa.raw().is_multiple_of(msg::ARG_ALIGN) {
                return Err(GuestError::BadAddress);
            }
            Ok((ipa, true))
        }
        Variant::Regd => {
            let cookie = ShmCookie(regpair(regs[1], regs[2]));
            let buf = g
                .bufs
                .iter()
                .find(|b| b.cookie == cookie && b.kind == BufKind::Registered)
                .ok_or(GuestError::BadAddress)?;
            let pos = buf
                .offset
                .checked_add(regs[3])
                .ok_or(GuestError::BadAddress)?;
            let page = usize::try_from(pos / PAGE_SIZE_U64).map_err(|_| GuestError::BadAddress)?;
            let pin = buf.pins.get(page).ok_or(GuestError::BadAddress)?;
            let ipa = pin
                .ipa
                .checked_add(pos % PAGE_SIZE_U64)
                .ok_or(GuestError::BadAddress)?;
            if !ipa.raw().is_multiple_of(msg::ARG_ALIGN) {
                return Err(GuestError::BadAddress);
            }
            Ok((ipa, true))
        }
    }
}

/// How preparing a call ended when it did not fail at the SMC level.
enum Prepared {
    /// Ready for OP-TEE.
    Go,
    /// Answer in the message (`ret`, `ret_origin`), x0 = OK.
    Message(GuestError),
}

fn start<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    regs: &Regs,
    v: Variant,
    out: &mut Regs,
) -> Result<(), GuestError> {
    // Xen: allocate_std_call, bounded by OP-TEE's thread count (and the
    // guest's own share of it, Limits::max_threads).
    if g.calls.len() >= g.thread_cap(cx.threads) {
        return Err(GuestError::ThreadLimit);
    }
    let (arg, with_rpc) = locate(g, regs, v)?;
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
        thread: None,
        in_flight: true,
        rpc_func: 0,
        rpc_a1: 0,
        rpc_a2: 0,
        rpc_cmd: 0,
        rpc_num_params: 0,
        rpc_buffer_type: 0,
        rpc_data_cookie: None,
        state: CallState::Normal,
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
            out[0] = match copy_back(cx, g.dom, &call, false) {
                Ok(()) => ret::OK,
                Err(()) => ret::EBADADDR,
            };
            drop_call(cx, g, call);
            return Ok(());
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
    let res = cx.p.smc([
        u64::from(fid),
        hi,
        lo,
        smc::SHM_CACHED,
        0,
        0,
        0,
        g.client.raw(),
    ]);
    after_smc(cx, g, call, res, out);
    Ok(())
}

/// Shadows the argument and checks and translates it (Xen:
/// copy_std_request, the num_params check, the command switch,
/// translate_params), plus the allow-list check.
fn prepare<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    call: &mut StdCall,
    with_rpc: bool,
) -> Result<Prepared, GuestError> {
    let arg = call.guest_arg;
    let mut buf = [0u8; PAGE_SIZE];
    // The header first: num_params decides how much more to read, and the
    // value we act on is the one in our copy.
    let (hdr, rest) = buf.split_at_mut(msg::ARG_HEADER_SIZE);
    cx.p.read(g.dom, arg, hdr)
        .map_err(|_| GuestError::BadAddress)?;
    let n = read_u32(hdr, field::NUM_PARAMS);
    // Room left in the guest's page (0 offset for CALL_WITH_ARG).
    let room = PAGE_SIZE.saturating_sub(usize::try_from(arg.page_offset()).unwrap_or(PAGE_SIZE));
    let rpc_size = if with_rpc {
        msg::arg_size(g.rpc_param_count).unwrap_or(usize::MAX)
    } else {
        0
    };
    let arg_size = msg::arg_size(n);
    let fits = arg_size
        .and_then(|a| a.checked_add(rpc_size))
        .is_some_and(|t| t <= room);
    let Some(arg_size) = arg_size.filter(|_| fits) else {
        // Xen: ret = BAD_PARAMETERS, num_params = 0, copy back.
        cx.p.bytes_mut(&call.shadow)[..msg::ARG_HEADER_SIZE].copy_from_slice(hdr);
        MsgArg::new(cx.p.bytes_mut(&call.shadow), 0).set_num_params(0);
        return Ok(Prepared::Message(GuestError::BadParameters));
    };
    let body = arg_size.saturating_sub(msg::ARG_HEADER_SIZE);
    let params_ipa = arg
        .checked_add(msg::ARG_HEADER_SIZE as u64)
        .ok_or(GuestError::BadAddress)?;
    if body > 0 {
        let dst = rest.get_mut(..body).ok_or(GuestError::BadAddress)?;
        cx.p.read(g.dom, params_ipa, dst)
            .map_err(|_| GuestError::BadAddress)?;
    }
    let total = arg_size.saturating_add(rpc_size);
    // The RPC area (if any) starts zeroed: OP-TEE fills it.
    if let Some(area) = buf.get_mut(arg_size..total) {
        area.fill(0);
    }
    let src = buf.get(..total).ok_or(GuestError::BadAddress)?;
    if let Some(dst) = cx.p.bytes_mut(&call.shadow).get_mut(..total) {
        dst.copy_from_slice(src);
    }
    call.num_params = n;
    call.cmd = read_u32(&buf, field::CMD);
    if with_rpc {
        call.rpc_area = Some(RpcArea {
            shadow_off: arg_size,
            guest: arg
                .checked_add(arg_size as u64)
                .ok_or(GuestError::BadAddress)?,
            max_params: g.rpc_param_count,
        });
    }
    match call.cmd {
        msg::CMD_OPEN_SESSION
        | msg::CMD_INVOKE_COMMAND
        | msg::CMD_CLOSE_SESSION
        | msg::CMD_CANCEL
        | msg::CMD_REGISTER_SHM
        | msg::CMD_UNREGISTER_SHM
        | msg::CMD_DO_BOTTOM_HALF
        | msg::CMD_STOP_ASYNC_NOTIF => {}
        _ => return Err(GuestError::BadCommand),
    }
    if call.cmd == msg::CMD_OPEN_SESSION && !allowed(cx, g, call) {
        return Ok(Prepared::Message(GuestError::AccessDenied));
    }
    match translate_params(cx, g, call) {
        Ok(()) => Ok(Prepared::Go),
        Err(e) => Ok(Prepared::Message(e)),
    }
}

/// Allow-list check at OPEN_SESSION: the TA UUID is in the first META
/// value parameter (`optee_msg.h`, OPEN_SESSION). Without a well-formed
/// META parameter the call is denied when a list applies.
fn allowed<P: Platform>(cx: &mut Cx<'_, P>, g: &Guest, call: &StdCall) -> bool {
    let Some(list) = g.allowed_tas.as_ref() else {
        return true;
    };
    if call.num_params < 1 {
        return false;
    }
    let p0 = MsgArg::new(cx.p.bytes_mut(&call.shadow), 0).param(0);
    if p0.attr != (msg::ATTR_TYPE_VALUE_INPUT | msg::ATTR_META) {
        return false;
    }
    list.contains(&TaUuid::from_words(p0.a, p0.b))
}

/// Xen translate_params: TMEM must be NONCONTIG (or null), VALUE passes
/// through. RMEM must name a buffer of this guest that this mediator
/// tracks (deviation: Xen passes any cookie through): a registration made
/// through an earlier mediator, whose pages nobody pins any more, cannot
/// be reached. On failure every buffer this call made is released.
fn translate_params<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    call: &StdCall,
) -> Result<(), GuestError> {
    let n = usize::try_from(call.num_params).unwrap_or(0);
    for i in 0..n {
        let p = MsgArg::new(cx.p.bytes_mut(&call.shadow), 0).param(i);
        let r = match p.ty() {
            msg::ATTR_TYPE_TMEM_INPUT | msg::ATTR_TYPE_TMEM_OUTPUT | msg::ATTR_TYPE_TMEM_INOUT => {
                if p.attr & msg::ATTR_NONCONTIG != 0 {
                    translate_noncontig(cx, g, p, BufKind::Temp(call.serial), call.serial)
                } else if p.a != 0 {
                    // Old-style contiguous tmem: a raw address OP-TEE would
                    // use as physical. Only null is allowed.
                    Err(GuestError::BadParameters)
                } else {
                    Ok(p)
                }
            }
            msg::ATTR_TYPE_NONE
            | msg::ATTR_TYPE_VALUE_INPUT
            | msg::ATTR_TYPE_VALUE_OUTPUT
            | msg::ATTR_TYPE_VALUE_INOUT => Ok(p),
            msg::ATTR_TYPE_RMEM_INPUT | msg::ATTR_TYPE_RMEM_OUTPUT | msg::ATTR_TYPE_RMEM_INOUT => {
                // shm_ref (`optee_msg_param_rmem.shm_ref`) is the third word.
                match g.find_buf(ShmCookie(p.c)) {
                    Some(_) => Ok(p),
                    None => Err(GuestError::BadParameters),
                }
            }
            _ => Err(GuestError::BadParameters),
        };
        match r {
            Ok(np) => {
                if np != p {
                    MsgArg::new(cx.p.bytes_mut(&call.shadow), 0).set_param(i, np);
                }
            }
            Err(e) => {
                free_call_bufs(cx, g, call.serial);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Xen translate_noncontig: walks the guest's page list (511 entries and a
/// next pointer per 4 KiB page), pins every page, builds a shadow list of
/// machine addresses, and returns the parameter OP-TEE must see.
pub(crate) fn translate_noncontig<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    p: Param,
    kind: BufKind,
    serial: u64,
) -> Result<Param, GuestError> {
    // MEMREF_NULL: buf_ptr 0 is a null reference, nothing to translate.
    if p.a == 0 {
        return Ok(p);
    }
    let pl = PageList::new(p.a, p.b, g.limits.max_pages_per_buffer).map_err(|e| match e {
        PageListError::Overflow => GuestError::BadParameters,
        PageListError::TooManyPages => GuestError::LimitReached,
    })?;
    let cookie = ShmCookie(p.c);
    if g.bufs.len() >= g.limits.max_buffers {
        return Err(GuestError::LimitReached);
    }
    let total = g
        .shm_pages
        .checked_add(pl.pages)
        .ok_or(GuestError::LimitReached)?;
    if total > g.limits.max_pinned_pages {
        return Err(GuestError::LimitReached);
    }
    if g.find_buf(cookie).is_some() {
        return Err(GuestError::BadParameters);
    }
    let mut buf = g.take_spare(cookie, kind, pl.offset);
    buf.list_call = serial;
    match fill(cx, g.dom, &mut buf, pl) {
        Ok(()) => {
            let n = buf.pins.len();
            g.shm_pages = g.shm_pages.saturating_add(n);
            g.stats.pinned(n as u64);
            let list_pa = buf.list.first().map(|s| s.pa.raw()).unwrap_or(0);
            g.bufs.push(buf);
            Ok(Param {
                a: list_pa | pl.offset,
                ..p
            })
        }
        Err(e) => {
            while let Some(pin) = buf.pins.pop() {
                cx.p.unpin(g.dom, pin);
            }
            release_list(&mut buf, cx.pool, cx.p);
            g.spare_bufs.push(buf);
            Err(e)
        }
    }
}

fn fill<P: Platform>(
    cx: &mut Cx<'_, P>,
    dom: DomId,
    buf: &mut ShmBuf,
    pl: PageList,
) -> Result<(), GuestError> {
    let mut remaining = pl.pages;
    let mut list_ipa = pl.list;
    let mut tmp = [0u8; PAGE_SIZE];
    loop {
        let sp = cx.pool.alloc(cx.p).ok_or(GuestError::LimitReached)?;
        if let Some(prev) = buf.list.last() {
            write_u64(cx.p.bytes_mut(prev), msg::PAGELIST_NEXT, sp.pa.raw());
        }
        buf.list.push(sp);
        if remaining == 0 {
            return Ok(());
        }
        let n = remaining.min(msg::PAGELIST_ENTRIES);
        let more = remaining > msg::PAGELIST_ENTRIES;
        let len = if more {
            PAGE_SIZE
        } else {
            n.saturating_mul(msg::PAGELIST_ENTRY_SIZE)
        };
        let dst = tmp.get_mut(..len).ok_or(GuestError::BadParameters)?;
        cx.p.read(dom, list_ipa, dst)
            .map_err(|_| GuestError::BadParameters)?;
        for j in 0..n {
            let o = j.saturating_mul(msg::PAGELIST_ENTRY_SIZE);
            let page = Ipa::page_aligned(read_u64(&tmp, o)).ok_or(GuestError::BadParameters)?;
            let pin = cx.p.pin(dom, page).map_err(|_| GuestError::BadParameters)?;
            write_u64(&mut tmp, o, pin.pa.raw());
            buf.pins.push(pin);
        }
        let next = read_u64(&tmp, msg::PAGELIST_NEXT);
        let used = n.saturating_mul(msg::PAGELIST_ENTRY_SIZE);
        if let (Some(last), Some(src)) = (buf.list.last(), tmp.get(..used)) {
            if let Some(d) = cx.p.bytes_mut(last).get_mut(..used) {
                d.copy_from_slice(src);
            }
        }
        remaining = remaining.saturating_sub(n);
        if remaining == 0 {
            return Ok(());
        }
        list_ipa = Ipa::page_aligned(next).ok_or(GuestError::BadParameters)?;
    }
}

/// Frees every temporary buffer of call `serial`.
fn free_call_bufs<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, serial: u64) {
    while let Some(i) = g.bufs.iter().position(|b| b.kind == BufKind::Temp(serial)) {
        free_buf(g, i, cx.pool, cx.p);
    }
}

/// Frees a call that is not suspended in OP-TEE.
fn drop_call<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, call: StdCall) {
    free_call_bufs(cx, g, call.serial);
    cx.pool.free(cx.p, call.shadow);
}

/// Xen copy_std_request_back: only the fields OP-TEE may change.
fn copy_back<P: Platform>(
    cx: &mut Cx<'_, P>,
    dom: DomId,
    call: &StdCall,
    params: bool,
) -> Result<(), ()> {
    let n = if params {
        call.num_params.min(msg::MAX_PARAMS_PER_PAGE)
    } else {
        0
    };
    let size = msg::arg_size(n).unwrap_or(msg::ARG_HEADER_SIZE);
    let mut tmp = [0u8; PAGE_SIZE];
    if let (Some(d), Some(s)) = (tmp.get_mut(..size), cx.p.bytes(&call.shadow).get(..size)) {
        d.copy_from_slice(s);
    }
    let base = call.guest_arg;
    let at = |o: usize| base.checked_add(o as u64).ok_or(());
    let w = |cx: &mut Cx<'_, P>, o: usize, len: usize| -> Result<(), ()> {
        let src = tmp.get(o..o.saturating_add(len)).ok_or(())?;
        cx.p.write(dom, at(o)?, src).map_err(|_| ())
    };
    w(cx, field::SESSION, field::SESSION_LEN)?;
    // ret and ret_origin are adjacent.
    w(cx, field::RET, field::RET_LEN)?;
    for i in 0..usize::try_from(n).unwrap_or(0) {
        let o = field::param(i);
        let attr = read_u64(&tmp, o.saturating_add(field::PARAM_ATTR));
        match attr & msg::ATTR_TYPE_MASK {
            // The size (tmem and rmem alike).
            msg::ATTR_TYPE_TMEM_OUTPUT
            | msg::ATTR_TYPE_TMEM_INOUT
            | msg::ATTR_TYPE_RMEM_OUTPUT
            | msg::ATTR_TYPE_RMEM_INOUT => {
                w(cx, o.saturating_add(field::PARAM_B), field::PARAM_WORD_LEN)?
            }
            msg::ATTR_TYPE_VALUE_OUTPUT | msg::ATTR_TYPE_VALUE_INOUT => {
                w(cx, o.saturating_add(field::PARAM_A), field::PARAM_VALUE_LEN)?
            }
            _ => {}
        }
    }
    Ok(())
}

/// Consecutive internal resumes of OP-TEE within one guest call.
const MAX_RESTARTS: u32 = 32;

/// Handles what OP-TEE answered to a call or a resume (Xen:
/// do_call_with_arg + handle_rpc_return): either the call is suspended in an
/// RPC that goes to the guest, or it is complete.
pub(crate) fn after_smc<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    mut call: StdCall,
    mut res: Regs,
    out: &mut Regs,
) {
    // Restarts happen only when an RPC cannot reach the guest; OP-TEE then
    // sees an error and normally completes. Bound them anyway so that one
    // guest call is always a bounded step.
    let mut restarts = 0u32;
    loop {
        // OP-TEE has read the page lists of RPC-allocated buffers given in
        // the SMC that just returned, unless a foreign interrupt stopped the
        // resumed thread before it got to them (it reads them when resumed
        // again): Xen keeps them until the next RPC command or completion.
        if !(ret::is_rpc(res[0]) && ret::rpc_func(res[0]) == ret::RPC_FUNC_FOREIGN_INTR) {
            release_rpc_lists(cx, g, call.serial);
        }
        if !ret::is_rpc(res[0]) {
            complete(cx, g, call, res, out);
            return;
        }
        call.rpc_func = ret::rpc_func(res[0]);
        call.rpc_a1 = res[1];
        call.rpc_a2 = res[2];
        let thread = u32::try_from(res[3] & 0xFFFF_FFFF).unwrap_or(u32::MAX);
        call.thread = Some(ThreadId(thread));
        out[0] = res[0];
        out[1] = res[1];
        out[2] = res[2];
        out[3] = res[3];
        if call.rpc_func == ret::RPC_FUNC_FREE {
            // OP-TEE is done with this RPC buffer: release it now, as Xen
            // 4.17.5 does in handle_rpc_return.
            if let Some(i) = g.find_rpc(ShmCookie(regpair(res[1], res[2]))) {
                free_rpc(g, i, cx.pool, cx.p);
            }
        }
        if call.rpc_func == ret::RPC_FUNC_CMD
            && !forward_rpc_cmd(cx, g, &mut call)
            && restarts < MAX_RESTARTS
        {
            restarts = restarts.saturating_add(1);
            // Xen: -ERESTART, the RPC cannot reach the guest; OP-TEE gets
            // the default error it put in the argument.
            res = cx.p.smc([
                u64::from(smc::RETURN_FROM_RPC),
                res[1],
                res[2],
                res[3],
                0,
                0,
                0,
                g.client.raw(),
            ]);
            continue;
        }
        call.in_flight = false;
        g.calls.push(call);
        return;
    }
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
            let c = ShmCookie(p0.c);
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
            let c = ShmCookie(p0.c);
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

/// Where the RPC argument of the current RPC lives.
struct RpcLoc {
    /// Index in `g.rpc_bufs`, or `None` for the call's own RPC area.
    rpc_buf: Option<usize>,
    base: usize,
    guest: Ipa,
    max_params: u32,
}

fn rpc_loc(g: &Guest, call: &StdCall) -> Option<RpcLoc> {
    if let Some(a) = call.rpc_area {
        return Some(RpcLoc {
            rpc_buf: None,
            base: a.shadow_off,
            guest: a.guest,
            max_params: a.max_params,
        });
    }
    let i = g.find_rpc(ShmCookie(regpair(call.rpc_a1, call.rpc_a2)))?;
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

/// OP-TEE asked for RPC_FUNC_CMD: copy its request to the guest's RPC
/// buffer (Xen: the RPC_FUNC_CMD part of handle_rpc_return). `false` when
/// the request cannot reach the guest and OP-TEE must be resumed at once.
fn forward_rpc_cmd<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, call: &mut StdCall) -> bool {
    let Some(loc) = rpc_loc(g, call) else {
        // OP-TEE used a cookie we do not know; it pre-sets an error in its
        // argument, so resuming it is safe (Xen does the same).
        return false;
    };
    let mut tmp = [0u8; PAGE_SIZE];
    let (n, size) = {
        let Some(s) = loc_shadow(g, call, &loc) else {
            return false;
        };
        let page = cx.p.bytes(s);
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
        return false;
    }
    let cmd = read_u32(&tmp, field::CMD);
    call.rpc_cmd = cmd;
    call.rpc_num_params = n;
    let p0a = read_u64(&tmp, field::param(0).saturating_add(field::PARAM_A));
    let p0b = read_u64(&tmp, field::param(0).saturating_add(field::PARAM_B));
    if cmd == rpc::CMD_SHM_ALLOC {
        call.rpc_buffer_type = p0a;
    }
    if cmd == rpc::CMD_SHM_FREE {
        // OP-TEE has let go of the buffer: unpin it now (Xen does too).
        let c = ShmCookie(p0b);
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
    true
}

/// What the guest's RETURN_FROM_RPC leads to.
enum Next {
    /// Resume OP-TEE with these a1/a2 (and a4/a5).
    Resume(u64, u64, u64, u64),
    /// The mediator answered the guest itself (its own RPC).
    Replied,
}

/// RETURN_FROM_RPC (Xen handle_rpc): finds the guest's suspended call by
/// OP-TEE thread ID and resumes it.
pub(crate) fn return_from_rpc<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    regs: &Regs,
    out: &mut Regs,
) {
    g.stats.rpc_returns = g.stats.rpc_returns.saturating_add(1);
    let Ok(t) = u32::try_from(regs[3]) else {
        fail_x0(g, GuestError::BadResume, out);
        return;
    };
    let t = ThreadId(t);
    let Some(ci) = g
        .calls
        .iter()
        .position(|c| c.thread == Some(t) && !c.in_flight)
    else {
        fail_x0(g, GuestError::BadResume, out);
        return;
    };
    let mut call = g.calls.swap_remove(ci);
    // OP-TEE may reuse the thread ID as soon as it resumes.
    call.thread = None;
    call.in_flight = true;
    let next = match call.rpc_func {
        ret::RPC_FUNC_ALLOC => rpc_alloc(cx, g, regs),
        ret::RPC_FUNC_CMD => rpc_cmd_return(cx, g, &mut call, t, out),
        // FREE (released when OP-TEE asked), FOREIGN_INTR (the guest took
        // its interrupt) and anything else: resume with OP-TEE's a1/a2.
        _ => Next::Resume(call.rpc_a1, call.rpc_a2, 0, 0),
    };
    match next {
        Next::Replied => {
            call.in_flight = false;
            g.calls.push(call);
        }
        Next::Resume(a1, a2, a4, a5) => {
            let res = cx.p.smc([
                u64::from(smc::RETURN_FROM_RPC),
                a1,
                a2,
                u64::from(t.0),
                a4,
                a5,
                0,
                g.client.raw(),
            ]);
            after_smc(cx, g, call, res, out);
        }
    }
}

/// Xen handle_rpc_func_alloc: the guest gives the page (a1/a2) and cookie
/// (a4/a5) of an RPC argument buffer; OP-TEE gets a shadow page, or a null
/// address and cookie 0 when the guest's answer is unusable.
fn rpc_alloc<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, regs: &Regs) -> Next {
    let cookie = ShmCookie(regpair(regs[4], regs[5]));
    let r = (|| {
        let ipa = Ipa::page_aligned(regpair(regs[1], regs[2])).ok_or(GuestError::BadParameters)?;
        if g.find_rpc(cookie).is_some() {
            return Err(GuestError::BadParameters);
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

/// The guest answered an RPC_FUNC_CMD (Xen handle_rpc_cmd): read its answer
/// back (header first, `num_params` bounded), keep OP-TEE's command, handle
/// SHM_ALLOC.
fn rpc_cmd_return<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &mut Guest,
    call: &mut StdCall,
    t: ThreadId,
    out: &mut Regs,
) -> Next {
    // The buffer is looked up again: it is named by OP-TEE's cookie.
    let Some(loc) = rpc_loc(g, call) else {
        return Next::Resume(0, 0, 0, 0);
    };
    if call.state == CallState::MediatorRpc {
        // Xen handle_xen_rpc_return: our SHM_FREE is done; now tell OP-TEE
        // its allocation failed.
        call.state = CallState::Normal;
        rpc_fail(cx, g, call, &loc, true);
        return Next::Resume(0, 0, 0, 0);
    }
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
    let np = gn.min(call.rpc_num_params);
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
    if call.rpc_cmd == rpc::CMD_SHM_ALLOC {
        return rpc_shm_alloc(cx, g, call, &loc, np, t, out);
    }
    Next::Resume(0, 0, 0, 0)
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
    t: ThreadId,
    out: &mut Regs,
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
            call.rpc_data_cookie = Some(ShmCookie(p0.c));
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
            write_u64(
                &mut req,
                at.saturating_add(field::PARAM_A),
                call.rpc_buffer_type,
            );
            write_u64(&mut req, at.saturating_add(field::PARAM_B), p0.c);
            let fits = bound_params(loc, 1) == 1;
            if !fits || cx.p.write(g.dom, loc.guest, &req).is_err() {
                rpc_fail(cx, g, call, loc, true);
                return Next::Resume(0, 0, 0, 0);
            }
            call.state = CallState::MediatorRpc;
            call.thread = Some(t);
            out[0] = ret::rpc_val(ret::RPC_FUNC_CMD);
            out[1] = call.rpc_a1;
            out[2] = call.rpc_a2;
            out[3] = u64::from(t.0);
            Next::Replied
        }
    }
}
