//! Per-guest statistics. Counters saturate; none can panic.

use crate::error::{GuestError, GUEST_ERROR_KINDS};

/// Counters for one guest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestStats {
    /// Calls handled (every trapped SMC).
    pub calls: u64,
    /// Standard calls started (CALL_WITH_ARG and variants).
    pub std_calls: u64,
    /// RETURN_FROM_RPC calls.
    pub rpc_returns: u64,
    /// Errors by kind, indexed by [`GuestError::index`].
    pub errors: [u64; GUEST_ERROR_KINDS],
    /// Guest pages pinned now (shared buffers and RPC argument pages).
    pub pinned_pages: u64,
    /// Highest value of `pinned_pages`.
    pub peak_pinned_pages: u64,
    /// Sessions opened successfully minus sessions closed successfully.
    pub open_sessions: u64,
    /// Sessions opened successfully in total.
    pub sessions_opened: u64,
    /// Async notification values delivered to the guest.
    pub notifications: u64,
    /// Calls that waited in the mediator for an OP-TEE thread held by other
    /// guests' calls (instead of an ETHREAD_LIMIT or EBUSY answer).
    pub thread_waits: u64,
    /// OPEN_SESSIONs the FLASK policy denies that were let through because
    /// FLASK is permissive (denials it enforces count as
    /// `errors_of(GuestError::AccessDenied)`, as the allow-list's do).
    pub ta_permissive: u64,
}

impl GuestStats {
    /// Counts one error.
    pub(crate) fn error(&mut self, e: GuestError) {
        if let Some(c) = self.errors.get_mut(e.index()) {
            *c = c.saturating_add(1);
        }
    }
    /// Errors of one kind.
    pub fn errors_of(&self, e: GuestError) -> u64 {
        self.errors.get(e.index()).copied().unwrap_or(0)
    }
    pub(crate) fn pinned(&mut self, n: u64) {
        self.pinned_pages = self.pinned_pages.saturating_add(n);
        if self.pinned_pages > self.peak_pinned_pages {
            self.peak_pinned_pages = self.pinned_pages;
        }
    }
    pub(crate) fn unpinned(&mut self, n: u64) {
        self.pinned_pages = self.pinned_pages.saturating_sub(n);
    }
}
