//! Secondary vCPUs: start a function on another vCPU of this domain.
//!
//! How it works: at boot the kernel records the vCPUs' MPIDR affinities from the device tree's
//! `/cpus` node (Xen writes one `cpu@N` per vCPU; index 0 is the boot vCPU) and the PSCI conduit
//! from `/psci` (`method = "hvc"` under Xen). [`spawn`] claims the target's slot (a per-vCPU
//! state, so a vCPU is started at most once at a time), gives it a 16 KiB exception stack and a
//! 64 KiB thread stack from the heap, each above an unmapped guard page (the first spawn
//! allocates these for every secondary vCPU at once, while no other vCPU runs, because it may
//! have to split a live 2 MiB heap mapping into pages; later spawns reuse them) and calls PSCI
//! CPU_ON. The new vCPU enters `__tsd_secondary_entry` (`arch/smp.rs`) with the MMU
//! off, installs the kernel's exception vectors, turns on the MMU with the boot vCPU's page
//! tables, TCR, MAIR and SCTLR (one identity map for all vCPUs), and runs `f(arg)` with IRQs
//! masked; when `f` returns it calls PSCI CPU_OFF. Hypercalls work from any vCPU (they are just
//! `hvc`), the console serialises whole lines under a spin lock, the heap is one spin-locked
//! allocator, and a fault or panic on a secondary prints the usual `TSD-CRASH` report (naming the
//! vCPU) and crashes the whole domain. Limits: a secondary gets no interrupts (its GIC
//! redistributor is not initialised and its virtual timer and event-channel upcall are not
//! enabled), so it cannot use the event loop, timers or the [`Kernel`](crate::Kernel) object
//! (which stays on the boot vCPU, `!Send`); it may busy-wait, use atomics, the heap, the console
//! and hypercalls. A stack overflow hits the guard page and is reported as a crash (if the
//! page-table pool ran out of tables for the split, the stacks go unguarded: see
//! [`stacks_guarded`]). The stacks of all secondaries (88 KiB each with guards) are taken from
//! the heap at the first spawn and never returned. Event channels stay bound to vCPU 0. At most
//! [`MAX_CPUS`](crate::dt::MAX_CPUS) vCPUs are used.
#![forbid(unsafe_code)]

use crate::arch::smp::{self as arch_smp, StartError, PSCI_ALREADY_ON};
use crate::dt::{DtInfo, PsciConduit};
use spin::Once;

/// Why [`spawn`] (or a query) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmpError {
    /// The index is not a vCPU of this domain's device tree (or the tree has no PSCI node).
    NoSuchCpu,
    /// The vCPU is running (the boot vCPU always is; a spawned one until its function returned
    /// and CPU_OFF completed).
    AlreadyOn,
    /// The PSCI call failed with this status (DEN 0022D table 6).
    Psci(i64),
    /// No heap memory for the vCPU's stacks.
    NoMemory,
}

impl core::fmt::Display for SmpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SmpError::NoSuchCpu => write!(f, "no such vCPU"),
            SmpError::AlreadyOn => write!(f, "vCPU already on"),
            SmpError::Psci(rc) => write!(f, "PSCI error {rc}"),
            SmpError::NoMemory => write!(f, "no memory for the vCPU's stacks"),
        }
    }
}

/// The PSCI conduit from `/psci` (`None` inside: the tree has none). The vCPUs themselves are
/// recorded in [`crate::domain`], where `crash` finds them too.
static CONDUIT: Once<Option<PsciConduit>> = Once::new();

/// Record the vCPUs and the PSCI conduit (boot, once).
pub(crate) fn init(dt: &DtInfo<'_>) {
    crate::domain::set_cpus(dt.cpus.clone());
    CONDUIT.call_once(|| dt.psci);
}

/// The PSCI conduit, if the device tree has one.
pub(crate) fn conduit() -> Option<PsciConduit> {
    CONDUIT.get().copied().flatten()
}

/// Number of vCPUs in the device tree's /cpus node (1 if the node is absent).
pub fn cpu_count() -> usize {
    crate::domain::cpus().len().max(1)
}

/// MPIDR affinity of vCPU `cpu`.
fn mpidr_of(cpu: usize) -> Option<u64> {
    crate::domain::cpus().get(cpu).copied()
}

/// Current vCPU index: the position of MPIDR_EL1's affinity in the device tree's /cpus list
/// (Aff0 if it is not listed).
pub fn current_cpu() -> usize {
    crate::domain::cpu_index(crate::arch::regs::mpidr())
}

/// Starts vCPU `cpu` (1..cpu_count()) with PSCI CPU_ON (conduit from the DT /psci node, Xen:
/// hvc), on its own stack (heap-allocated, 64 KiB thread stack plus a 16 KiB exception stack),
/// with the primary's MMU configuration (same page tables/TCR/MAIR/SCTLR), VBAR set to the
/// kernel's vectors, IRQs masked, running `f(arg)`. When `f` returns, the vCPU turns itself off
/// with PSCI CPU_OFF.
///
/// Returns once CPU_ON succeeded (the vCPU may not have reached `f` yet). A vCPU whose `f` has
/// returned may be spawned again at once: `spawn` waits (up to 1 s) until Xen reports it off.
/// Errors: [`SmpError::NoSuchCpu`] for an index outside the device tree's vCPUs (or without a
/// PSCI node), [`SmpError::AlreadyOn`] for the calling vCPU, the boot vCPU or a vCPU whose `f`
/// still runs.
pub fn spawn(cpu: usize, f: fn(usize), arg: usize) -> Result<(), SmpError> {
    let (Some(mpidr), Some(conduit)) = (mpidr_of(cpu), conduit()) else {
        return Err(SmpError::NoSuchCpu);
    };
    if cpu == 0 || cpu == current_cpu() {
        return Err(SmpError::AlreadyOn);
    }
    match arch_smp::start(conduit, cpu_count(), cpu, mpidr, f, arg, cpu_off_failed) {
        Ok(()) => Ok(()),
        Err(StartError::BadIndex) => Err(SmpError::NoSuchCpu),
        Err(StartError::Busy) | Err(StartError::Psci(PSCI_ALREADY_ON)) => Err(SmpError::AlreadyOn),
        Err(StartError::NoMemory) => Err(SmpError::NoMemory),
        Err(StartError::Psci(rc)) => Err(SmpError::Psci(rc)),
    }
}

/// A spawned vCPU's CPU_OFF returned (PSCI says it does not): a fatal kernel error.
fn cpu_off_failed(rc: i64) -> ! {
    crate::crash::fatal(format_args!("PSCI CPU_OFF returned {rc}"))
}

/// True from a successful [`spawn`] of `cpu` until its function has returned (then the vCPU is
/// turning itself off). Everything the function wrote is visible to a caller that saw `false`
/// after `true`.
pub fn running(cpu: usize) -> bool {
    arch_smp::running(cpu)
}

/// Whether Xen (PSCI AFFINITY_INFO) reports vCPU `cpu` on: the boot vCPU always is, a spawned
/// one until its CPU_OFF has completed.
pub fn powered_on(cpu: usize) -> Result<bool, SmpError> {
    let (Some(mpidr), Some(conduit)) = (mpidr_of(cpu), conduit()) else {
        return Err(SmpError::NoSuchCpu);
    };
    match arch_smp::affinity_info(conduit, mpidr) {
        0 | 2 => Ok(true),
        1 => Ok(false),
        rc => Err(SmpError::Psci(rc)),
    }
}

/// Whether the secondary vCPUs' stacks sit above unmapped guard pages (false before the first
/// [`spawn`], or if the page-table pool had no table left to split the heap's 2 MiB mapping).
pub fn stacks_guarded() -> bool {
    arch_smp::guarded()
}

/// vCPU `cpu`'s stack area once the first [`spawn`] allocated it: a guard page, the 16 KiB
/// exception stack, a guard page, the 64 KiB thread stack (its top 128 bytes hold the start-up
/// block).
pub fn stack_area(cpu: usize) -> Option<core::ops::Range<usize>> {
    arch_smp::area(cpu)
}

/// Counters for reports and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmpStats {
    /// Successful spawns.
    pub spawns: usize,
    /// Spawns that found the vCPU still turning itself off and waited for PSCI to report it off.
    pub waited_for_off: usize,
    /// Starts whose x0 on entry was not the CPU_ON context ID: Xen 4.17 wrote the previous
    /// CPU_OFF's result over it (see `arch/smp.rs`; harmless, the entry does not use x0).
    pub context_id_clobbered: usize,
}

/// The counters so far.
pub fn stats() -> SmpStats {
    let (spawns, waited_for_off, context_id_clobbered) = arch_smp::stats();
    SmpStats {
        spawns,
        waited_for_off,
        context_id_clobbered,
    }
}
