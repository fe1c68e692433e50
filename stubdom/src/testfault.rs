//! Test-only fault injection: `test-panic-after=N` on the command line makes the mediator panic
//! when the N-th forwarded call arrives, before it is answered, so that the crash happens with
//! that call (and whatever else waits on the ring) pending. The `mediator-restart` scenario
//! uses it to kill the mediator under load and to check that Xen fails the pending and the new
//! calls, drops every pin and accepts a new mediator domain.
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

    /// One forwarded call arrived: `true` if it is the one to panic on (then the trigger is
    /// off, so a caller that does not panic is told once).
    pub fn on_call(&mut self) -> bool {
        match self.left {
            None => false,
            Some(0) => {
                self.left = None;
                true
            }
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
            assert!((0..100_000).all(|_| !p.on_call()));
        }
    }

    #[test]
    fn fires_on_the_nth_call_only() {
        let mut p = PanicAfter::new(Some(3));
        assert!(p.armed());
        assert!(!p.on_call());
        assert!(!p.on_call());
        assert!(p.on_call());
        assert!(!p.armed());
        assert!(!p.on_call());

        let mut p = PanicAfter::new(Some(1));
        assert!(p.on_call());
    }
}
