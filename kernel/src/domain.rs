//! Who this domain is: its name from the `name=` boot argument, set once by boot.
//!
//! Below both [`crate::console`] (log lines carry the name) and [`crate::crash`] (so does every
//! `TSD-CRASH` marker), so that neither needs the other for it: crash reports through the
//! console, the console never calls into crash.
#![forbid(unsafe_code)]

use spin::Once;

static NAME: Once<&'static str> = Once::new();

/// Set the domain name used in markers and log lines (once, after the MMU is on).
pub(crate) fn set_name(n: &'static str) {
    NAME.call_once(|| n);
}

/// The domain name from `name=` (`"kernel"` before boot parsed it).
pub fn name() -> &'static str {
    NAME.get().copied().unwrap_or("kernel")
}
