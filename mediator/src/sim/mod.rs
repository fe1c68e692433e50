//! Simulators for tests, fuzzing and benchmarks (feature `sim`): a machine
//! memory holding guest RAM and shadow pages ([`SimMemory`]) and an OP-TEE
//! ([`SimOptee`]), combined into a [`SimPlatform`] that implements every
//! platform trait.
//!
//! They behave like the real thing and can misbehave on purpose: guest
//! memory can fault, alias pages, refuse pins and change between two reads;
//! the OP-TEE model follows the ABI's state machine and records every
//! protocol violation it sees.
// Test support: sizes are bounded by construction (guest RAM set up by the
// test, buffers capped at 1 MiB), so plain arithmetic is fine here.
#![allow(clippy::arithmetic_side_effects)]

mod memory;
mod optee;
pub mod script;
pub mod world;

pub use memory::{Owner, SimMemory};
pub use optee::{
    Seen, SimOptee, FN_ECHO, FN_FOREIGN_INTR, FN_GET_TIME, FN_NOP, FN_NOTIFY, FN_RPC_CMDS,
    FN_SHM_RPC, SIM_PTA, SIM_TA,
};
pub use world::World;

use crate::abi::PAGE_SIZE;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::platform::{
    GuestMemory, GuestNotification, MemFault, NoShadowPage, PinFault, PinnedPage, Pinning,
    SecureWorld, ShadowPage, ShadowPages,
};
use crate::types::{DomId, Ipa, Regs};

/// Memory plus OP-TEE: a complete simulated platform.
#[derive(Debug)]
pub struct SimPlatform {
    /// Machine memory, guests, pins, shadow pages.
    pub mem: SimMemory,
    /// The secure world.
    pub optee: SimOptee,
    /// Guests without a notification interrupt (a toolstack-created guest); every other guest
    /// has one.
    pub no_notif_irq: BTreeSet<DomId>,
    /// The guests [`GuestNotification::has_notif_interrupt`] was asked about, in order.
    pub notif_irq_asked: Vec<DomId>,
    /// The pages asked of each [`Pinning::pin_many`], in order (each batch is an entry into
    /// Xen on the real platform).
    pub pin_batches: Vec<usize>,
    /// The pages given to each [`Pinning::unpin_many`] of at least one page, in order.
    pub unpin_batches: Vec<usize>,
}

impl SimPlatform {
    /// A platform with an OP-TEE of `threads` threads and no guests.
    pub fn new(threads: usize) -> SimPlatform {
        SimPlatform {
            mem: SimMemory::new(),
            optee: SimOptee::new(threads),
            no_notif_irq: BTreeSet::new(),
            notif_irq_asked: Vec::new(),
            pin_batches: Vec::new(),
            unpin_batches: Vec::new(),
        }
    }
}

impl GuestNotification for SimPlatform {
    fn has_notif_interrupt(&mut self, dom: DomId) -> bool {
        self.notif_irq_asked.push(dom);
        !self.no_notif_irq.contains(&dom)
    }
}

impl GuestMemory for SimPlatform {
    fn read(&mut self, dom: DomId, ipa: Ipa, buf: &mut [u8]) -> Result<(), MemFault> {
        self.mem.read(dom, ipa, buf)
    }
    fn write(&mut self, dom: DomId, ipa: Ipa, buf: &[u8]) -> Result<(), MemFault> {
        self.mem.write(dom, ipa, buf)
    }
}

impl Pinning for SimPlatform {
    fn pin(&mut self, dom: DomId, page: Ipa) -> Result<PinnedPage, PinFault> {
        self.mem.pin(dom, page)
    }
    fn unpin(&mut self, dom: DomId, page: PinnedPage) {
        self.mem.unpin(dom, page)
    }
    fn pin_many(
        &mut self,
        dom: DomId,
        pages: &[Ipa],
        out: &mut Vec<PinnedPage>,
    ) -> Result<(), (usize, PinFault)> {
        self.pin_batches.push(pages.len());
        self.mem.pin_many(dom, pages, out)
    }
    fn unpin_many<I: IntoIterator<Item = PinnedPage>>(&mut self, dom: DomId, pages: I) {
        let mut n = 0;
        for page in pages {
            self.mem.unpin(dom, page);
            n += 1;
        }
        if n > 0 {
            self.unpin_batches.push(n);
        }
    }
}

impl ShadowPages for SimPlatform {
    fn alloc(&mut self) -> Result<ShadowPage, NoShadowPage> {
        self.mem.alloc()
    }
    fn free(&mut self, page: ShadowPage) {
        self.mem.free(page)
    }
    fn bytes(&self, page: &ShadowPage) -> &[u8; PAGE_SIZE] {
        self.mem.bytes(page)
    }
    fn bytes_mut(&mut self, page: &ShadowPage) -> &mut [u8; PAGE_SIZE] {
        self.mem.bytes_mut(page)
    }
}

impl SecureWorld for SimPlatform {
    fn smc(&mut self, regs: Regs) -> Regs {
        self.optee.smc(&mut self.mem, regs)
    }
}
