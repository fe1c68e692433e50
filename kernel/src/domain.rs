//! Who this domain is: its name from the `name=` boot argument, and its vCPUs from the device
//! tree's `/cpus`, each set once by boot.
//!
//! Below [`crate::console`] (log lines carry the name), [`crate::crash`] (so does every
//! `TSD-CRASH` marker, with the vCPU's index on a secondary) and [`crate::smp`] (which starts
//! the vCPUs), so that none of them needs another for it: crash reports through the console,
//! and neither the console nor crash calls into smp, which reports its fatal errors through
//! crash. A leaf: it uses only the pure [`crate::dt`]'s limit.
#![forbid(unsafe_code)]

use crate::dt::MAX_CPUS;
use spin::Once;

static NAME: Once<&'static str> = Once::new();
static CPUS: Once<heapless::Vec<u64, MAX_CPUS>> = Once::new();

/// Set the domain name used in markers and log lines (once, after the MMU is on).
pub(crate) fn set_name(n: &'static str) {
    NAME.call_once(|| n);
}

/// The domain name from `name=` (`"kernel"` before boot parsed it).
pub fn name() -> &'static str {
    NAME.get().copied().unwrap_or("kernel")
}

/// Record the vCPUs' MPIDR affinities from `/cpus`, in the tree's order (once, after the MMU is
/// on).
pub(crate) fn set_cpus(cpus: heapless::Vec<u64, MAX_CPUS>) {
    CPUS.call_once(|| cpus);
}

/// The vCPUs' MPIDR affinities, index 0 the boot vCPU (empty before boot recorded them).
pub(crate) fn cpus() -> &'static [u64] {
    CPUS.get().map_or(&[], |v| v.as_slice())
}

/// The index in [`cpus`] of the vCPU whose MPIDR affinity is `mpidr` (its Aff0 if it is not
/// listed).
pub(crate) fn cpu_index(mpidr: u64) -> usize {
    cpus()
        .iter()
        .position(|&c| c == mpidr)
        .unwrap_or((mpidr & 0xff) as usize)
}
