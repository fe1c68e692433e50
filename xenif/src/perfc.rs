//! Xen's software performance counters (`XEN_SYSCTL_perfc_op`, `xen/common/perfc.c`) read as
//! hypervisor entries: how often Xen was entered, and why, between two queries.
//!
//! A query returns a descriptor per counter (its name and how many values it owns) and one flat
//! array of values: a plain counter (`PERFCOUNTER`) owns one value per online CPU, an array
//! counter (`PERFCOUNTER_ARRAY`, e.g. `hypercalls`) one per element, already summed over the
//! CPUs. [`Entries::from_query`] sums each counter over its values and groups the ones that
//! count entries into Xen on Arm (Xen 4.17, `xen/arch/arm/include/asm/perfc_defn.h` and
//! `xen/include/xen/perfc_defn.h`):
//! - every exception a guest raises into Xen: the `trap: *` counters of `do_trap_guest_sync`
//!   (`xen/arch/arm/traps.c`): HVC (SMCCC calls with `hvc #0` and hypercalls with `hvc #0xEA1`),
//!   SMC, and the rest (WFI/WFE, system registers, data and instruction aborts: MMIO);
//! - every interrupt Xen takes: `#interrupts` (`do_IRQ`: PPIs and SPIs, among them Xen's and the
//!   guests' timers) and `#IPIs` (`do_sgi`: SGIs between pCPUs, e.g. the event-check SGI that
//!   follows an event or a wake-up for a vCPU on another pCPU).
//!
//! Two more are shown because they say what the entries did, not counted as entries:
//! `hypercalls` (the `hvc #0xEA1` subset of the HVC traps) and `vcpu: notify other vcpu`
//! (`vcpu_kick`: an event or virtual interrupt delivered to a vCPU running on another pCPU;
//! Xen 4.17 counts no vGIC injection or event-channel send as such).
#![forbid(unsafe_code)]

use crate::abi::{PerfcDesc, PerfcVal};

/// Counter names (`perfc_defn.h`, the second argument of `PERFCOUNTER`).
pub mod name {
    /// `trap_hvc64`.
    pub const HVC64: &str = "trap: 64-bit hvc";
    /// `trap_hvc32`.
    pub const HVC32: &str = "trap: 32-bit hvc";
    /// `trap_smc64`.
    pub const SMC64: &str = "trap: 64-bit smc";
    /// `trap_smc32`.
    pub const SMC32: &str = "trap: 32-bit smc";
    /// Prefix of every trap counter.
    pub const TRAP_PREFIX: &str = "trap: ";
    /// `irqs` (`do_IRQ`).
    pub const IRQS: &str = "#interrupts";
    /// `ipis` (`do_sgi`).
    pub const IPIS: &str = "#IPIs";
    /// `hypercalls` (array by hypercall number).
    pub const HYPERCALLS: &str = "hypercalls";
    /// `vcpu_kick`.
    pub const KICKS: &str = "vcpu: notify other vcpu";
}

/// Hypercalls of one `hypercall::perfc_query` (the NULL-handle count, then the copy).
pub const QUERY_HYPERCALLS: u64 = 2;

/// Hypervisor entries (and two explanatory counts), summed over all CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entries {
    /// HVC traps: SMCCC calls (`hvc #0`) and hypercalls (`hvc #0xEA1`).
    pub hvc: u64,
    /// SMC traps.
    pub smc: u64,
    /// Every other trap (WFI/WFE, system registers, aborts, ...).
    pub other_traps: u64,
    /// Interrupts Xen took (PPIs and SPIs).
    pub irqs: u64,
    /// SGIs Xen took.
    pub ipis: u64,
    /// Hypercalls (a subset of `hvc`).
    pub hypercalls: u64,
    /// Kicks of a vCPU on another pCPU (an event or interrupt delivered to it).
    pub kicks: u64,
}

impl Entries {
    /// The counters of one query: `desc[i]` owns the next `desc[i].nr_vals` values of `vals`.
    /// A counter whose values run past `vals` is counted with those present.
    pub fn from_query(desc: &[PerfcDesc], vals: &[PerfcVal]) -> Entries {
        let mut e = Entries::default();
        let mut at = 0usize;
        for d in desc {
            let n = d.nr_vals as usize;
            let end = at.saturating_add(n).min(vals.len());
            let sum: u64 = vals
                .get(at..end)
                .unwrap_or(&[])
                .iter()
                .map(|&v| u64::from(v))
                .sum();
            at = end;
            let slot = match d.name() {
                name::HVC64 | name::HVC32 => &mut e.hvc,
                name::SMC64 | name::SMC32 => &mut e.smc,
                name::IRQS => &mut e.irqs,
                name::IPIS => &mut e.ipis,
                name::HYPERCALLS => &mut e.hypercalls,
                name::KICKS => &mut e.kicks,
                s if s.starts_with(name::TRAP_PREFIX) => &mut e.other_traps,
                _ => continue,
            };
            *slot = slot.saturating_add(sum);
        }
        e
    }

    /// All entries into Xen: every trap and every interrupt.
    pub fn total(&self) -> u64 {
        self.hvc
            .saturating_add(self.smc)
            .saturating_add(self.other_traps)
            .saturating_add(self.irqs)
            .saturating_add(self.ipis)
    }

    /// What happened from `earlier` to `self`. Xen's counters are 32-bit per CPU and wrap, so a
    /// counter that went down counts as 0 (a window of a few seconds never wraps one).
    pub fn since(&self, earlier: &Entries) -> Entries {
        Entries {
            hvc: self.hvc.saturating_sub(earlier.hvc),
            smc: self.smc.saturating_sub(earlier.smc),
            other_traps: self.other_traps.saturating_sub(earlier.other_traps),
            irqs: self.irqs.saturating_sub(earlier.irqs),
            ipis: self.ipis.saturating_sub(earlier.ipis),
            hypercalls: self.hypercalls.saturating_sub(earlier.hypercalls),
            kicks: self.kicks.saturating_sub(earlier.kicks),
        }
    }

    /// Without the closing query's own entries: `hypercall::perfc_query` makes two sysctls (the
    /// counts, then the copy), both trapped and counted before Xen reads the counters, while the
    /// opening query's are counted before its own read. What the measured window caused.
    pub fn without_query(&self) -> Entries {
        Entries {
            hvc: self.hvc.saturating_sub(QUERY_HYPERCALLS),
            hypercalls: self.hypercalls.saturating_sub(QUERY_HYPERCALLS),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(n: &str, nr_vals: u32) -> PerfcDesc {
        let mut d = PerfcDesc {
            nr_vals,
            ..Default::default()
        };
        d.name[..n.len()].copy_from_slice(n.as_bytes());
        d
    }

    #[test]
    fn sums_each_counter_over_its_values_and_groups_them() {
        // Two CPUs: a plain counter owns two values; `hypercalls` (4 elements here) owns four.
        let d = [
            desc("invalid hypercalls", 2),
            desc(name::HVC64, 2),
            desc(name::SMC64, 2),
            desc("trap: guest data abort", 2),
            desc("trap: wfi", 2),
            desc("vgicd: read", 2),
            desc(name::KICKS, 2),
            desc(name::HYPERCALLS, 4),
            desc(name::IRQS, 2),
            desc(name::IPIS, 2),
        ];
        let v = [
            9, 9, 10, 5, 1, 0, 3, 4, 2, 2, 7, 7, 1, 1, 0, 6, 0, 2, 20, 30, 4, 0,
        ];
        let e = Entries::from_query(&d, &v);
        assert_eq!(
            e,
            Entries {
                hvc: 15,
                smc: 1,
                other_traps: 11,
                irqs: 50,
                ipis: 4,
                hypercalls: 8,
                kicks: 2,
            }
        );
        assert_eq!(e.total(), 15 + 1 + 11 + 50 + 4);
    }

    #[test]
    fn short_values_and_wrapped_counters_never_panic() {
        let d = [desc(name::HVC64, 2), desc(name::IRQS, 2)];
        assert_eq!(Entries::from_query(&d, &[3]).hvc, 3);
        assert_eq!(Entries::from_query(&d, &[]), Entries::default());
        let a = Entries {
            hvc: 10,
            irqs: 5,
            hypercalls: 4,
            ..Default::default()
        };
        let b = Entries {
            hvc: 31,
            irqs: 2,
            hypercalls: 9,
            ..Default::default()
        };
        let d = b.since(&a);
        assert_eq!((d.hvc, d.irqs, d.hypercalls), (21, 0, 5));
        let w = d.without_query();
        assert_eq!((w.hvc, w.hypercalls, w.total()), (19, 3, 19));
    }

    #[test]
    fn names_stop_at_the_first_nul() {
        assert_eq!(desc("#IPIs", 1).name(), "#IPIs");
        assert_eq!(PerfcDesc::default().name(), "");
    }
}
