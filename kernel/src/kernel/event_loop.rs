//! The event loop: dispatch what is ready, else block the vCPU until an interrupt or a deadline.
#![forbid(unsafe_code)]

use super::Kernel;
use crate::arch;
use crate::irq;
use crate::time::Instant;
use core::time::Duration;

impl Kernel {
    /// One turn of the loop: dispatch what is ready; if nothing was, block (WFI, which Xen turns
    /// into a block of the vCPU) until an interrupt or the earliest of the next timer and
    /// `limit`. IRQs stay masked in thread context; they are opened only after the WFI, so an
    /// interrupt that arrives after the "anything pending?" check still ends the WFI.
    pub fn poll(&mut self, limit: Option<Instant>) {
        self.poll_with(limit, || false);
    }

    /// [`Kernel::poll`] with `block` in the WFI's place: called only when the vCPU is to block
    /// (nothing pending, IRQs masked, the timer armed), it blocks the vCPU as a WFI would, e.g.
    /// by a hypercall that waits for an event (hv-patches 0016), and returns true; or it returns
    /// false, and the WFI follows.
    pub fn poll_with(&mut self, limit: Option<Instant>, block: impl FnOnce() -> bool) {
        if self.dispatch_events() | self.dispatch_spis() | self.fire_timers() {
            return;
        }
        let next = self.timers.keys().next().map(|k| k.0);
        let wake = match (next, limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(t) = wake {
            if t <= self.now() {
                return;
            }
            arch::timer::arm(t.0);
        }
        if !irq::work_pending() && !block() {
            arch::regs::wfi();
        }
        arch::regs::irq_enable();
        arch::regs::isb();
        arch::regs::irq_disable();
    }

    /// Run the loop until `done` holds (checked before each turn) or `deadline` passes.
    /// Returns whether `done` held.
    pub fn run_until(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&mut Kernel) -> bool,
    ) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.now() >= deadline {
                return false;
            }
            self.poll(Some(deadline));
        }
    }

    /// Run the loop for `d`.
    pub fn sleep(&mut self, d: Duration) {
        let t = self.after(d);
        self.run_until(t, |_| false);
    }

    /// Run the loop forever.
    pub fn run(&mut self) -> ! {
        loop {
            self.poll(None);
        }
    }
}
