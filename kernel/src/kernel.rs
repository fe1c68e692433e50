//! The kernel object handed to the application, the boot sequence and the event loop.
#![forbid(unsafe_code)]

use crate::arch::grant::SharedPage;
use crate::arch::{self, window::ForeignPage, window::Window};
use crate::bootargs::Bootargs;
use crate::dt::{DtInfo, GicIrq};
use crate::gicreg::{Spi, SpiError, Trigger};
use crate::irq;
use crate::memmap::{self, Region};
use crate::time::{Freq, Instant};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use core::time::Duration;
use xenif::abi::{DomId, EvtchnPort, GrantRef, EVTCHN_2L_NR_CHANNELS};
use xenif::foreign::ForeignMapError;
use xenif::grant::GrantError;
use xenif::hypercall as hc;
use xenif::XenResult;

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
    orphans: alloc::collections::BTreeSet<EvtchnPort>,
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

extern "C" {
    static __image_start: u8;
    static __image_end: u8;
    static __text_end: u8;
    static __exc_stack_guard: u8;
    static __stack_guard: u8;
}

/// The unmapped guard pages below the two stacks.
fn guard_pages() -> [Region; 2] {
    let a = core::ptr::addr_of!(__exc_stack_guard) as usize as u64;
    let b = core::ptr::addr_of!(__stack_guard) as usize as u64;
    [Region::new(a, 4096), Region::new(b, 4096)]
}

/// The image's text (header, boot code, vectors, code).
fn text_region() -> Region {
    let s = core::ptr::addr_of!(__image_start) as usize as u64;
    let e = core::ptr::addr_of!(__text_end) as usize as u64;
    Region::new(s, e - s)
}

fn image_region() -> Region {
    let s = core::ptr::addr_of!(__image_start) as usize as u64;
    let e = core::ptr::addr_of!(__image_end) as usize as u64;
    Region::new(s, e - s)
}

/// Bring the machine up: device tree, MMU, console, heap, GIC, shared info, timer.
/// Any failure is a boot error that names what is missing and stops the domain.
///
/// `token` is the entry's one [`arch::traps::Boot`]: the memory steps need it.
pub(crate) fn boot(blob: &'static [u8], t0: u64, token: arch::traps::Boot) -> Kernel {
    // MMU still off: no atomic read-modify-write (exclusives need cacheable memory) until
    // `init_early`; errors are reported through the lock-free emergency path.
    let dtb = Region::new(blob.as_ptr() as usize as u64, blob.len() as u64);
    if blob.is_empty() {
        crate::crash::boot_error(format_args!("{}", crate::dt::DtError::BadBlob));
    }
    let early =
        match arch::mmu::init_early(token, text_region(), image_region(), &guard_pages(), dtb) {
            Ok(t) => t,
            Err(e) => crate::crash::boot_error(format_args!("early page tables: {e:?}")),
        };
    // MMU and caches on.
    let t_mmu = Instant(arch::timer::now());
    let dt = match crate::dt::parse(blob) {
        Ok(d) => d,
        Err(e) => crate::crash::boot_error(format_args!("{e}")),
    };
    let t_dt = Instant(arch::timer::now());
    crate::smp::init(&dt);
    let mut marks: heapless::Vec<(&'static str, u64), 8> = heapless::Vec::new();
    let window = crate::foreign::choose_window(&dt.xen_regions, &dt.memory);
    let mut mmio: heapless::Vec<Region, 4> = heapless::Vec::new();
    let _ = mmio.push(dt.gic_dist);
    let _ = mmio.push(dt.gic_redist);
    if let Some(u) = dt.uart {
        let _ = mmio.push(u);
    }
    // The grant-table region comes first in `/hypervisor` `reg`; our table's frame goes there.
    let grant_region = dt.xen_regions.first().copied().filter(|r| r.size >= 4096);
    let grant_page = grant_region.map(|r| Region::new(r.base, 4096));
    let (tables, mapped) = match arch::mmu::init_full(
        early,
        &dt.memory,
        text_region(),
        &guard_pages(),
        &mmio,
        window,
        grant_page,
    ) {
        Ok(v) => v,
        Err(e) => crate::crash::boot_error(format_args!("page tables: {e:?}")),
    };
    let _ = marks.push(("tables", arch::timer::now()));
    let bootargs = Bootargs(dt.bootargs);
    crate::domain::set_name(bootargs.name());
    if let Some(u) = dt.uart {
        arch::pl011::init(u.base);
    }
    crate::console::init(bootargs.get("console"));
    crate::console::init_log(bootargs.get("loglevel"));

    let image = image_region();
    let dtb = dtb.align_out(4096);
    let mut used: heapless::Vec<Region, 8> = heapless::Vec::new();
    let _ = used.push(image);
    let _ = used.push(dtb);
    if let Some(r) = dt.initrd {
        let _ = used.push(r.align_out(4096));
    }
    for g in guard_pages() {
        let _ = used.push(g);
    }
    for (k, v) in bootargs.iter() {
        if let (Some(r), "reserve") = (v.and_then(parse_reserve), k) {
            let _ = used.push(r.align_out(4096));
        }
    }
    let free = memmap::free_ranges(&dt.memory, &used);
    let heap = memmap::two_largest(&free, 64 * 1024);
    if heap[0].size == 0 {
        crate::crash::boot_error(format_args!("no RAM left for a heap (ram {:?})", dt.memory));
    }
    arch::heap::init(&mapped, &heap);
    let _ = marks.push(("heap", arch::timer::now()));

    if let Err(e) = arch::gic::init(dt.gic_dist, dt.gic_redist) {
        crate::crash::boot_error(format_args!("GICv3: {e:?}"));
    }
    let _ = marks.push(("gic", arch::timer::now()));
    if let Err(e) = arch::shared::map() {
        crate::crash::boot_error(format_args!("mapping shared_info: {e}"));
    }
    irq::EVTCHN_INTID.store(dt.evtchn_intid, Ordering::Relaxed);
    irq::VTIMER_INTID.store(dt.vtimer_intid, Ordering::Relaxed);
    arch::timer::disarm();
    arch::gic::enable_ppi(dt.evtchn_intid);
    arch::gic::enable_ppi(dt.vtimer_intid);
    arch::regs::serror_enable();
    // Events raised before the shared page was ours (static channels) are in the bitmaps already
    // and their upcall may be gone: collect them once by hand.
    irq::upcall();
    let _ = marks.push(("shared_info", arch::timer::now()));

    let freq = match Freq::new(arch::timer::freq_hz()) {
        Some(f) => f,
        None => crate::crash::boot_error(format_args!("CNTFRQ_EL0 is 0")),
    };
    let stats = BootStats {
        t_entry: Instant(t0),
        t_dt,
        t_mmu,
        t_ready: Instant(arch::timer::now()),
        image_bytes: image.size,
        heap,
        page_tables: tables,
        window,
    };
    log::info!(
        "up: {} console={} ram={:#x}+{:#x} heap={:#x}+{:#x},{:#x}+{:#x} window={:?} evtchn intid {} timer intid {}",
        dt.xen_compatible,
        crate::console::backend(),
        dt.memory[0].base,
        dt.memory[0].size,
        heap[0].base,
        heap[0].size,
        heap[1].base,
        heap[1].size,
        window.map(|w| w.base),
        dt.evtchn_intid,
        dt.vtimer_intid
    );
    log::debug!("device tree: {dt:?}");
    for (what, t) in &marks {
        log::debug!(
            "boot: {what} done at +{} us",
            freq.duration(t.saturating_sub(t0)).as_micros()
        );
    }
    Kernel {
        dt,
        bootargs,
        freq,
        stats,
        handlers: BTreeMap::new(),
        spi_handlers: BTreeMap::new(),
        spi_deferred: Vec::new(),
        timers: BTreeMap::new(),
        next_timer: 0,
        window: Window::new(),
        grants: arch::grant::GrantTable::new(grant_region),
        orphans: alloc::collections::BTreeSet::new(),
        taken: Vec::new(),
        dt_blob_addr: blob.as_ptr() as usize as u64,
        mapped,
    }
}

/// `reserve=ADDR` (one page) or `reserve=ADDR+SIZE`.
pub fn parse_reserve(v: &str) -> Option<Region> {
    match v.split_once('+') {
        Some((a, s)) => Some(Region::new(
            crate::bootargs::parse_u64(a)?,
            crate::bootargs::parse_u64(s)?,
        )),
        None => Some(Region::new(crate::bootargs::parse_u64(v)?, 4096)),
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

    // ---- event channels ----

    /// Register `h` for `port` (replacing any earlier handler) and unmask the port.
    ///
    /// Events that arrived on `port` before any handler was registered are delivered now (through
    /// the loop), so a static channel's early notification is not lost.
    pub fn on_event(
        &mut self,
        port: EvtchnPort,
        h: impl FnMut(&mut Kernel, EvtchnPort) + 'static,
    ) -> XenResult<()> {
        self.handlers.insert(port, Box::new(h));
        if self.orphans.remove(&port) {
            irq::READY.insert(port);
        }
        hc::evtchn_unmask(port)
    }

    /// Remove the handler of `port` (events on it are then dropped by the loop).
    pub fn remove_handler(&mut self, port: EvtchnPort) {
        self.handlers.remove(&port);
    }

    /// Mask `port` (set its bit in the shared `evtchn_mask`): its events stay pending in the
    /// shared bitmap until [`Kernel::unmask_event`].
    pub fn mask_event(&mut self, port: EvtchnPort) {
        if let Some((w, bit)) = xenif::evtchn::word_bit(port) {
            arch::shared::mask()[w].fetch_or(bit, Ordering::SeqCst);
        }
    }

    /// Unmask `port` (`EVTCHNOP_unmask`, which re-raises it if it is pending).
    pub fn unmask_event(&mut self, port: EvtchnPort) -> XenResult<()> {
        hc::evtchn_unmask(port)
    }

    /// `EVTCHNOP_alloc_unbound` for `remote`.
    pub fn evtchn_alloc_unbound(&mut self, remote: DomId) -> XenResult<EvtchnPort> {
        hc::evtchn_alloc_unbound(remote)
    }

    /// `EVTCHNOP_bind_interdomain`.
    pub fn evtchn_bind_interdomain(
        &mut self,
        remote: DomId,
        port: EvtchnPort,
    ) -> XenResult<EvtchnPort> {
        hc::evtchn_bind_interdomain(remote, port)
    }

    /// `EVTCHNOP_bind_virq` on vCPU 0.
    pub fn evtchn_bind_virq(&mut self, virq: u32) -> XenResult<EvtchnPort> {
        hc::evtchn_bind_virq(virq, 0)
    }

    /// The remote end (domain, port) of an interdomain channel, e.g. a static `xen,evtchn-v1`
    /// one whose peer the domain is not told otherwise (`EVTCHNOP_status`).
    pub fn evtchn_remote(&self, port: EvtchnPort) -> XenResult<(DomId, EvtchnPort)> {
        let s = hc::evtchn_status(port)?;
        if s.status != xenif::abi::evtchnstat::INTERDOMAIN {
            return Err(xenif::XenError::EINVAL);
        }
        Ok((s.remote_dom, s.remote_port))
    }

    /// `EVTCHNOP_send`.
    pub fn evtchn_send(&self, port: EvtchnPort) -> XenResult<()> {
        hc::evtchn_send(port)
    }

    /// `EVTCHNOP_close` (and drop the handler).
    pub fn evtchn_close(&mut self, port: EvtchnPort) -> XenResult<()> {
        self.handlers.remove(&port);
        hc::evtchn_close(port)
    }

    // ---- shared peripheral interrupts ----

    /// Register `h` for the shared peripheral interrupt `irq` (replacing any earlier handler)
    /// and enable it in the distributor: `irq.trigger` as `Int_config`, group 1, routed to this
    /// vCPU. `h` runs from the event loop, in thread context, once per time the interrupt was
    /// taken since it last ran (edges that come while it runs are not lost; several taken before
    /// it runs are one call). A level-sensitive interrupt is disabled from the time it is taken
    /// until `h` has returned, so `h` should quiet its source. An interrupt that was pending
    /// before this call (e.g. raised by another domain already) is delivered.
    ///
    /// For example `/firmware/optee`'s notification interrupt:
    /// `if let Some(i) = k.dt().optee_interrupt { k.on_spi(i, |k, spi| ...)?; }`
    pub fn on_spi(
        &mut self,
        irq: GicIrq,
        h: impl FnMut(&mut Kernel, Spi) + 'static,
    ) -> Result<Spi, SpiError> {
        let spi = Spi::new(irq.intid).ok_or(SpiError::NotSpi(irq.intid))?;
        if !spi.implemented(arch::gic::dist_typer()) {
            return Err(SpiError::NotImplemented(irq.intid));
        }
        self.spi_handlers.insert(spi, Some(Box::new(h)));
        let (w, bit) = irq::spi_slot(spi);
        match irq.trigger {
            Trigger::Level => irq::SPI_LEVEL[w].fetch_or(bit, Ordering::Relaxed),
            Trigger::Edge => irq::SPI_LEVEL[w].fetch_and(!bit, Ordering::Relaxed),
        };
        arch::gic::enable_spi(spi, irq.trigger);
        Ok(spi)
    }

    /// Disable `spi` in the distributor and drop its handler; one taken but not yet handled is
    /// dropped too. An SPI without a handler is left alone.
    pub fn disable_spi(&mut self, spi: Spi) {
        if self.spi_handlers.remove(&spi).is_some() {
            arch::gic::disable_spi(spi);
            let (w, bit) = irq::spi_slot(spi);
            irq::SPI_LEVEL[w].fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Shared peripheral interrupts taken since boot (all INTIDs).
    pub fn spi_count(&self) -> u64 {
        irq::SPI_IRQS.load(Ordering::Relaxed)
    }

    fn dispatch_spis(&mut self) -> bool {
        let mut taken = core::mem::take(&mut self.spi_deferred);
        irq::drain_spis(|s| {
            if !taken.contains(&s) {
                taken.push(s);
            }
        });
        let mut ran = false;
        for spi in taken {
            let mut h = match self.spi_handlers.get_mut(&spi) {
                None => {
                    log::debug!("SPI {} without a handler: dropped", spi.intid());
                    continue;
                }
                Some(slot) => match slot.take() {
                    Some(h) => h,
                    None => {
                        // Its handler is running (it runs the loop itself): after it returns.
                        self.spi_deferred.push(spi);
                        continue;
                    }
                },
            };
            h(self, spi);
            ran = true;
            // Put it back unless the handler replaced it (`on_spi`) or disabled the SPI.
            if let Some(slot @ None) = self.spi_handlers.get_mut(&spi) {
                *slot = Some(h);
                let (w, bit) = irq::spi_slot(spi);
                if irq::SPI_LEVEL[w].load(Ordering::Relaxed) & bit != 0 {
                    arch::gic::unmask_spi(spi);
                }
            }
        }
        ran
    }

    // ---- timers ----

    /// Call `f` once at `deadline` (from the event loop).
    pub fn add_timer(
        &mut self,
        deadline: Instant,
        f: impl FnOnce(&mut Kernel) + 'static,
    ) -> TimerId {
        let id = TimerId(self.next_timer);
        self.next_timer += 1;
        self.timers.insert((deadline, id), Box::new(f));
        id
    }

    /// Cancel a timer; false if it already fired or never existed.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        let key = self.timers.keys().find(|(_, i)| *i == id).copied();
        key.and_then(|k| self.timers.remove(&k)).is_some()
    }

    // ---- memory ----

    /// The bytes of a `reserve=ADDR[+SIZE]` range of the command line (RAM kept out of the heap,
    /// e.g. a page shared with another domain). Each range is handed out once.
    pub fn take_reserved(&mut self, addr: u64) -> Option<&'static mut [u8]> {
        let r = self
            .bootargs
            .iter()
            .filter(|(k, _)| *k == "reserve")
            .filter_map(|(_, v)| v.and_then(parse_reserve))
            .find(|r| r.base == addr)?;
        let in_ram = self
            .dt
            .memory
            .iter()
            .any(|m| m.base <= r.base && r.end() <= m.end());
        let clear = [
            image_region(),
            Region::new(self.dt_addr(), self.dt.total_size as u64),
        ]
        .iter()
        .all(|u| u.end() <= r.base || r.end() <= u.base);
        if !in_ram || !clear || r.base % 4096 != 0 || r.size == 0 || self.taken.contains(&r.base) {
            return None;
        }
        self.taken.push(r.base);
        Some(arch::rawmem::reserved_slice(&self.mapped, r))
    }

    fn dt_addr(&self) -> u64 {
        self.dt_blob_addr
    }

    // ---- foreign mapping ----

    /// Map page `gfn` of domain `dom` into the window.
    pub fn map_foreign(&mut self, dom: DomId, gfn: u64) -> Result<ForeignPage, ForeignMapError> {
        self.window.map(dom, gfn)
    }

    /// Map several pages of `dom` in one hypercall, all or nothing (see
    /// [`Window::map_many`](crate::arch::window::Window::map_many)).
    pub fn map_foreign_many(
        &mut self,
        dom: DomId,
        gfns: &[u64],
    ) -> Result<Vec<ForeignPage>, ForeignMapError> {
        self.window.map_many(dom, gfns)
    }

    /// Unmap a foreign page.
    pub fn unmap_foreign(&mut self, page: ForeignPage) -> XenResult<()> {
        self.window.unmap(page)
    }

    /// Let `dom` map `page` (read-only if `readonly`); returns the grant reference to tell it.
    pub fn grant_access(
        &mut self,
        dom: DomId,
        page: &SharedPage,
        readonly: bool,
    ) -> Result<GrantRef, GrantError> {
        self.grants.grant(dom, page, readonly)
    }

    /// Revoke a grant; `GNTST_permission_denied` while the other domain still has it mapped.
    pub fn end_access(&mut self, gref: GrantRef) -> Result<(), GrantError> {
        self.grants.revoke(gref)
    }

    /// Map grant `gref` of `dom` into the window (unmap with [`Kernel::unmap_foreign`]).
    pub fn map_grant(
        &mut self,
        dom: DomId,
        gref: GrantRef,
        readonly: bool,
    ) -> Result<ForeignPage, GrantError> {
        self.window.map_grant(dom, gref, readonly)
    }

    /// Free window slots.
    pub fn window_free(&self) -> usize {
        self.window.free()
    }

    // ---- the event loop ----

    fn dispatch_events(&mut self) -> bool {
        // The ports of this wake-up, a fixed-size snapshot of READY (one bit per 2-level port:
        // 512 bytes on the stack, no allocation). A list of every possible port would be 16 KiB,
        // per nesting level (a handler may run the loop). Dispatched in READY's drain order:
        // ascending ports.
        let mut ready = [0u64; EVTCHN_2L_NR_CHANNELS / 64];
        let mut any = false;
        irq::READY.drain(|p| {
            if let Some(w) = ready.get_mut(p as usize / 64) {
                *w |= 1 << (p % 64);
                any = true;
            }
        });
        let ports = ready.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64u32)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w as u32 * 64 + b)
        });
        for p in ports {
            match self.handlers.remove(&p) {
                Some(mut h) => {
                    h(self, p);
                    // Keep it unless the handler registered a replacement or closed the port.
                    self.handlers.entry(p).or_insert(h);
                }
                None => {
                    log::debug!("event on port {p} before a handler: kept");
                    self.orphans.insert(p);
                }
            }
        }
        any
    }

    fn fire_timers(&mut self) -> bool {
        irq::TIMER_FIRED.store(false, Ordering::Release);
        let now = self.now();
        let mut fired = false;
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let f = entry.remove();
            f(self);
            fired = true;
        }
        fired
    }

    /// One turn of the loop: dispatch what is ready; if nothing was, block (WFI, which Xen turns
    /// into a block of the vCPU) until an interrupt or the earliest of the next timer and
    /// `limit`. IRQs stay masked in thread context; they are opened only after the WFI, so an
    /// interrupt that arrives after the "anything pending?" check still ends the WFI.
    pub fn poll(&mut self, limit: Option<Instant>) {
        if self.dispatch_events() | self.dispatch_spis() | self.fire_timers() {
            return;
        }
        let next = self.timers.keys().next().map(|k| k.0);
        let wake = match (next, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(t) = wake {
            if t <= self.now() {
                return;
            }
            arch::timer::arm(t.0);
        }
        if !irq::work_pending() {
            arch::regs::wfi();
        }
        arch::regs::irq_enable();
        arch::regs::isb();
        arch::regs::irq_disable();
    }

    /// Run the loop until `done` holds (checked before each turn) or `deadline` passes.
    /// Returns whether `done` held.
    pub fn run_until(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&mut Kernel) -> bool,
    ) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.now() >= deadline {
                return false;
            }
            self.poll(Some(deadline));
        }
    }

    /// Run the loop for `d`.
    pub fn sleep(&mut self, d: Duration) {
        let t = self.after(d);
        self.run_until(t, |_| false);
    }

    /// Run the loop forever.
    pub fn run(&mut self) -> ! {
        loop {
            self.poll(None);
        }
    }

    /// Stop the domain.
    pub fn shutdown(&self, reason: xenif::abi::ShutdownReason) -> ! {
        hc::sched_shutdown(reason)
    }
}
