//! Everything that touches the CPU or MMIO directly. The only place in `kernel` with `unsafe`;
//! each submodule is as small as its safety argument allows.
//!
//! Built for `aarch64` targets only; the pure logic it uses (page tables, device tree, time,
//! bit scans) lives in host-testable modules.
//!
//! Layering (STYLE.md rule 13): `arch` is a leaf. Besides its own submodules and `xenif`, it
//! uses only the kernel's pure modules (`pagetable`, `memmap`, `dt`, `gicreg`, `foreign`; also
//! allowed: `bootargs`, `esr`, `time`, `domain`), which do not use `arch` themselves. It never
//! names `kernel`, `crash`, `console`, `irq` or `smp`; where they need to act, arch reports to
//! its caller or is given what it needs:
//!
//! - `traps`, the Rust ends of the assembly entry points (boot, fatal exceptions, IRQs), calls
//!   the handlers of one table, `traps::Entry`, which the image links in through `entry!` and
//!   the kernel fills (`kernel::start`, `crash::trap`, `irq::dispatch`); the `#[no_mangle]`
//!   entry functions stay inside this module's unsafe fence, and `traps` says why a link-time
//!   table rather than a registration at boot;
//! - a secondary vCPU's start (`smp`) gets its PSCI conduit and its CPU_OFF failure report from
//!   `kernel::smp`;
//! - `rawmem`'s deliberate faults return if they did not fault, and `crash` reports it.

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
