//! Per-guest limits and per-label policy.

use alloc::string::String;
use alloc::vec::Vec;

use crate::types::TaUuid;

/// Per-guest resource limits. Defaults are Xen 4.17's (`optee.c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Pages one shared buffer may span. Xen `MAX_SHM_BUFFER_PG` = 129:
    /// GlobalPlatform requires 512 KiB buffers (128 pages), plus one page for
    /// a buffer that does not start on a page boundary.
    pub max_pages_per_buffer: usize,
    /// Shared buffers a guest may have at once (registered, temporary and
    /// RPC-allocated). Xen `MAX_SHM_BUFFER_COUNT` = 16: stops a guest from
    /// exhausting mediator memory with many one-byte buffers.
    pub max_buffers: usize,
    /// Guest pages pinned for shared buffers at once. Xen
    /// `MAX_TOTAL_SMH_BUF_PG` = 16384: OP-TEE's heap is finite and we cannot
    /// know its use, so the total is capped.
    pub max_pinned_pages: usize,
    /// OP-TEE threads the guest's standard calls may hold at once (0: all of
    /// them, Xen's bound). OP-TEE's threads are shared by every guest; a cap
    /// per guest whose sum over the guests is at most the thread count
    /// means a guest never has to wait for a thread another guest holds.
    pub max_threads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pages_per_buffer: 129,
            max_buffers: 16,
            max_pinned_pages: 16384,
            max_threads: 0,
        }
    }
}

/// How long a call that holds no OP-TEE thread may wait for one that other
/// guests' calls hold, before it fails ([`Config::thread_wait_ms`]).
/// 10 s: Xen's own former bound on a call (`tee-stubdom-timeout`), and below Linux's RCU stall
/// timeout (21 s), which a vCPU paused longer may trigger.
pub const DEFAULT_THREAD_WAIT_MS: u64 = 10_000;

/// Policy for guests carrying one security label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelPolicy {
    /// The label (e.g. the FLASK type of the domain).
    pub label: String,
    /// Limits for these guests.
    pub limits: Limits,
    /// TA/PTA UUIDs these guests may open sessions to; `None` allows all.
    pub allowed_tas: Option<Vec<TaUuid>>,
}

/// Mediator configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Limits for guests whose label has no policy.
    pub default_limits: Limits,
    /// Per-label policies.
    pub labels: Vec<LabelPolicy>,
    /// How long a guest's call may wait for an OP-TEE thread that calls of
    /// other guests hold (see [`crate::Mediator::submit`]), in
    /// milliseconds of the clock the caller passes; then it fails
    /// (`OPTEE_SMC_RETURN_EBUSY`, counted as `GuestError::NoThread`).
    pub thread_wait_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_limits: Limits::default(),
            labels: Vec::new(),
            thread_wait_ms: DEFAULT_THREAD_WAIT_MS,
        }
    }
}

impl Config {
    /// The policy for `label`: its limits and allow-list.
    pub fn policy_for(&self, label: &str) -> (Limits, Option<Vec<TaUuid>>) {
        match self.labels.iter().find(|p| p.label == label) {
            Some(p) => (p.limits, p.allowed_tas.clone()),
            None => (self.default_limits, None),
        }
    }
}
