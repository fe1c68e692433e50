//! MMU bring-up and the foreign-mapping window's page-table entries.
//!
//! Translation regime: EL1&0, TTBR0 only (EPD1 set), 4 KiB granule, 39-bit VA, identity map.
//! RAM is Normal write-back inner-shareable; MMIO from the device tree is Device-nGnRE; the window
//! has level-3 tables whose entries are valid only while a foreign page is mapped there.
//!
//! Two phases: `init_early` maps just the image and the device tree with the MMU off and turns
//! the MMU on; `init_full` adds RAM, MMIO and the window once the device tree has been parsed
//! (with caches on: parsing uncached is slow on real hardware).
//!
//! Cache maintenance for real hardware: the early tables are written with the MMU (and so the
//! D-cache) off, i.e. straight to memory; they are cleaned and invalidated to the PoC before the
//! walker, which looks up the cache (IRGN/ORGN write-back), may see them. Later changes are made
//! with the MMU on (coherent with the walker: TCR SH0 inner shareable) and followed by
//! DSB/TLBI/DSB/ISB (Arm ARM D8.14, "break-before-make" where a valid entry changes).

use super::regs::{dsb_sy, isb, write_sysreg};
use super::traps::Boot;
use crate::memmap::Region;
use crate::pagetable::{self, page_desc, Attr, Builder, PageSlot, PtError, Table, PAGE};
use aarch64_cpu::registers::{ID_AA64MMFR0_EL1, MAIR_EL1, SCTLR_EL1, TCR_EL1};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};
use tock_registers::interfaces::Readable;

/// Tables in the static pool (root, level 2 for devices and RAM, level 3 for the sub-2 MiB MMIO
/// pages, RAM tails and the window).
const POOL_TABLES: usize = 16;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[Table; POOL_TABLES]>);

// SAFETY: the pool is written only by `init_early`/`init_full` (once each, in the boot sequence:
// single CPU, IRQs masked; their tokens enforce it) and afterwards only through `window_set`,
// which performs single aligned 64-bit stores to entries that nothing else writes (its
// condition 1: each slot has one owner), and `unmap_page`, whose contract excludes any
// concurrent user of the pool.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([Table::EMPTY; POOL_TABLES]));

/// Address of the window's level-3 table, and the window base (0 until `init`).
static WINDOW_L3: AtomicUsize = AtomicUsize::new(0);
static WINDOW_BASE: AtomicUsize = AtomicUsize::new(0);

/// Pages in the foreign-mapping window (one level-3 table).
pub const WINDOW_PAGES: usize = 512;

extern "C" {
    fn __tsd_dcache_inval(start: usize, end: usize);
}

/// Tables in use after `init_early` (0 before).
static USED: AtomicUsize = AtomicUsize::new(0);

/// Proof that [`init_early`] ran (image and device tree mapped, MMU on). Only `init_early` makes
/// one, from the one [`Boot`] token; [`init_full`] consumes it.
pub(crate) struct Early(());

/// Proof that [`init_full`] ran: the domain's RAM is mapped (read/write; the image's text stays
/// read-only and executable, the stack guard pages unmapped), and so are its MMIO and the
/// window. Only `init_full` makes one, once (it consumes the one [`Early`]); functions that must
/// run after it, from the boot sequence or the one `Kernel` (which keeps the token), take a
/// reference (`heap::init`, `rawmem::reserved_slice`).
pub(crate) struct Mapped(());

fn pool_addr() -> usize {
    POOL.0.get() as usize
}

/// Phase 1, MMU off: map the image (`code` read-only and executable, the rest of `image` minus
/// `holes` read/write and execute-never) and the device tree blob `dtb`, then turn the MMU and
/// caches on. Only this small table build runs uncached; the device tree is parsed with caches
/// on.
///
/// Takes the [`Boot`] token, so it runs once, first, on the boot vCPU with IRQs masked; the
/// regions are the boot code's (the linker's symbols and x0).
pub(crate) fn init_early(
    _boot: Boot,
    code: Region,
    image: Region,
    holes: &[Region],
    dtb: Region,
) -> Result<Early, PtError> {
    // SAFETY: the `Boot` token (made once, consumed here) makes this the first and only use of
    // the pool (see `Sync` above); the MMU is off, so no walker reads the tables while they are
    // being built.
    let pool = unsafe { &mut *POOL.0.get() };
    let mut b = Builder::new(pool, pool_addr() as u64)?;
    let code = code.align_out(PAGE);
    let mut used: heapless::Vec<Region, 6> =
        holes.iter().map(|h| h.align_out(PAGE)).take(4).collect();
    let _ = used.push(code);
    for r in crate::memmap::free_ranges(&[image.align_out(PAGE)], &used) {
        b.map(r.base, r.size, Attr::Normal)?;
    }
    b.map(code.base, code.size, Attr::Code)?;
    let dtb = dtb.align_out(PAGE);
    // The blob may share a page with nothing of ours; a page of the image is already mapped.
    for r in crate::memmap::free_ranges(&[dtb], &[image.align_out(PAGE)]) {
        b.map(r.base, r.size, Attr::Normal)?;
    }
    let root = b.root();
    USED.store(b.tables_used(), Ordering::Relaxed);

    // SAFETY: the range is the pool itself; cleaning and invalidating our own memory is always
    // safe and makes the walker see what was written with the caches off.
    unsafe {
        __tsd_dcache_inval(
            pool_addr(),
            pool_addr() + core::mem::size_of::<[Table; POOL_TABLES]>(),
        )
    };

    // IPS: the CPU's physical address size (PARange values 0-5 are IPS's 32 to 48 bits).
    let parange = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange);
    let tcr = TCR_EL1::T0SZ.val(64 - u64::from(pagetable::VA_BITS))
        + TCR_EL1::TG0::KiB_4
        + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
        + TCR_EL1::SH0::Inner
        + TCR_EL1::EPD1::DisableTTBR1Walks
        + TCR_EL1::IPS.val(parange.min(5));
    // SAFETY: EL1 registers (write_sysreg! conditions 1 and 2): MAIR holds the attribute indices
    // `pagetable` uses, TCR the regime of the tables just built (39-bit VA, 4 KiB granule,
    // write-back walks), TTBR0 their root (page aligned: BADDR, with ASID and CnP 0); none takes
    // effect before SCTLR.M is set below.
    unsafe {
        write_sysreg!(MAIR_EL1, pagetable::mair());
        write_sysreg!(TCR_EL1, tcr);
        write_sysreg!(TTBR0_EL1 = raw root);
    }
    isb();
    // SAFETY: TLB invalidation of our own regime; no memory effects visible to Rust.
    unsafe {
        core::arch::asm!(
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            options(nostack, preserves_flags)
        )
    };
    // M, C, SA, I on; alignment checks, WXN and big-endian off; the other bits as they were.
    // The identity map keeps every address the code uses valid across the switch.
    let mut sctlr = SCTLR_EL1.extract();
    sctlr.modify(
        SCTLR_EL1::M::Enable
            + SCTLR_EL1::C::Cacheable
            + SCTLR_EL1::SA::Enable
            + SCTLR_EL1::I::Cacheable
            + SCTLR_EL1::A::Disable
            + SCTLR_EL1::WXN::Disable
            + SCTLR_EL1::EE::LittleEndian,
    );
    // SAFETY: an EL1 register (condition 1). Condition 2: the identity map above covers the
    // image (code executable; data, bss and stacks read/write; only the stack guard pages left
    // out) and the device tree, everything the code touches until `init_full`, at the same
    // addresses, and the tables were cleaned to the PoC, so the walker sees them.
    unsafe { write_sysreg!(SCTLR_EL1, sctlr) };
    isb();
    // SAFETY: instruction-cache invalidation has no memory effects visible to Rust.
    unsafe {
        core::arch::asm!(
            "ic iallu",
            "dsb nsh",
            "isb",
            options(nostack, preserves_flags)
        )
    };
    Ok(Early(()))
}

/// Phase 2, MMU on: add the rest of `ram` (minus `code` and `holes`, read/write and
/// execute-never), `mmio` as device memory, the page for our grant table (`grant_page`, Normal)
/// and the window's level-3 tables (`window`: 2 MiB
/// aligned, `WINDOW_PAGES` pages, or none) to the live tables. Only invalid entries become valid
/// (the early mappings are re-stated with the same attributes), so no break-before-make is
/// needed; the stores are made visible to the walker before returning. Returns the tables used
/// and the [`Mapped`] token.
///
/// Takes the [`Early`] token, so it runs once, after `init_early`, still in the boot sequence.
pub(crate) fn init_full(
    _early: Early,
    ram: &[Region],
    code: Region,
    holes: &[Region],
    mmio: &[Region],
    window: Option<Region>,
    grant_page: Option<Region>,
) -> Result<(usize, Mapped), PtError> {
    // SAFETY: the `Early` token (made once by `init_early`, consumed here) makes this the one
    // call after `init_early`, before anything else touches the pool (the boot sequence: single
    // CPU, IRQs masked); the walker may read the tables concurrently, but each store
    // below is a single aligned 64-bit write that turns an invalid entry into a valid one (or
    // rewrites an entry with the value it already has), which the architecture permits.
    let pool = unsafe { &mut *POOL.0.get() };
    let mut b = Builder::resume(pool, pool_addr() as u64, USED.load(Ordering::Relaxed))?;
    let pages: heapless::Vec<Region, { crate::dt::MAX_BANKS }> = ram
        .iter()
        .map(|r| r.align_in(PAGE))
        .take(crate::dt::MAX_BANKS)
        .collect();
    let mut used: heapless::Vec<Region, 6> =
        holes.iter().map(|h| h.align_out(PAGE)).take(4).collect();
    let _ = used.push(code.align_out(PAGE));
    for r in crate::memmap::free_ranges(&pages, &used) {
        b.map(r.base, r.size, Attr::Normal)?;
    }
    for r in mmio {
        let r = r.align_out(PAGE);
        b.map(r.base, r.size, Attr::Device)?;
    }
    if let Some(g) = grant_page {
        // Our grant-table frame (Xen maps it there on first use; untouched until then).
        b.map(g.base, g.size, Attr::Normal)?;
    }
    if let Some(w) = window {
        b.reserve(w.base, w.size)?;
        let (t, _) = b.l3_slot(w.base).ok_or(PtError::NoTables)?;
        WINDOW_L3.store(pool_addr() + t * PAGE as usize, Ordering::Relaxed);
        WINDOW_BASE.store(w.base as usize, Ordering::Relaxed);
    }
    let used = b.tables_used();
    USED.store(used, Ordering::Relaxed);
    // SAFETY: barriers and a TLB invalidation of our own regime (belt and braces: only invalid
    // entries changed); no memory effects visible to Rust.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    };
    Ok((used, Mapped(())))
}

/// Unmap the page at `va` (a stack guard page), first splitting the 2 MiB block that maps it
/// into level-3 pages if needed (one table from the pool).
///
/// The split is a break-before-make on a live block entry (Arm ARM D8.14.1): the block entry
/// is invalidated, its TLB entries are invalidated on all vCPUs, then the new table is linked.
/// In between, any access to that 2 MiB faults. The break, the invalidation and the make are one
/// `asm` block, so this code itself touches nothing in between.
///
/// # Safety
///
/// 1. No other vCPU of this domain runs (it could access the block during the break).
/// 2. Nothing else modifies the table pool meanwhile (no concurrent `window_set` or
///    `unmap_page`), and IRQs are masked (an interrupt handler could touch the block).
/// 3. Nothing uses the page at `va` afterwards (accessing it faults), and it is never handed
///    out again (the mapping is not restored).
pub(crate) unsafe fn unmap_page(va: usize) -> Result<(), PtError> {
    // SAFETY: conditions 1 and 2: this is the only code touching the pool now. The pool's
    // tables are live; the builder's stores below either fill a table that nothing links yet
    // or happen in the asm sequences, which follow the architecture's rules for live entries.
    let pool = unsafe { &mut *POOL.0.get() };
    let mut b = Builder::resume(pool, pool_addr() as u64, USED.load(Ordering::Relaxed))?;
    let slot = b.page_slot(va as u64)?;
    USED.store(b.tables_used(), Ordering::Relaxed);
    let (table, entry) = match slot {
        PageSlot::L3 { table, entry } => (table, entry),
        PageSlot::Split {
            l2_table,
            l2_entry,
            desc,
            table,
            entry,
        } => {
            let l2 = (pool_addr() + l2_table * PAGE as usize + l2_entry * 8) as *mut u64;
            // SAFETY: `l2` is the level-2 entry of the block in our pool (indices from the
            // builder). Break (store 0), make the invalidation visible to every vCPU's walker
            // and TLB (condition 1: none runs, but Xen may move us between pCPUs), make (store
            // the new table, whose contents were written above and are ordered before by the
            // first `dsb ishst`). No Rust code runs between break and make (condition 2: no
            // interrupt either).
            unsafe {
                core::arch::asm!(
                    "dsb ishst",
                    "str xzr, [{e}]",
                    "dsb ishst",
                    "tlbi vaae1is, {p}",
                    "dsb ish",
                    "str {d}, [{e}]",
                    "dsb ishst",
                    "isb",
                    e = in(reg) l2,
                    d = in(reg) desc,
                    p = in(reg) (va >> 12) as u64,
                    options(nostack, preserves_flags)
                )
            };
            (table, entry)
        }
    };
    let e = (pool_addr() + table * PAGE as usize + entry * 8) as *mut u64;
    // SAFETY: `e` is the page's level-3 entry in our pool; condition 3 says nothing uses the
    // page, so it can go invalid at once; the TLB invalidation removes any cached translation.
    unsafe {
        core::arch::asm!(
            "str xzr, [{e}]",
            "dsb ishst",
            "tlbi vaae1is, {p}",
            "dsb ish",
            "isb",
            e = in(reg) e,
            p = in(reg) (va >> 12) as u64,
            options(nostack, preserves_flags)
        )
    };
    Ok(())
}

/// The window base address (0 if there is no window).
pub fn window_base() -> usize {
    WINDOW_BASE.load(Ordering::Relaxed)
}

/// Make window page `index` map `ipa` (normally the page's own window address) as Normal
/// memory, or unmap it (`None`) with TLB maintenance. An index beyond the window is ignored.
///
/// # Safety
///
/// 1. Slot `index` belongs to the caller: the foreign window allocated it and has not released
///    it, so no other mapping uses its address and no other `window_set` of it runs meanwhile.
/// 2. With `Some(ipa)`, the frame at `ipa` holds a page mapped for the caller (another domain's
///    page or a grant, mapped into our physmap), not RAM of this domain, so the new mapping
///    aliases no Rust object.
/// 3. With `None`, nothing accesses the slot's address afterwards, until it is mapped again.
pub(crate) unsafe fn window_set(index: usize, ipa: Option<u64>) {
    let l3 = WINDOW_L3.load(Ordering::Relaxed);
    if l3 == 0 || index >= WINDOW_PAGES {
        return;
    }
    let entry = (l3 + index * 8) as *mut u64;
    match ipa {
        Some(a) => {
            // SAFETY: `entry` is inside the window's level-3 table in POOL (index < 512), which
            // only this function writes after boot, for slots their owner holds (condition 1);
            // the entry was invalid, so no break-before-make is needed, only ordering before the
            // first access; what it maps aliases no Rust object (condition 2).
            unsafe { entry.write_volatile(page_desc(a, Attr::Normal)) };
            // SAFETY: barriers only.
            unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
        }
        None => {
            let va = window_base() + index * PAGE as usize;
            // SAFETY: as above; nothing uses `va` any more (condition 3), and after the store its
            // TLB entry is invalidated so no access can use the old translation.
            unsafe {
                entry.write_volatile(0);
                core::arch::asm!(
                    "dsb ishst",
                    "tlbi vaae1is, {p}",
                    "dsb ish",
                    "isb",
                    p = in(reg) (va >> 12) as u64,
                    options(nostack, preserves_flags)
                );
            }
        }
    }
    dsb_sy();
}
