//! System-register access.

// The two macros stay private to the crate. `read_sysreg!` holds its own `unsafe` block (a read
// has no memory effects); `write_sysreg!` has none: like an `unsafe fn`, it is invoked inside the
// caller's `unsafe` block, whose `// SAFETY:` says why that write is sound.

/// Read a system register by name (`mrs`).
macro_rules! read_sysreg {
    ($reg:literal) => {{
        let v: u64;
        // SAFETY: reading a system register has no memory effects; callers read only registers
        // that are accessible at EL1.
        unsafe { core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }};
}

/// Write a system register by name (`msr`). Not `nomem`: several registers (SCTLR, TTBR0, VBAR,
/// DAIF) change how memory is accessed, so the compiler must not move memory accesses across.
///
/// # Safety
///
/// The expansion is an `asm!` without an `unsafe` block of its own: invoke the macro inside an
/// `unsafe` block (keep `$v` a plain value, it is evaluated there too) whose `// SAFETY:`
/// comment shows that
/// 1. `$reg` is accessible at EL1, and
/// 2. the new value keeps every memory access the program makes afterwards valid: a register
///    that changes translation, caching or exception entry (SCTLR, TCR, MAIR, TTBR0, VBAR) must
///    describe tables and vectors that cover all code and data in use, at the same addresses.
macro_rules! write_sysreg {
    ($reg:literal, $v:expr) => {{
        let v: u64 = $v;
        core::arch::asm!(concat!("msr ", $reg, ", {}"), in(reg) v, options(nostack, preserves_flags))
    }};
}

pub(crate) use read_sysreg;
pub(crate) use write_sysreg;

/// Instruction synchronisation barrier.
#[inline(always)]
pub fn isb() {
    // SAFETY: a barrier has no side effects beyond ordering.
    unsafe { core::arch::asm!("isb", options(nostack, preserves_flags)) };
}

/// Data synchronisation barrier, full system.
#[inline(always)]
pub fn dsb_sy() {
    // SAFETY: a barrier has no side effects beyond ordering.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Mask IRQs (PSTATE.I = 1).
#[inline(always)]
pub fn irq_disable() {
    // SAFETY: masking interrupts is always memory safe; the compiler barrier (no `nomem`) keeps
    // accesses that must run masked after it.
    unsafe { core::arch::asm!("msr daifset, #2", options(nostack, preserves_flags)) };
}

/// Unmask IRQs (PSTATE.I = 0): pending IRQs are taken right after.
#[inline(always)]
pub fn irq_enable() {
    // SAFETY: the IRQ vector saves and restores all state it touches; no `nomem` so memory
    // accesses are not moved across.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// Whether IRQs are masked (PSTATE.I).
#[inline(always)]
pub fn irqs_masked() -> bool {
    read_sysreg!("daif") & (1 << 7) != 0
}

/// Unmask SError (PSTATE.A = 0) so that asynchronous aborts are reported.
#[inline(always)]
pub fn serror_enable() {
    // SAFETY: as `irq_enable`; the SError vector reports and stops the domain.
    unsafe { core::arch::asm!("msr daifclr, #4", options(nostack, preserves_flags)) };
}

/// Wait for interrupt. Under Xen this traps and blocks the vCPU until a virtual interrupt or an
/// event is pending, even with PSTATE.I set (`vcpu_block_unless_event_pending`).
#[inline(always)]
pub fn wfi() {
    // SAFETY: `wfi` only waits.
    unsafe { core::arch::asm!("wfi", options(nostack, preserves_flags)) };
}

/// MPIDR_EL1 affinity (Aff3:Aff2:Aff1:Aff0 packed as in GICR_TYPER).
pub fn mpidr_affinity() -> u32 {
    let m = read_sysreg!("mpidr_el1");
    (((m >> 32) & 0xff) << 24 | (m & 0xff_ffff)) as u32
}

/// MPIDR_EL1's affinity fields as a device tree's `/cpus/cpu@*` `reg` holds them
/// (Aff3 << 32 | Aff2 << 16 | Aff1 << 8 | Aff0).
pub fn mpidr() -> u64 {
    read_sysreg!("mpidr_el1") & 0xff_00ff_ffff
}
