//! `TSD-STATS` lines: the per-guest statistics the mediator prints at run time (periodically with
//! `stats-ms=`, at teardown, and when asked), read by `scripts/run` into its summary table.
//!
//! `TSD-STATS <mediator> domid=D name=N label=L client=C calls=N std=N rpc=N errors=N pinned=N
//! peak=N sessions=N notif=N held=N [threads=tT:WHAT,...] thread_waits=N waiting=N
//! ta_permissive=N state=live|destroyed [err_KIND=N ...]` (`KIND`: [`mediator::GuestError::name`], in
//! [`mediator::GuestError::ALL`]'s order, the non-zero ones only; `held`: calls suspended in an RPC, each holding an OP-TEE thread;
//! `threads`: their thread IDs and what each waits for in the guest, see
//! [`mediator::Suspended::what`]; `thread_waits`: calls that waited for a thread other guests'
//! calls held; `waiting`: such calls now; `ta_permissive`: OPEN_SESSIONs the FLASK policy
//! denies that went through because FLASK is permissive — those it enforces are
//! `err_denied`, as the allow-list's)

use core::fmt;
use mediator::{ClientId, DomId, GuestStats, Suspended};

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
    /// Its calls suspended in an RPC now, each holding an OP-TEE thread.
    pub suspended: &'a [Suspended],
    /// Its calls waiting for an OP-TEE thread now.
    pub waiting: usize,
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
            "domid={} name={} label={} client={} calls={} std={} rpc={} errors={} pinned={} peak={} sessions={} notif={}",
            self.domid,
            self.name,
            label,
            // A reserved domid is no client (Xen never names one, [`DomId::new`]).
            DomId::new(self.domid).map_or(0, |d| ClientId::of(d).raw()),
            s.calls,
            s.std_calls,
            s.rpc_returns,
            errors,
            s.pinned_pages,
            s.peak_pinned_pages,
            s.open_sessions,
            s.notifications,
        )?;
        // OP-TEE threads the guest holds, and what each waits for in the guest.
        write!(f, " held={}", self.suspended.len())?;
        for (i, c) in self.suspended.iter().enumerate() {
            let sep = if i == 0 { " threads=" } else { "," };
            write!(f, "{sep}t{}:{}", c.thread, c.what())?;
        }
        // Calls that waited for a thread other guests held, and those waiting now.
        write!(
            f,
            " thread_waits={} waiting={}",
            s.thread_waits, self.waiting
        )?;
        // OPEN_SESSIONs FLASK would deny, let through in permissive mode.
        write!(f, " ta_permissive={}", s.ta_permissive)?;
        write!(f, " state={}", if self.live { "live" } else { "destroyed" })?;
        // The non-zero error kinds (names and order: mediator::GuestError::ALL).
        for (k, n) in mediator::GuestError::ALL.iter().zip(s.errors.iter()) {
            if *n > 0 {
                write!(f, " err_{}={n}", k.name())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use mediator::GuestError;

    fn line(stats: &GuestStats) -> String {
        let l = Line {
            domid: 2,
            name: "domu1",
            label: "tee_guest_t",
            stats,
            live: true,
            suspended: &[],
            waiting: 0,
        };
        format!("{l}")
    }

    #[test]
    fn every_error_kind_is_printed_by_its_name_in_order() {
        let mut s = GuestStats::default();
        for (i, c) in s.errors.iter_mut().enumerate() {
            *c = 10 + i as u64;
        }
        let text = line(&s);
        let kinds: alloc::vec::Vec<&str> =
            text.split(' ').filter(|w| w.starts_with("err_")).collect();
        let want: alloc::vec::Vec<String> = GuestError::ALL
            .iter()
            .map(|k| format!("err_{}={}", k.name(), 10 + k.index()))
            .collect();
        assert_eq!(kinds.len(), GuestError::ALL.len());
        assert_eq!(kinds, want);
        let total: usize = (0..GuestError::ALL.len()).map(|i| 10 + i).sum();
        assert!(text.contains(&format!(" errors={total} ")), "{text}");
    }

    #[test]
    fn kinds_never_counted_are_left_out() {
        let mut s = GuestStats::default();
        s.errors[GuestError::NoThread.index()] = 3;
        let text = line(&s);
        assert!(text.ends_with(" state=live err_nothread=3"), "{text}");
        assert!(line(&GuestStats::default()).ends_with(" state=live"));
    }

    #[test]
    fn denials_and_permissive_opens_are_shown() {
        let mut s = GuestStats::default();
        s.errors[GuestError::AccessDenied.index()] = 2;
        s.ta_permissive = 5;
        let text = line(&s);
        assert!(
            text.ends_with(" ta_permissive=5 state=live err_denied=2"),
            "{text}"
        );
    }
}
