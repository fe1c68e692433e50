//! System-register access.
//!
//! Registers have types (STYLE.md rule 14): each register's fields come from `aarch64-cpu` (its
//! `tock-registers` field definitions, e.g. `TCR_EL1::SH0::Inner`), or, for the GIC CPU
//! interface registers that crate lacks, from [`super::icc`]. Reads of registers `aarch64-cpu`
//! has go through its accessors (`MPIDR_EL1.extract()`, `DAIF.is_set(DAIF::I)`). Writes do not:
//! its `Writeable::set` is a safe function and its `asm!` is `nomem`, so writing SCTLR or TTBR0
//! through it would need no `unsafe` block (undoing the crate's unsafe fence) and would let the
//! compiler move memory accesses across a change of translation. Every write goes through
//! `write_sysreg!` instead, which takes the register's name and a value typed by that
//! register's fields, so a TCR value cannot be written to SCTLR.

// The two macros stay private to the crate. `read_sysreg!` holds its own `unsafe` block (a read
// has no memory effects); `write_sysreg!` has none: like an `unsafe fn`, it is invoked inside the
// caller's `unsafe` block, whose `// SAFETY:` says why that write is sound.

use aarch64_cpu::registers::{DAIF, MPIDR_EL1};
use tock_registers::fields::FieldValue;
use tock_registers::interfaces::Readable;
use tock_registers::{LocalRegisterCopy, RegisterLongName};

/// Read a system register by name (`mrs`), as a [`LocalRegisterCopy`] typed by the register's
/// field module, which must be in scope under the register's name (only the registers of
/// [`super::icc`] need this; the others are read with `aarch64-cpu`'s accessors).
macro_rules! read_sysreg {
    ($reg:ident) => {{
        let v: u64;
        // SAFETY: reading a system register has no memory effects; callers read only registers
        // that are accessible at EL1.
        unsafe { core::arch::asm!(concat!("mrs {}, ", stringify!($reg)), out(reg) v, options(nomem, nostack, preserves_flags)) };
        tock_registers::LocalRegisterCopy::<u64, $reg::Register>::new(v)
    }};
}

/// Write a system register by name (`msr`): `write_sysreg!(TCR_EL1, value)`, where `value` is
/// a `FieldValue` or `LocalRegisterCopy` of that register's fields (the field module must be in
/// scope under the register's name), or `write_sysreg!(TTBR0_EL1 = raw value)` for a register
/// written as one number (an address, a counter value). Not `nomem`: several registers (SCTLR,
/// TTBR0, VBAR, DAIF) change how memory is accessed, so the compiler must not move memory
/// accesses across.
///
/// # Safety
///
/// The expansion is an `asm!` without an `unsafe` block of its own: invoke the macro inside an
/// `unsafe` block (keep the value a plain expression, it is evaluated there too) whose
/// `// SAFETY:` comment shows that
/// 1. the register is accessible at EL1, and
/// 2. the new value keeps every memory access the program makes afterwards valid: a register
///    that changes translation, caching or exception entry (SCTLR, TCR, MAIR, TTBR0, VBAR) must
///    describe tables and vectors that cover all code and data in use, at the same addresses.
macro_rules! write_sysreg {
    ($reg:ident, $v:expr) => {{
        let v: u64 = $crate::arch::regs::SysregValue::<$reg::Register>::bits($v);
        core::arch::asm!(concat!("msr ", stringify!($reg), ", {}"), in(reg) v, options(nostack, preserves_flags))
    }};
    ($reg:ident = raw $v:expr) => {{
        let v: u64 = $v;
        core::arch::asm!(concat!("msr ", stringify!($reg), ", {}"), in(reg) v, options(nostack, preserves_flags))
    }};
}

/// A value for [`write_sysreg!`], typed by the register `R` it is for.
pub(crate) trait SysregValue<R: RegisterLongName> {
    /// The bits to write.
    fn bits(self) -> u64;
}

/// Fields to write; the bits outside them are written as 0.
impl<R: RegisterLongName> SysregValue<R> for FieldValue<u64, R> {
    fn bits(self) -> u64 {
        self.value
    }
}

/// A whole register value (e.g. one read, then modified).
impl<R: RegisterLongName> SysregValue<R> for LocalRegisterCopy<u64, R> {
    fn bits(self) -> u64 {
        self.get()
    }
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
    DAIF.is_set(DAIF::I)
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
    let m = MPIDR_EL1.extract();
    (m.read(MPIDR_EL1::Aff3) << 24
        | m.read(MPIDR_EL1::Aff2) << 16
        | m.read(MPIDR_EL1::Aff1) << 8
        | m.read(MPIDR_EL1::Aff0)) as u32
}

/// MPIDR_EL1's affinity fields as a device tree's `/cpus/cpu@*` `reg` holds them
/// (Aff3 << 32 | Aff2 << 16 | Aff1 << 8 | Aff0).
pub fn mpidr() -> u64 {
    let m = MPIDR_EL1.extract();
    m.read(MPIDR_EL1::Aff3) << 32
        | m.read(MPIDR_EL1::Aff2) << 16
        | m.read(MPIDR_EL1::Aff1) << 8
        | m.read(MPIDR_EL1::Aff0)
}
