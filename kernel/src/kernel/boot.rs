//! The boot sequence: device tree, MMU, console, heap, GIC, shared info, timer; then the one
//! [`Kernel`].
#![forbid(unsafe_code)]

use super::{BootStats, Kernel};
use crate::arch::{self, window::Window};
use crate::bootargs::Bootargs;
use crate::irq;
use crate::memmap::{self, Region};
use crate::time::{Freq, Instant};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

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

/// The whole image (text, data, bss, stacks).
pub(super) fn image_region() -> Region {
    let s = core::ptr::addr_of!(__image_start) as usize as u64;
    let e = core::ptr::addr_of!(__image_end) as usize as u64;
    Region::new(s, e - s)
}

/// The boot entry's handler ([`arch::traps::Entry`]'s `start`, through the image's `entry!`):
/// boot, the image's entry function `main`, then the event loop forever.
pub fn start(s: arch::traps::Start, main: fn(&mut Kernel)) -> ! {
    let (blob, t0, token) = s.into_parts();
    let mut k = boot(blob, t0, token);
    main(&mut k);
    k.run()
}

/// Bring the machine up: device tree, MMU, console, heap, GIC, shared info, timer.
/// Any failure is a boot error that names what is missing and stops the domain.
///
/// `token` is the entry's one [`arch::traps::Boot`]: the memory steps need it.
fn boot(blob: &'static [u8], t0: u64, token: arch::traps::Boot) -> Kernel {
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
        orphans: BTreeSet::new(),
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
