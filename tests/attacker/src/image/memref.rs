//! Memory references: old-style physical addresses, page lists naming memory that is not ours,
//! looping or overlong lists, sizes that overflow, reserved parameter types.

use super::cx::{outcome, Cx, Outcome};
use crate::SECURE_RAM_PA;
use alloc::format;
use alloc::string::String;
use mediator::abi::teec as gp;
use mediator::abi::{msg, ret, Param, PAGE_SIZE};
use tee_client::client::{ipa, Scatter};

pub(crate) fn refused(cx: &mut Cx<'_>, p: Param, r: u32, what: String) -> Outcome {
    let a = cx.invoke(&[p]);
    outcome(a.comms(r), format!("{what} {a}"))
}

/// **tmem-old-style-dom0-pa**: a TMEM_INOUT without NONCONTIG whose buf_ptr is a physical
/// address of dom0's RAM (old-style contiguous memory: OP-TEE would use it as a physical
/// address).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS` in arg.ret with origin COMMS (only NULL is allowed).
/// Defence: `call::params::translate_params` (Xen the same).
pub(crate) fn tmem_old_style_dom0_pa(cx: &mut Cx<'_>) -> Outcome {
    let p = Param {
        attr: msg::ATTR_TYPE_TMEM_INOUT,
        a: cx.dom0_pa,
        b: 4096,
        c: 0x7a_0001,
    };
    let what = format!("buf_ptr={:#x}", cx.dom0_pa);
    refused(cx, p, gp::ERROR_BAD_PARAMETERS, what)
}

fn bad_entry(cx: &mut Cx<'_>, entry: u64) -> Outcome {
    if !cx.outside_ram(entry) {
        return outcome(false, format!("{entry:#x} is inside our RAM"));
    }
    let mut buf = Scatter::new(3);
    buf.set_entry(1, entry);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 3 * PAGE_SIZE, 0x7a_0002);
    refused(
        cx,
        p,
        gp::ERROR_BAD_PARAMETERS,
        format!("entry1={entry:#x}"),
    )
}

/// **pagelist-entry-dom0-ram**: a 3-page NONCONTIG memref whose second entry is a physical
/// address in dom0's RAM.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS: Xen refuses to pin a gfn that is not our
/// RAM (`tsd_pin`: p2m_ram_rw only); the first page's pin is dropped again. Defence:
/// `call::params::fill` + Xen's p2m type check.
pub(crate) fn pagelist_entry_dom0_ram(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.dom0_pa;
    bad_entry(cx, a)
}

/// **pagelist-entry-gic-mmio**: page-list entry = our GIC distributor.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS.
pub(crate) fn pagelist_entry_gic_mmio(cx: &mut Cx<'_>) -> Outcome {
    let a = cx.gic_dist;
    bad_entry(cx, a)
}

/// **pagelist-entry-secure-ram**: page-list entry = 0x0e100000 (OP-TEE's secure RAM).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS.
pub(crate) fn pagelist_entry_secure_ram(cx: &mut Cx<'_>) -> Outcome {
    bad_entry(cx, SECURE_RAM_PA)
}

/// **pagelist-in-mmio**: a NONCONTIG memref whose page list itself (buf_ptr) is our GIC
/// distributor.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS (the list cannot be read).
pub(crate) fn pagelist_in_mmio(cx: &mut Cx<'_>) -> Outcome {
    let p = Param {
        attr: msg::ATTR_TYPE_TMEM_INOUT | msg::ATTR_NONCONTIG,
        a: cx.gic_dist,
        b: 4096,
        c: 0x7a_0003,
    };
    let what = format!("list={:#x}", cx.gic_dist);
    refused(cx, p, gp::ERROR_BAD_PARAMETERS, what)
}

/// **pagelist-entry-grant-frame**: a 16-byte TMEM_INOUT at offset 0x800 of our own grant-table
/// frame (Xen maps it into our IPA space at the `/hypervisor` region; its p2m type is
/// p2m_ram_rw, `xenmem_add_to_physmap_one`).
///
/// Expected: refused, x0 = ENOTAVAIL. The mediator pins and translates the frame (it is ours and
/// `p2m_ram_rw`), but the frame is a Xen page shared with us, not our RAM, and Xen's check of
/// what OP-TEE gets (hv-patches 0009) refuses the secure call; the mediator answers a refused
/// secure call with ENOTAVAIL. Xen's own mediator accepts it (OP-TEE writes into the frame). The
/// pin is dropped after the call.
pub(crate) fn pagelist_entry_grant_frame(cx: &mut Cx<'_>) -> Outcome {
    let Some(g) = cx.grant_frame else {
        return outcome(false, String::from("no grant-table frame mapped"));
    };
    let mut buf = Scatter::new(1);
    buf.set_entry(0, g);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0x800, 16, 0x7a_0004);
    let a = cx.invoke(&[p]);
    outcome(a.x0 == ret::ENOTAVAIL, format!("frame={g:#x} {a}"))
}

/// **pagelist-loop-within-limit**: a 129-page memref (the most a buffer may have) whose list
/// page's "next" pointer points back at itself.
///
/// Expected: accepted, correct byte sum: 129 entries fit in one list page, so the next pointer
/// is never followed. Defence: the walk is driven by the page count from the size, never by the
/// list (`call::params::fill`).
pub(crate) fn pagelist_loop_within_limit(cx: &mut Cx<'_>) -> Outcome {
    let mut buf = Scatter::new(129);
    let len = 129 * PAGE_SIZE;
    let sum = buf.fill(0, len);
    let me = ipa(&*buf.lists[0]);
    buf.set_next(me);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, len, 0x7a_0005);
    let a = cx.invoke(&[p]);
    outcome(
        a.ok() && buf.byte(0) == sum,
        format!("{a} sum={:#04x} expected={sum:#04x}", buf.byte(0)),
    )
}

/// **pagelist-loop-overlong**: a memref claiming 1000 pages (two list pages) whose list loops
/// to itself.
///
/// Expected: `TEEC_ERROR_OUT_OF_MEMORY`, origin COMMS, before any list page is read (129 pages
/// per buffer, Xen's MAX_SHM_BUFFER_PG). Defence: `PageList::new`.
pub(crate) fn pagelist_loop_overlong(cx: &mut Cx<'_>) -> Outcome {
    let mut buf = Scatter::new(1);
    let me = ipa(&*buf.lists[0]);
    buf.set_next(me);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 1000 * PAGE_SIZE, 0x7a_0006);
    refused(cx, p, gp::ERROR_OUT_OF_MEMORY, String::from("pages=1000"))
}

/// **memref-size-offset-overflow**: NONCONTIG memref at offset 0xfff with size
/// 0xffffffffffffff00 (offset + size overflows 64 bits).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS. Defence: `PageList::new` (checked_add).
pub(crate) fn memref_size_offset_overflow(cx: &mut Cx<'_>) -> Outcome {
    let buf = Scatter::new(1);
    let mut p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0xFFF, 0, 0x7a_0007);
    p.b = 0xFFFF_FFFF_FFFF_FF00;
    refused(
        cx,
        p,
        gp::ERROR_BAD_PARAMETERS,
        String::from("offset=0xfff size=0xffffffffffffff00"),
    )
}

/// **memref-size-huge**: NONCONTIG memref of 2^40 bytes.
///
/// Expected: `TEEC_ERROR_OUT_OF_MEMORY`, origin COMMS (page limit).
pub(crate) fn memref_size_huge(cx: &mut Cx<'_>) -> Outcome {
    let buf = Scatter::new(1);
    let p = buf.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 0, 0x7a_0008);
    let p = Param { b: 1 << 40, ..p };
    refused(cx, p, gp::ERROR_OUT_OF_MEMORY, String::from("size=2^40"))
}

/// **unknown-param-type**: a parameter of the reserved type 0x4 (between VALUE and RMEM).
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS (our deviation: Xen lets unknown types
/// through). Defence: `call::params::translate_params`.
pub(crate) fn unknown_param_type(cx: &mut Cx<'_>) -> Outcome {
    let p = Param {
        attr: 0x4,
        a: cx.dom0_pa,
        b: 4096,
        c: 0,
    };
    refused(cx, p, gp::ERROR_BAD_PARAMETERS, String::from("attr=0x4"))
}

/// **second-param-bad-frees-first**: parameter 0 a valid 4-page memref, parameter 1 a memref with
/// a dom0 address in its list.
///
/// Expected: `TEEC_ERROR_BAD_PARAMETERS`, origin COMMS, and no pin left (the pins made for
/// parameter 0 are dropped at once; Xen would keep them until the guest dies). Defence:
/// `call::params::translate_params` → `free_call_bufs`.
pub(crate) fn second_param_bad_frees_first(cx: &mut Cx<'_>) -> Outcome {
    let good = Scatter::new(4);
    let mut bad = Scatter::new(2);
    bad.set_entry(1, cx.dom0_pa);
    let p0 = good.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 4 * PAGE_SIZE, 0x7a_0009);
    let p1 = bad.memref(msg::ATTR_TYPE_TMEM_INOUT, 0, 2 * PAGE_SIZE, 0x7a_000a);
    let a = cx.invoke(&[p0, p1]);
    outcome(a.comms(gp::ERROR_BAD_PARAMETERS), format!("{a}"))
}
