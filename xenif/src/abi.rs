//! Mirrors of the Xen 4.17 public ABI for arm64 guests (`xen/include/public/`).
//!
//! Only what tee-stubdom uses. Every struct here is checked against the C headers (sizes and field
//! offsets) by `tests/abi_layout.rs`; constants are checked there too. On arm64, `xen_ulong_t` and
//! `xen_pfn_t` are 64-bit and guest handles are 64-bit aligned unions (`public/arch-arm.h`,
//! `__DEFINE_XEN_GUEST_HANDLE`), which is why handles are plain `u64` here.
#![forbid(unsafe_code)]

/// `domid_t` (`public/xen.h`).
pub type DomId = u16;
/// `evtchn_port_t` (`public/event_channel.h`).
pub type EvtchnPort = u32;
/// `xen_ulong_t` on arm64.
pub type XenUlong = u64;
/// `xen_pfn_t` on arm64.
pub type XenPfn = u64;

/// The calling domain (`DOMID_SELF`, `public/xen.h`).
pub const DOMID_SELF: DomId = 0x7FF0;

/// Page size of the Xen ABI on arm (`XEN_PAGE_SIZE`).
pub const XEN_PAGE_SIZE: usize = 4096;
/// `XEN_PAGE_SHIFT`.
pub const XEN_PAGE_SHIFT: u32 = 12;

/// The immediate of the hypercall instruction (`XEN_HYPERCALL_TAG`, `public/arch-arm.h`).
pub const XEN_HYPERCALL_TAG: u16 = 0xEA1;

/// Hypercall numbers (`__HYPERVISOR_*`, `public/xen.h`).
pub mod hypercall_nr {
    /// `__HYPERVISOR_memory_op`.
    pub const MEMORY_OP: u64 = 12;
    /// `__HYPERVISOR_xen_version`.
    pub const XEN_VERSION: u64 = 17;
    /// `__HYPERVISOR_console_io`.
    pub const CONSOLE_IO: u64 = 18;
    /// `__HYPERVISOR_grant_table_op`.
    pub const GRANT_TABLE_OP: u64 = 20;
    /// `__HYPERVISOR_vcpu_op`.
    pub const VCPU_OP: u64 = 24;
    /// `__HYPERVISOR_xsm_op`: with FLASK, `do_flask_op` (`xen/xsm/flask/flask_op.c`); without,
    /// `-ENOSYS` (`xsm/dummy.h`, `xsm_do_xsm_op`).
    pub const XSM_OP: u64 = 27;
    /// `__HYPERVISOR_sched_op`.
    pub const SCHED_OP: u64 = 29;
    /// `__HYPERVISOR_event_channel_op`.
    pub const EVENT_CHANNEL_OP: u64 = 32;
    /// `__HYPERVISOR_hvm_op`.
    pub const HVM_OP: u64 = 34;
    /// `__HYPERVISOR_sysctl`.
    pub const SYSCTL: u64 = 35;
}

/// `XENVER_version` (`public/version.h`): returns `major << 16 | minor`.
pub const XENVER_VERSION: u64 = 0;

/// `CONSOLEIO_write` (`public/xen.h`).
pub const CONSOLEIO_WRITE: u64 = 0;

/// `SCHEDOP_*` (`public/sched.h`).
pub mod schedop {
    /// Voluntarily yield the CPU.
    pub const YIELD: u64 = 0;
    /// Block until an event is pending.
    pub const BLOCK: u64 = 1;
    /// Halt the domain; argument `struct sched_shutdown`.
    pub const SHUTDOWN: u64 = 2;
}

/// `SHUTDOWN_*` reasons (`public/sched.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ShutdownReason {
    /// Domain exited normally.
    Poweroff = 0,
    /// Clean up, kill, and then restart.
    Reboot = 1,
    /// Clean up, save suspend info, kill.
    Suspend = 2,
    /// Tell controller we've crashed.
    Crash = 3,
    /// Restart because watchdog time expired.
    Watchdog = 4,
}

/// `struct sched_shutdown` (`public/sched.h`).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct SchedShutdown {
    /// A `SHUTDOWN_*` value.
    pub reason: u32,
}

/// `EVTCHNOP_*` (`public/event_channel.h`).
pub mod evtchnop {
    /// `EVTCHNOP_bind_interdomain`.
    pub const BIND_INTERDOMAIN: u64 = 0;
    /// `EVTCHNOP_bind_virq`.
    pub const BIND_VIRQ: u64 = 1;
    /// `EVTCHNOP_close`.
    pub const CLOSE: u64 = 3;
    /// `EVTCHNOP_send`.
    pub const SEND: u64 = 4;
    /// `EVTCHNOP_status`.
    pub const STATUS: u64 = 5;
    /// `EVTCHNOP_alloc_unbound`.
    pub const ALLOC_UNBOUND: u64 = 6;
    /// `EVTCHNOP_unmask`.
    pub const UNMASK: u64 = 9;
}

/// `struct evtchn_alloc_unbound`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct EvtchnAllocUnbound {
    /// IN: domain that allocates (DOMID_SELF).
    pub dom: DomId,
    /// IN: domain allowed to bind the other end.
    pub remote_dom: DomId,
    /// OUT: the new local port.
    pub port: EvtchnPort,
}

/// `struct evtchn_bind_interdomain`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct EvtchnBindInterdomain {
    /// IN: remote domain.
    pub remote_dom: DomId,
    /// IN: unbound port of the remote domain.
    pub remote_port: EvtchnPort,
    /// OUT: the new local port.
    pub local_port: EvtchnPort,
}

/// `struct evtchn_bind_virq`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct EvtchnBindVirq {
    /// IN: `VIRQ_*`.
    pub virq: u32,
    /// IN: vCPU to deliver to.
    pub vcpu: u32,
    /// OUT: the new local port.
    pub port: EvtchnPort,
}

/// `struct evtchn_close`, `struct evtchn_send`, `struct evtchn_unmask`: a single port.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct EvtchnPortArg {
    /// IN: local port.
    pub port: EvtchnPort,
}

/// `struct evtchn_status` with the union `u` flattened for the interdomain/unbound cases:
/// `u.interdomain.dom` and `u.unbound.dom` are `remote_dom`, `u.interdomain.port` is
/// `remote_port` (`u.virq`/`u.pirq` would be the low bytes of `remote_dom` and the padding).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct EvtchnStatus {
    /// IN: domain (DOMID_SELF).
    pub dom: DomId,
    /// IN: port.
    pub port: EvtchnPort,
    /// OUT: `EVTCHNSTAT_*`.
    pub status: u32,
    /// OUT: vCPU the port is bound to.
    pub vcpu: u32,
    /// OUT: `u.interdomain.dom` or `u.unbound.dom`.
    pub remote_dom: DomId,
    /// OUT: `u.interdomain.port`.
    pub remote_port: u32,
}

/// `EVTCHNSTAT_*`.
pub mod evtchnstat {
    /// Port is closed.
    pub const CLOSED: u32 = 0;
    /// Waiting for the remote domain to bind.
    pub const UNBOUND: u32 = 1;
    /// Connected to a remote domain.
    pub const INTERDOMAIN: u32 = 2;
    /// Bound to a physical IRQ.
    pub const PIRQ: u32 = 3;
    /// Bound to a virtual IRQ.
    pub const VIRQ: u32 = 4;
    /// Bound to another vCPU.
    pub const IPI: u32 = 5;
}

/// `VIRQ_*` (`public/xen.h`).
pub mod virq {
    /// `VIRQ_TIMER`: the per-vCPU timer (`VCPUOP_set_singleshot_timer`).
    pub const TIMER: u32 = 0;
    /// `VIRQ_DEBUG`: Xen's debug key 'q'.
    pub const DEBUG: u32 = 1;
    /// `VIRQ_CONSOLE`.
    pub const CONSOLE: u32 = 2;
}

/// `XENMEM_*` (`public/memory.h`).
pub mod xenmem {
    /// `XENMEM_decrease_reservation`.
    pub const DECREASE_RESERVATION: u64 = 1;
    /// `XENMEM_add_to_physmap`.
    pub const ADD_TO_PHYSMAP: u64 = 7;
    /// `XENMEM_remove_from_physmap`.
    pub const REMOVE_FROM_PHYSMAP: u64 = 15;
    /// `XENMEM_add_to_physmap_batch`.
    pub const ADD_TO_PHYSMAP_BATCH: u64 = 23;
}

/// `XENMAPSPACE_*` (`public/memory.h`).
pub mod mapspace {
    /// The shared-info page.
    pub const SHARED_INFO: u32 = 0;
    /// Grant-table frames.
    pub const GRANT_TABLE: u32 = 1;
    /// A GMFN of the caller.
    pub const GMFN: u32 = 2;
    /// A GMFN of another domain (`foreign_domid`), batch only on Arm.
    pub const GMFN_FOREIGN: u32 = 4;
}

/// `struct xen_add_to_physmap`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct XenAddToPhysmap {
    /// Domain whose physmap changes.
    pub domid: DomId,
    /// Number of pages for `XENMAPSPACE_gmfn_range`.
    pub size: u16,
    /// `XENMAPSPACE_*`.
    pub space: u32,
    /// Index into the source space.
    pub idx: XenUlong,
    /// GPFN where the source mapping page should appear.
    pub gpfn: XenPfn,
}

/// `struct xen_memory_reservation` (`public/memory.h`): on arm64 a guest handle is a 64-bit
/// address and `xen_ulong_t` is 64 bits.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct XenMemoryReservation {
    /// Guest address of an array of `nr_extents` frame numbers (`XEN_GUEST_HANDLE(xen_pfn_t)`).
    pub extent_start: u64,
    /// Number of extents.
    pub nr_extents: u64,
    /// Order of each extent (0: single pages).
    pub extent_order: u32,
    /// `XENMEMF_*` (0).
    pub mem_flags: u32,
    /// The domain (`DOMID_SELF`).
    pub domid: DomId,
}

/// `struct xen_remove_from_physmap`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct XenRemoveFromPhysmap {
    /// Domain whose physmap changes.
    pub domid: DomId,
    /// GPFN of the page to remove.
    pub gpfn: XenPfn,
}

/// `struct xen_add_to_physmap_batch` (interface version >= 0x00040700).
///
/// The three handles are guest virtual addresses of arrays of `size` elements: `idxs`
/// (`xen_ulong_t`), `gpfns` (`xen_pfn_t`) and `errs` (`int`, per-page result).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct XenAddToPhysmapBatch {
    /// Domain whose physmap changes.
    pub domid: DomId,
    /// `XENMAPSPACE_*`.
    pub space: u16,
    /// Number of pages.
    pub size: u16,
    /// `u.foreign_domid` for `XENMAPSPACE_gmfn_foreign`.
    pub foreign_domid: DomId,
    /// `XEN_GUEST_HANDLE(xen_ulong_t) idxs`.
    pub idxs: u64,
    /// `XEN_GUEST_HANDLE(xen_pfn_t) gpfns`.
    pub gpfns: u64,
    /// `XEN_GUEST_HANDLE(int) errs`.
    pub errs: u64,
}

/// `struct vcpu_time_info` (`public/xen.h`).
#[derive(Debug, Default)]
#[repr(C)]
pub struct VcpuTimeInfo {
    /// Odd while an update is in progress.
    pub version: u32,
    /// Padding.
    pub pad0: u32,
    /// TSC at last update of time vals.
    pub tsc_timestamp: u64,
    /// Time, in nanosecs, since boot.
    pub system_time: u64,
    /// Scale factor.
    pub tsc_to_system_mul: u32,
    /// Shift.
    pub tsc_shift: i8,
    /// `XEN_PVCLOCK_*`.
    pub flags: u8,
    /// Padding.
    pub pad1: [u8; 2],
}

/// `struct vcpu_info` (`public/xen.h`; `struct arch_vcpu_info` is empty on Arm).
///
/// Shared with Xen; the kernel accesses the fields through atomics at these offsets.
#[derive(Debug, Default)]
#[repr(C)]
pub struct VcpuInfo {
    /// Set by Xen when an event is pending for this vCPU.
    pub evtchn_upcall_pending: u8,
    /// `pad0` on Arm (no PV upcall mask).
    pub evtchn_upcall_mask: u8,
    /// Selector: bit i set means `evtchn_pending[i]` may have a pending, unmasked port.
    pub evtchn_pending_sel: XenUlong,
    /// Time values.
    pub time: VcpuTimeInfo,
}

/// `XEN_LEGACY_MAX_VCPUS` on Arm.
pub const XEN_LEGACY_MAX_VCPUS: usize = 1;
/// Bits in a `xen_ulong_t`.
pub const BITS_PER_XEN_ULONG: usize = 64;
/// Number of ports of the 2-level ABI (`EVTCHN_2L_NR_CHANNELS`).
pub const EVTCHN_2L_NR_CHANNELS: usize = BITS_PER_XEN_ULONG * BITS_PER_XEN_ULONG;

/// `struct shared_info` (`public/xen.h`; `struct arch_shared_info` is empty on Arm).
#[derive(Debug)]
#[repr(C)]
pub struct SharedInfo {
    /// Per-vCPU info of the first vCPUs.
    pub vcpu_info: [VcpuInfo; XEN_LEGACY_MAX_VCPUS],
    /// Pending bit per port.
    pub evtchn_pending: [XenUlong; BITS_PER_XEN_ULONG],
    /// Mask bit per port.
    pub evtchn_mask: [XenUlong; BITS_PER_XEN_ULONG],
    /// Wallclock version.
    pub wc_version: u32,
    /// Wallclock seconds.
    pub wc_sec: u32,
    /// Wallclock nanoseconds.
    pub wc_nsec: u32,
    /// Upper 32 bits of the wallclock seconds.
    pub wc_sec_hi: u32,
}

/// `struct grant_entry_v1` (`public/grant_table.h`).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct GrantEntryV1 {
    /// `GTF_*`.
    pub flags: u16,
    /// Domain being granted access.
    pub domid: DomId,
    /// Frame being granted.
    pub frame: u32,
}

/// `grant_ref_t`.
pub type GrantRef = u32;
/// `grant_handle_t`.
pub type GrantHandle = u32;

/// `GTF_permit_access`.
pub const GTF_PERMIT_ACCESS: u16 = 1;
/// `GTF_readonly`.
pub const GTF_READONLY: u16 = 1 << 2;
/// `GTF_reading`: set by Xen while the grant is mapped for reading.
pub const GTF_READING: u16 = 1 << 3;
/// `GTF_writing`: set by Xen while the grant is mapped for writing.
pub const GTF_WRITING: u16 = 1 << 4;

/// `GNTTABOP_*` (`public/grant_table.h`).
pub mod gnttabop {
    /// `GNTTABOP_map_grant_ref`.
    pub const MAP_GRANT_REF: u64 = 0;
    /// `GNTTABOP_unmap_grant_ref`.
    pub const UNMAP_GRANT_REF: u64 = 1;
    /// `GNTTABOP_query_size`.
    pub const QUERY_SIZE: u64 = 6;
}

/// `GNTMAP_host_map`: map at `host_addr` (a guest physical address on Arm).
pub const GNTMAP_HOST_MAP: u32 = 1 << 1;
/// `GNTMAP_readonly`.
pub const GNTMAP_READONLY: u32 = 1 << 2;

/// `struct gnttab_map_grant_ref`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct GnttabMapGrantRef {
    /// IN: where to map (guest physical address on Arm).
    pub host_addr: u64,
    /// IN: `GNTMAP_*`.
    pub flags: u32,
    /// IN: grant reference in the granting domain's table.
    pub ref_: GrantRef,
    /// IN: granting domain.
    pub dom: DomId,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// OUT: handle for the unmap.
    pub handle: GrantHandle,
    /// OUT: bus address (unused on Arm without an IOMMU mapping).
    pub dev_bus_addr: u64,
}

/// `struct gnttab_unmap_grant_ref`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct GnttabUnmapGrantRef {
    /// IN: the address the grant is mapped at.
    pub host_addr: u64,
    /// IN: bus address (0).
    pub dev_bus_addr: u64,
    /// IN: the handle from the map.
    pub handle: GrantHandle,
    /// OUT: `GNTST_*`.
    pub status: i16,
}

/// `struct gnttab_query_size`.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct GnttabQuerySize {
    /// IN: domain (DOMID_SELF).
    pub dom: DomId,
    /// OUT: frames in use.
    pub nr_frames: u32,
    /// OUT: maximum frames.
    pub max_nr_frames: u32,
    /// OUT: `GNTST_*`.
    pub status: i16,
}

/// FLASK's security-server interface (`public/xsm/flask_op.h`): the commands of `struct
/// xen_flask_op` that a domain uses to ask the policy (the TEE mediator's TA access decisions,
/// `xsm-policy/ta-access.md`). Each checks the caller's type on `security_t:security`
/// (`flask_op.c`, `domain_has_security`); the permission is named per command.
pub mod flask {
    /// `XEN_FLASK_INTERFACE_VERSION`: any other `interface_version` gets `-ENOSYS`.
    pub const INTERFACE_VERSION: u32 = 1;
    /// `FLASK_GETENFORCE`: returns 1 (enforcing) or 0 (permissive); no permission needed, no
    /// argument (the union is ignored and not copied back).
    pub const GETENFORCE: u32 = 2;
    /// `FLASK_CONTEXT_TO_SID` (`security check_context`): `u.sid_context`, IN `size` bytes of
    /// context text at `context` (at most a page, else `-ENOBUFS`), OUT `sid`; `-EINVAL` for a
    /// context the policy does not define.
    pub const CONTEXT_TO_SID: u32 = 4;
    /// `FLASK_SID_TO_CONTEXT` (`security check_context`): `u.sid_context`, IN `sid` and the
    /// buffer's `size`, OUT the text (no NUL) and its length in `size`; `-ERANGE` (with `size`
    /// set) if the buffer is too small, `-EINVAL` for an unknown SID.
    pub const SID_TO_CONTEXT: u32 = 5;
    /// `FLASK_ACCESS` (`security compute_av`): `u.access`, IN `ssid`, `tsid`, `tclass`, `req`,
    /// OUT `allowed` (the class's whole allowed vector, not only `req`), the audit vectors and the
    /// policy's `seqno`.
    pub const ACCESS: u32 = 6;
}

/// `struct xen_flask_op` with `u.sid_context` (`struct xen_flask_sid_context`) flattened, for
/// `FLASK_CONTEXT_TO_SID` and `FLASK_SID_TO_CONTEXT`; the rest of the union is padding. Xen
/// copies the whole `xen_flask_op` in and, for these commands, out again, so this type has its
/// size (checked in `tests/abi_layout.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct FlaskOpSidContext {
    /// `flask::CONTEXT_TO_SID` or `flask::SID_TO_CONTEXT`.
    pub cmd: u32,
    /// `flask::INTERFACE_VERSION`.
    pub interface_version: u32,
    /// `u.sid_context.sid`: OUT of CONTEXT_TO_SID, IN of SID_TO_CONTEXT.
    pub sid: u32,
    /// `u.sid_context.size`: the context buffer's size; OUT of SID_TO_CONTEXT, the text's length.
    pub size: u32,
    /// `u.sid_context.context`: `XEN_GUEST_HANDLE(char)`, the context buffer's address.
    pub context: u64,
    /// The rest of the union (`u.cache_stats` is its largest member).
    pub pad: [u64; 2],
}

/// `struct xen_flask_op` with `u.access` (`struct xen_flask_access`) flattened, for
/// `FLASK_ACCESS` (copied in and out whole, like [`FlaskOpSidContext`]); also the argument of
/// `FLASK_GETENFORCE`, which reads only `cmd` and `interface_version`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct FlaskOpAccess {
    /// `flask::ACCESS` (or `flask::GETENFORCE`).
    pub cmd: u32,
    /// `flask::INTERFACE_VERSION`.
    pub interface_version: u32,
    /// IN: the source SID.
    pub ssid: u32,
    /// IN: the target SID.
    pub tsid: u32,
    /// IN: the class (its number: its position among the policy's classes, from 1).
    pub tclass: u32,
    /// IN: the permissions asked about (bits in the class's declaration order).
    pub req: u32,
    /// OUT: the permissions of `tclass` the policy allows `ssid` on `tsid`.
    pub allowed: u32,
    /// OUT: the permissions audited when allowed.
    pub audit_allow: u32,
    /// OUT: the permissions audited when denied.
    pub audit_deny: u32,
    /// OUT: the policy's sequence number (`latest_granting`, bumped by each policy load and
    /// boolean commit).
    pub seqno: u32,
}

/// `XEN_SYSCTL_INTERFACE_VERSION` of Xen 4.17 (`public/sysctl.h`): Xen refuses a sysctl whose
/// `interface_version` differs (`EACCES`).
pub const XEN_SYSCTL_INTERFACE_VERSION: u32 = 0x0000_0015;

/// `XEN_SYSCTL_*` commands (`public/sysctl.h`).
pub mod sysctl {
    /// `XEN_SYSCTL_perfc_op`: Xen's software performance counters (`CONFIG_PERF_COUNTERS`;
    /// without it Xen answers `ENOSYS`). FLASK: `xen { perfcontrol }` on the caller.
    pub const PERFC_OP: u32 = 5;
}

/// `XEN_SYSCTL_PERFCOP_*`, the sub-operations of `XEN_SYSCTL_perfc_op`.
pub mod perfcop {
    /// Copy the counters out, then reset all of them to zero.
    pub const RESET: u32 = 1;
    /// Copy the counters out.
    pub const QUERY: u32 = 2;
}

/// Length of a counter's name in `struct xen_sysctl_perfc_desc`.
pub const PERFC_NAME_LEN: usize = 80;

/// `struct xen_sysctl_perfc_desc`: one counter's name (NUL-terminated) and how many values of
/// the value array are its own (one per online CPU for a plain counter, one per element for an
/// array counter such as `hypercalls`).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct PerfcDesc {
    /// `char name[80]`.
    pub name: [u8; PERFC_NAME_LEN],
    /// `uint32_t nr_vals`.
    pub nr_vals: u32,
}

impl Default for PerfcDesc {
    fn default() -> Self {
        PerfcDesc {
            name: [0; PERFC_NAME_LEN],
            nr_vals: 0,
        }
    }
}

impl PerfcDesc {
    /// The name up to its first NUL (empty when it is not UTF-8, which Xen's names always are).
    pub fn name(&self) -> &str {
        let end = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(PERFC_NAME_LEN);
        core::str::from_utf8(&self.name[..end]).unwrap_or("")
    }
}

/// `xen_sysctl_perfc_val_t`.
pub type PerfcVal = u32;

/// `struct xen_sysctl_perfc_op`. `desc` and `val` are guest handles (guest virtual addresses of
/// `nr_counters` descriptors and `nr_vals` values; 0 is NULL). Xen writes `nr_counters` and
/// `nr_vals` back, and with non-NULL handles copies that many elements without looking at any
/// length of ours: the caller learns the counts first with NULL handles.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct SysctlPerfcOp {
    /// IN: `XEN_SYSCTL_PERFCOP_*`.
    pub cmd: u32,
    /// OUT: number of counters (descriptors).
    pub nr_counters: u32,
    /// OUT: number of values.
    pub nr_vals: u32,
    /// `XEN_GUEST_HANDLE_64(xen_sysctl_perfc_desc_t) desc`.
    pub desc: u64,
    /// `XEN_GUEST_HANDLE_64(xen_sysctl_perfc_val_t) val`.
    pub val: u64,
}

/// Size of the union `u` of `struct xen_sysctl` (its `uint8_t pad[128]` member).
pub const XEN_SYSCTL_UNION_SIZE: usize = 128;

/// `struct xen_sysctl` with its union as `perfc_op` (the one member we use) plus the rest of the
/// union's 128 bytes: Xen copies the whole structure in and back out.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct XenSysctlPerfc {
    /// `XEN_SYSCTL_perfc_op`.
    pub cmd: u32,
    /// [`XEN_SYSCTL_INTERFACE_VERSION`].
    pub interface_version: u32,
    /// `u.perfc_op`.
    pub perfc_op: SysctlPerfcOp,
    /// The union's remaining bytes.
    pub pad: [u8; XEN_SYSCTL_UNION_SIZE - core::mem::size_of::<SysctlPerfcOp>()],
}

impl XenSysctlPerfc {
    /// A `XEN_SYSCTL_perfc_op` of sub-operation `cmd` with the handles `desc` and `val`.
    pub fn new(cmd: u32, desc: u64, val: u64) -> Self {
        XenSysctlPerfc {
            cmd: sysctl::PERFC_OP,
            interface_version: XEN_SYSCTL_INTERFACE_VERSION,
            perfc_op: SysctlPerfcOp {
                cmd,
                desc,
                val,
                ..Default::default()
            },
            pad: [0; XEN_SYSCTL_UNION_SIZE - core::mem::size_of::<SysctlPerfcOp>()],
        }
    }
}
