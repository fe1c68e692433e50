//! The Rust ABI mirrors against the real Xen 4.17 public headers.
//!
//! Compiles a C file with the aarch64 cross compiler (`-S`, never run) that emits
//! `@@name value` lines for sizes, offsets and constants (the Linux asm-offsets technique), and
//! compares them with `size_of`/`offset_of!` of the Rust types. The Xen tree comes from
//! `TSD_XEN_SRC`, else `<workspace>/.cache/src/xen` (made by `scripts/setup`); a missing tree or
//! compiler is a test failure with a clear message, never a silent skip.

mod common;

use common::Checker;
use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use xenif::abi::*;
use xenif::XenError;

const C_SRC: &str = r#"
/* sysctl.h (and the tools-only parts of xen.h it needs, XEN_GUEST_HANDLE_64 among them) are for
 * "node control tools" only: say we are one. No structure checked here changes with it. */
#define __XEN_TOOLS__ 1
#include <stdint.h>
#include <stddef.h>
#include <public/xen.h>
#include <public/event_channel.h>
#include <public/memory.h>
#include <public/sched.h>
#include <public/version.h>
#include <public/grant_table.h>
#include <public/errno.h>
#include <public/xsm/flask_op.h>
#include <public/sysctl.h>

#define EMIT(name, val) asm volatile("\n.ascii \"@@" name " %c0\\n\"" :: "i"((long)(val)))
#define SZ(t) EMIT("sizeof " #t, sizeof(struct t))
#define OFF(t, f) EMIT("offsetof " #t "." #f, offsetof(struct t, f))
#define K(c) EMIT("const " #c, c)
#define AL(t) EMIT("alignof " #t, _Alignof(struct t))

void emit(void)
{
    SZ(vcpu_time_info); OFF(vcpu_time_info, system_time); OFF(vcpu_time_info, tsc_to_system_mul);
    OFF(vcpu_time_info, tsc_shift); OFF(vcpu_time_info, flags);
    SZ(vcpu_info); OFF(vcpu_info, evtchn_upcall_pending); OFF(vcpu_info, evtchn_pending_sel);
    OFF(vcpu_info, time);
    SZ(shared_info); OFF(shared_info, evtchn_pending); OFF(shared_info, evtchn_mask);
    OFF(shared_info, wc_version); OFF(shared_info, wc_sec); OFF(shared_info, wc_nsec);
    OFF(shared_info, wc_sec_hi);
    SZ(evtchn_alloc_unbound); OFF(evtchn_alloc_unbound, remote_dom); OFF(evtchn_alloc_unbound, port);
    SZ(evtchn_bind_interdomain); OFF(evtchn_bind_interdomain, remote_port);
    OFF(evtchn_bind_interdomain, local_port);
    SZ(evtchn_bind_virq); OFF(evtchn_bind_virq, vcpu); OFF(evtchn_bind_virq, port);
    SZ(evtchn_status); OFF(evtchn_status, port); OFF(evtchn_status, status);
    OFF(evtchn_status, vcpu); OFF(evtchn_status, u.interdomain.dom);
    OFF(evtchn_status, u.interdomain.port); OFF(evtchn_status, u.unbound.dom);
    K(EVTCHNSTAT_closed); K(EVTCHNSTAT_unbound); K(EVTCHNSTAT_interdomain); K(EVTCHNSTAT_pirq);
    K(EVTCHNSTAT_virq); K(EVTCHNSTAT_ipi);
    SZ(evtchn_send); SZ(evtchn_close); SZ(evtchn_unmask);
    SZ(xen_add_to_physmap); OFF(xen_add_to_physmap, size); OFF(xen_add_to_physmap, space);
    OFF(xen_add_to_physmap, idx); OFF(xen_add_to_physmap, gpfn);
    SZ(xen_remove_from_physmap); OFF(xen_remove_from_physmap, gpfn);
    SZ(xen_add_to_physmap_batch); OFF(xen_add_to_physmap_batch, space);
    OFF(xen_add_to_physmap_batch, size); OFF(xen_add_to_physmap_batch, u.foreign_domid);
    OFF(xen_add_to_physmap_batch, idxs); OFF(xen_add_to_physmap_batch, gpfns);
    OFF(xen_add_to_physmap_batch, errs);
    SZ(sched_shutdown);
    SZ(grant_entry_v1); OFF(grant_entry_v1, domid); OFF(grant_entry_v1, frame);
    K(DOMID_SELF); K(XEN_LEGACY_MAX_VCPUS); K(XEN_HYPERCALL_TAG);
    K(__HYPERVISOR_memory_op); K(__HYPERVISOR_xen_version); K(__HYPERVISOR_console_io);
    K(__HYPERVISOR_grant_table_op); K(__HYPERVISOR_vcpu_op); K(__HYPERVISOR_sched_op);
    K(__HYPERVISOR_event_channel_op); K(__HYPERVISOR_hvm_op);
    K(XENVER_version); K(CONSOLEIO_write);
    K(SCHEDOP_yield); K(SCHEDOP_block); K(SCHEDOP_shutdown);
    K(SHUTDOWN_poweroff); K(SHUTDOWN_reboot); K(SHUTDOWN_suspend); K(SHUTDOWN_crash);
    K(SHUTDOWN_watchdog);
    K(EVTCHNOP_bind_interdomain); K(EVTCHNOP_bind_virq); K(EVTCHNOP_close); K(EVTCHNOP_send);
    K(EVTCHNOP_status); K(EVTCHNOP_alloc_unbound); K(EVTCHNOP_unmask);
    K(VIRQ_TIMER); K(VIRQ_DEBUG); K(VIRQ_CONSOLE);
    K(XENMEM_add_to_physmap); K(XENMEM_remove_from_physmap); K(XENMEM_add_to_physmap_batch);
    K(XENMAPSPACE_shared_info); K(XENMAPSPACE_grant_table); K(XENMAPSPACE_gmfn);
    K(XENMAPSPACE_gmfn_foreign);
    K(GTF_permit_access); K(GTF_readonly); K(GTF_reading); K(GTF_writing);
    SZ(gnttab_map_grant_ref); OFF(gnttab_map_grant_ref, flags); OFF(gnttab_map_grant_ref, ref);
    OFF(gnttab_map_grant_ref, dom); OFF(gnttab_map_grant_ref, status);
    OFF(gnttab_map_grant_ref, handle); OFF(gnttab_map_grant_ref, dev_bus_addr);
    SZ(gnttab_unmap_grant_ref); OFF(gnttab_unmap_grant_ref, dev_bus_addr);
    OFF(gnttab_unmap_grant_ref, handle); OFF(gnttab_unmap_grant_ref, status);
    SZ(gnttab_query_size); OFF(gnttab_query_size, nr_frames); OFF(gnttab_query_size, max_nr_frames);
    OFF(gnttab_query_size, status);
    K(GNTTABOP_map_grant_ref); K(GNTTABOP_unmap_grant_ref); K(GNTTABOP_query_size);
    K(GNTMAP_host_map); K(GNTMAP_readonly);
    K(GNTST_okay); K(GNTST_general_error); K(GNTST_bad_domain); K(GNTST_bad_gntref);
    K(GNTST_bad_handle); K(GNTST_permission_denied); K(GNTST_bad_page); K(GNTST_no_space);
    SZ(xen_flask_op); AL(xen_flask_op); OFF(xen_flask_op, cmd); OFF(xen_flask_op, interface_version);
    OFF(xen_flask_op, u.sid_context.sid); OFF(xen_flask_op, u.sid_context.size);
    OFF(xen_flask_op, u.sid_context.context);
    OFF(xen_flask_op, u.access.ssid); OFF(xen_flask_op, u.access.tsid);
    OFF(xen_flask_op, u.access.tclass); OFF(xen_flask_op, u.access.req);
    OFF(xen_flask_op, u.access.allowed); OFF(xen_flask_op, u.access.audit_allow);
    OFF(xen_flask_op, u.access.audit_deny); OFF(xen_flask_op, u.access.seqno);
    K(__HYPERVISOR_xsm_op); K(XEN_FLASK_INTERFACE_VERSION); K(FLASK_GETENFORCE);
    K(FLASK_CONTEXT_TO_SID); K(FLASK_SID_TO_CONTEXT); K(FLASK_ACCESS);
    K(__HYPERVISOR_sysctl); K(XEN_SYSCTL_INTERFACE_VERSION); K(XEN_SYSCTL_perfc_op);
    K(XEN_SYSCTL_PERFCOP_reset); K(XEN_SYSCTL_PERFCOP_query);
    SZ(xen_sysctl); OFF(xen_sysctl, interface_version); OFF(xen_sysctl, u);
    EMIT("sizeof xen_sysctl.u", sizeof(((struct xen_sysctl *)0)->u));
    OFF(xen_sysctl, u.perfc_op.desc); OFF(xen_sysctl, u.perfc_op.val);
    SZ(xen_sysctl_perfc_op); OFF(xen_sysctl_perfc_op, cmd); OFF(xen_sysctl_perfc_op, nr_counters);
    OFF(xen_sysctl_perfc_op, nr_vals); OFF(xen_sysctl_perfc_op, desc); OFF(xen_sysctl_perfc_op, val);
    SZ(xen_sysctl_perfc_desc); OFF(xen_sysctl_perfc_desc, name); OFF(xen_sysctl_perfc_desc, nr_vals);
    EMIT("sizeof xen_sysctl_perfc_val_t", sizeof(xen_sysctl_perfc_val_t));
    EMIT("sizeof xen_sysctl_perfc_desc.name", sizeof(((struct xen_sysctl_perfc_desc *)0)->name));
#define XEN_ERRNO(name, value) EMIT("errno " #name, value);
#include <public/errno.h>
}
"#;

fn c_layout() -> HashMap<String, i64> {
    let inc = common::xen_include("public/xen.h");
    let m = common::emitted_values("abi", C_SRC, &[], &[&inc]);
    assert!(
        m.len() > 80,
        "too few values parsed from the C layout ({})",
        m.len()
    );
    m
}

macro_rules! sz {
    ($k:ident, $cname:literal, $t:ty) => {
        $k.eq(concat!("sizeof ", $cname), size_of::<$t>() as i64)
    };
}
macro_rules! off {
    ($k:ident, $cname:literal, $t:ty, $f:ident) => {
        $k.eq(concat!("offsetof ", $cname), offset_of!($t, $f) as i64)
    };
}
macro_rules! k {
    ($k:ident, $cname:literal, $v:expr) => {
        $k.eq(concat!("const ", $cname), $v as i64)
    };
}

#[test]
fn abi_matches_xen_public_headers() {
    let mut k = Checker::new(c_layout());
    // XEN_SYSCTL_perfc_op (public/sysctl.h): the structure Xen copies in and out whole, and the
    // descriptors and values it writes without a length of ours.
    k!(k, "__HYPERVISOR_sysctl", hypercall_nr::SYSCTL);
    k!(
        k,
        "XEN_SYSCTL_INTERFACE_VERSION",
        XEN_SYSCTL_INTERFACE_VERSION
    );
    k!(k, "XEN_SYSCTL_perfc_op", sysctl::PERFC_OP);
    k!(k, "XEN_SYSCTL_PERFCOP_reset", perfcop::RESET);
    k!(k, "XEN_SYSCTL_PERFCOP_query", perfcop::QUERY);
    sz!(k, "xen_sysctl", XenSysctlPerfc);
    off!(
        k,
        "xen_sysctl.interface_version",
        XenSysctlPerfc,
        interface_version
    );
    off!(k, "xen_sysctl.u", XenSysctlPerfc, perfc_op);
    k.eq("sizeof xen_sysctl.u", XEN_SYSCTL_UNION_SIZE as i64);
    k.eq(
        "offsetof xen_sysctl.u.perfc_op.desc",
        (offset_of!(XenSysctlPerfc, perfc_op) + offset_of!(SysctlPerfcOp, desc)) as i64,
    );
    k.eq(
        "offsetof xen_sysctl.u.perfc_op.val",
        (offset_of!(XenSysctlPerfc, perfc_op) + offset_of!(SysctlPerfcOp, val)) as i64,
    );
    sz!(k, "xen_sysctl_perfc_op", SysctlPerfcOp);
    off!(k, "xen_sysctl_perfc_op.cmd", SysctlPerfcOp, cmd);
    off!(
        k,
        "xen_sysctl_perfc_op.nr_counters",
        SysctlPerfcOp,
        nr_counters
    );
    off!(k, "xen_sysctl_perfc_op.nr_vals", SysctlPerfcOp, nr_vals);
    off!(k, "xen_sysctl_perfc_op.desc", SysctlPerfcOp, desc);
    off!(k, "xen_sysctl_perfc_op.val", SysctlPerfcOp, val);
    sz!(k, "xen_sysctl_perfc_desc", PerfcDesc);
    off!(k, "xen_sysctl_perfc_desc.name", PerfcDesc, name);
    off!(k, "xen_sysctl_perfc_desc.nr_vals", PerfcDesc, nr_vals);
    k.eq("sizeof xen_sysctl_perfc_desc.name", PERFC_NAME_LEN as i64);
    k.eq(
        "sizeof xen_sysctl_perfc_val_t",
        size_of::<PerfcVal>() as i64,
    );
    sz!(k, "vcpu_time_info", VcpuTimeInfo);
    off!(k, "vcpu_time_info.system_time", VcpuTimeInfo, system_time);
    off!(
        k,
        "vcpu_time_info.tsc_to_system_mul",
        VcpuTimeInfo,
        tsc_to_system_mul
    );
    off!(k, "vcpu_time_info.tsc_shift", VcpuTimeInfo, tsc_shift);
    off!(k, "vcpu_time_info.flags", VcpuTimeInfo, flags);
    sz!(k, "vcpu_info", VcpuInfo);
    off!(
        k,
        "vcpu_info.evtchn_upcall_pending",
        VcpuInfo,
        evtchn_upcall_pending
    );
    off!(
        k,
        "vcpu_info.evtchn_pending_sel",
        VcpuInfo,
        evtchn_pending_sel
    );
    off!(k, "vcpu_info.time", VcpuInfo, time);
    sz!(k, "shared_info", SharedInfo);
    off!(k, "shared_info.evtchn_pending", SharedInfo, evtchn_pending);
    off!(k, "shared_info.evtchn_mask", SharedInfo, evtchn_mask);
    off!(k, "shared_info.wc_version", SharedInfo, wc_version);
    off!(k, "shared_info.wc_sec", SharedInfo, wc_sec);
    off!(k, "shared_info.wc_nsec", SharedInfo, wc_nsec);
    off!(k, "shared_info.wc_sec_hi", SharedInfo, wc_sec_hi);
    sz!(k, "evtchn_alloc_unbound", EvtchnAllocUnbound);
    off!(
        k,
        "evtchn_alloc_unbound.remote_dom",
        EvtchnAllocUnbound,
        remote_dom
    );
    off!(k, "evtchn_alloc_unbound.port", EvtchnAllocUnbound, port);
    sz!(k, "evtchn_bind_interdomain", EvtchnBindInterdomain);
    off!(
        k,
        "evtchn_bind_interdomain.remote_port",
        EvtchnBindInterdomain,
        remote_port
    );
    off!(
        k,
        "evtchn_bind_interdomain.local_port",
        EvtchnBindInterdomain,
        local_port
    );
    sz!(k, "evtchn_bind_virq", EvtchnBindVirq);
    off!(k, "evtchn_bind_virq.vcpu", EvtchnBindVirq, vcpu);
    off!(k, "evtchn_bind_virq.port", EvtchnBindVirq, port);
    sz!(k, "evtchn_status", EvtchnStatus);
    off!(k, "evtchn_status.port", EvtchnStatus, port);
    off!(k, "evtchn_status.status", EvtchnStatus, status);
    off!(k, "evtchn_status.vcpu", EvtchnStatus, vcpu);
    off!(
        k,
        "evtchn_status.u.interdomain.dom",
        EvtchnStatus,
        remote_dom
    );
    off!(
        k,
        "evtchn_status.u.interdomain.port",
        EvtchnStatus,
        remote_port
    );
    off!(k, "evtchn_status.u.unbound.dom", EvtchnStatus, remote_dom);
    k!(k, "EVTCHNSTAT_closed", evtchnstat::CLOSED);
    k!(k, "EVTCHNSTAT_unbound", evtchnstat::UNBOUND);
    k!(k, "EVTCHNSTAT_interdomain", evtchnstat::INTERDOMAIN);
    k!(k, "EVTCHNSTAT_pirq", evtchnstat::PIRQ);
    k!(k, "EVTCHNSTAT_virq", evtchnstat::VIRQ);
    k!(k, "EVTCHNSTAT_ipi", evtchnstat::IPI);
    sz!(k, "evtchn_send", EvtchnPortArg);
    sz!(k, "evtchn_close", EvtchnPortArg);
    sz!(k, "evtchn_unmask", EvtchnPortArg);
    sz!(k, "xen_add_to_physmap", XenAddToPhysmap);
    off!(k, "xen_add_to_physmap.size", XenAddToPhysmap, size);
    off!(k, "xen_add_to_physmap.space", XenAddToPhysmap, space);
    off!(k, "xen_add_to_physmap.idx", XenAddToPhysmap, idx);
    off!(k, "xen_add_to_physmap.gpfn", XenAddToPhysmap, gpfn);
    sz!(k, "xen_remove_from_physmap", XenRemoveFromPhysmap);
    off!(
        k,
        "xen_remove_from_physmap.gpfn",
        XenRemoveFromPhysmap,
        gpfn
    );
    sz!(k, "xen_add_to_physmap_batch", XenAddToPhysmapBatch);
    off!(
        k,
        "xen_add_to_physmap_batch.space",
        XenAddToPhysmapBatch,
        space
    );
    off!(
        k,
        "xen_add_to_physmap_batch.size",
        XenAddToPhysmapBatch,
        size
    );
    off!(
        k,
        "xen_add_to_physmap_batch.u.foreign_domid",
        XenAddToPhysmapBatch,
        foreign_domid
    );
    off!(
        k,
        "xen_add_to_physmap_batch.idxs",
        XenAddToPhysmapBatch,
        idxs
    );
    off!(
        k,
        "xen_add_to_physmap_batch.gpfns",
        XenAddToPhysmapBatch,
        gpfns
    );
    off!(
        k,
        "xen_add_to_physmap_batch.errs",
        XenAddToPhysmapBatch,
        errs
    );
    sz!(k, "sched_shutdown", SchedShutdown);
    sz!(k, "grant_entry_v1", GrantEntryV1);
    off!(k, "grant_entry_v1.domid", GrantEntryV1, domid);
    off!(k, "grant_entry_v1.frame", GrantEntryV1, frame);

    k!(k, "DOMID_SELF", DOMID_SELF);
    k!(k, "XEN_LEGACY_MAX_VCPUS", XEN_LEGACY_MAX_VCPUS);
    k!(k, "XEN_HYPERCALL_TAG", XEN_HYPERCALL_TAG);
    k!(k, "__HYPERVISOR_memory_op", hypercall_nr::MEMORY_OP);
    k!(k, "__HYPERVISOR_xen_version", hypercall_nr::XEN_VERSION);
    k!(k, "__HYPERVISOR_console_io", hypercall_nr::CONSOLE_IO);
    k!(
        k,
        "__HYPERVISOR_grant_table_op",
        hypercall_nr::GRANT_TABLE_OP
    );
    k!(k, "__HYPERVISOR_vcpu_op", hypercall_nr::VCPU_OP);
    k!(k, "__HYPERVISOR_sched_op", hypercall_nr::SCHED_OP);
    k!(
        k,
        "__HYPERVISOR_event_channel_op",
        hypercall_nr::EVENT_CHANNEL_OP
    );
    k!(k, "__HYPERVISOR_hvm_op", hypercall_nr::HVM_OP);
    k!(k, "XENVER_version", XENVER_VERSION);
    k!(k, "CONSOLEIO_write", CONSOLEIO_WRITE);
    k!(k, "SCHEDOP_yield", schedop::YIELD);
    k!(k, "SCHEDOP_block", schedop::BLOCK);
    k!(k, "SCHEDOP_shutdown", schedop::SHUTDOWN);
    k!(k, "SHUTDOWN_poweroff", ShutdownReason::Poweroff as u32);
    k!(k, "SHUTDOWN_reboot", ShutdownReason::Reboot as u32);
    k!(k, "SHUTDOWN_suspend", ShutdownReason::Suspend as u32);
    k!(k, "SHUTDOWN_crash", ShutdownReason::Crash as u32);
    k!(k, "SHUTDOWN_watchdog", ShutdownReason::Watchdog as u32);
    k!(k, "EVTCHNOP_bind_interdomain", evtchnop::BIND_INTERDOMAIN);
    k!(k, "EVTCHNOP_bind_virq", evtchnop::BIND_VIRQ);
    k!(k, "EVTCHNOP_close", evtchnop::CLOSE);
    k!(k, "EVTCHNOP_send", evtchnop::SEND);
    k!(k, "EVTCHNOP_status", evtchnop::STATUS);
    k!(k, "EVTCHNOP_alloc_unbound", evtchnop::ALLOC_UNBOUND);
    k!(k, "EVTCHNOP_unmask", evtchnop::UNMASK);
    k!(k, "VIRQ_TIMER", virq::TIMER);
    k!(k, "VIRQ_DEBUG", virq::DEBUG);
    k!(k, "VIRQ_CONSOLE", virq::CONSOLE);
    k!(k, "XENMEM_add_to_physmap", xenmem::ADD_TO_PHYSMAP);
    k!(k, "XENMEM_remove_from_physmap", xenmem::REMOVE_FROM_PHYSMAP);
    k!(
        k,
        "XENMEM_add_to_physmap_batch",
        xenmem::ADD_TO_PHYSMAP_BATCH
    );
    k!(k, "XENMAPSPACE_shared_info", mapspace::SHARED_INFO);
    k!(k, "XENMAPSPACE_grant_table", mapspace::GRANT_TABLE);
    k!(k, "XENMAPSPACE_gmfn", mapspace::GMFN);
    k!(k, "XENMAPSPACE_gmfn_foreign", mapspace::GMFN_FOREIGN);
    k!(k, "GTF_permit_access", GTF_PERMIT_ACCESS);
    k!(k, "GTF_readonly", GTF_READONLY);
    k!(k, "GTF_reading", GTF_READING);
    k!(k, "GTF_writing", GTF_WRITING);
    sz!(k, "gnttab_map_grant_ref", GnttabMapGrantRef);
    off!(k, "gnttab_map_grant_ref.flags", GnttabMapGrantRef, flags);
    off!(k, "gnttab_map_grant_ref.ref", GnttabMapGrantRef, ref_);
    off!(k, "gnttab_map_grant_ref.dom", GnttabMapGrantRef, dom);
    off!(k, "gnttab_map_grant_ref.status", GnttabMapGrantRef, status);
    off!(k, "gnttab_map_grant_ref.handle", GnttabMapGrantRef, handle);
    off!(
        k,
        "gnttab_map_grant_ref.dev_bus_addr",
        GnttabMapGrantRef,
        dev_bus_addr
    );
    sz!(k, "gnttab_unmap_grant_ref", GnttabUnmapGrantRef);
    off!(
        k,
        "gnttab_unmap_grant_ref.dev_bus_addr",
        GnttabUnmapGrantRef,
        dev_bus_addr
    );
    off!(
        k,
        "gnttab_unmap_grant_ref.handle",
        GnttabUnmapGrantRef,
        handle
    );
    off!(
        k,
        "gnttab_unmap_grant_ref.status",
        GnttabUnmapGrantRef,
        status
    );
    sz!(k, "gnttab_query_size", GnttabQuerySize);
    off!(k, "gnttab_query_size.nr_frames", GnttabQuerySize, nr_frames);
    off!(
        k,
        "gnttab_query_size.max_nr_frames",
        GnttabQuerySize,
        max_nr_frames
    );
    off!(k, "gnttab_query_size.status", GnttabQuerySize, status);
    k!(k, "GNTTABOP_map_grant_ref", gnttabop::MAP_GRANT_REF);
    k!(k, "GNTTABOP_unmap_grant_ref", gnttabop::UNMAP_GRANT_REF);
    k!(k, "GNTTABOP_query_size", gnttabop::QUERY_SIZE);
    k!(k, "GNTMAP_host_map", GNTMAP_HOST_MAP);
    k!(k, "GNTMAP_readonly", GNTMAP_READONLY);
    k!(k, "GNTST_okay", 0);
    k!(
        k,
        "GNTST_general_error",
        xenif::grant::GrantError::GENERAL.0
    );
    k!(
        k,
        "GNTST_bad_domain",
        xenif::grant::GrantError::BAD_DOMAIN.0
    );
    k!(
        k,
        "GNTST_bad_gntref",
        xenif::grant::GrantError::BAD_GNTREF.0
    );
    k!(
        k,
        "GNTST_bad_handle",
        xenif::grant::GrantError::BAD_HANDLE.0
    );
    k!(
        k,
        "GNTST_permission_denied",
        xenif::grant::GrantError::PERMISSION_DENIED.0
    );
    k!(k, "GNTST_bad_page", xenif::grant::GrantError::BAD_PAGE.0);
    k!(k, "GNTST_no_space", xenif::grant::GrantError::NO_SPACE.0);
    // struct xen_flask_op, flattened per command (both types are the whole struct: Xen copies it
    // in and out whole).
    sz!(k, "xen_flask_op", FlaskOpSidContext);
    sz!(k, "xen_flask_op", FlaskOpAccess);
    k.eq(
        "alignof xen_flask_op",
        std::mem::align_of::<FlaskOpSidContext>() as i64,
    );
    k.eq(
        "alignof xen_flask_op",
        std::mem::align_of::<FlaskOpAccess>() as i64,
    );
    off!(k, "xen_flask_op.cmd", FlaskOpSidContext, cmd);
    off!(
        k,
        "xen_flask_op.interface_version",
        FlaskOpSidContext,
        interface_version
    );
    off!(k, "xen_flask_op.u.sid_context.sid", FlaskOpSidContext, sid);
    off!(
        k,
        "xen_flask_op.u.sid_context.size",
        FlaskOpSidContext,
        size
    );
    off!(
        k,
        "xen_flask_op.u.sid_context.context",
        FlaskOpSidContext,
        context
    );
    off!(k, "xen_flask_op.cmd", FlaskOpAccess, cmd);
    off!(
        k,
        "xen_flask_op.interface_version",
        FlaskOpAccess,
        interface_version
    );
    off!(k, "xen_flask_op.u.access.ssid", FlaskOpAccess, ssid);
    off!(k, "xen_flask_op.u.access.tsid", FlaskOpAccess, tsid);
    off!(k, "xen_flask_op.u.access.tclass", FlaskOpAccess, tclass);
    off!(k, "xen_flask_op.u.access.req", FlaskOpAccess, req);
    off!(k, "xen_flask_op.u.access.allowed", FlaskOpAccess, allowed);
    off!(
        k,
        "xen_flask_op.u.access.audit_allow",
        FlaskOpAccess,
        audit_allow
    );
    off!(
        k,
        "xen_flask_op.u.access.audit_deny",
        FlaskOpAccess,
        audit_deny
    );
    off!(k, "xen_flask_op.u.access.seqno", FlaskOpAccess, seqno);
    k!(k, "__HYPERVISOR_xsm_op", hypercall_nr::XSM_OP);
    k!(k, "XEN_FLASK_INTERFACE_VERSION", flask::INTERFACE_VERSION);
    k!(k, "FLASK_GETENFORCE", flask::GETENFORCE);
    k!(k, "FLASK_CONTEXT_TO_SID", flask::CONTEXT_TO_SID);
    k!(k, "FLASK_SID_TO_CONTEXT", flask::SID_TO_CONTEXT);
    k!(k, "FLASK_ACCESS", flask::ACCESS);
    for &(name, val) in XenError::ALL {
        k.eq(&format!("errno {name}"), val as i64);
    }
    assert!(
        k.bad.is_empty(),
        "ABI mismatches ({} of {} checks):\n{}",
        k.bad.len(),
        k.n,
        k.bad.join("\n")
    );
    eprintln!("{} ABI values match the Xen headers", k.n);
}
