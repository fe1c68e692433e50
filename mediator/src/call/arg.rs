//! The argument of a standard call: where it is (`locate`), its check and
//! shadow copy (`prepare`, `allowed`), and the copy of the results back to
//! the guest (`copy_back`).

use super::params::translate_params;
use super::{Cx, Variant};
use crate::abi::{field, msg, read_u32, read_u64, regpair, MsgArg, PAGE_SIZE, PAGE_SIZE_U64};
use crate::access::Verdict;
use crate::error::GuestError;
use crate::guest::{BufKind, Guest, RpcArea, StdCall};
use crate::platform::Platform;
use crate::types::{DomId, Ipa, Regs, ShmCookie, TaUuid};

/// Finds the guest address of the argument.
pub(super) fn locate(g: &Guest, regs: &Regs, v: Variant) -> Result<(Ipa, bool), GuestError> {
    match v {
        Variant::Plain => {
            // OP-TEE ABI: the argument starts on a page boundary (Xen:
            // copy_std_request).
            let ipa = Ipa::page_aligned(regpair(regs[1], regs[2])).ok_or(GuestError::BadAddress)?;
            Ok((ipa, false))
        }
        Variant::RpcArg => {
            let ipa = Ipa::new(regpair(regs[1], regs[2]))
                .filter(|a| a.raw().is_multiple_of(msg::ARG_ALIGN))
                .ok_or(GuestError::BadAddress)?;
            Ok((ipa, true))
        }
        Variant::Regd => {
            let cookie = ShmCookie::from_guest(regpair(regs[1], regs[2]));
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
pub(super) enum Prepared {
    /// Ready for OP-TEE.
    Go,
    /// Answer in the message (`ret`, `ret_origin`), x0 = OK.
    Message(GuestError),
}

/// Shadows the argument and checks and translates it (Xen:
/// copy_std_request, the num_params check, the command switch,
/// translate_params), plus the allow-list check.
pub(super) fn prepare<P: Platform>(
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

/// TA access at OPEN_SESSION: the TA UUID is in the first META value
/// parameter (`optee_msg.h`, OPEN_SESSION). Every authority that applies
/// must allow the session: the label's allow-list, if it has one, and the
/// system's FLASK policy, if a security server decides (`crate::access`);
/// a guest announced without a SID while one decides is denied (fail
/// closed: a Xen without the SID in CREATED). Without a well-formed META
/// parameter the call is denied when either applies.
fn allowed<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, call: &StdCall) -> bool {
    let flask = cx.access.is_some();
    if g.allowed_tas.is_none() && !flask {
        return true;
    }
    if flask && g.sid.is_none() {
        return false;
    }
    let Some(uuid) = meta_uuid(cx.p, call) else {
        return false;
    };
    if g.allowed_tas
        .as_ref()
        .is_some_and(|list| !list.contains(&uuid))
    {
        return false;
    }
    let (Some(sid), Some(access)) = (g.sid, cx.access.as_deref_mut()) else {
        return true;
    };
    match access.open_session(sid, &uuid) {
        Verdict::Allow => true,
        Verdict::AllowPermissive => {
            g.stats.ta_permissive = g.stats.ta_permissive.saturating_add(1);
            true
        }
        Verdict::Deny => false,
    }
}

/// The TA UUID of an OPEN_SESSION: the first parameter's value words, if it
/// is a META value input (`optee_msg.h`; OP-TEE `get_open_session_meta`).
fn meta_uuid<P: Platform>(p: &mut P, call: &StdCall) -> Option<TaUuid> {
    if call.num_params < 1 {
        return None;
    }
    let p0 = MsgArg::new(p.bytes_mut(&call.shadow), 0).param(0);
    (p0.attr == (msg::ATTR_TYPE_VALUE_INPUT | msg::ATTR_META))
        .then(|| TaUuid::from_words(p0.a, p0.b))
}

/// Xen copy_std_request_back: only the fields OP-TEE may change.
pub(super) fn copy_back<P: Platform>(
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
