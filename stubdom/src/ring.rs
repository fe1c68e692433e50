//! The ring page shared with Xen's forwarder, as [`xenif::hook::RingPage`] over atomics (Xen
//! writes it concurrently, so every access is atomic; the orderings are those `RingPage`
//! documents). The page itself is a page-aligned `static` of the image: identity-mapped, so its
//! address is its frame.

use core::sync::atomic::{fence, AtomicU32, Ordering};
use xenif::hook::{Request, Response, RingPage};

/// A 4 KiB page of 32-bit words.
#[repr(C, align(4096))]
#[derive(Debug)]
pub struct RingMem(pub [AtomicU32; 1024]);

impl RingMem {
    /// A zeroed page.
    pub const fn new() -> Self {
        RingMem([const { AtomicU32::new(0) }; 1024])
    }

    /// Its frame number (the identity map makes the address guest-physical).
    pub fn gfn(&self) -> u64 {
        (self as *const RingMem as usize as u64) >> 12
    }
}

impl Default for RingMem {
    fn default() -> Self {
        Self::new()
    }
}

/// The [`RingPage`] view of a [`RingMem`].
#[derive(Debug, Clone, Copy)]
pub struct Shared<'a>(pub &'a RingMem);

impl Shared<'_> {
    fn word(&self, off: usize) -> &AtomicU32 {
        // Offsets come from `xenif::hook::sring` (inside the page); an out-of-page offset would
        // be our bug, answered with word 0 rather than a panic.
        self.0 .0.get(off / 4).unwrap_or(&self.0 .0[0])
    }
    fn dword(&self, off: usize) -> u64 {
        let lo = self.word(off).load(Ordering::Relaxed);
        let hi = self.word(off + 4).load(Ordering::Relaxed);
        u64::from(lo) | (u64::from(hi) << 32)
    }
}

impl RingPage for Shared<'_> {
    fn load_u32(&self, off: usize) -> u32 {
        self.word(off).load(Ordering::Acquire)
    }
    fn store_u32(&self, off: usize, v: u32) {
        self.word(off).store(v, Ordering::Release)
    }
    fn read_request(&self, off: usize) -> Request {
        let w2 = self.word(off + 8).load(Ordering::Relaxed);
        let mut x = [0; 8];
        for (i, v) in x.iter_mut().enumerate() {
            *v = self.dword(off + 24 + 8 * i);
        }
        Request {
            seq: self.dword(off),
            // Little-endian halves of the 32-bit word: type, then domid.
            kind: (w2 & 0xFFFF) as u16,
            domid: (w2 >> 16) as u16,
            vcpu: self.word(off + 12).load(Ordering::Relaxed),
            flags: self.word(off + 16).load(Ordering::Relaxed),
            pad: 0,
            x,
        }
    }
    fn write_response(&self, off: usize, rsp: &Response) {
        self.word(off).store(rsp.seq as u32, Ordering::Relaxed);
        self.word(off + 4)
            .store((rsp.seq >> 32) as u32, Ordering::Relaxed);
    }
    fn full_barrier(&self) {
        fence(Ordering::SeqCst)
    }
}
