//! Event channels: handlers per port, the hypercalls on ports, and their dispatch from the
//! event loop.
#![forbid(unsafe_code)]

use super::Kernel;
use crate::arch;
use crate::irq;
use alloc::boxed::Box;
use core::sync::atomic::Ordering;
use xenif::abi::{DomId, EvtchnPort, EVTCHN_2L_NR_CHANNELS};
use xenif::hypercall as hc;
use xenif::XenResult;

impl Kernel {
    /// Register `h` for `port` (replacing any earlier handler) and unmask the port.
    ///
    /// Events that arrived on `port` before any handler was registered are delivered now (through
    /// the loop), so a static channel's early notification is not lost.
    pub fn on_event(
        &mut self,
        port: EvtchnPort,
        h: impl FnMut(&mut Kernel, EvtchnPort) + 'static,
    ) -> XenResult<()> {
        self.handlers.insert(port, Box::new(h));
        if self.orphans.remove(&port) {
            irq::READY.insert(port);
        }
        hc::evtchn_unmask(port)
    }

    /// Remove the handler of `port` (events on it are then dropped by the loop).
    pub fn remove_handler(&mut self, port: EvtchnPort) {
        self.handlers.remove(&port);
    }

    /// Mask `port` (set its bit in the shared `evtchn_mask`): its events stay pending in the
    /// shared bitmap until [`Kernel::unmask_event`].
    pub fn mask_event(&mut self, port: EvtchnPort) {
        if let Some((w, bit)) = xenif::evtchn::word_bit(port) {
            arch::shared::mask()[w].fetch_or(bit, Ordering::SeqCst);
        }
    }

    /// Unmask `port` (`EVTCHNOP_unmask`, which re-raises it if it is pending).
    pub fn unmask_event(&mut self, port: EvtchnPort) -> XenResult<()> {
        hc::evtchn_unmask(port)
    }

    /// `EVTCHNOP_alloc_unbound` for `remote`.
    pub fn evtchn_alloc_unbound(&mut self, remote: DomId) -> XenResult<EvtchnPort> {
        hc::evtchn_alloc_unbound(remote)
    }

    /// `EVTCHNOP_bind_interdomain`.
    pub fn evtchn_bind_interdomain(
        &mut self,
        remote: DomId,
        port: EvtchnPort,
    ) -> XenResult<EvtchnPort> {
        hc::evtchn_bind_interdomain(remote, port)
    }

    /// `EVTCHNOP_bind_virq` on vCPU 0.
    pub fn evtchn_bind_virq(&mut self, virq: u32) -> XenResult<EvtchnPort> {
        hc::evtchn_bind_virq(virq, 0)
    }

    /// The remote end (domain, port) of an interdomain channel, e.g. a static `xen,evtchn-v1`
    /// one whose peer the domain is not told otherwise (`EVTCHNOP_status`).
    pub fn evtchn_remote(&self, port: EvtchnPort) -> XenResult<(DomId, EvtchnPort)> {
        let s = hc::evtchn_status(port)?;
        if s.status != xenif::abi::evtchnstat::INTERDOMAIN {
            return Err(xenif::XenError::EINVAL);
        }
        Ok((s.remote_dom, s.remote_port))
    }

    /// `EVTCHNOP_send`.
    pub fn evtchn_send(&self, port: EvtchnPort) -> XenResult<()> {
        hc::evtchn_send(port)
    }

    /// `EVTCHNOP_close` (and drop the handler).
    pub fn evtchn_close(&mut self, port: EvtchnPort) -> XenResult<()> {
        self.handlers.remove(&port);
        hc::evtchn_close(port)
    }

    pub(super) fn dispatch_events(&mut self) -> bool {
        // The ports of this wake-up, a fixed-size snapshot of READY (one bit per 2-level port:
        // 512 bytes on the stack, no allocation). A list of every possible port would be 16 KiB,
        // per nesting level (a handler may run the loop). Dispatched in READY's drain order:
        // ascending ports.
        let mut ready = [0u64; EVTCHN_2L_NR_CHANNELS / 64];
        let mut any = false;
        irq::READY.drain(|p| {
            if let Some(w) = ready.get_mut(p as usize / 64) {
                *w |= 1 << (p % 64);
                any = true;
            }
        });
        let ports = ready.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64u32)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w as u32 * 64 + b)
        });
        for p in ports {
            match self.handlers.remove(&p) {
                Some(mut h) => {
                    h(self, p);
                    // Keep it unless the handler registered a replacement or closed the port.
                    self.handlers.entry(p).or_insert(h);
                }
                None => {
                    log::debug!("event on port {p} before a handler: kept");
                    self.orphans.insert(p);
                }
            }
        }
        any
    }
}
