//! Console: `HYPERVISOR_console_io(CONSOLEIO_write)` with the vpl011 as fallback, line buffered,
//! behind [`print!`](crate::print)/[`println!`](crate::println) and the `log` facade.
//!
//! Lines from several vCPUs never mix: a line goes out whole under the line buffer's spin lock.
//!
//! Xen prints a domU's console_io output only with `guest_loglvl=all` and, under FLASK, only if
//! the policy grants `xen writeconsole`; a refused write (negative return) switches to the vpl011
//! for good. `console=pl011` or `console=xen` on the command line forces one backend.
#![forbid(unsafe_code)]

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, Ordering};
use spin::Mutex;

const XEN: u8 = 0;
const PL011: u8 = 1;

static BACKEND: AtomicU8 = AtomicU8::new(XEN);
static LINE: Mutex<heapless::Vec<u8, 256>> = Mutex::new(heapless::Vec::new());

/// Choose the backend from the `console=` boot argument (`xen`, `pl011`; default xen with
/// fallback).
pub(crate) fn init(arg: Option<&str>) {
    let b = match arg {
        Some("pl011") if crate::arch::pl011::present() => PL011,
        _ => XEN,
    };
    BACKEND.store(b, Ordering::Relaxed);
}

/// Which backend is in use: `"xen"` or `"pl011"`.
pub fn backend() -> &'static str {
    if BACKEND.load(Ordering::Relaxed) == PL011 {
        "pl011"
    } else {
        "xen"
    }
}

/// Write raw bytes to the current backend, falling back to the vpl011 if Xen refuses.
pub fn write_raw(bytes: &[u8]) {
    if BACKEND.load(Ordering::Relaxed) == XEN {
        match xenif::hypercall::console_write(bytes) {
            Ok(_) => return,
            Err(_) if crate::arch::pl011::present() => BACKEND.store(PL011, Ordering::Relaxed),
            Err(_) => return,
        }
    }
    crate::arch::pl011::write(bytes);
}

struct Lined<'a>(&'a mut heapless::Vec<u8, 256>);

impl Write for Lined<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.0.push(b).is_err() {
                write_raw(self.0);
                self.0.clear();
                let _ = self.0.push(b);
            }
            if b == b'\n' {
                write_raw(self.0);
                self.0.clear();
            }
        }
        Ok(())
    }
}

/// Format into the line buffer; complete lines go out at once.
pub fn print_fmt(args: fmt::Arguments<'_>) {
    let mut line = LINE.lock();
    let _ = Lined(&mut line).write_fmt(args);
}

/// How many times the crash path tries the line lock before writing without it.
const EMERGENCY_TRIES: u32 = 200_000;

/// Crash path: take the line lock if it comes free soon (another vCPU finishing its line), else
/// bypass it (the holder was interrupted by the fault, on this vCPU) and write unbuffered.
pub fn emergency_fmt(args: fmt::Arguments<'_>) {
    struct Raw;
    impl Write for Raw {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            write_raw(s.as_bytes());
            Ok(())
        }
    }
    let mut held = None;
    for _ in 0..EMERGENCY_TRIES {
        if let Some(g) = LINE.try_lock() {
            held = Some(g);
            break;
        }
        core::hint::spin_loop();
    }
    if let Some(line) = held.as_mut() {
        if !line.is_empty() {
            write_raw(line);
            write_raw(b"\n");
            line.clear();
        }
    }
    let mut buf = heapless::String::<256>::new();
    if buf.write_fmt(args).is_ok() {
        write_raw(buf.as_bytes());
    } else {
        let _ = Raw.write_fmt(args);
    }
    drop(held);
}

/// Print to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print_fmt(format_args!($($arg)*)) };
}

/// Print a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            print_fmt(format_args!(
                "{} {:5} {}\n",
                crate::domain::name(),
                r.level(),
                r.args()
            ));
        }
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Install the logger with the level from `loglevel=` (default info): `log`'s own names
/// (`off`, `error`, `warn`, `info`, `debug`, `trace`, any case); an unknown name means info.
pub(crate) fn init_log(level: Option<&str>) {
    let l = level
        .and_then(|s| s.parse::<log::LevelFilter>().ok())
        .unwrap_or(log::LevelFilter::Info);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(l);
    }
}
