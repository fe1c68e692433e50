//! 2-level event-channel bit logic (`public/xen.h`, "Event channel endpoints"; Linux
//! `drivers/xen/events/events_2l.c` is the reference consumer).
//!
//! Xen sets `evtchn_pending[w]` bit `b` for port `64*w + b`, then `evtchn_pending_sel` bit `w`, then
//! `evtchn_upcall_pending`, and raises the upcall PPI when that flag goes from 0 to 1. The guest
//! clears in the same order (flag, selector, pending bit) before it handles a port, so an event that
//! arrives during the scan sets the flag again and is never lost. Masked ports keep their pending bit;
//! `EVTCHNOP_unmask` re-raises them.
#![forbid(unsafe_code)]

use crate::abi::{EvtchnPort, BITS_PER_XEN_ULONG, EVTCHN_2L_NR_CHANNELS};
use core::sync::atomic::{AtomicU64, Ordering};

/// Word index and bit mask of a port in the 2-level bitmaps; `None` past the 2-level limit.
///
/// ```
/// assert_eq!(xenif::evtchn::word_bit(65), Some((1, 2)));
/// assert_eq!(xenif::evtchn::word_bit(4096), None);
/// ```
pub fn word_bit(port: EvtchnPort) -> Option<(usize, u64)> {
    let p = usize::try_from(port).ok()?;
    if p >= EVTCHN_2L_NR_CHANNELS {
        return None;
    }
    Some((p / BITS_PER_XEN_ULONG, 1u64 << (p % BITS_PER_XEN_ULONG)))
}

/// Calls `f` for each set bit of `bits`, lowest first.
fn for_each_bit(mut bits: u64, mut f: impl FnMut(u32)) {
    while bits != 0 {
        let b = bits.trailing_zeros();
        bits &= bits - 1;
        f(b);
    }
}

/// Scan the shared bitmaps after an upcall: atomically takes the selector, clears the pending bit
/// of every unmasked pending port it finds and calls `deliver(port)` for it. Returns the number of
/// ports delivered. The caller has already cleared `evtchn_upcall_pending`.
pub fn scan(
    pending_sel: &AtomicU64,
    pending: &[AtomicU64; BITS_PER_XEN_ULONG],
    mask: &[AtomicU64; BITS_PER_XEN_ULONG],
    mut deliver: impl FnMut(EvtchnPort),
) -> usize {
    let mut n = 0;
    let sel = pending_sel.swap(0, Ordering::AcqRel);
    for_each_bit(sel, |w| {
        let w = w as usize;
        let ready = pending[w].load(Ordering::Acquire) & !mask[w].load(Ordering::Acquire);
        for_each_bit(ready, |b| {
            let bit = 1u64 << b;
            // Only the guest clears pending bits; a bit that another path cleared is skipped.
            if pending[w].fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
                n += 1;
                // w < 64 and b < 64, so this fits the 4096-port space.
                deliver((w * BITS_PER_XEN_ULONG) as u32 + b);
            }
        });
    });
    n
}

/// A set of ports (4096 bits) that one side fills atomically (the upcall handler) and the other
/// drains (the event loop).
#[derive(Debug)]
pub struct PortSet {
    words: [AtomicU64; BITS_PER_XEN_ULONG],
    summary: AtomicU64,
}

impl Default for PortSet {
    fn default() -> Self {
        Self::new()
    }
}

impl PortSet {
    /// An empty set (usable in a `static`).
    pub const fn new() -> Self {
        #[allow(clippy::declare_interior_mutable_const)] // used only to initialise the array
        const Z: AtomicU64 = AtomicU64::new(0);
        Self {
            words: [Z; BITS_PER_XEN_ULONG],
            summary: AtomicU64::new(0),
        }
    }

    /// Add a port; returns false for a port past the 2-level limit.
    pub fn insert(&self, port: EvtchnPort) -> bool {
        let Some((w, bit)) = word_bit(port) else {
            return false;
        };
        self.words[w].fetch_or(bit, Ordering::AcqRel);
        self.summary.fetch_or(1 << w, Ordering::AcqRel);
        true
    }

    /// True if no port is in the set.
    pub fn is_empty(&self) -> bool {
        self.summary.load(Ordering::Acquire) == 0
    }

    /// Remove every port and call `f` for each, lowest first within a word.
    pub fn drain(&self, mut f: impl FnMut(EvtchnPort)) {
        let sum = self.summary.swap(0, Ordering::AcqRel);
        for_each_bit(sum, |w| {
            let bits = self.words[w as usize].swap(0, Ordering::AcqRel);
            for_each_bit(bits, |b| f(w * 64 + b));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zeroed() -> [AtomicU64; 64] {
        core::array::from_fn(|_| AtomicU64::new(0))
    }

    fn raise(sel: &AtomicU64, pending: &[AtomicU64; 64], port: u32) {
        let (w, bit) = word_bit(port).unwrap();
        pending[w].fetch_or(bit, Ordering::SeqCst);
        sel.fetch_or(1 << w, Ordering::SeqCst);
    }

    #[test]
    fn scan_delivers_unmasked_and_keeps_masked() {
        let sel = AtomicU64::new(0);
        let (pending, mask) = (zeroed(), zeroed());
        for p in [1, 63, 64, 700, 4095] {
            raise(&sel, &pending, p);
        }
        let (w, bit) = word_bit(700).unwrap();
        mask[w].fetch_or(bit, Ordering::SeqCst);
        let mut got = Vec::new();
        assert_eq!(scan(&sel, &pending, &mask, |p| got.push(p)), 4);
        assert_eq!(got, vec![1, 63, 64, 4095]);
        assert_eq!(sel.load(Ordering::SeqCst), 0);
        // The masked port is still pending and is delivered after unmasking and a new selector bit.
        assert_ne!(pending[w].load(Ordering::SeqCst) & bit, 0);
        mask[w].store(0, Ordering::SeqCst);
        sel.fetch_or(1 << w, Ordering::SeqCst);
        got.clear();
        scan(&sel, &pending, &mask, |p| got.push(p));
        assert_eq!(got, vec![700]);
    }

    #[test]
    fn selector_without_pending_is_harmless() {
        let sel = AtomicU64::new(u64::MAX);
        let (pending, mask) = (zeroed(), zeroed());
        assert_eq!(scan(&sel, &pending, &mask, |_| panic!()), 0);
    }

    #[test]
    fn port_set_roundtrip() {
        let s = PortSet::new();
        assert!(s.is_empty());
        assert!(s.insert(5) && s.insert(5) && s.insert(130) && s.insert(4095));
        assert!(!s.insert(4096));
        let mut got = Vec::new();
        s.drain(|p| got.push(p));
        assert_eq!(got, vec![5, 130, 4095]);
        assert!(s.is_empty());
    }

    #[test]
    fn port_set_concurrent_inserts_are_not_lost() {
        let s = std::sync::Arc::new(PortSet::new());
        let handles: Vec<_> = (0..4u32)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..1000u32 {
                        s.insert((t * 1000 + i) % 4096);
                    }
                })
            })
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        while handles.iter().any(|h| !h.is_finished()) {
            s.drain(|p| {
                seen.insert(p);
            });
        }
        s.drain(|p| {
            seen.insert(p);
        });
        assert_eq!(seen.len(), 4000);
    }
}
