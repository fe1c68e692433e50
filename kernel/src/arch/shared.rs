//! The shared-info page (`struct shared_info`, `public/xen.h`), mapped over a page of our own bss
//! with `XENMEM_add_to_physmap(XENMAPSPACE_shared_info)`, and atomic views of its event-channel
//! fields for vCPU 0.

use core::cell::UnsafeCell;
use core::mem::offset_of;
use core::sync::atomic::{AtomicU64, AtomicU8};
use xenif::abi::{SharedInfo, VcpuInfo, BITS_PER_XEN_ULONG};
use xenif::XenResult;

#[repr(C, align(4096))]
struct Page(UnsafeCell<[u8; 4096]>);

// SAFETY: the page is only ever accessed through the atomic views below (or by Xen).
unsafe impl Sync for Page {}

static PAGE: Page = Page(UnsafeCell::new([0; 4096]));

fn base() -> *mut u8 {
    PAGE.0.get().cast()
}

/// Replace our page with Xen's shared-info page.
pub(crate) fn map() -> XenResult<()> {
    let gpfn = (base() as usize as u64) >> 12;
    // SAFETY: the page is a dedicated, page-aligned static that Rust code accesses only through
    // the atomic views of this module, which treat it as memory Xen writes concurrently.
    unsafe { xenif::hypercall::map_shared_info(gpfn) }
}

/// `vcpu_info[0].evtchn_upcall_pending`.
pub fn upcall_pending() -> &'static AtomicU8 {
    let off = offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, evtchn_upcall_pending);
    // SAFETY: in bounds of the static page (checked by the ABI layout test), AtomicU8 has the
    // layout of u8, and the page lives forever.
    unsafe { &*base().add(off).cast::<AtomicU8>() }
}

/// `vcpu_info[0].evtchn_pending_sel`.
pub fn pending_sel() -> &'static AtomicU64 {
    let off = offset_of!(SharedInfo, vcpu_info) + offset_of!(VcpuInfo, evtchn_pending_sel);
    // SAFETY: as `upcall_pending`; the offset is 8-byte aligned (xen_ulong_t) and the page is
    // page aligned.
    unsafe { &*base().add(off).cast::<AtomicU64>() }
}

/// `evtchn_pending[]`.
pub fn pending() -> &'static [AtomicU64; BITS_PER_XEN_ULONG] {
    // SAFETY: as `pending_sel`; the array lies inside the page.
    unsafe { &*base().add(offset_of!(SharedInfo, evtchn_pending)).cast() }
}

/// `evtchn_mask[]`.
pub fn mask() -> &'static [AtomicU64; BITS_PER_XEN_ULONG] {
    // SAFETY: as `pending`.
    unsafe { &*base().add(offset_of!(SharedInfo, evtchn_mask)).cast() }
}

const _: () = assert!(core::mem::size_of::<SharedInfo>() <= 4096);
