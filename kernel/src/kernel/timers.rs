//! One-shot timers, fired from the event loop in deadline order.
#![forbid(unsafe_code)]

use super::{Kernel, TimerId};
use crate::irq;
use crate::time::Instant;
use alloc::boxed::Box;
use core::sync::atomic::Ordering;

impl Kernel {
    /// Call `f` once at `deadline` (from the event loop).
    pub fn add_timer(
        &mut self,
        deadline: Instant,
        f: impl FnOnce(&mut Kernel) + 'static,
    ) -> TimerId {
        let id = TimerId(self.next_timer);
        self.next_timer += 1;
        self.timers.insert((deadline, id), Box::new(f));
        id
    }

    /// Cancel a timer; false if it already fired or never existed.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        let key = self.timers.keys().find(|(_, i)| *i == id).copied();
        key.and_then(|k| self.timers.remove(&k)).is_some()
    }

    pub(super) fn fire_timers(&mut self) -> bool {
        irq::TIMER_FIRED.store(false, Ordering::Release);
        let now = self.now();
        let mut fired = false;
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let f = entry.remove();
            f(self);
            fired = true;
        }
        fired
    }
}
