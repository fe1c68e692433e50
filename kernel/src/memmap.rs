//! Physical memory bookkeeping: RAM banks minus what is in use (image, device tree, reserved
//! ranges) gives the free ranges; the heap takes the largest one.
#![forbid(unsafe_code)]

/// A physical address range `[base, base + size)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Region {
    /// A range from base and size.
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    /// One past the last byte (saturating).
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    /// True if `addr` lies inside.
    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr < self.end()
    }

    /// The range widened to `align` (a power of two) on both ends.
    pub fn align_out(&self, align: u64) -> Region {
        let b = self.base & !(align - 1);
        let e = self.end().saturating_add(align - 1) & !(align - 1);
        Region::new(b, e - b)
    }

    /// The range shrunk to `align` (a power of two) on both ends; empty if nothing is left.
    pub fn align_in(&self, align: u64) -> Region {
        let b = self.base.saturating_add(align - 1) & !(align - 1);
        let e = self.end() & !(align - 1);
        Region::new(b, e.saturating_sub(b))
    }
}

/// At most this many free ranges are tracked.
pub const MAX_RANGES: usize = 16;

/// `ram` minus every range of `used`, in address order, empty pieces dropped.
pub fn free_ranges(ram: &[Region], used: &[Region]) -> heapless::Vec<Region, MAX_RANGES> {
    let mut out: heapless::Vec<Region, MAX_RANGES> = heapless::Vec::new();
    for r in ram {
        let _ = out.push(*r);
    }
    for u in used.iter().filter(|u| u.size > 0) {
        let mut next: heapless::Vec<Region, MAX_RANGES> = heapless::Vec::new();
        for r in &out {
            if u.end() <= r.base || u.base >= r.end() {
                let _ = next.push(*r);
                continue;
            }
            if u.base > r.base {
                let _ = next.push(Region::new(r.base, u.base - r.base));
            }
            if u.end() < r.end() {
                let _ = next.push(Region::new(u.end(), r.end() - u.end()));
            }
        }
        out = next;
    }
    out.sort_unstable_by_key(|r| r.base);
    out
}

/// The largest range (the lowest one on ties).
pub fn largest(ranges: &[Region]) -> Option<Region> {
    ranges
        .iter()
        .copied()
        .fold(None, |best: Option<Region>, r| match best {
            Some(b) if b.size >= r.size => Some(b),
            _ => Some(r),
        })
}

/// The two largest ranges of at least `min` bytes, largest first (empty regions where there are
/// fewer).
pub fn two_largest(ranges: &[Region], min: u64) -> [Region; 2] {
    let mut v: heapless::Vec<Region, MAX_RANGES> =
        ranges.iter().copied().filter(|r| r.size >= min).collect();
    v.sort_unstable_by(|a, b| b.size.cmp(&a.size).then(a.base.cmp(&b.base)));
    [
        v.first().copied().unwrap_or_default(),
        v.get(1).copied().unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract() {
        let ram = [Region::new(0x4000_0000, 0x100_0000)];
        let used = [
            Region::new(0x4000_0000, 0x5_0000), // image
            Region::new(0x40e0_0000, 0x2000),   // dtb
            Region::new(0x40ff_f000, 0x1000),   // reserved
            Region::new(0x5000_0000, 0x1000),   // outside
        ];
        let f = free_ranges(&ram, &used);
        assert_eq!(
            f.as_slice(),
            &[
                Region::new(0x4005_0000, 0x40e0_0000 - 0x4005_0000),
                Region::new(0x40e0_2000, 0x40ff_f000 - 0x40e0_2000),
            ]
        );
        assert_eq!(largest(&f), Some(f[0]));
        assert_eq!(two_largest(&f, 0), [f[0], f[1]]);
        assert_eq!(two_largest(&f, 0x100_0000), [Region::default(); 2]);
        assert_eq!(two_largest(&f[..1], 0), [f[0], Region::default()]);
        assert_eq!(largest(&[]), None);
        assert!(free_ranges(&ram, &[Region::new(0x3000_0000, 0x2000_0000)]).is_empty());
    }

    #[test]
    fn align() {
        let r = Region::new(0x1001, 0x2000);
        assert_eq!(r.align_out(0x1000), Region::new(0x1000, 0x3000));
        assert_eq!(r.align_in(0x1000), Region::new(0x2000, 0x1000));
        assert_eq!(Region::new(0x1001, 0x10).align_in(0x1000).size, 0);
        assert!(r.contains(0x1001) && !r.contains(0x3001));
    }
}
