//! `TSD-STATS` lines: the per-guest statistics the mediator prints at run time (periodically with
//! `stats-ms=`, at teardown, and when asked), read by `scripts/run` into its summary table.
//!
//! `TSD-STATS <mediator> domid=D name=N label=L client=C calls=N std=N rpc=N errors=N pinned=N
//! peak=N sessions=N notif=N state=live|destroyed`

use core::fmt;
use mediator::{ClientId, DomId, GuestStats};

/// One guest's line (without the `TSD-STATS <mediator>` prefix).
#[derive(Debug)]
pub struct Line<'a> {
    /// The domain.
    pub domid: u16,
    /// Its name in markers.
    pub name: &'a str,
    /// Its label (`-` when unknown).
    pub label: &'a str,
    /// The counters.
    pub stats: &'a GuestStats,
    /// Still a guest of the mediator.
    pub live: bool,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.stats;
        let errors = s.errors.iter().fold(0u64, |a, e| a.saturating_add(*e));
        let label = if self.label.is_empty() {
            "-"
        } else {
            self.label
        };
        write!(
            f,
            "domid={} name={} label={} client={} calls={} std={} rpc={} errors={} pinned={} peak={} sessions={} notif={} state={}",
            self.domid,
            self.name,
            label,
            ClientId::of(DomId(self.domid)).raw(),
            s.calls,
            s.std_calls,
            s.rpc_returns,
            errors,
            s.pinned_pages,
            s.peak_pinned_pages,
            s.open_sessions,
            s.notifications,
            if self.live { "live" } else { "destroyed" }
        )?;
        // The non-zero error kinds (mediator::GuestError order).
        const KINDS: [&str; mediator::error::GUEST_ERROR_KINDS] = [
            "unknown",
            "unavailable",
            "notavail",
            "badaddr",
            "badcmd",
            "threadlimit",
            "nomem",
            "badresume",
            "badparam",
            "limit",
            "denied",
        ];
        for (k, n) in KINDS.iter().zip(s.errors.iter()) {
            if *n > 0 {
                write!(f, " err_{k}={n}")?;
            }
        }
        Ok(())
    }
}
