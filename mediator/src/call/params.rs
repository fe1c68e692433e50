//! The parameters of a standard call: memrefs translated for OP-TEE
//! (`translate_params`; `translate_noncontig` and `fill` walk, pin and
//! shadow a guest page list), and the temporary buffers they made, freed
//! with the call (`free_call_bufs`).

use super::Cx;
use crate::abi::{msg, read_u64, write_u64, MsgArg, Param, PAGE_SIZE};
use crate::error::GuestError;
use crate::guest::{free_buf, release_list, BufKind, Guest, ShmBuf, StdCall};
use crate::platform::Platform;
use crate::types::{DomId, Ipa, PageList, PageListError, ShmCookie};

/// Whether an UNREGISTER_SHM of `cookie` by another call of `g` than `serial` is in OP-TEE (in
/// its secure call, or suspended in an RPC): its shadowed argument names the cookie. Until OP-TEE
/// answers it, the registration must not be used again.
pub(super) fn unregistering<P: Platform>(
    cx: &mut Cx<'_, P>,
    g: &Guest,
    cookie: ShmCookie,
    serial: u64,
) -> bool {
    g.calls.iter().any(|c| {
        c.serial != serial
            && c.cmd == msg::CMD_UNREGISTER_SHM
            && c.num_params >= 1
            && ShmCookie::from_guest(MsgArg::new(cx.p.bytes_mut(&c.shadow), 0).param(0).c) == cookie
    })
}

/// Xen translate_params: TMEM must be NONCONTIG (or null), VALUE passes
/// through. RMEM must name a registration of this guest that this mediator
/// tracks and no UNREGISTER_SHM of which is in OP-TEE (deviation: Xen passes
/// any cookie through): a registration made through an earlier mediator,
/// whose pages nobody pins any more, cannot be reached, nor another call's
/// temporary buffer, nor a registration OP-TEE is releasing. On failure
/// every buffer this call made is released.
pub(super) fn translate_params<P: Platform>(
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
                // shm_ref (`optee_msg_param_rmem.shm_ref`) is the third word. Only a
                // registration, and none whose UNREGISTER_SHM is in OP-TEE: OP-TEE 4.10 would
                // take a reference on a registration it is releasing and panic
                // (`checks-vs-optee.md`, F5), and would resolve another call's temporary
                // buffer or an RPC allocation (F1, which Xen refuses too).
                let c = ShmCookie::from_guest(p.c);
                let registered = g
                    .bufs
                    .iter()
                    .any(|b| b.cookie == c && b.kind == BufKind::Registered);
                if registered && !unregistering(cx, g, c, call.serial) {
                    Ok(p)
                } else {
                    Err(GuestError::BadParameters)
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
    let cookie = ShmCookie::from_guest(p.c);
    if g.bufs.len() >= g.limits.max_buffers {
        return Err(GuestError::LimitReached);
    }
    let total = g
        .shm_pages
        .checked_add(pl.pages())
        .ok_or(GuestError::LimitReached)?;
    if total > g.limits.max_pinned_pages {
        return Err(GuestError::LimitReached);
    }
    if g.find_buf(cookie).is_some() {
        return Err(GuestError::BadParameters);
    }
    let mut buf = g.take_spare(cookie, kind, pl.offset());
    buf.list_call = serial;
    match fill(cx, g.dom, &mut buf, pl) {
        Ok(()) => {
            let n = buf.pins.len();
            g.shm_pages = g.shm_pages.saturating_add(n);
            g.stats.pinned(n as u64);
            let list_pa = buf.list.first().map(|s| s.pa.raw()).unwrap_or(0);
            g.bufs.push(buf);
            Ok(Param {
                a: list_pa | pl.offset(),
                ..p
            })
        }
        Err(e) => {
            cx.p.unpin_many(g.dom, buf.pins.drain(..));
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
    let mut remaining = pl.pages();
    let mut list_ipa = pl.list();
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
        // A list beyond the IPA space cannot be read (`PageList::list`).
        let ipa = list_ipa.ok_or(GuestError::BadParameters)?;
        cx.p.read(dom, ipa, dst)
            .map_err(|_| GuestError::BadParameters)?;
        // Every entry of this list page checked before any is pinned, then
        // all pinned in one batch (one entry into Xen, hv-patches 0018). On
        // a failure the pages pinned so far are in `buf.pins`, released by
        // the caller with the rest.
        let mut pages = [Ipa::ZERO; msg::PAGELIST_ENTRIES];
        let pages = pages.get_mut(..n).ok_or(GuestError::BadParameters)?;
        for (j, page) in pages.iter_mut().enumerate() {
            let o = j.saturating_mul(msg::PAGELIST_ENTRY_SIZE);
            *page = Ipa::page_aligned(read_u64(&tmp, o)).ok_or(GuestError::BadParameters)?;
        }
        let first = buf.pins.len();
        cx.p.pin_many(dom, pages, &mut buf.pins)
            .map_err(|_| GuestError::BadParameters)?;
        for (j, pin) in buf.pins.iter().skip(first).enumerate() {
            write_u64(
                &mut tmp,
                j.saturating_mul(msg::PAGELIST_ENTRY_SIZE),
                pin.pa.raw(),
            );
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
        list_ipa = Some(Ipa::page_aligned(next).ok_or(GuestError::BadParameters)?);
    }
}

/// Frees every temporary buffer of call `serial`.
pub(super) fn free_call_bufs<P: Platform>(cx: &mut Cx<'_, P>, g: &mut Guest, serial: u64) {
    while let Some(i) = g.bufs.iter().position(|b| b.kind == BufKind::Temp(serial)) {
        free_buf(g, i, cx.pool, cx.p);
    }
}
