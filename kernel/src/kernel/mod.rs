//! The kernel object handed to the application ([`Kernel`]): what boot found, and the
//! services the image calls, one file per concern: `boot` (the boot sequence that makes the
//! one `Kernel`), `events` (event channels), `spi` (shared peripheral interrupts), `timers`,
//! `memory` (`reserve=` ranges, foreign pages, grants) and `event_loop` (`poll`, `run_until`,
//! `run`), which dispatches what the other three collected.
#![forbid(unsafe_code)]

mod boot;
mod event_loop;
mod events;
mod memory;
mod spi;
mod timers;

pub use boot::{parse_reserve, start};

use crate::arch::{self, window::Window};
use crate::bootargs::Bootargs;
use crate::dt::DtInfo;
use crate::gicreg::Spi;
use crate::memmap::Region;
use crate::time::{Freq, Instant};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::time::Duration;
use xenif::abi::EvtchnPort;
use xenif::hypercall as hc;

type EventHandler = Box<dyn FnMut(&mut Kernel, EvtchnPort)>;
type TimerHandler = Box<dyn FnOnce(&mut Kernel)>;
type SpiHandler = Box<dyn FnMut(&mut Kernel, Spi)>;

/// Identifies a timer added with [`Kernel::add_timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerId(u64);

/// Boot facts, for reports.
#[derive(Debug, Clone, Copy)]
pub struct BootStats {
    /// Counter value at the first instruction.
    pub t_entry: Instant,
    /// MMU and caches on (image and device tree mapped).
    pub t_mmu: Instant,
    /// Device tree parsed.
    pub t_dt: Instant,
    /// Counter value when the application was called.
    pub t_ready: Instant,
    /// Bytes of the image (text, data, bss, stack).
    pub image_bytes: u64,
    /// The heap ranges (the second may be empty).
    pub heap: [Region; 2],
    /// Translation tables used.
    pub page_tables: usize,
    /// The foreign-mapping window, if the device tree offered an extended region.
    pub window: Option<Region>,
}

/// The running kernel: device-tree facts, event channels, timers, the foreign-mapping window and
/// the event loop. There is exactly one, created by the boot code and passed to the image's
/// entry function (see [`crate::entry!`]).
pub struct Kernel {
    dt: DtInfo<'static>,
    bootargs: Bootargs<'static>,
    freq: Freq,
    stats: BootStats,
    handlers: BTreeMap<EvtchnPort, EventHandler>,
    /// `None` while the handler runs (see `dispatch_spis`).
    spi_handlers: BTreeMap<Spi, Option<SpiHandler>>,
    /// SPIs taken while their handler was running (a nested loop): run after it returns.
    spi_deferred: Vec<Spi>,
    timers: BTreeMap<(Instant, TimerId), TimerHandler>,
    next_timer: u64,
    window: Window,
    grants: arch::grant::GrantTable,
    orphans: BTreeSet<EvtchnPort>,
    taken: Vec<u64>,
    dt_blob_addr: u64,
    /// The boot sequence's proof that the RAM is mapped: `take_reserved` needs it.
    mapped: arch::mmu::Mapped,
}

impl core::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Kernel")
            .field("name", &self.name())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Kernel {
    /// The domain name (`name=` boot argument, default `kernel`).
    pub fn name(&self) -> &'static str {
        self.bootargs.name()
    }

    /// The command line.
    pub fn bootargs(&self) -> Bootargs<'static> {
        self.bootargs
    }

    /// What the device tree said.
    pub fn dt(&self) -> &DtInfo<'static> {
        &self.dt
    }

    /// Boot facts.
    pub fn boot_stats(&self) -> BootStats {
        self.stats
    }

    /// Heap (used, total) bytes.
    pub fn heap_stats(&self) -> (usize, usize) {
        arch::heap::stats()
    }

    /// Counter frequency.
    pub fn freq(&self) -> Freq {
        self.freq
    }

    /// Now.
    pub fn now(&self) -> Instant {
        Instant(arch::timer::now())
    }

    /// `now + d`.
    pub fn after(&self, d: Duration) -> Instant {
        self.now().add(self.freq, d)
    }

    /// Time elapsed since `t`.
    pub fn since(&self, t: Instant) -> Duration {
        self.now().since(self.freq, t)
    }

    /// Stop the domain.
    pub fn shutdown(&self, reason: xenif::abi::ShutdownReason) -> ! {
        hc::sched_shutdown(reason)
    }
}
