//! Hypercalls on arm64 (`public/arch-arm.h`, "Hypercall calling convention"): `hvc #0xEA1`, the
//! hypercall number in x16, arguments in x0–x4, the result in x0.
//!
//! A **debug** Xen overwrites every argument register the hypercall uses, and x16, with 0xDEADBEEF
//! before returning (`xen/arch/arm/traps.c`, `do_trap_hypercall`, `#ifndef NDEBUG`). The raw call
//! therefore declares x0–x4 and x16 as clobbered (`inlateout(..) => _`); declaring them as inputs
//! only (as `xen-sys` 0.0.0-pre2 does) is undefined behaviour that LTO really miscompiles. The
//! asm has no `nomem`: Xen reads and writes guest memory through the argument pointers.
//!
//! This is the only module of `xenif` with `unsafe`. The safe wrappers below pass only pointers to
//! live, correctly typed Rust objects; the wrappers that change the caller's physmap stay `unsafe`
//! because replacing a RAM page under live Rust objects breaks memory safety. [`hook`] holds the
//! hook ABI's hypercall and the guest's SMCCC `hvc #0` (re-exported by `crate::hook::call`).

use crate::abi::{
    self, evtchnop, hypercall_nr as nr, mapspace, schedop, xenmem, DomId, EvtchnAllocUnbound,
    EvtchnBindInterdomain, EvtchnBindVirq, EvtchnPort, EvtchnPortArg, EvtchnStatus, SchedShutdown,
    ShutdownReason, XenAddToPhysmap, XenMemoryReservation, XenPfn, XenRemoveFromPhysmap,
    DOMID_SELF,
};
use crate::abi::{flask, FlaskOpAccess, FlaskOpSidContext, XEN_PAGE_SIZE};
use crate::abi::{
    gnttabop, GnttabMapGrantRef, GnttabQuerySize, GnttabUnmapGrantRef, GrantHandle, GrantRef,
};
use crate::abi::{perfcop, PerfcDesc, PerfcVal, XenSysctlPerfc};
use crate::error::{XenError, XenResult};
use crate::foreign::{batch_header, ForeignMapError, PageErrors};
use crate::grant::GrantError;
use core::arch::asm;

/// Issue a hypercall with up to five arguments.
///
/// # Safety
/// 1. Every argument that Xen interprets as a guest address for `op` must point to memory that is
///    valid for the reads and writes that hypercall performs, for its whole duration.
/// 2. The effects of `op` on the calling domain (physmap changes, vCPU state) must not invalidate
///    memory that Rust code still uses.
#[inline(always)]
pub unsafe fn hypercall(op: u64, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
    let ret: i64;
    // SAFETY: the caller upholds the memory contract above; all registers a debug Xen may change
    // (x0–x4, x16) are declared clobbered, and the call does not use the stack.
    unsafe {
        asm!(
            "hvc #0xEA1",
            inlateout("x0") a0 => ret,
            inlateout("x1") a1 => _,
            inlateout("x2") a2 => _,
            inlateout("x3") a3 => _,
            inlateout("x4") a4 => _,
            inlateout("x16") op => _,
            options(nostack),
        );
    }
    ret
}

/// Diagnostic: issue `xen_version(XENVER_version)` with x1–x4 preset to 1–4 and return what x1–x4
/// and x16 hold afterwards. A debug Xen overwrites the argument registers the hypercall uses
/// (x1 for xen_version; x0 holds the result) and x16 with 0xDEADBEEF; a release Xen leaves them
/// alone. The self-test uses it to show which Xen it runs on and that the clobbers are real.
pub fn probe_clobbers() -> [u64; 5] {
    let (x1, x2, x3, x4, x16): (u64, u64, u64, u64, u64);
    // SAFETY: XENVER_version takes no buffer; every register Xen may change is an output.
    unsafe {
        asm!(
            "hvc #0xEA1",
            inlateout("x0") abi::XENVER_VERSION => _,
            inlateout("x1") 1u64 => x1,
            inlateout("x2") 2u64 => x2,
            inlateout("x3") 3u64 => x3,
            inlateout("x4") 4u64 => x4,
            inlateout("x16") nr::XEN_VERSION => x16,
            options(nostack),
        );
    }
    [x1, x2, x3, x4, x16]
}

fn addr<T>(p: *const T) -> u64 {
    p as usize as u64
}

/// `XENVER_version`: `major << 16 | minor`. Also the cheapest hypercall, used to measure the
/// hypercall round trip.
pub fn xen_version() -> XenResult<u32> {
    // SAFETY: XENVER_version takes no buffer (the NULL argument is not dereferenced).
    let r = unsafe { hypercall(nr::XEN_VERSION, abi::XENVER_VERSION, 0, 0, 0, 0) };
    XenError::from_ret(r).map(|v| v as u32)
}

/// `CONSOLEIO_write`: write bytes to Xen's console. Returns the number of bytes Xen took.
pub fn console_write(bytes: &[u8]) -> XenResult<usize> {
    // SAFETY: Xen reads `bytes.len()` bytes from a live slice.
    let r = unsafe {
        hypercall(
            nr::CONSOLE_IO,
            abi::CONSOLEIO_WRITE,
            bytes.len() as u64,
            addr(bytes.as_ptr()),
            0,
            0,
        )
    };
    XenError::from_ret(r).map(|v| v as usize)
}

/// `SCHEDOP_yield`.
pub fn sched_yield() {
    // SAFETY: no memory argument.
    unsafe { hypercall(nr::SCHED_OP, schedop::YIELD, 0, 0, 0, 0) };
}

/// `SCHEDOP_block`: block the vCPU until an event or a virtual interrupt is pending.
pub fn sched_block() {
    // SAFETY: no memory argument.
    unsafe { hypercall(nr::SCHED_OP, schedop::BLOCK, 0, 0, 0, 0) };
}

/// `SCHEDOP_shutdown`: stop the domain with `reason`. Xen does not return to a domain that shut
/// itself down; if it ever does, spin in place.
pub fn sched_shutdown(reason: ShutdownReason) -> ! {
    let arg = SchedShutdown {
        reason: reason as u32,
    };
    // SAFETY: Xen reads a live `struct sched_shutdown`.
    unsafe { hypercall(nr::SCHED_OP, schedop::SHUTDOWN, addr(&arg), 0, 0, 0) };
    loop {
        core::hint::spin_loop();
    }
}

fn evtchn_op<T>(cmd: u64, arg: &mut T) -> XenResult<()> {
    // SAFETY: `arg` is a live, exclusively borrowed event-channel argument struct of the type
    // `cmd` expects (callers below pair them).
    let r = unsafe { hypercall(nr::EVENT_CHANNEL_OP, cmd, addr(arg as *mut T), 0, 0, 0) };
    XenError::from_ret(r).map(|_| ())
}

/// `EVTCHNOP_alloc_unbound`: a new local port that `remote` may bind.
pub fn evtchn_alloc_unbound(remote: DomId) -> XenResult<EvtchnPort> {
    let mut a = EvtchnAllocUnbound {
        dom: DOMID_SELF,
        remote_dom: remote,
        port: 0,
    };
    evtchn_op(evtchnop::ALLOC_UNBOUND, &mut a).map(|_| a.port)
}

/// `EVTCHNOP_bind_interdomain`: connect to `remote_port` of `remote` (which may be `DOMID_SELF`
/// for a loopback channel). Returns the local port.
pub fn evtchn_bind_interdomain(remote: DomId, remote_port: EvtchnPort) -> XenResult<EvtchnPort> {
    let mut a = EvtchnBindInterdomain {
        remote_dom: remote,
        remote_port,
        local_port: 0,
    };
    evtchn_op(evtchnop::BIND_INTERDOMAIN, &mut a).map(|_| a.local_port)
}

/// `EVTCHNOP_bind_virq` on vCPU `vcpu`.
pub fn evtchn_bind_virq(virq: u32, vcpu: u32) -> XenResult<EvtchnPort> {
    let mut a = EvtchnBindVirq {
        virq,
        vcpu,
        port: 0,
    };
    evtchn_op(evtchnop::BIND_VIRQ, &mut a).map(|_| a.port)
}

/// `EVTCHNOP_status` of one of our ports (e.g. to learn the remote end of a static channel).
pub fn evtchn_status(port: EvtchnPort) -> XenResult<EvtchnStatus> {
    let mut a = EvtchnStatus {
        dom: DOMID_SELF,
        port,
        ..Default::default()
    };
    evtchn_op(evtchnop::STATUS, &mut a).map(|_| a)
}

/// `EVTCHNOP_send`.
pub fn evtchn_send(port: EvtchnPort) -> XenResult<()> {
    evtchn_op(evtchnop::SEND, &mut EvtchnPortArg { port })
}

/// `EVTCHNOP_unmask`: clears the mask bit and re-raises the port if it is pending.
pub fn evtchn_unmask(port: EvtchnPort) -> XenResult<()> {
    evtchn_op(evtchnop::UNMASK, &mut EvtchnPortArg { port })
}

/// `EVTCHNOP_close`.
pub fn evtchn_close(port: EvtchnPort) -> XenResult<()> {
    evtchn_op(evtchnop::CLOSE, &mut EvtchnPortArg { port })
}

/// `XENMEM_add_to_physmap` of the shared-info page at `gpfn`.
///
/// # Safety
/// 1. No Rust object may live in page `gpfn` other than one that treats its content as
///    Xen-owned shared memory (the RAM page there is replaced by the shared-info page).
pub unsafe fn map_shared_info(gpfn: XenPfn) -> XenResult<()> {
    let mut a = XenAddToPhysmap {
        domid: DOMID_SELF,
        size: 0,
        space: mapspace::SHARED_INFO,
        idx: 0,
        gpfn,
    };
    // SAFETY: `a` is live; the physmap change is covered by the caller's condition 1.
    let r = unsafe {
        hypercall(
            nr::MEMORY_OP,
            xenmem::ADD_TO_PHYSMAP,
            addr(&mut a as *mut XenAddToPhysmap),
            0,
            0,
            0,
        )
    };
    XenError::from_ret(r).map(|_| ())
}

/// Map pages `gfns` of domain `foreign` at our own frames `gpfns` (`XENMEM_add_to_physmap_batch`,
/// `XENMAPSPACE_gmfn_foreign`). `errs` receives Xen's per-page results. On a per-page failure,
/// the pages that did map stay mapped (see [`PageErrors::mapped`]) and the first error is
/// returned.
///
/// # Safety
/// 1. No Rust object may live in any frame of `gpfns` (they are replaced by foreign pages), and
///    nothing may access them through a stale stage-1 mapping of another page.
pub unsafe fn map_foreign_batch(
    foreign: DomId,
    gfns: &[u64],
    gpfns: &[XenPfn],
    errs: &mut [i32],
) -> Result<(), ForeignMapError> {
    if gfns.len() != gpfns.len() || gfns.len() != errs.len() {
        return Err(ForeignMapError::BadRequest);
    }
    let mut h = batch_header(foreign, gfns.len())?;
    h.idxs = addr(gfns.as_ptr());
    h.gpfns = addr(gpfns.as_ptr());
    h.errs = addr(errs.as_mut_ptr());
    errs.fill(0);
    // SAFETY: the three arrays are live and `size` elements long, `errs` is exclusively borrowed;
    // the physmap change is covered by the caller's condition 1.
    let r = unsafe {
        hypercall(
            nr::MEMORY_OP,
            xenmem::ADD_TO_PHYSMAP_BATCH,
            addr(&mut h as *mut _),
            0,
            0,
            0,
        )
    };
    XenError::from_ret(r).map_err(ForeignMapError::Batch)?;
    match PageErrors(errs).first_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `XENMEM_remove_from_physmap` of our frame `gpfn` (drops the foreign page and its reference).
///
/// # Safety
/// 1. No Rust object may live in frame `gpfn` and no stage-1 mapping of it may be used afterwards.
pub unsafe fn remove_from_physmap(gpfn: XenPfn) -> XenResult<()> {
    let mut a = XenRemoveFromPhysmap {
        domid: DOMID_SELF,
        gpfn,
    };
    // SAFETY: `a` is live; the physmap change is covered by the caller's condition 1.
    let r = unsafe {
        hypercall(
            nr::MEMORY_OP,
            xenmem::REMOVE_FROM_PHYSMAP,
            addr(&mut a as *mut _),
            0,
            0,
            0,
        )
    };
    XenError::from_ret(r).map(|_| ())
}

/// `XENMEM_decrease_reservation` of our own frame `gpfn` (one page, order 0): Xen takes the page
/// away from us (it is freed once nobody else holds a reference). Returns the extents released
/// (1 on success).
///
/// # Safety
/// 1. No Rust object may live in frame `gpfn` and no stage-1 mapping of it may be used afterwards
///    (an access would fault at stage 2).
pub unsafe fn decrease_reservation(gpfn: XenPfn) -> XenResult<u64> {
    let mut frames = [gpfn];
    let mut a = XenMemoryReservation {
        extent_start: addr(frames.as_mut_ptr()),
        nr_extents: 1,
        extent_order: 0,
        mem_flags: 0,
        domid: DOMID_SELF,
    };
    // SAFETY: `a` and the one-element array it names are live for the call; the physmap change
    // is covered by the caller's condition 1.
    let r = unsafe {
        hypercall(
            nr::MEMORY_OP,
            xenmem::DECREASE_RESERVATION,
            addr(&mut a as *mut _),
            0,
            0,
            0,
        )
    };
    XenError::from_ret(r)
}

/// `GNTTABOP_query_size` of our own table: (frames in use, maximum frames).
pub fn gnttab_query_size() -> Result<(u32, u32), GrantError> {
    let mut q = GnttabQuerySize {
        dom: DOMID_SELF,
        ..Default::default()
    };
    // SAFETY: `q` is a live `struct gnttab_query_size`, count 1.
    let r = unsafe {
        hypercall(
            nr::GRANT_TABLE_OP,
            gnttabop::QUERY_SIZE,
            addr(&mut q as *mut _),
            1,
            0,
            0,
        )
    };
    if r < 0 {
        return Err(GrantError::GENERAL);
    }
    GrantError::check(q.status).map(|_| (q.nr_frames, q.max_nr_frames))
}

/// Map frame `idx` of our own grant table (v1 entries) at our frame `gpfn`
/// (`XENMEM_add_to_physmap`, `XENMAPSPACE_grant_table`).
///
/// # Safety
/// 1. No Rust object may live in frame `gpfn`; from now on it holds the grant table, which Xen
///    reads and writes concurrently (access it only through atomics/volatile).
pub unsafe fn map_grant_table_frame(idx: u64, gpfn: XenPfn) -> XenResult<()> {
    let mut a = XenAddToPhysmap {
        domid: DOMID_SELF,
        size: 0,
        space: mapspace::GRANT_TABLE,
        idx,
        gpfn,
    };
    // SAFETY: `a` is live; the physmap change is covered by the caller's condition 1.
    let r = unsafe {
        hypercall(
            nr::MEMORY_OP,
            xenmem::ADD_TO_PHYSMAP,
            addr(&mut a as *mut XenAddToPhysmap),
            0,
            0,
            0,
        )
    };
    XenError::from_ret(r).map(|_| ())
}

/// `GNTTABOP_map_grant_ref` with `GNTMAP_host_map`: map grant `gref` of domain `dom` at our guest
/// physical address `gpa`. Returns the handle for [`gnttab_unmap`] and `dev_bus_addr`, which
/// Xen 4.17 sets to the granted page's machine address on every successful map
/// (`common/grant_table.c`, `map_grant_ref`).
///
/// # Safety
/// 1. No Rust object may live in the frame at `gpa` (it is replaced by the granted page).
pub unsafe fn gnttab_map(
    dom: DomId,
    gref: GrantRef,
    gpa: u64,
    readonly: bool,
) -> Result<(GrantHandle, u64), GrantError> {
    let mut m = GnttabMapGrantRef {
        host_addr: gpa,
        flags: abi::GNTMAP_HOST_MAP | if readonly { abi::GNTMAP_READONLY } else { 0 },
        ref_: gref,
        dom,
        ..Default::default()
    };
    // SAFETY: `m` is a live `struct gnttab_map_grant_ref`, count 1; the physmap change is
    // covered by the caller's condition 1.
    let r = unsafe {
        hypercall(
            nr::GRANT_TABLE_OP,
            gnttabop::MAP_GRANT_REF,
            addr(&mut m as *mut _),
            1,
            0,
            0,
        )
    };
    if r < 0 {
        return Err(GrantError::GENERAL);
    }
    GrantError::check(m.status).map(|_| (m.handle, m.dev_bus_addr))
}

/// `GNTTABOP_unmap_grant_ref` of a grant mapped at `gpa` with `handle`.
///
/// # Safety
/// 1. No stage-1 mapping of the frame at `gpa` may be used afterwards.
pub unsafe fn gnttab_unmap(gpa: u64, handle: GrantHandle) -> Result<(), GrantError> {
    let mut u = GnttabUnmapGrantRef {
        host_addr: gpa,
        dev_bus_addr: 0,
        handle,
        status: 0,
    };
    // SAFETY: `u` is a live `struct gnttab_unmap_grant_ref`, count 1; the caller guarantees
    // nothing uses the frame any more.
    let r = unsafe {
        hypercall(
            nr::GRANT_TABLE_OP,
            gnttabop::UNMAP_GRANT_REF,
            addr(&mut u as *mut _),
            1,
            0,
            0,
        )
    };
    if r < 0 {
        return Err(GrantError::GENERAL);
    }
    GrantError::check(u.status)
}

/// A `struct xen_flask_op` flattened for one union member: the two types of `abi` whose size is
/// that of the C struct (`tests/abi_layout.rs`), the only types [`xsm_op`] passes. Sealed.
trait FlaskOp: flask_private::Sealed {}
mod flask_private {
    pub trait Sealed {}
}
impl flask_private::Sealed for FlaskOpSidContext {}
impl FlaskOp for FlaskOpSidContext {}
impl flask_private::Sealed for FlaskOpAccess {}
impl FlaskOp for FlaskOpAccess {}

/// `__HYPERVISOR_xsm_op(op)` with FLASK's interface version set.
fn xsm_op<T: FlaskOp>(op: &mut T) -> XenResult<u64> {
    // SAFETY: `op` is a live, exclusively borrowed object of the size of `struct xen_flask_op`
    // (FlaskOp is sealed to the two layout-tested types), so do_flask_op's copy_from_guest and
    // copy_to_guest of one xen_flask_op stay inside it. A guest handle inside it is the caller's
    // contract (see each wrapper). No FLASK command changes the caller's mappings.
    let r = unsafe { hypercall(nr::XSM_OP, addr(op as *mut T), 0, 0, 0, 0) };
    XenError::from_ret(r)
}

/// The SID of security context `context` (e.g. `system_u:object_r:tee_ta_t`): FLASK's
/// `FLASK_CONTEXT_TO_SID`, which needs `security check_context` on `security_t`.
/// Errors: `EINVAL` the policy defines no such context (unknown type, user or role, or a role
/// not authorised for the type); `ENOBUFS` longer than a page (refused here, as Xen would);
/// `EACCES` the caller lacks `check_context`; `ENOSYS` Xen runs without FLASK.
pub fn flask_context_to_sid(context: &str) -> XenResult<u32> {
    if context.len() > XEN_PAGE_SIZE {
        return Err(XenError::ENOBUFS);
    }
    let mut op = FlaskOpSidContext {
        cmd: flask::CONTEXT_TO_SID,
        interface_version: flask::INTERFACE_VERSION,
        // At most a page: fits.
        size: context.len() as u32,
        context: addr(context.as_ptr()),
        ..Default::default()
    };
    // The handle names `context`, live and `size` bytes long for the call; Xen only reads it.
    xsm_op(&mut op).map(|_| op.sid)
}

/// The security context of `sid` (e.g. `system_u:system_r:tee_guest_t`), read into `buf`:
/// FLASK's `FLASK_SID_TO_CONTEXT`, which needs `security check_context` on `security_t`. Xen
/// writes the text with a terminating NUL (`services.c`, `context_struct_to_string`); the text
/// returned is without it.
/// Errors: `ERANGE` `buf` is too short for the text and its NUL (Xen writes nothing); `EINVAL`
/// no such SID (e.g. its context vanished with a policy reload), or an answer that is not text;
/// `EACCES` the caller lacks `check_context`; `ENOSYS` Xen runs without FLASK.
pub fn flask_sid_to_context(sid: u32, buf: &mut [u8]) -> XenResult<&str> {
    let mut op = FlaskOpSidContext {
        cmd: flask::SID_TO_CONTEXT,
        interface_version: flask::INTERFACE_VERSION,
        sid,
        // Xen writes at most `size` bytes: a longer buffer is offered as u32::MAX bytes.
        size: u32::try_from(buf.len()).unwrap_or(u32::MAX),
        context: addr(buf.as_mut_ptr()),
        ..Default::default()
    };
    // The handle names `buf`, exclusively borrowed and at least `size` bytes long for the call.
    xsm_op(&mut op)?;
    // Xen wrote `size` <= the buffer's bytes, the last one a NUL; anything else is not its answer.
    let text = buf
        .get(..op.size as usize)
        .and_then(|b| b.strip_suffix(&[0]))
        .ok_or(XenError::EINVAL)?;
    core::str::from_utf8(text).map_err(|_| XenError::EINVAL)
}

/// FLASK's answer to an access query ([`flask_access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlaskAccessAnswer {
    /// The permissions of the class the policy allows (the whole vector, not only those asked).
    pub allowed: u32,
    /// The permissions audited when allowed.
    pub audit_allow: u32,
    /// The permissions audited when denied.
    pub audit_deny: u32,
    /// The policy's sequence number when it computed them (changes with each policy load and
    /// boolean commit).
    pub seqno: u32,
}

/// The access vector of class `tclass` that the policy gives source SID `ssid` on target SID
/// `tsid` (`req`: the permissions asked about, which Xen's computation does not restrict the
/// answer to). FLASK's `FLASK_ACCESS`, which needs `security compute_av` on `security_t`; it
/// computes, it does not check: no AVC entry, no log line.
/// Errors: `EINVAL` an unknown SID (vanished with a reload) or class; `EACCES`; `ENOSYS`.
pub fn flask_access(ssid: u32, tsid: u32, tclass: u16, req: u32) -> XenResult<FlaskAccessAnswer> {
    let mut op = FlaskOpAccess {
        cmd: flask::ACCESS,
        interface_version: flask::INTERFACE_VERSION,
        ssid,
        tsid,
        tclass: u32::from(tclass),
        req,
        ..Default::default()
    };
    // No guest handle inside.
    xsm_op(&mut op)?;
    Ok(FlaskAccessAnswer {
        allowed: op.allowed,
        audit_allow: op.audit_allow,
        audit_deny: op.audit_deny,
        seqno: op.seqno,
    })
}

/// Whether FLASK enforces its policy (`FLASK_GETENFORCE`; no permission needed): `Ok(false)` in
/// permissive mode. `ENOSYS`: Xen runs without FLASK (the dummy or SILO module), so there is no
/// policy to ask.
pub fn flask_getenforce() -> XenResult<bool> {
    let mut op = FlaskOpAccess {
        cmd: flask::GETENFORCE,
        interface_version: flask::INTERFACE_VERSION,
        ..Default::default()
    };
    // No guest handle inside.
    xsm_op(&mut op).map(|v| v != 0)
}

/// `XEN_SYSCTL_perfc_op` with the handles in `op`.
///
/// # Safety
/// 1. Each non-NULL handle of `op.perfc_op` must point to memory valid for writes of as many
///    descriptors (`desc`) or values (`val`) as Xen has, for the duration of the call.
unsafe fn sysctl_perfc(op: &mut XenSysctlPerfc) -> XenResult<()> {
    // SAFETY: `op` is a live, exclusive `struct xen_sysctl` (its size and layout are checked
    // against public/sysctl.h by tests/abi_layout.rs), which Xen copies in and back out whole;
    // what its handles let Xen write is the caller's condition 1.
    let r = unsafe { hypercall(nr::SYSCTL, addr(op as *mut XenSysctlPerfc), 0, 0, 0, 0) };
    XenError::from_ret(r).map(|_| ())
}

/// `XEN_SYSCTL_perfc_op` / `XEN_SYSCTL_PERFCOP_query`: Xen's software performance counters, a
/// descriptor per counter into `desc` and all values into `vals` (see [`crate::perfc`]).
/// Returns how many of each Xen wrote, `(nr_counters, nr_vals)`.
///
/// Xen copies its counts of descriptors and values without any length of ours
/// (`perfc_copy_info`, `xen/common/perfc.c`), so this first asks for the counts with NULL
/// handles and fails with `ENOSPC`, before any copy, when a slice is shorter. Errors from Xen:
/// `ENOSYS` without `CONFIG_PERF_COUNTERS`, `EACCES` without FLASK's `xen { perfcontrol }`.
pub fn perfc_query(desc: &mut [PerfcDesc], vals: &mut [PerfcVal]) -> XenResult<(usize, usize)> {
    let mut op = XenSysctlPerfc::new(perfcop::QUERY, 0, 0);
    // SAFETY: both handles are NULL: Xen writes only `op`.
    unsafe { sysctl_perfc(&mut op)? };
    let (nc, nv) = (
        op.perfc_op.nr_counters as usize,
        op.perfc_op.nr_vals as usize,
    );
    if desc.len() < nc || vals.len() < nv {
        return Err(XenError::ENOSPC);
    }
    let mut op = XenSysctlPerfc::new(
        perfcop::QUERY,
        addr(desc.as_mut_ptr()),
        addr(vals.as_mut_ptr()),
    );
    // SAFETY: Xen writes NR_PERFCTRS descriptors and perfc_nbr_vals values, the counts the
    // NULL query above just returned. They are constants of the Xen binary and of the set of
    // online CPUs, which Xen 4.17 on Arm fixes at boot (it has no CPU hotplug sysctl), so
    // `desc` and `vals`, live exclusive slices at least that long, hold all of it. The call
    // changes no mapping of the caller.
    unsafe { sysctl_perfc(&mut op)? };
    Ok((
        op.perfc_op.nr_counters as usize,
        op.perfc_op.nr_vals as usize,
    ))
}

/// The hypercall of tee-stubdom's Xen hook (`public/tee_stubdom.h`, hv-patches 0005) and the
/// SMCCC call of a TEE guest, which the hook forwards. [`crate::hook::call`] re-exports them and
/// builds its safe helpers on them.
pub mod hook {
    use super::{addr, hypercall};
    use crate::abi::DomId;
    use crate::error::{XenError, XenResult};
    use crate::hook::{
        op, Canary, DomainArg, Pin, PinList, Query, Register, Respond, SecureCall,
        HYPERVISOR_TEE_STUBDOM_OP, MAX_PIN_LIST,
    };

    /// An argument struct and the commands that take it. Sealed: the table below, next to the
    /// hypercall whose safety argument it is, is the only place that pairs commands with types.
    pub trait Arg: Copy + private::Sealed {
        /// Whether `cmd` copies exactly this type in and out.
        fn accepts(cmd: u32) -> bool;
    }

    mod private {
        pub trait Sealed {}
    }

    macro_rules! arg {
        ($t:ty, $($cmd:path),+) => {
            impl private::Sealed for $t {}
            impl Arg for $t {
                fn accepts(cmd: u32) -> bool {
                    matches!(cmd, $($cmd)|+)
                }
            }
        };
    }
    arg!(Register, op::REGISTER);
    arg!(Respond, op::RESPOND);
    arg!(Pin, op::PIN, op::UNPIN);
    arg!(SecureCall, op::SECURE_CALL);
    arg!(DomainArg, op::RELEASE, op::NOTIFY);
    arg!(Query, op::QUERY);
    arg!(Canary, op::CANARY);

    /// `HYPERVISOR_tee_stubdom_op(cmd, arg)`. `EINVAL` without a hypercall if `cmd` does not take
    /// `T`.
    pub fn tee_stubdom_op<T: Arg>(cmd: u32, arg: &mut T) -> XenResult<u64> {
        if !T::accepts(cmd) {
            return Err(XenError::EINVAL);
        }
        let p = arg as *mut T as usize as u64;
        // SAFETY: `arg` is a live, exclusive, correctly typed object for `cmd` (checked above),
        // so Xen's copy_from_guest/copy_to_guest of size_of::<T>() bytes stays inside it; the
        // command changes no mapping of the caller.
        XenError::from_ret(unsafe {
            hypercall(HYPERVISOR_TEE_STUBDOM_OP, u64::from(cmd), p, 0, 0, 0)
        })
    }

    /// One entry into Xen for `TEE_STUBDOM_OP_pin_list` or `_unpin_list` (`cmd`) of the pages
    /// `list` of `domid` (at most [`MAX_PIN_LIST`]; pin_list writes each pinned page's machine
    /// address over its gfn): how many entries, from the first, Xen did (fewer than
    /// `list.len()` when it stopped at a failing entry or to let other work run), or the first
    /// entry's error. `EINVAL` without a hypercall for another `cmd` or a longer list.
    /// [`crate::hook::call::pin_list`] drives it to the end of a list of any length.
    ///
    /// [`PinList`] is not an [`Arg`]: its `list` is an address Xen dereferences, so it is made
    /// here from a live slice only.
    pub fn pin_list_once(cmd: u32, domid: DomId, list: &mut [u64]) -> XenResult<usize> {
        if !matches!(cmd, op::PIN_LIST | op::UNPIN_LIST) {
            return Err(XenError::EINVAL);
        }
        let Some(nr) = u32::try_from(list.len())
            .ok()
            .filter(|&n| n <= MAX_PIN_LIST)
        else {
            return Err(XenError::EINVAL);
        };
        let mut a = PinList {
            domid,
            pad: 0,
            nr,
            list: addr(list.as_mut_ptr()),
        };
        // SAFETY: `a` is a live, exclusive `struct tee_stubdom_pin_list`, the struct both
        // commands copy in (and nothing out: Xen returns a count); `a.list` names `nr` u64s of
        // the live, exclusively borrowed `list`, the only memory Xen reads and (pin_list)
        // writes beyond `a`, each entry at `list + 8 * i` for `i < nr`; the commands change no
        // mapping of the caller.
        let r = XenError::from_ret(unsafe {
            hypercall(
                HYPERVISOR_TEE_STUBDOM_OP,
                u64::from(cmd),
                addr(&mut a as *mut PinList),
                0,
                0,
                0,
            )
        })?;
        Ok(usize::try_from(r).unwrap_or(usize::MAX))
    }

    /// An SMCCC call with the HVC conduit (`hvc #0`, Arm DEN 0028 §2): x0–x7 in, x0–x7 out. A
    /// TEE guest's OP-TEE calls go this way (its `/firmware/optee` node says `method = "hvc"`);
    /// with `tee=stubdom` Xen forwards them to the mediator, which writes x0–x7 back.
    pub fn smccc_hvc(x: [u64; 8]) -> [u64; 8] {
        let mut r = x;
        // SAFETY: an SMCCC call changes only x0–x7 (all declared in/out here; x8–x17 are
        // preserved by Xen, SMCCC 1.1 §2.6 lets the callee use x0–x17 but Xen's handlers write only
        // the result registers). Memory the call may make OP-TEE read or write is named by
        // physical addresses in the registers, which the caller shares on purpose, so the asm
        // is not `nomem`.
        unsafe {
            core::arch::asm!(
                "hvc #0",
                inout("x0") r[0], inout("x1") r[1], inout("x2") r[2], inout("x3") r[3],
                inout("x4") r[4], inout("x5") r[5], inout("x6") r[6], inout("x7") r[7],
                options(nostack),
            );
        }
        r
    }
}
