//! Everything that touches the CPU or MMIO directly. The only place in `kernel` with `unsafe`;
//! each submodule is as small as its safety argument allows.
//!
//! Built for `aarch64` targets only; the pure logic it uses (page tables, device tree, time,
//! bit scans) lives in host-testable modules.
//!
//! Layering (STYLE.md rule 13): `arch` uses only those pure modules (`pagetable`, `memmap`,
//! `dt`, `gicreg`) and `xenif`; it reports to its caller and does not call up into `smp`,
//! `crash`, `console` or `kernel` (a secondary vCPU's start gets its PSCI conduit and its
//! CPU_OFF failure report from `kernel::smp`; the deliberate faults of `rawmem` return if
//! they did not fault and `crash` reports it). `traps`, the Rust ends of the assembly entry
//! points, calls fatal exceptions' and interrupts' handlers through a table the image links in
//! (`traps::Entry`). One edge is left: `traps` hands the boot to `kernel::boot` and calls the
//! image's entry function (the `#[no_mangle]` entry functions must stay inside this module's
//! unsafe fence).

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
