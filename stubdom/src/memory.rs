//! [`mediator::GuestMemory`] on the hook: each page an access touches is mapped into the
//! kernel's foreign window, copied with volatile accesses (the guest may change it at any time),
//! and unmapped again. Xen checks that the page is RAM of a domain we may map (FLASK:
//! `tee_mediator_t` has `mmu {map_read map_write}` on TEE guests only); any failure is one
//! [`MemFault`], which the core turns into the guest's answer.
//!
//! Mapping per access keeps no stale view of a guest page (a guest that remaps its memory is seen
//! at the next access) and holds no reference on guest pages between calls.

use crate::hook::{Hook, HookPlatform};
use mediator::abi::{PAGE_MASK, PAGE_SIZE};
use mediator::{DomId, GuestMemory, Ipa, MemFault};

/// Splits `[ipa, ipa + len)` into per-page pieces: (frame, offset in page, offset in buffer,
/// length). `None` if the range wraps the address space.
pub fn pieces(ipa: u64, len: usize) -> Option<impl Iterator<Item = (u64, usize, usize, usize)>> {
    let len64 = u64::try_from(len).ok()?;
    ipa.checked_add(len64)?;
    let mut done = 0usize;
    Some(core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        // `done < len` and `ipa + len` does not overflow, so this cannot either.
        let a = ipa.checked_add(u64::try_from(done).ok()?)?;
        // Both bounded by the page size.
        let off = usize::try_from(a & PAGE_MASK).ok()?;
        let n = (PAGE_SIZE - off).min(len - done);
        let piece = (a >> 12, off, done, n);
        done += n;
        Some(piece)
    }))
}

impl<H: Hook> GuestMemory for HookPlatform<'_, H> {
    fn read(&mut self, dom: DomId, ipa: Ipa, buf: &mut [u8]) -> Result<(), MemFault> {
        for (gfn, off, at, n) in pieces(ipa.raw(), buf.len()).ok_or(MemFault)? {
            let page = self.hook.map(dom.0, gfn).map_err(|_| MemFault)?;
            self.hook.read_page(&page, off, &mut buf[at..at + n]);
            self.hook.unmap(page);
        }
        Ok(())
    }

    fn write(&mut self, dom: DomId, ipa: Ipa, buf: &[u8]) -> Result<(), MemFault> {
        for (gfn, off, at, n) in pieces(ipa.raw(), buf.len()).ok_or(MemFault)? {
            let page = self.hook.map(dom.0, gfn).map_err(|_| MemFault)?;
            self.hook.write_page(&page, off, &buf[at..at + n]);
            self.hook.unmap(page);
        }
        Ok(())
    }
}
