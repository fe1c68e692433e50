//! Foreign-mapping window bookkeeping (pure): where the window goes and which slots are free.
#![forbid(unsafe_code)]

use crate::memmap::Region;

/// Window size: 2 MiB (one level-3 table of 4 KiB pages).
pub const WINDOW_SIZE: u64 = 2 << 20;

/// Pick the window: the first 2 MiB-aligned 2 MiB chunk of an extended region that overlaps no
/// RAM bank. `xen_regions` is the `/hypervisor` `reg` list, whose first entry is the grant-table
/// region (Xen `docs/misc/arm/device-tree/guest.txt`); the rest are extended regions, free guest
/// physical space the guest may use for foreign mappings.
pub fn choose_window(xen_regions: &[Region], ram: &[Region]) -> Option<Region> {
    xen_regions.iter().skip(1).find_map(|r| {
        let a = r.align_in(WINDOW_SIZE);
        if a.size < WINDOW_SIZE || a.end() > 1 << crate::pagetable::VA_BITS {
            return None;
        }
        let w = Region::new(a.base, WINDOW_SIZE);
        let clash = ram.iter().any(|m| m.base < w.end() && w.base < m.end());
        (!clash).then_some(w)
    })
}

/// A fixed set of slots, allocated lowest first.
#[derive(Debug)]
pub struct SlotAllocator {
    bits: [u64; 8],
    n: usize,
}

impl SlotAllocator {
    /// `n` slots (at most 512).
    pub fn new(n: usize) -> Self {
        Self {
            bits: [0; 8],
            n: n.min(512),
        }
    }

    /// Take the lowest free slot.
    pub fn alloc(&mut self) -> Option<usize> {
        for (w, word) in self.bits.iter_mut().enumerate() {
            let free = !*word;
            if free != 0 {
                let s = w * 64 + free.trailing_zeros() as usize;
                if s >= self.n {
                    return None;
                }
                *word |= 1 << (s % 64);
                return Some(s);
            }
        }
        None
    }

    /// Return a slot (ignores slots that are not allocated).
    pub fn release(&mut self, s: usize) {
        if s < self.n {
            self.bits[s / 64] &= !(1 << (s % 64));
        }
    }

    /// Number of free slots.
    pub fn free(&self) -> usize {
        self.n
            - self
                .bits
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_choice() {
        let ram = [Region::new(0x4000_0000, 0x100_0000)];
        let regs = [
            Region::new(0x3800_0000, 0x100_0000),
            Region::new(0x4100_1000, 0x1000_0000),
        ];
        assert_eq!(
            choose_window(&regs, &ram),
            Some(Region::new(0x4120_0000, WINDOW_SIZE))
        );
        // Only the grant-table region: no window.
        assert_eq!(choose_window(&regs[..1], &ram), None);
        // Too small after alignment.
        assert_eq!(
            choose_window(&[regs[0], Region::new(0x4100_1000, 0x20_0000)], &ram),
            None
        );
        // Overlapping RAM is refused.
        assert_eq!(
            choose_window(&[regs[0], Region::new(0x4000_0000, 0x40_0000)], &ram),
            None
        );
    }

    #[test]
    fn slots() {
        let mut s = SlotAllocator::new(130);
        assert_eq!(s.free(), 130);
        let v: Vec<_> = (0..130).map(|_| s.alloc().unwrap()).collect();
        assert_eq!(v, (0..130).collect::<Vec<_>>());
        assert_eq!(s.alloc(), None);
        s.release(64);
        s.release(64);
        s.release(999);
        assert_eq!(s.free(), 1);
        assert_eq!(s.alloc(), Some(64));
        assert_eq!(SlotAllocator::new(0).alloc(), None);
        let mut full = SlotAllocator::new(512);
        for _ in 0..512 {
            full.alloc().unwrap();
        }
        assert_eq!(full.alloc(), None);
    }
}
