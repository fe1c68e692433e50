//! Test-only fault injection: `test-panic-after=N` on the command line makes the mediator panic
//! when a forwarded call arrives, before it is answered, so that the crash happens with that
//! call (and whatever else waits on the ring) pending: the N-th call, or the first one after it
//! at which an OP-TEE thread is suspended in an RPC for a guest. The death then always leaves
//! OP-TEE a thread that no mediator will resume, which Xen must end itself (hv-patches 0009,
//! `tsd_reap`: it resumes the thread with failed RPC answers until OP-TEE completes the call);
//! OP-TEE has few threads (2 on QEMU), so a leak shows at the next standard calls. The
//! `mediator-restart` scenario uses it to kill the mediator under load and to check that Xen
//! fails the pending and the new calls, ends the orphaned thread, drops every pin and accepts a
//! new mediator domain.
//!
//! Off unless the option is given (absent or `0`). Only the domain's own command line, which the
//! toolstack or the dom0less configuration writes, can turn it on: nothing a guest sends selects
//! or moves the crash, it only counts. Never set it in production.

/// Counts forwarded calls and says when the configured one arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PanicAfter {
    /// Calls still to let through before the one that panics; `None`: off.
    left: Option<u64>,
}

impl PanicAfter {
    /// From the value of `test-panic-after=` (absent or `0`: off).
    pub fn new(n: Option<u64>) -> PanicAfter {
        PanicAfter {
            left: n.filter(|&n| n > 0).map(|n| n - 1),
        }
    }

    /// Whether the trigger is on.
    pub fn armed(&self) -> bool {
        self.left.is_some()
    }

    /// One forwarded call arrived; `suspended`: an OP-TEE thread is suspended in an RPC for a
    /// guest. `true` if it is the one to panic on (then the trigger is off, so a caller that
    /// does not panic is told once).
    pub fn on_call(&mut self, suspended: bool) -> bool {
        match self.left {
            None => false,
            Some(0) if suspended => {
                self.left = None;
                true
            }
            Some(0) => false,
            Some(n) => {
                self.left = Some(n - 1);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PanicAfter;

    #[test]
    fn off_by_default_and_with_zero() {
        for mut p in [
            PanicAfter::default(),
            PanicAfter::new(None),
            PanicAfter::new(Some(0)),
        ] {
            assert!(!p.armed());
            assert!((0..100_000).all(|_| !p.on_call(true)));
        }
    }

    #[test]
    fn fires_on_the_nth_call_only() {
        let mut p = PanicAfter::new(Some(3));
        assert!(p.armed());
        assert!(!p.on_call(true));
        assert!(!p.on_call(true));
        assert!(p.on_call(true));
        assert!(!p.armed());
        assert!(!p.on_call(true));

        let mut p = PanicAfter::new(Some(1));
        assert!(p.on_call(true));
    }

    #[test]
    fn waits_for_a_suspended_thread() {
        let mut p = PanicAfter::new(Some(2));
        assert!(!p.on_call(true));
        assert!(!p.on_call(false));
        assert!(!p.on_call(false));
        assert!(p.armed());
        assert!(p.on_call(true));
        assert!(!p.armed());
    }
}
