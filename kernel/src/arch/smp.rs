//! Secondary vCPUs: PSCI calls, the secondary entry code, the per-vCPU stacks and the state that
//! says who owns them. The safe API on top is [`crate::smp`].
//!
//! PSCI (Arm DEN 0022D, §5.1.4 CPU_ON, §5.1.3 CPU_OFF, §5.1.5 AFFINITY_INFO) with the device
//! tree's conduit; Xen answers the HVC conduit itself (xen/arch/arm/vpsci.c): CPU_ON resets the
//! target vCPU to EL1h with all exceptions masked, the MMU and caches off, PC = the entry point
//! and x0 = the context ID, and refuses a vCPU that is not down (ALREADY_ON).
//!
//! Start-up: the starter writes a `BootBlock` (the caller's MAIR/TCR/TTBR0/SCTLR, the two stack
//! pointers, the function and its argument, the PSCI conduit and the caller's report for a
//! CPU_OFF that returns) at the top of the target's stack area, publishes its
//! address in `__tsd_secondary_blocks[Aff0]` and cleans both to the point of coherency (the
//! target reads them with the MMU off, i.e. uncached), and calls CPU_ON. `__tsd_secondary_entry`
//! masks exceptions, enables FP/SIMD, installs the kernel's vectors, finds its block through
//! MPIDR_EL1.Aff0, turns on the MMU with the same tables (identity map: the code keeps running at
//! the same address), sets SP_EL1 (exception stack) and SP_EL0 (thread stack) and calls the Rust
//! side, which runs the function and then turns the vCPU off with CPU_OFF.
//!
//! Why not the context ID (x0): Xen 4.17 reports a vCPU off (AFFINITY_INFO) as soon as CPU_OFF
//! has set `_VPF_down`, before its handler writes the PSCI result into the vCPU's x0
//! (`vpsci.c`, `PSCI_SET_RESULT` after `do_psci_0_2_cpu_off`). A CPU_ON in that window resets the
//! vCPU's registers, and the late result then overwrites x0 with 0; the vCPU may also still be
//! running, so it resumes at the entry with its old system registers (MMU on). Seen here as a
//! restarted vCPU that hung silently. The entry therefore ignores x0 and works with the MMU on or
//! off.
//!
//! Stacks: the first start allocates the stack areas of all secondary vCPUs at once (one heap
//! block, never freed, reused by every later start) and unmaps a guard page below each exception
//! stack and each thread stack, so an overflow is a clean data abort (reported with `cpu=N`)
//! instead of a silent heap corruption. The heap is mapped with 2 MiB blocks; the block holding a
//! guard page is split into pages (`mmu::unmap_page`: break-before-make on a live entry), which
//! is safe only while no other vCPU runs: true at the first start, before any CPU_ON. Should
//! the page-table pool run out, the stacks go without guards ([`guarded`] says so).
//!
//! Ownership: `STATE` says whether a vCPU may be using its stack area; only the CAS
//! `OFF -> STARTING` hands it to a starter, and a `STOPPING` vCPU is given back (`-> OFF`) only
//! once PSCI AFFINITY_INFO reports it off, i.e. after it can no longer execute.

use super::regs::serror_enable;
use crate::dt::{PsciConduit, MAX_CPUS};
use aarch64_cpu::registers::{MAIR_EL1, SCTLR_EL1, TCR_EL1, TTBR0_EL1};
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use tock_registers::interfaces::Readable;

/// PSCI function IDs (DEN 0022D table 5), SMC64 forms where they take addresses.
const CPU_OFF: u32 = 0x8400_0002;
const CPU_ON_64: u32 = 0xC400_0003;
const AFFINITY_INFO_64: u32 = 0xC400_0004;

/// PSCI return codes used here (DEN 0022D table 6).
pub const PSCI_SUCCESS: i64 = 0;
/// The target vCPU is already on.
pub const PSCI_ALREADY_ON: i64 = -4;

/// Exception stack (SP_EL1) of a secondary vCPU.
pub const EXC_STACK_BYTES: usize = 16 * 1024;
/// Thread stack (SP_EL0) of a secondary vCPU, including the boot block at its top.
pub const STACK_BYTES: usize = 64 * 1024;
/// Bytes at the top of the thread stack holding the `BootBlock`.
const BLOCK_BYTES: usize = 128;
const GUARD_BYTES: usize = 4096;
/// One vCPU's area: [guard][exception stack][guard][thread stack], page aligned.
const AREA_BYTES: usize = GUARD_BYTES + EXC_STACK_BYTES + GUARD_BYTES + STACK_BYTES;

/// A vCPU's state as the kernel sees it (index = vCPU).
const OFF: u8 = 0;
const STARTING: u8 = 1;
const RUNNING: u8 = 2;
const STOPPING: u8 = 3;

static STATE: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(OFF) }; MAX_CPUS];
/// The boot block of each vCPU by MPIDR_EL1.Aff0 (Xen: vCPU n < 16 has Aff0 = n, Aff1 = 0), read
/// by `__tsd_secondary_entry`. Written only by the owner of the vCPU's `STARTING` slot.
#[no_mangle]
static __tsd_secondary_blocks: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];
/// Base of the stack areas of vCPUs 1..: vCPU `i`'s is at `AREAS + (i - 1) * AREA_BYTES`
/// (0: not allocated yet; no vCPU has been started).
static AREAS: AtomicUsize = AtomicUsize::new(0);
/// How many vCPUs [`AREAS`] holds areas for (vCPU 0 included, which has none).
static AREAS_CPUS: AtomicUsize = AtomicUsize::new(0);
/// Serialises the allocation of [`AREAS`].
static AREAS_LOCK: spin::Mutex<()> = spin::Mutex::new(());
/// Whether every area got its two guard pages.
static GUARDED: AtomicBool = AtomicBool::new(false);

/// What `__tsd_secondary_entry` reads (offsets fixed by the assembly below).
#[repr(C)]
struct BootBlock {
    mair: u64,
    tcr: u64,
    ttbr0: u64,
    sctlr: u64,
    sp: u64,
    exc_sp: u64,
    f: fn(usize),
    arg: usize,
    cpu: usize,
    /// How this vCPU calls PSCI (CPU_OFF when `f` returns): the starter's conduit.
    conduit: PsciConduit,
    /// Called if CPU_OFF returns (with its status), which PSCI says it never does: the
    /// caller of [`start`] decides how that is reported (the arch layer calls nothing above it).
    off_failed: fn(i64) -> !,
}

const _: () = assert!(core::mem::size_of::<BootBlock>() <= BLOCK_BYTES);

core::arch::global_asm!(
    r#"
.section .text.boot, "ax"
.global __tsd_secondary_entry
.balign 8
__tsd_secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0                     /* the context ID, only for the statistics */
    mov     x1, #(3 << 20)              /* CPACR_EL1.FPEN */
    msr     cpacr_el1, x1
    adrp    x1, __tsd_vectors
    add     x1, x1, :lo12:__tsd_vectors
    msr     vbar_el1, x1
    /* x0 = __tsd_secondary_blocks[MPIDR_EL1.Aff0]: the BootBlock; both cleaned to the PoC by
     * the starter, so they read right with the MMU off (and with it on, see above). */
    mrs     x1, mpidr_el1
    and     x1, x1, #0xf
    adrp    x2, __tsd_secondary_blocks
    add     x2, x2, :lo12:__tsd_secondary_blocks
    ldr     x0, [x2, x1, lsl #3]
2:  cbz     x0, 2b                      /* no block: cannot happen; spin rather than crash */
    ldp     x1, x2, [x0, #0]            /* MAIR, TCR */
    ldp     x3, x4, [x0, #16]           /* TTBR0, SCTLR */
    ldp     x5, x6, [x0, #32]           /* thread SP, exception SP */
    msr     mair_el1, x1
    msr     tcr_el1, x2
    msr     ttbr0_el1, x3
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     sctlr_el1, x4
    isb
    ic      iallu
    dsb     nsh
    isb
    mov     sp, x6                      /* EL1h after CPU_ON: this is SP_EL1 */
    msr     spsel, #0
    mov     sp, x5                      /* SP_EL0: thread stack */
    mov     x29, #0
    mov     x30, #0
    mov     x1, x19
    bl      __tsd_secondary_start
1:  wfi
    b       1b
"#
);

extern "C" {
    fn __tsd_secondary_entry();
    fn __tsd_dcache_inval(start: usize, end: usize);
}

/// One PSCI call through `conduit`; returns x0 as a signed PSCI status (or value).
fn psci(conduit: PsciConduit, fid: u32, a1: u64, a2: u64, a3: u64) -> i64 {
    let mut x0 = u64::from(fid);
    match conduit {
        // SAFETY: a PSCI call (SMCCC, DEN 0028 §2.6) may change x0-x17 (all declared clobbered).
        // It is not `nomem`: CPU_ON makes another vCPU read the boot block, which must be
        // written first.
        PsciConduit::Hvc => unsafe {
            core::arch::asm!(
                "hvc #0",
                inlateout("x0") x0, inlateout("x1") a1 => _, inlateout("x2") a2 => _,
                inlateout("x3") a3 => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
                out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
                out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                options(nostack),
            )
        },
        // SAFETY: as for the HVC conduit.
        PsciConduit::Smc => unsafe {
            core::arch::asm!(
                "smc #0",
                inlateout("x0") x0, inlateout("x1") a1 => _, inlateout("x2") a2 => _,
                inlateout("x3") a3 => _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
                out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
                out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
                options(nostack),
            )
        },
    }
    x0 as i64
}

/// PSCI AFFINITY_INFO for one vCPU: 0 on, 1 off, 2 on pending, negative a PSCI error.
pub fn affinity_info(conduit: PsciConduit, mpidr: u64) -> i64 {
    psci(conduit, AFFINITY_INFO_64, mpidr, 0, 0)
}

/// Why [`start`] did not start a vCPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// `cpu` is not below [`MAX_CPUS`].
    BadIndex,
    /// The kernel started it and it has not stopped (or did not stop within the wait).
    Busy,
    /// No memory for its stacks.
    NoMemory,
    /// CPU_ON failed with this PSCI status.
    Psci(i64),
}

/// Ticks of the virtual counter to wait for a stopping vCPU to be off (1 s).
fn stop_wait_ticks() -> u64 {
    super::timer::freq_hz()
}

/// Claim vCPU `cpu`'s slot (`OFF -> STARTING`), waiting for a vCPU that is on its way out
/// (`STOPPING`: its function returned, CPU_OFF is in flight) until PSCI reports it off.
fn claim(conduit: PsciConduit, cpu: usize, mpidr: u64) -> Result<(), StartError> {
    let state = STATE.get(cpu).ok_or(StartError::BadIndex)?;
    let t0 = super::timer::now();
    loop {
        match state.compare_exchange(OFF, STARTING, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Ok(()),
            Err(STOPPING) => {
                if affinity_info(conduit, mpidr) == 1 {
                    STOP_WAITS.fetch_add(1, Ordering::Relaxed);
                    // Off in Xen's eyes: it executes nothing more, its stacks are free. A
                    // concurrent starter may win the race for the slot; the loop sees that.
                    let _ =
                        state.compare_exchange(STOPPING, OFF, Ordering::AcqRel, Ordering::Relaxed);
                } else if super::timer::now().wrapping_sub(t0) > stop_wait_ticks() {
                    return Err(StartError::Busy);
                } else {
                    core::hint::spin_loop();
                }
            }
            Err(_) => return Err(StartError::Busy),
        }
    }
}

/// The stack areas of vCPUs `1..cpus`, allocated (with guard pages) on the first call.
fn areas(cpus: usize) -> Option<usize> {
    let a = AREAS.load(Ordering::Acquire);
    if a != 0 {
        return Some(a);
    }
    let _g = AREAS_LOCK.lock();
    let a = AREAS.load(Ordering::Acquire);
    if a != 0 {
        return Some(a);
    }
    let n = cpus.clamp(2, MAX_CPUS) - 1;
    let layout = core::alloc::Layout::from_size_align(n * AREA_BYTES, 4096).ok()?;
    // SAFETY: `layout` has a non-zero size. The block is never freed (the vCPUs keep it).
    let p = unsafe { alloc::alloc::alloc(layout) } as usize;
    if p == 0 {
        return None;
    }
    let was_masked = super::regs::irqs_masked();
    super::regs::irq_disable();
    let mut guarded = true;
    for i in 0..n {
        let area = p + i * AREA_BYTES;
        for guard in [area, area + GUARD_BYTES + EXC_STACK_BYTES] {
            // SAFETY: (1) no other vCPU runs: AREAS is 0, so no start has happened yet (every
            // start goes through here first), and the lock keeps out concurrent callers, which
            // could only be this vCPU anyway. (2) Only this function and `window_set` change the
            // pool after boot; `window_set` runs in the application's thread context on this
            // vCPU, which is here now; IRQs are masked. (3) The guard pages are ours (just
            // allocated, never freed) and no code uses them.
            guarded &= unsafe { super::mmu::unmap_page(guard) }.is_ok();
        }
    }
    if !was_masked {
        super::regs::irq_enable();
    }
    GUARDED.store(guarded, Ordering::Relaxed);
    AREAS_CPUS.store(n + 1, Ordering::Relaxed);
    AREAS.store(p, Ordering::Release);
    Some(p)
}

/// vCPU `cpu`'s stack area (guard, exception stack, guard, thread stack), once allocated.
pub fn area(cpu: usize) -> Option<core::ops::Range<usize>> {
    let a = AREAS.load(Ordering::Acquire);
    if a == 0 || cpu == 0 || cpu >= AREAS_CPUS.load(Ordering::Relaxed) {
        return None;
    }
    let base = a + (cpu - 1) * AREA_BYTES;
    Some(base..base + AREA_BYTES)
}

/// Whether the secondary vCPUs' stacks have guard pages (false until the first start, or if the
/// page-table pool ran out).
pub fn guarded() -> bool {
    GUARDED.load(Ordering::Relaxed)
}

/// Start vCPU `cpu` (MPIDR affinity `mpidr`) running `f(arg)` on its own stacks with this
/// vCPU's MMU configuration; it turns itself off when `f` returns.
///
/// `cpus` is the number of vCPUs of the domain (`1 <= cpu < cpus`): the first start allocates
/// the stacks of all of them. The new vCPU calls CPU_OFF through `conduit` too, and
/// `off_failed` with its status should CPU_OFF return.
#[allow(clippy::too_many_arguments)] // one per fact of the start; a struct would only rename them
pub fn start(
    conduit: PsciConduit,
    cpus: usize,
    cpu: usize,
    mpidr: u64,
    f: fn(usize),
    arg: usize,
    off_failed: fn(i64) -> !,
) -> Result<(), StartError> {
    // The entry finds its block by Aff0 (< 16, Aff1..3 zero: Xen's vCPUs 0-15).
    let aff0 = mpidr as usize;
    if cpu == 0 || cpu >= cpus || aff0 >= MAX_CPUS {
        return Err(StartError::BadIndex);
    }
    claim(conduit, cpu, mpidr)?;
    let Some(areas) = areas(cpus) else {
        STATE[cpu].store(OFF, Ordering::Release);
        return Err(StartError::NoMemory);
    };
    if cpu >= AREAS_CPUS.load(Ordering::Relaxed) {
        STATE[cpu].store(OFF, Ordering::Release);
        return Err(StartError::BadIndex);
    }
    let base = areas + (cpu - 1) * AREA_BYTES;
    let exc_top = base + GUARD_BYTES + EXC_STACK_BYTES;
    let block_addr = base + AREA_BYTES - BLOCK_BYTES;
    let block = BootBlock {
        mair: MAIR_EL1.get(),
        tcr: TCR_EL1.get(),
        ttbr0: TTBR0_EL1.get(),
        sctlr: SCTLR_EL1.get(),
        sp: block_addr as u64,
        exc_sp: exc_top as u64,
        f,
        arg,
        cpu,
        conduit,
        off_failed,
    };
    // SAFETY: `block_addr` lies in the area allocated for `cpu` (16-byte aligned, BLOCK_BYTES
    // below its end); we own the `STARTING` slot, so no vCPU runs on this area.
    unsafe { (block_addr as *mut BootBlock).write(block) };
    // SAFETY: cleaning and invalidating memory we own; the target reads the block uncached.
    unsafe { __tsd_dcache_inval(block_addr, block_addr + BLOCK_BYTES) };
    let slot = &__tsd_secondary_blocks[aff0];
    slot.store(block_addr, Ordering::Release);
    let slot_addr = slot as *const AtomicUsize as usize;
    // SAFETY: as above, for the table entry (a word of our bss).
    unsafe { __tsd_dcache_inval(slot_addr, slot_addr + 8) };
    let rc = psci(
        conduit,
        CPU_ON_64,
        mpidr,
        __tsd_secondary_entry as *const () as usize as u64,
        block_addr as u64,
    );
    if rc != PSCI_SUCCESS {
        // Nothing started on the area: give the slot back.
        STATE[cpu].store(OFF, Ordering::Release);
        return Err(StartError::Psci(rc));
    }
    STARTS.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Successful starts.
static STARTS: AtomicUsize = AtomicUsize::new(0);
/// Starts that found the vCPU still on its way out (`STOPPING`) and waited for PSCI to say off.
static STOP_WAITS: AtomicUsize = AtomicUsize::new(0);
/// Entries whose x0 was not the context ID passed to CPU_ON (the Xen race described above).
static X0_CLOBBERED: AtomicUsize = AtomicUsize::new(0);

/// (successful starts, starts that waited for a stopping vCPU, entries with a clobbered x0).
pub fn stats() -> (usize, usize, usize) {
    (
        STARTS.load(Ordering::Relaxed),
        STOP_WAITS.load(Ordering::Relaxed),
        X0_CLOBBERED.load(Ordering::Relaxed),
    )
}

/// True from a successful [`start`] until the vCPU's function has returned.
pub fn running(cpu: usize) -> bool {
    STATE
        .get(cpu)
        .is_some_and(|s| matches!(s.load(Ordering::Acquire), STARTING | RUNNING))
}

/// The Rust end of `__tsd_secondary_entry`: MMU on, stacks set, IRQs masked.
#[no_mangle]
extern "C" fn __tsd_secondary_start(block: &BootBlock, x0: usize) -> ! {
    serror_enable();
    if x0 != block as *const BootBlock as usize {
        X0_CLOBBERED.fetch_add(1, Ordering::Relaxed);
    }
    let (f, arg, cpu) = (block.f, block.arg, block.cpu);
    let (conduit, off_failed) = (block.conduit, block.off_failed);
    STATE[cpu].store(RUNNING, Ordering::Release);
    f(arg);
    // Publishes everything `f` wrote to whoever sees STOPPING.
    STATE[cpu].store(STOPPING, Ordering::Release);
    let rc = psci(conduit, CPU_OFF, 0, 0, 0);
    off_failed(rc)
}
