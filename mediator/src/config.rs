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

/// The optional OP-TEE features the mediator offers guests (`OPTEE_SMC_SEC_CAP_*` and the SHM
/// cache switch, `optee_smc.h`). A feature that is not offered is masked in the guest's
/// EXCHANGE_CAPABILITIES answer *and* refused when the guest uses it anyway: its function IDs
/// get the mediator's unknown-function answer (`GuestError::UnknownFunction`: SMCCC's -1, whose
/// w0 is `OPTEE_SMC_RETURN_UNKNOWN_FUNCTION`, what OP-TEE built without the feature answers,
/// `entry_fast.c`, and what Xen's mediator, which does not know these IDs, answers), and never
/// reach OP-TEE, so a guest that ignores the capability bits still cannot use the feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// Offer asynchronous notifications (`OPTEE_SMC_SEC_CAP_ASYNC_NOTIF`: ENABLE_ASYNC_NOTIF,
    /// GET_ASYNC_NOTIF_VALUE). Even then only to a guest that has a notification interrupt
    /// ([`crate::GuestNotification`]): Linux fails its probe when offered ASYNC_NOTIF without
    /// one.
    pub async_notif: bool,
    /// Offer the RPC argument area (`OPTEE_SMC_SEC_CAP_RPC_ARG`: CALL_WITH_RPC_ARG,
    /// CALL_WITH_REGD_ARG). Xen's mediator masks it; a mediator that must survive a restart
    /// does too (a guest's argument buffers registered once do not survive it).
    pub rpc_arg: bool,
    /// Forward a guest's ENABLE_SHM_CACHE. Off: the mediator answers it `OK` itself and OP-TEE
    /// keeps no RPC argument buffer past a call, so none outlives a mediator (see the stub
    /// domain's `shm-cache=`), at the price of an RPC_FUNC_ALLOC/FREE pair per
    /// call that needs one.
    pub shm_cache: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            async_notif: true,
            rpc_arg: true,
            shm_cache: true,
        }
    }
}

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
    /// The optional OP-TEE features offered to guests.
    pub features: Features,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_limits: Limits::default(),
            labels: Vec::new(),
            thread_wait_ms: DEFAULT_THREAD_WAIT_MS,
            features: Features::default(),
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
