//! Shared by the fuzz targets: a byte reader that never fails (missing
//! bytes read as zero), a one-guest simulated world, and the invariants
//! every target checks after each step and at teardown.
#![allow(dead_code)] // each target uses a subset

use mediator::abi::{msg, smc, split, Param};
use mediator::config::{Config, Limits};
use mediator::sim::{World, SIM_TA};
use mediator::{DomId, Progress, Regs};

/// The guest under test and a bystander guest (its pages must never reach
/// OP-TEE on the first guest's behalf).
pub const G: DomId = DomId::new(1).unwrap();
pub const OTHER: DomId = DomId::new(2).unwrap();
/// Guest RAM: `PAGES` pages from `RAM`; the first `PATTERNED` carry a
/// per-page byte pattern, the simulated driver allocates from `DRIVER`.
pub const RAM: u64 = 0x4000_0000;
pub const PAGES: u64 = 128;
pub const PATTERNED: u64 = 64;
pub const DRIVER: u64 = RAM + PATTERNED * 4096;
/// A device (MMIO-like) page right after RAM: readable by nobody, never
/// pinnable.
pub const DEVICE: u64 = RAM + PAGES * 4096;
/// Page of the call arguments of the setup (session open, registration).
pub const SETUP_ARG: u64 = RAM + 4096;

pub struct Bytes<'a> {
    d: &'a [u8],
    i: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(d: &'a [u8]) -> Self {
        Bytes { d, i: 0 }
    }
    pub fn done(&self) -> bool {
        self.i >= self.d.len()
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.d.get(self.i).copied().unwrap_or(0);
        self.i = self.i.saturating_add(1);
        b
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    pub fn pick(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n.max(1)
    }
    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        let r = self.d.get(self.i..).unwrap_or(&[]);
        self.i = self.d.len();
        r
    }
}

/// Limits large enough for two-page page lists (> 511 entries).
pub fn config(max_pages_per_buffer: usize) -> Config {
    Config {
        default_limits: Limits {
            max_pages_per_buffer,
            max_buffers: 16,
            max_pinned_pages: 4096,
            ..Limits::default()
        },
        labels: Vec::new(),
        ..Config::default()
    }
}

/// Word `j` of guest page `i` in the pattern of the first `PATTERNED`
/// pages (every 8-byte word of them is unique).
pub fn pattern(i: u64, j: usize) -> u64 {
    (i << 32) | j as u64 | 0x5A00_0000_0000_0000
}

/// A world with guests `G` and `OTHER` (RAM patterned page by page), a
/// device page in `G`, capabilities exchanged like Linux does, and a
/// session to `SIM_TA` opened by `G`; returns the world and the session.
pub fn world(max_pages_per_buffer: usize) -> (World, u32) {
    let mut w = World::new(4, config(max_pages_per_buffer), &[]);
    for g in [G, OTHER] {
        w.p.mem.add_guest(g, RAM, PAGES);
        if g == G {
            let mut page = [0u8; 4096];
            for i in 0..PATTERNED {
                for (j, b) in page.chunks_exact_mut(8).enumerate() {
                    b.copy_from_slice(&pattern(i, j).to_le_bytes());
                }
                w.p.mem.poke(g, RAM + i * 4096, &page);
            }
        }
        w.add(g, "default");
        if let Some(d) = w.drivers.get_mut(&g) {
            d.next_page = DRIVER;
        }
        w.exchange(g);
    }
    w.p.mem.map_device(G, DEVICE);
    let o = w.open(G, SETUP_ARG, SIM_TA);
    assert_eq!((o.x0, o.ret), (0, 0), "setup: open session");
    (w, o.session)
}

/// Invariants after every step: OP-TEE saw no protocol violation, no page
/// was unpinned twice, the platform's pin count is the mediator's.
pub fn check(w: &World) {
    assert!(
        w.p.optee.violations.is_empty(),
        "OP-TEE saw a violation: {:?}",
        w.p.optee.violations
    );
    assert_eq!(w.p.mem.bad_unpins, 0, "unpin of an unpinned page");
    for g in [G, OTHER] {
        if let Some(st) = w.m.stats(g) {
            assert_eq!(
                w.p.mem.pins(g) as u64,
                st.pinned_pages,
                "platform and mediator disagree on pins"
            );
            // RPC argument pages are pinned too but are not shared-buffer
            // pages.
            assert!(w.m.shm_pages(g) as u64 <= st.pinned_pages);
        }
    }
}

/// Drives the last answer `r` of `dom` to completion like a well-behaved
/// driver; returns the final answer.
pub fn finish(w: &mut World, dom: DomId, mut r: Regs) -> Regs {
    let mut n = 0;
    while mediator::abi::ret::is_rpc(r[0]) && n < 100 {
        n += 1;
        let a = w.answer_rpc(dom, &r);
        r = w.call(dom, a);
        check(w);
    }
    r
}

/// Tears both guests down in small steps and checks that everything is
/// released: no pins, every shadow page back, VM_DESTROYED once each.
pub fn teardown(mut w: World) {
    for g in [G, OTHER] {
        let mut n = 0;
        while w.m.guest_destroying(&mut w.p, g, 3) == Progress::Pending {
            n += 1;
            assert!(n < 1_000_000, "teardown does not terminate");
        }
        assert_eq!(w.p.mem.pins(g), 0, "pins left after teardown");
        let client = mediator::ClientId::of(g).raw();
        let c = w.p.optee.vm_created.get(&client).copied().unwrap_or(0);
        let d = w.p.optee.vm_destroyed.get(&client).copied().unwrap_or(0);
        assert_eq!((c, d), (1, 1), "VM_CREATED/VM_DESTROYED mismatch");
    }
    assert_eq!(w.p.mem.total_pins(), 0);
    assert_eq!(w.p.mem.shadow_outstanding(), w.m.cached_shadow_pages());
    assert!(
        w.p.optee.violations.is_empty(),
        "{:?}",
        w.p.optee.violations
    );
}

/// CALL_WITH_ARG registers for the argument at `ipa`.
pub fn call_with_arg(ipa: u64) -> Regs {
    let (hi, lo) = split(ipa);
    [u64::from(smc::CALL_WITH_ARG), hi, lo, 0, 0, 0, 0, 0]
}

/// A value parameter.
pub fn value(attr: u64, a: u64, b: u64, c: u64) -> Param {
    Param { attr, a, b, c }
}

/// INVOKE of `func` on `session` with `params`, written at `ipa`.
pub fn invoke(w: &mut World, ipa: u64, session: u32, func: u32, params: &[Param]) {
    w.write_arg(G, ipa, msg::CMD_INVOKE_COMMAND, func, session, params);
}

/// `FUZZ_DEBUG=1 target/.../<target> <input>` prints what a run did.
pub fn debug() -> bool {
    std::env::var_os("FUZZ_DEBUG").is_some()
}
