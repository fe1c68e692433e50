//! Crash reports: fatal exceptions and panics print a `TSD-CRASH <name> ...` line and a register
//! dump, then stop the domain with `SCHEDOP_shutdown(SHUTDOWN_crash)`.
#![forbid(unsafe_code)]

use crate::arch::boot::TrapFrame;
use crate::console::emergency_fmt;
use crate::domain::name;
use crate::esr;
use core::sync::atomic::{AtomicBool, Ordering};
use xenif::abi::ShutdownReason;

static CRASHING: AtomicBool = AtomicBool::new(false);

/// ` cpu=N` for a secondary vCPU, nothing on the boot vCPU (the marker stays as it was).
fn cpu_tag() -> heapless::String<12> {
    let mut s = heapless::String::new();
    let c = crate::domain::cpu_index(crate::arch::regs::mpidr());
    if c != 0 {
        let _ = core::fmt::Write::write_fmt(&mut s, format_args!(" cpu={c}"));
    }
    s
}

/// Report a fatal exception and stop the domain. A fault while reporting (e.g. a broken console
/// path) stops the domain at once instead of recursing.
pub fn trap(kind: u64, f: &TrapFrame) -> ! {
    if CRASHING.swap(true, Ordering::Relaxed) {
        xenif::hypercall::sched_shutdown(ShutdownReason::Crash)
    }
    let ec = esr::ec(f.esr);
    emergency_fmt(format_args!(
        "TSD-CRASH {}{} exception={} esr={:#x} far={:#x} elr={:#x} ec={:#x} ({}{}{})\n",
        name(),
        cpu_tag(),
        esr::vector_name(kind),
        f.esr,
        f.far,
        f.elr,
        ec,
        esr::ec_name(ec),
        if matches!(ec, 0x20 | 0x21 | 0x24 | 0x25) {
            ", "
        } else {
            ""
        },
        if matches!(ec, 0x20 | 0x21 | 0x24 | 0x25) {
            esr::fault_status(f.esr)
        } else {
            ""
        },
    ));
    for row in 0..8 {
        let mut line = heapless::String::<160>::new();
        for i in row * 4..(row * 4 + 4).min(31) {
            let _ =
                core::fmt::Write::write_fmt(&mut line, format_args!(" x{:<2}={:016x}", i, f.x[i]));
        }
        if row == 7 {
            let _ = core::fmt::Write::write_fmt(&mut line, format_args!(" sp ={:016x}", f.sp));
        }
        emergency_fmt(format_args!("  {}\n", line.trim_start()));
    }
    emergency_fmt(format_args!("  spsr={:#x}\n", f.spsr));
    xenif::hypercall::sched_shutdown(ShutdownReason::Crash)
}

/// Report a fatal error found during boot (no register state) and stop the domain.
pub fn boot_error(what: core::fmt::Arguments<'_>) -> ! {
    emergency_fmt(format_args!("TSD-CRASH {} boot error: {}\n", name(), what));
    xenif::hypercall::sched_shutdown(ShutdownReason::Crash)
}

/// Report a fatal kernel error after boot (no register state) and stop the domain.
pub fn fatal(what: core::fmt::Arguments<'_>) -> ! {
    emergency_fmt(format_args!(
        "TSD-CRASH {}{} fatal: {}\n",
        name(),
        cpu_tag(),
        what
    ));
    xenif::hypercall::sched_shutdown(ShutdownReason::Crash)
}

/// Fault on purpose (self-test aid): a load from page 0, which nothing maps, so the data abort
/// is reported as a `TSD-CRASH` trap and the domain stops. If the load did not fault, that is a
/// fatal error of its own.
pub fn data_abort() -> ! {
    crate::arch::rawmem::data_abort();
    // Only reachable if something mapped page 0.
    boot_error(format_args!("deliberate data abort did not fault"))
}

/// Fault on purpose (self-test aid): a store to the image's text, which the MMU maps read-only,
/// so the permission fault proves W^X and stops the domain. If the store did not fault, W^X is
/// not in effect, and that is reported instead.
pub fn write_to_text() -> ! {
    crate::arch::rawmem::write_to_text();
    boot_error(format_args!(
        "store to text did not fault: W^X is not in effect"
    ))
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::arch::regs::irq_disable();
    match info.location() {
        Some(l) => emergency_fmt(format_args!(
            "TSD-CRASH {}{} panic at {}:{}:{}: {}\n",
            name(),
            cpu_tag(),
            l.file(),
            l.line(),
            l.column(),
            info.message()
        )),
        None => emergency_fmt(format_args!(
            "TSD-CRASH {}{} panic: {}\n",
            name(),
            cpu_tag(),
            info.message()
        )),
    }
    xenif::hypercall::sched_shutdown(ShutdownReason::Crash)
}
