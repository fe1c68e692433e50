//! Generic-timer arithmetic: ticks of `CNTVCT_EL0` at `CNTFRQ_EL0` Hz to and from durations.
//! Overflow-free (u128 intermediates); conversions to ticks round up so a deadline never fires
//! early.
#![forbid(unsafe_code)]

use core::time::Duration;

/// A point in time: a virtual counter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

/// The counter frequency in Hz (never zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freq(u64);

impl Freq {
    /// `None` for 0 Hz (an unprogrammed `CNTFRQ_EL0`).
    pub const fn new(hz: u64) -> Option<Self> {
        if hz == 0 {
            None
        } else {
            Some(Self(hz))
        }
    }

    /// Hz.
    pub const fn hz(self) -> u64 {
        self.0
    }

    /// Ticks covering at least `d` (rounded up, saturating).
    pub fn ticks(self, d: Duration) -> u64 {
        let t = (d.as_nanos() * u128::from(self.0)).div_ceil(1_000_000_000);
        u64::try_from(t).unwrap_or(u64::MAX)
    }

    /// The duration of `ticks` (rounded down).
    pub fn duration(self, ticks: u64) -> Duration {
        let ns = u128::from(ticks) * 1_000_000_000 / u128::from(self.0);
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

impl Instant {
    /// `self + d`, saturating at the end of time.
    pub fn add(self, f: Freq, d: Duration) -> Instant {
        Instant(self.0.saturating_add(f.ticks(d)))
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, f: Freq, earlier: Instant) -> Duration {
        f.duration(self.0.saturating_sub(earlier.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let f = Freq::new(62_500_000).unwrap(); // QEMU virt
        assert_eq!(f.ticks(Duration::from_secs(1)), 62_500_000);
        assert_eq!(f.ticks(Duration::from_nanos(1)), 1); // rounds up
        assert_eq!(f.duration(62_500_000), Duration::from_secs(1));
        assert_eq!(f.duration(1), Duration::from_nanos(16));
        assert_eq!(f.ticks(Duration::MAX), u64::MAX);
        let t = Instant(100).add(f, Duration::from_micros(1));
        assert_eq!(t, Instant(163));
        assert_eq!(t.since(f, Instant(100)), Duration::from_nanos(1008));
        assert_eq!(Instant(5).since(f, Instant(9)), Duration::ZERO);
        assert_eq!(
            Instant(u64::MAX - 1).add(f, Duration::from_secs(1)),
            Instant(u64::MAX)
        );
        assert!(Freq::new(0).is_none());
        let g = Freq::new(1_000_000_000).unwrap();
        assert_eq!(g.duration(u64::MAX), Duration::from_nanos(u64::MAX));
    }
}
