//! Everything that touches the CPU or MMIO directly. The only place in `kernel` with `unsafe`;
//! each submodule is as small as its safety argument allows.
//!
//! Built for `aarch64` targets only; the pure logic it uses (page tables, device tree, time,
//! bit scans) lives in host-testable modules.
//!
//! Layering (STYLE.md rule 13): `arch` uses only those pure modules (`pagetable`, `memmap`,
//! `dt`, `gicreg`) and `xenif`; it reports to its caller and does not call up into `smp`,
//! `crash`, `console` or `kernel` (a secondary vCPU's start gets its PSCI conduit and its
//! CPU_OFF failure report from `kernel::smp`). Two edges are left, both named here: `traps`,
//! the Rust ends of the assembly entry points, hands the boot to `kernel::boot`, fatal
//! exceptions to `crash::trap` and interrupts to `irq::dispatch` (the `#[no_mangle]` entry
//! functions must stay inside this module's unsafe fence); and `rawmem`'s deliberate faults
//! (self-test aids) report through `crash::boot_error` in the case that cannot happen, a fault
//! that did not fault.

pub mod boot;
pub mod gic;
pub mod grant;
#[cfg(target_os = "none")]
pub mod heap;
pub mod icc;
pub mod mmio;
pub mod mmu;
pub mod pl011;
pub mod rawmem;
pub mod regs;
pub mod shared;
pub mod smp;
pub mod timer;
pub mod traps;
pub mod window;
