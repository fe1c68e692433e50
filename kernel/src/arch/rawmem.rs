//! Raw memory the kernel hands out: `reserve=` ranges (RAM kept out of the heap for sharing
//! with other domains), heap pages given back to Xen, and the deliberate faults used by
//! self-tests.
//!
//! The faults return if they did not fault and leave the report to the caller
//! ([`crate::crash`]'s `data_abort` and `write_to_text`): `arch` does not call up (see
//! [`super`]).

use super::mmu::Mapped;
use crate::memmap::Region;
use alloc::boxed::Box;
use xenif::XenResult;

/// The bytes of a reserved range.
///
/// Takes the [`Mapped`] token: the caller is the one `Kernel`, which keeps the token from boot,
/// and the RAM is identity-mapped. What the token cannot check is its holder's duty
/// (`Kernel::take_reserved` checks it): `r` is RAM of this domain that boot kept out of the heap
/// (a `reserve=` range), clear of the image and the device tree, and each range is handed out
/// at most once, so the returned slice is the only reference to it.
pub(crate) fn reserved_slice(_mapped: &Mapped, r: Region) -> &'static mut [u8] {
    // SAFETY: see above: mapped (the token), owned by nobody else and handed out once (the
    // holder's duty).
    unsafe { core::slice::from_raw_parts_mut(r.base as usize as *mut u8, r.size as usize) }
}

/// Give a page of the heap back to Xen (`XENMEM_decrease_reservation` of its frame, one page):
/// the frame leaves this domain's RAM. The box is leaked, not freed: the heap never hands the
/// frame out again and nothing reads or writes it. `T` must be exactly one page and page-aligned
/// (checked at compile time). Returns the extents Xen released (1 on success).
pub fn give_back<T>(page: Box<T>) -> XenResult<u64> {
    const {
        assert!(core::mem::size_of::<T>() == 4096 && core::mem::align_of::<T>() == 4096);
    }
    // The heap is identity-mapped RAM of this domain: the address is the frame's.
    let gfn = (Box::into_raw(page) as usize as u64) >> 12;
    // SAFETY: decrease_reservation's condition 1: the frame held only the box's `T` (one
    // page-aligned page), which `into_raw` leaked above; nothing else can reach it (the box was
    // the only owner, and the heap never reuses a leaked block), so no Rust object lives there
    // and no mapping of it is used again.
    unsafe { xenif::hypercall::decrease_reservation(gfn) }
}

/// Load from a guest address that no mapping covers (page 0 is never mapped), which raises a
/// synchronous data abort (translation fault); the fault handler reports and stops the domain.
///
/// Returns only if the load did not fault (something mapped page 0): the caller reports that
/// ([`crate::crash::data_abort`] does), since this module does not call up into `crash`.
pub(crate) fn data_abort() {
    // SAFETY: address 0x10 lies in page 0, which neither `mmu::init_early` nor `init_full` maps
    // (no RAM or device region of a Xen guest starts there), so this load faults and does not
    // return; no Rust object can live there.
    unsafe {
        let _ = (0x10 as *const u64).read_volatile();
    }
}

/// Store to the image's text (the header's unused `res5` word), which the MMU maps read-only:
/// a permission fault proves W^X. Self-test aid; the fault handler stops the domain.
///
/// Returns only if the store did not fault (W^X is not in effect): the caller reports that
/// ([`crate::crash::write_to_text`] does).
pub(crate) fn write_to_text() {
    extern "C" {
        static __image_start: u8;
    }
    let p = (core::ptr::addr_of!(__image_start) as usize + 0x3c) as *mut u32;
    // SAFETY: `p` is the 4-byte aligned `res5` field of the arm64 Image header, which nothing
    // reads after boot; with W^X in place the store faults, and without it the store is harmless.
    unsafe { p.write_volatile(0) };
}
