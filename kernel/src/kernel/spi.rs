//! Shared peripheral interrupts (e.g. OP-TEE's notification interrupt): a handler per SPI, run
//! from the event loop in thread context.
#![forbid(unsafe_code)]

use super::Kernel;
use crate::arch;
use crate::dt::GicIrq;
use crate::gicreg::{Spi, SpiError, Trigger};
use crate::irq;
use alloc::boxed::Box;
use core::sync::atomic::Ordering;

impl Kernel {
    /// Register `h` for the shared peripheral interrupt `irq` (replacing any earlier handler)
    /// and enable it in the distributor: `irq.trigger` as `Int_config`, group 1, routed to this
    /// vCPU. `h` runs from the event loop, in thread context, once per time the interrupt was
    /// taken since it last ran (edges that come while it runs are not lost; several taken before
    /// it runs are one call). A level-sensitive interrupt is disabled from the time it is taken
    /// until `h` has returned, so `h` should quiet its source. An interrupt that was pending
    /// before this call (e.g. raised by another domain already) is delivered.
    ///
    /// For example `/firmware/optee`'s notification interrupt:
    /// `if let Some(i) = k.dt().optee_interrupt { k.on_spi(i, |k, spi| ...)?; }`
    pub fn on_spi(
        &mut self,
        irq: GicIrq,
        h: impl FnMut(&mut Kernel, Spi) + 'static,
    ) -> Result<Spi, SpiError> {
        let spi = Spi::new(irq.intid).ok_or(SpiError::NotSpi(irq.intid))?;
        if !spi.implemented(arch::gic::dist_typer()) {
            return Err(SpiError::NotImplemented(irq.intid));
        }
        self.spi_handlers.insert(spi, Some(Box::new(h)));
        let (w, bit) = irq::spi_slot(spi);
        match irq.trigger {
            Trigger::Level => irq::SPI_LEVEL[w].fetch_or(bit, Ordering::Relaxed),
            Trigger::Edge => irq::SPI_LEVEL[w].fetch_and(!bit, Ordering::Relaxed),
        };
        arch::gic::enable_spi(spi, irq.trigger);
        Ok(spi)
    }

    /// Disable `spi` in the distributor and drop its handler; one taken but not yet handled is
    /// dropped too. An SPI without a handler is left alone.
    pub fn disable_spi(&mut self, spi: Spi) {
        if self.spi_handlers.remove(&spi).is_some() {
            arch::gic::disable_spi(spi);
            let (w, bit) = irq::spi_slot(spi);
            irq::SPI_LEVEL[w].fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Shared peripheral interrupts taken since boot (all INTIDs).
    pub fn spi_count(&self) -> u64 {
        irq::SPI_IRQS.load(Ordering::Relaxed)
    }

    pub(super) fn dispatch_spis(&mut self) -> bool {
        let mut taken = core::mem::take(&mut self.spi_deferred);
        irq::drain_spis(|s| {
            if !taken.contains(&s) {
                taken.push(s);
            }
        });
        let mut ran = false;
        for spi in taken {
            let mut h = match self.spi_handlers.get_mut(&spi) {
                None => {
                    log::debug!("SPI {} without a handler: dropped", spi.intid());
                    continue;
                }
                Some(slot) => match slot.take() {
                    Some(h) => h,
                    None => {
                        // Its handler is running (it runs the loop itself): after it returns.
                        self.spi_deferred.push(spi);
                        continue;
                    }
                },
            };
            h(self, spi);
            ran = true;
            // Put it back unless the handler replaced it (`on_spi`) or disabled the SPI.
            if let Some(slot @ None) = self.spi_handlers.get_mut(&spi) {
                *slot = Some(h);
                let (w, bit) = irq::spi_slot(spi);
                if irq::SPI_LEVEL[w].load(Ordering::Relaxed) & bit != 0 {
                    arch::gic::unmask_spi(spi);
                }
            }
        }
        ran
    }
}
