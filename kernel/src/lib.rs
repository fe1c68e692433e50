//! tee-stubdom's unikernel base: a Mini-OS-style Xen/arm64 domU in Rust.
//!
//! The boot code (arm64 Image, entered by Xen at EL1 with the device tree in x0) brings up the
//! MMU (identity map: RAM Normal write-back, MMIO Device-nGnRE, a window for foreign pages), the
//! exception vectors, the GICv3, the virtual timer, a heap sized from the domain's RAM, the
//! console and Xen's shared-info page, then calls the image's entry function with a
//! [`Kernel`]. The application registers event-channel handlers and timers and runs the event
//! loop ([`Kernel::run`], [`Kernel::run_until`]), which blocks the vCPU until there is work.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! kernel::entry!(main);
//! fn main(k: &mut kernel::Kernel) {
//!     kernel::println!("hello from {}", k.name());
//!     let port = k.bootargs().get_u64("port").unwrap() as u32;
//!     k.on_event(port, |k, p| { let _ = k.evtchn_send(p); }).unwrap();
//! } // returning enters the event loop forever
//! ```
//!
//! Secondary vCPUs run plain functions ([`smp::spawn`]), with the console, heap and hypercalls
//! but without interrupts.
//!
//! Layout: `arch/` holds all `unsafe` (entry and vectors, MMU, GIC, timer, UART, heap, the
//! shared-info views, the foreign window, secondary-vCPU start-up). Everything else is safe;
//! `kernel/` is the [`Kernel`] object, one file per service (boot, event channels, SPIs,
//! timers, memory, the event loop); the pure parts (`bootargs`, `dt`, `memmap`, `pagetable`,
//! `time`, `foreign`, `esr`, `gicreg`) build and test on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]
// STYLE.md rule 1: `arch` is the kernel's one place for `unsafe` (the allow below); every other
// module also says `#![forbid(unsafe_code)]` itself.
#![deny(unsafe_code)]

#[cfg(target_arch = "aarch64")]
extern crate alloc;

pub mod bootargs;
pub mod dt;
pub mod esr;
pub mod foreign;
pub mod gicreg;
pub mod memmap;
pub mod pagetable;
pub mod report;
pub mod time;

#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)] // STYLE.md rule 1: the CPU, MMU, vectors and MMIO
pub mod arch;
#[cfg(target_arch = "aarch64")]
pub mod console;
#[cfg(target_arch = "aarch64")]
pub mod crash;
#[cfg(target_arch = "aarch64")]
pub mod domain;
#[cfg(target_arch = "aarch64")]
mod irq;
#[cfg(target_arch = "aarch64")]
mod kernel;
#[cfg(target_arch = "aarch64")]
pub mod smp;

#[cfg(target_arch = "aarch64")]
pub use arch::grant::SharedPage;
#[cfg(target_arch = "aarch64")]
pub use arch::window::ForeignPage;
pub use dt::GicIrq;
pub use gicreg::{Spi, SpiError, Trigger};
#[cfg(target_arch = "aarch64")]
#[doc(hidden)]
pub use kernel::start as __start;
#[cfg(target_arch = "aarch64")]
pub use kernel::{parse_reserve, BootStats, Kernel, TimerId};
pub use xenif;

/// Declare the image's entry function: `fn(&mut Kernel)`. It runs after boot; when it returns,
/// the kernel runs the event loop forever.
///
/// It places the kernel's table of entries ([`arch::traps::Entry`]: boot, then this function;
/// fatal exceptions; interrupts) in the image as `__TSD_ENTRY`, where the assembly entry points
/// find it.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        pub static __TSD_ENTRY: $crate::arch::traps::Entry = {
            fn start(s: $crate::arch::traps::Start) -> ! {
                let f: fn(&mut $crate::Kernel) = $main;
                $crate::__start(s, f)
            }
            $crate::__entry(start)
        };
    };
}

/// The table of entries for [`entry!`]: boot to `start` (the image's, which calls
/// [`__start`]), fatal exceptions to [`crash::trap`], interrupts to `irq::dispatch`. Not for
/// direct use.
#[cfg(target_arch = "aarch64")]
#[doc(hidden)]
pub const fn __entry(start: fn(arch::traps::Start) -> !) -> arch::traps::Entry {
    arch::traps::Entry {
        start,
        fatal: crash::trap,
        irq: irq::dispatch,
    }
}
