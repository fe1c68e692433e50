//! [`mediator::GuestMemory`] on the hook: each page an access touches is looked up through
//! [`Hook::map`], copied with volatile accesses (the guest may change it at any time), and given
//! back with [`Hook::unmap`]. Xen checks that the page is RAM of a domain we may map (FLASK:
//! `tee_mediator_t` has `mmu {map_read map_write}` on TEE guests only); any failure is one
//! [`MemFault`], which the core turns into the guest's answer.
//!
//! The image's hook keeps the pages mapped in a small LRU cache ([`crate::mapcache`]): a guest's
//! argument and page-list pages, which a call reads and writes several times and the next call
//! reuses, are mapped once rather than once per access. A cached mapping holds Xen's reference
//! on the guest page, so a guest that remaps its RAM under its own call sees its old page until
//! the entry is evicted (it confuses only itself); a domain's entries are dropped when it is
//! created or destroyed ([`Hook::forget`]), so no dying domain's memory is kept alive.

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
            let page = self.hook.map(dom.raw(), gfn).map_err(|_| MemFault)?;
            self.hook.read_page(&page, off, &mut buf[at..at + n]);
            self.hook.unmap(page);
        }
        Ok(())
    }

    fn write(&mut self, dom: DomId, ipa: Ipa, buf: &[u8]) -> Result<(), MemFault> {
        for (gfn, off, at, n) in pieces(ipa.raw(), buf.len()).ok_or(MemFault)? {
            let page = self.hook.map(dom.raw(), gfn).map_err(|_| MemFault)?;
            self.hook.write_page(&page, off, &buf[at..at + n]);
            self.hook.unmap(page);
        }
        Ok(())
    }
}
