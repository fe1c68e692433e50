//! Everything that touches the CPU or MMIO directly. The only place in `kernel` with `unsafe`;
//! each submodule is as small as its safety argument allows.
//!
//! Built for `aarch64` targets only; the pure logic it uses (page tables, device tree, time,
//! bit scans) lives in host-testable modules.

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
