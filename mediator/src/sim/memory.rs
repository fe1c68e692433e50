//! Simulated machine memory: guest RAM by IPA (with faults, aliases and
//! scheduled mutations), page pinning with accounting, and the mediator's
//! shadow pages. Implements [`GuestMemory`], [`Pinning`] and
//! [`ShadowPages`].

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::abi::{PAGE_MASK, PAGE_SIZE, PAGE_SIZE_U64};
use crate::platform::{
    GuestMemory, MemFault, NoShadowPage, PinFault, PinnedPage, Pinning, ShadowPage, ShadowPages,
};
use crate::types::{DomId, Ipa, Pa};

/// Who owns a machine frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// RAM of a guest.
    Guest(DomId),
    /// A mediator shadow page.
    Shadow,
    /// Not RAM of anyone (an MMIO-like mapping in a guest).
    Device,
}

/// A write to apply to guest memory after a number of reads (the guest
/// racing the mediator).
#[derive(Clone, Debug)]
struct Mutation {
    after_reads: u64,
    ipa: u64,
    bytes: Vec<u8>,
}

/// One simulated guest.
#[derive(Debug, Default)]
struct SimGuest {
    p2m: BTreeMap<u64, u64>,
    pins: BTreeMap<u64, u32>,
    pin_count: usize,
    fail_pin: BTreeSet<u64>,
    fault: BTreeSet<u64>,
    write_fault: BTreeSet<u64>,
    pin_cap: Option<usize>,
    reads: u64,
    mutations: Vec<Mutation>,
}

/// Machine memory with guests and shadow pages.
#[derive(Debug, Default)]
pub struct SimMemory {
    frames: BTreeMap<u64, (Owner, Box<[u8; PAGE_SIZE]>)>,
    next_pfn: u64,
    guests: BTreeMap<DomId, SimGuest>,
    shadow: BTreeMap<usize, u64>,
    next_shadow: usize,
    /// Shadow pages the platform may hand out at once (`None`: unlimited).
    pub shadow_limit: Option<usize>,
    /// Every unpin of a page that was not pinned (must stay 0).
    pub bad_unpins: u64,
}

impl SimMemory {
    /// Empty memory. Frame numbers start at 0x40000 (PA 1 GiB) so that no
    /// valid PA is 0.
    pub fn new() -> SimMemory {
        SimMemory {
            next_pfn: 0x40000,
            ..SimMemory::default()
        }
    }

    fn new_frame(&mut self, owner: Owner) -> u64 {
        let pfn = self.next_pfn;
        self.next_pfn = self.next_pfn.saturating_add(1);
        self.frames.insert(pfn, (owner, Box::new([0u8; PAGE_SIZE])));
        pfn
    }

    /// Gives `dom` `pages` pages of RAM at IPA `base` (page aligned).
    pub fn add_guest(&mut self, dom: DomId, base: u64, pages: u64) {
        let mut g = SimGuest::default();
        for i in 0..pages {
            let pfn = self.new_frame(Owner::Guest(dom));
            g.p2m.insert((base >> 12).saturating_add(i), pfn);
        }
        self.guests.insert(dom, g);
    }

    /// Maps a device (non-RAM) frame at `ipa` of `dom`: reads, writes and
    /// pins of it fail as they would for MMIO.
    pub fn map_device(&mut self, dom: DomId, ipa: u64) {
        let pfn = self.new_frame(Owner::Device);
        if let Some(g) = self.guests.get_mut(&dom) {
            g.p2m.insert(ipa >> 12, pfn);
        }
    }

    /// Makes guest page `alias` map the same frame as `page`.
    pub fn alias(&mut self, dom: DomId, page: u64, alias: u64) {
        if let Some(g) = self.guests.get_mut(&dom) {
            if let Some(pfn) = g.p2m.get(&(page >> 12)).copied() {
                g.p2m.insert(alias >> 12, pfn);
            }
        }
    }

    /// Removes a page from the guest's p2m (the frame lives on while pinned).
    pub fn unmap(&mut self, dom: DomId, ipa: u64) {
        if let Some(g) = self.guests.get_mut(&dom) {
            g.p2m.remove(&(ipa >> 12));
        }
    }

    /// Accesses to this guest page fault from now on.
    pub fn inject_fault(&mut self, dom: DomId, ipa: u64) {
        if let Some(g) = self.guests.get_mut(&dom) {
            g.fault.insert(ipa >> 12);
        }
    }

    /// Writes to this guest page fault from now on (reads and pins work).
    pub fn inject_write_fault(&mut self, dom: DomId, ipa: u64) {
        if let Some(g) = self.guests.get_mut(&dom) {
            g.write_fault.insert(ipa >> 12);
        }
    }

    /// Pinning this guest page fails from now on.
    pub fn inject_pin_failure(&mut self, dom: DomId, ipa: u64) {
        if let Some(g) = self.guests.get_mut(&dom) {
            g.fail_pin.insert(ipa >> 12);
        }
    }

    /// The platform refuses pins beyond `cap` outstanding for `dom`.
    pub fn set_pin_cap(&mut self, dom: DomId, cap: Option<usize>) {
        if let Some(g) = self.guests.get_mut(&dom) {
            g.pin_cap = cap;
        }
    }

    /// After the mediator has done `after_reads` more reads of `dom`'s
    /// memory, `bytes` are written at `ipa` (the guest changes its buffer
    /// between two reads).
    pub fn mutate_after_reads(&mut self, dom: DomId, after_reads: u64, ipa: u64, bytes: &[u8]) {
        if let Some(g) = self.guests.get_mut(&dom) {
            let at = g.reads.saturating_add(after_reads);
            g.mutations.push(Mutation {
                after_reads: at,
                ipa,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// Outstanding pins of `dom`.
    pub fn pins(&self, dom: DomId) -> usize {
        self.guests.get(&dom).map_or(0, |g| g.pin_count)
    }

    /// Outstanding pins of all guests.
    pub fn total_pins(&self) -> usize {
        self.guests.values().map(|g| g.pin_count).sum()
    }

    /// Shadow pages handed out and not freed.
    pub fn shadow_outstanding(&self) -> usize {
        self.shadow.len()
    }

    /// Machine address of a guest IPA (`None` if unmapped).
    pub fn pa_of(&self, dom: DomId, ipa: u64) -> Option<u64> {
        let g = self.guests.get(&dom)?;
        let pfn = g.p2m.get(&(ipa >> 12))?;
        Some((pfn << 12) | (ipa & PAGE_MASK))
    }

    /// Owner of the frame holding `pa`.
    pub fn owner_of(&self, pa: u64) -> Option<Owner> {
        self.frames.get(&(pa >> 12)).map(|f| f.0)
    }

    /// Test helper: writes guest memory ignoring faults and mutations.
    pub fn poke(&mut self, dom: DomId, ipa: u64, bytes: &[u8]) -> bool {
        self.guest_access(dom, ipa, bytes.len(), |f, o, i| {
            if let (Some(d), Some(s)) = (f.get_mut(o), bytes.get(i)) {
                *d = *s;
            }
        })
    }

    /// Test helper: reads guest memory ignoring faults.
    pub fn peek(&mut self, dom: DomId, ipa: u64, buf: &mut [u8]) -> bool {
        let len = buf.len();
        self.guest_access(dom, ipa, len, |f, o, i| {
            if let (Some(s), Some(d)) = (f.get(o), buf.get_mut(i)) {
                *d = *s;
            }
        })
    }

    fn guest_access(
        &mut self,
        dom: DomId,
        ipa: u64,
        len: usize,
        mut f: impl FnMut(&mut [u8; PAGE_SIZE], usize, usize),
    ) -> bool {
        let Some(g) = self.guests.get(&dom) else {
            return false;
        };
        for piece in frame_pieces(ipa, len) {
            let Some((gfn, o, r)) = piece else {
                return false;
            };
            let Some(pfn) = g.p2m.get(&gfn) else {
                return false;
            };
            let Some((owner, frame)) = self.frames.get_mut(pfn) else {
                return false;
            };
            if *owner != Owner::Guest(dom) {
                return false;
            }
            for (k, i) in r.enumerate() {
                f(frame, o.saturating_add(k), i);
            }
        }
        true
    }

    fn check_faults(&self, dom: DomId, ipa: u64, len: usize) -> bool {
        let Some(g) = self.guests.get(&dom) else {
            return false;
        };
        let last = ipa.saturating_add(len.saturating_sub(1) as u64);
        let mut p = ipa >> 12;
        while p <= last >> 12 {
            if g.fault.contains(&p) {
                return false;
            }
            p = p.saturating_add(1);
        }
        true
    }

    fn apply_mutations(&mut self, dom: DomId) {
        let Some(g) = self.guests.get_mut(&dom) else {
            return;
        };
        g.reads = g.reads.saturating_add(1);
        let now = g.reads;
        let due: Vec<Mutation> = {
            let (due, keep): (Vec<_>, Vec<_>) =
                g.mutations.drain(..).partition(|m| m.after_reads <= now);
            g.mutations = keep;
            due
        };
        for m in due {
            self.poke(dom, m.ipa, &m.bytes);
        }
    }

    /// Reads machine memory (for the simulated OP-TEE).
    pub fn read_pa(&self, pa: u64, buf: &mut [u8]) -> bool {
        for piece in frame_pieces(pa, buf.len()) {
            let Some((pfn, o, r)) = piece else {
                return false;
            };
            let Some((owner, frame)) = self.frames.get(&pfn) else {
                return false;
            };
            if *owner == Owner::Device {
                return false;
            }
            let n = r.len();
            if let (Some(d), Some(s)) = (buf.get_mut(r), frame.get(o..o.saturating_add(n))) {
                d.copy_from_slice(s);
            }
        }
        true
    }

    /// Writes machine memory (for the simulated OP-TEE).
    pub fn write_pa(&mut self, pa: u64, buf: &[u8]) -> bool {
        for piece in frame_pieces(pa, buf.len()) {
            let Some((pfn, o, r)) = piece else {
                return false;
            };
            let Some((owner, frame)) = self.frames.get_mut(&pfn) else {
                return false;
            };
            if *owner == Owner::Device {
                return false;
            }
            let n = r.len();
            if let (Some(d), Some(s)) = (frame.get_mut(o..o.saturating_add(n)), buf.get(r)) {
                d.copy_from_slice(s);
            }
        }
        true
    }
}

impl GuestMemory for SimMemory {
    fn read(&mut self, dom: DomId, ipa: Ipa, buf: &mut [u8]) -> Result<(), MemFault> {
        if !self.check_faults(dom, ipa.raw(), buf.len()) {
            return Err(MemFault);
        }
        let ok = self.peek(dom, ipa.raw(), buf);
        self.apply_mutations(dom);
        if ok {
            Ok(())
        } else {
            Err(MemFault)
        }
    }

    fn write(&mut self, dom: DomId, ipa: Ipa, buf: &[u8]) -> Result<(), MemFault> {
        if !self.check_faults(dom, ipa.raw(), buf.len()) {
            return Err(MemFault);
        }
        let first = ipa.raw() >> 12;
        let last = ipa.raw().saturating_add(buf.len().saturating_sub(1) as u64) >> 12;
        if let Some(g) = self.guests.get(&dom) {
            if g.write_fault.range(first..=last).next().is_some() {
                return Err(MemFault);
            }
        }
        if self.poke(dom, ipa.raw(), buf) {
            Ok(())
        } else {
            Err(MemFault)
        }
    }
}

impl Pinning for SimMemory {
    fn pin(&mut self, dom: DomId, page: Ipa) -> Result<PinnedPage, PinFault> {
        let Some(g) = self.guests.get_mut(&dom) else {
            return Err(PinFault);
        };
        let gfn = page.raw() >> 12;
        if g.fail_pin.contains(&gfn) || g.fault.contains(&gfn) {
            return Err(PinFault);
        }
        if g.pin_cap.is_some_and(|c| g.pin_count >= c) {
            return Err(PinFault);
        }
        let Some(pfn) = g.p2m.get(&gfn).copied() else {
            return Err(PinFault);
        };
        if self.frames.get(&pfn).map(|f| f.0) != Some(Owner::Guest(dom)) {
            return Err(PinFault);
        }
        let c = g.pins.entry(pfn).or_insert(0);
        *c = c.saturating_add(1);
        g.pin_count = g.pin_count.saturating_add(1);
        Ok(PinnedPage {
            ipa: page,
            pa: Pa::new(pfn.saturating_mul(PAGE_SIZE_U64)),
        })
    }

    fn unpin(&mut self, dom: DomId, page: PinnedPage) {
        let pfn = page.pa.raw() >> 12;
        let Some(g) = self.guests.get_mut(&dom) else {
            self.bad_unpins = self.bad_unpins.saturating_add(1);
            return;
        };
        match g.pins.get_mut(&pfn) {
            Some(c) if *c > 0 => {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    g.pins.remove(&pfn);
                }
                g.pin_count = g.pin_count.saturating_sub(1);
            }
            _ => self.bad_unpins = self.bad_unpins.saturating_add(1),
        }
    }
}

impl ShadowPages for SimMemory {
    fn alloc(&mut self) -> Result<ShadowPage, NoShadowPage> {
        if self.shadow_limit.is_some_and(|l| self.shadow.len() >= l) {
            return Err(NoShadowPage);
        }
        let pfn = self.new_frame(Owner::Shadow);
        let id = self.next_shadow;
        self.next_shadow = self.next_shadow.saturating_add(1);
        self.shadow.insert(id, pfn);
        Ok(ShadowPage {
            id,
            pa: Pa::new(pfn.saturating_mul(PAGE_SIZE_U64)),
        })
    }

    fn free(&mut self, page: ShadowPage) {
        if let Some(pfn) = self.shadow.remove(&page.id) {
            self.frames.remove(&pfn);
        }
    }

    fn bytes(&self, page: &ShadowPage) -> &[u8; PAGE_SIZE] {
        static ZERO: [u8; PAGE_SIZE] = [0; PAGE_SIZE];
        match self.frames.get(&(page.pa.raw() >> 12)) {
            Some((Owner::Shadow, f)) => f,
            _ => &ZERO,
        }
    }

    fn bytes_mut(&mut self, page: &ShadowPage) -> &mut [u8; PAGE_SIZE] {
        let pfn = page.pa.raw() >> 12;
        // A handle the mediator holds is always live; a stale one gets a
        // fresh frame so the simulator stays total.
        self.frames
            .entry(pfn)
            .or_insert_with(|| (Owner::Shadow, Box::new([0u8; PAGE_SIZE])));
        match self.frames.get_mut(&pfn) {
            Some((_, f)) => f,
            None => unreachable_frame(),
        }
    }
}

fn unreachable_frame() -> &'static mut [u8; PAGE_SIZE] {
    // Only reachable if BTreeMap::entry().or_insert() did not insert, which
    // it always does; leak a page rather than panic.
    Box::leak(Box::new([0u8; PAGE_SIZE]))
}

/// Splits an access of `len` bytes at `addr` (guest or machine) at 4 KiB frame boundaries: for each
/// piece, the frame number, the offset in the frame and the range of the caller's buffer. An
/// address that overflows yields `None` (and ends the walk), so the access fails as a whole.
fn frame_pieces(
    addr: u64,
    len: usize,
) -> impl Iterator<Item = Option<(u64, usize, core::ops::Range<usize>)>> {
    let mut i = 0usize;
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed || i >= len {
            return None;
        }
        let Some(a) = addr.checked_add(i as u64) else {
            failed = true;
            return Some(None);
        };
        let o = usize::try_from(a & PAGE_MASK).unwrap_or(0);
        // o < PAGE_SIZE and i < len, so every piece is at least one byte.
        let n = PAGE_SIZE.saturating_sub(o).min(len.saturating_sub(i));
        let piece = (a >> 12, o, i..i.saturating_add(n));
        i = i.saturating_add(n);
        Some(Some(piece))
    })
}
