//! Where a forwarded call's time goes inside the mediator: per-stage samples (nanoseconds) and
//! their medians, printed as `TSD-INFO <mediator> profile ...` with the statistics when the
//! command line says `profile=1`. Stages are measured by the image around each hypercall; the
//! rest of a call's time in the mediator is the core's own work.

use alloc::vec::Vec;
use core::fmt;

/// A measured stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// A whole CALL request: from taking it off the ring to the end of `respond`.
    Call,
    /// `TEE_STUBDOM_OP_secure_call` (OP-TEE's time plus two world switches and the hypercall).
    Smc,
    /// `TEE_STUBDOM_OP_respond` (hands the vCPU its registers and wakes it; hv-patches 0012).
    Respond,
    /// `TEE_STUBDOM_OP_pin` / `unpin`, or a whole `pin_list` / `unpin_list` (one sample per
    /// list, whatever its length: a median over both kinds mixes them).
    Pin,
    /// A foreign mapping that missed the cache (map hypercall, and the unmap of an evicted page).
    Map,
}

const STAGES: [(Stage, &str); 5] = [
    (Stage::Call, "call"),
    (Stage::Smc, "smc"),
    (Stage::Respond, "respond"),
    (Stage::Pin, "pin"),
    (Stage::Map, "map"),
];

/// Samples kept per stage (the oldest are dropped beyond this).
const MAX_SAMPLES: usize = 4096;

/// Per-stage samples.
#[derive(Debug, Default)]
pub struct Profile {
    samples: [Vec<u32>; 5],
    counts: [u64; 5],
}

fn index(s: Stage) -> usize {
    STAGES.iter().position(|(t, _)| *t == s).unwrap_or(0)
}

impl Profile {
    /// Records `ns` for `stage`.
    pub fn record(&mut self, stage: Stage, ns: u64) {
        let i = index(stage);
        if let (Some(v), Some(c)) = (self.samples.get_mut(i), self.counts.get_mut(i)) {
            if v.len() >= MAX_SAMPLES {
                v.remove(0);
            }
            v.push(u32::try_from(ns).unwrap_or(u32::MAX));
            *c = c.saturating_add(1);
        }
    }

    /// Median of a stage's samples, in nanoseconds.
    pub fn median(&self, stage: Stage) -> Option<u32> {
        let mut v = self.samples.get(index(stage))?.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (s, name)) in STAGES.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match self.median(*s) {
                Some(m) => write!(
                    f,
                    "{name}_med_us={}.{} {name}_n={}",
                    m / 1000,
                    (m % 1000) / 100,
                    self.counts[i]
                )?,
                None => write!(f, "{name}_med_us=- {name}_n=0")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_per_stage() {
        let mut p = Profile::default();
        for ns in [3000, 1000, 2000] {
            p.record(Stage::Smc, ns);
        }
        assert_eq!(p.median(Stage::Smc), Some(2000));
        assert_eq!(p.median(Stage::Pin), None);
        let s = alloc::format!("{p}");
        assert!(s.contains("smc_med_us=2.0 smc_n=3"), "{s}");
        assert!(s.contains("pin_med_us=- pin_n=0"), "{s}");
    }
}
