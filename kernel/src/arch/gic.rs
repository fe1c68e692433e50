//! GICv3 (Arm IHI 0069): distributor, this CPU's redistributor, CPU interface system registers.
//! The event-channel upcall and the virtual timer are private interrupts (PPIs, redistributor);
//! shared peripheral interrupts (SPIs, e.g. OP-TEE's notification interrupt) are configured in
//! the distributor and routed to this CPU (register arithmetic in [`crate::gicreg`]).

use super::icc::{
    ICC_BPR1_EL1, ICC_CTLR_EL1, ICC_EOIR1_EL1, ICC_IAR1_EL1, ICC_IGRPEN1_EL1, ICC_PMR_EL1,
    ICC_SRE_EL1,
};
use super::regs::{isb, mpidr_affinity, read_sysreg, write_sysreg};
use crate::gicreg::{self, Spi, Trigger};
use crate::memmap::Region;
use core::sync::atomic::{AtomicUsize, Ordering};

const GICD_CTLR: usize = 0x0;
const GICD_CTLR_RWP: u32 = 1 << 31;
const GICD_CTLR_ARE_NS: u32 = 1 << 4;
const GICD_CTLR_ENABLE_G1A: u32 = 1 << 1;
const GICR_FRAME: usize = 0x2_0000;
const GICR_TYPER: usize = 0x8;
/// GICR_TYPER.Last: the last redistributor frame of the region.
const GICR_TYPER_LAST: u64 = 1 << 4;
const GICR_WAKER: usize = 0x14;
/// GICR_WAKER.ProcessorSleep.
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
/// GICR_WAKER.ChildrenAsleep.
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
const SGI_BASE: usize = 0x1_0000;
const GICR_IGROUPR0: usize = SGI_BASE + 0x80;
const GICR_ISENABLER0: usize = SGI_BASE + 0x100;
const GICR_ICENABLER0: usize = SGI_BASE + 0x180;
const GICR_IPRIORITYR: usize = SGI_BASE + 0x400;

/// The "no pending interrupt" INTID.
pub const SPURIOUS: u32 = 1023;

static RDIST: AtomicUsize = AtomicUsize::new(0);
static DIST: AtomicUsize = AtomicUsize::new(0);

/// Priority of every interrupt we enable (all equal: no preemption among them).
const PRIORITY: u32 = 0xa0;
/// ICC_PMR_EL1: every priority value below it is signalled, [`PRIORITY`] included.
const PRIORITY_MASK: u64 = 0xf0;

/// Why the GIC could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GicError {
    /// No redistributor frame in the region matches this CPU's affinity.
    NoRedistributor,
}

fn rd32(addr: usize) -> u32 {
    // SAFETY: `addr` is a register of the GIC regions from the device tree, mapped
    // Device-nGnRE by `mmu::init_full` before `init` runs; GIC registers alias no RAM.
    unsafe { super::mmio::read32(addr) }
}

fn wr32(addr: usize, v: u32) {
    // SAFETY: as `rd32`; writes go to GIC configuration registers only.
    unsafe { super::mmio::write32(addr, v) }
}

fn rd64(addr: usize) -> u64 {
    // SAFETY: as `rd32` (GICR_TYPER is a 64-bit register).
    unsafe { super::mmio::read64(addr) }
}

fn wr64(addr: usize, v: u64) {
    // SAFETY: as `rd32`; writes go to GIC configuration registers only (GICD_IROUTER<n> is a
    // 64-bit register).
    unsafe { super::mmio::write64(addr, v) }
}

/// Bring up the distributor, this CPU's redistributor and the CPU interface (group 1, all
/// priorities unmasked). Both regions must be mapped as device memory.
pub(crate) fn init(dist: Region, redist: Region) -> Result<(), GicError> {
    let d = dist.base as usize;
    wr32(d + GICD_CTLR, GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_G1A);
    while rd32(d + GICD_CTLR) & GICD_CTLR_RWP != 0 {}
    DIST.store(d, Ordering::Relaxed);

    let aff = mpidr_affinity();
    let mut frame = redist.base as usize;
    let end = redist.end() as usize;
    let rd = loop {
        if frame + GICR_FRAME > end {
            return Err(GicError::NoRedistributor);
        }
        let typer = rd64(frame + GICR_TYPER);
        if (typer >> 32) as u32 == aff {
            break frame;
        }
        if typer & GICR_TYPER_LAST != 0 {
            return Err(GicError::NoRedistributor);
        }
        frame += GICR_FRAME;
    };
    RDIST.store(rd, Ordering::Relaxed);
    // Wake the redistributor (ProcessorSleep = 0, wait for ChildrenAsleep = 0).
    wr32(
        rd + GICR_WAKER,
        rd32(rd + GICR_WAKER) & !GICR_WAKER_PROCESSOR_SLEEP,
    );
    while rd32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP != 0 {}
    wr32(rd + GICR_ICENABLER0, u32::MAX);
    wr32(rd + GICR_IGROUPR0, u32::MAX);
    for i in 0..8 {
        // Four one-byte priority fields per register, all PRIORITY.
        wr32(rd + GICR_IPRIORITYR + 4 * i, PRIORITY * 0x0101_0101);
    }

    // CPU interface: system-register access, priority mask open, group 1 on.
    let mut sre = read_sysreg!(ICC_SRE_EL1);
    sre.modify(ICC_SRE_EL1::SRE::SET);
    // SAFETY: ICC_SRE_EL1, an EL1 register (write_sysreg! condition 1); SRE selects the
    // system-register interface and changes no memory access (condition 2).
    unsafe { write_sysreg!(ICC_SRE_EL1, sre) };
    isb();
    // SAFETY: EL1 CPU-interface registers (condition 1). They set priority mask, binary point,
    // EOI mode and group-1 delivery: at most an interrupt is signalled, which the IRQ vector
    // (installed by the entry) takes once PSTATE.I is clear; no memory effects (condition 2).
    unsafe {
        write_sysreg!(ICC_PMR_EL1, ICC_PMR_EL1::Priority.val(PRIORITY_MASK));
        write_sysreg!(ICC_BPR1_EL1, ICC_BPR1_EL1::BinaryPoint.val(0));
        write_sysreg!(
            ICC_CTLR_EL1,
            ICC_CTLR_EL1::EOImode::DropAndDeactivate + ICC_CTLR_EL1::CBPR::CLEAR
        );
        write_sysreg!(ICC_IGRPEN1_EL1, ICC_IGRPEN1_EL1::Enable::SET);
    }
    isb();
    Ok(())
}

/// Enable a private interrupt (INTID < 32) at this CPU's redistributor.
pub(crate) fn enable_ppi(intid: u32) {
    let rd = RDIST.load(Ordering::Relaxed);
    if rd != 0 && intid < 32 {
        wr32(rd + GICR_ISENABLER0, 1 << intid);
    }
}

/// Acknowledge the highest-priority pending group-1 interrupt (ICC_IAR1_EL1).
pub(crate) fn ack() -> u32 {
    read_sysreg!(ICC_IAR1_EL1).read(ICC_IAR1_EL1::INTID) as u32
}

/// End of interrupt (ICC_EOIR1_EL1): priority drop and deactivation.
pub(crate) fn eoi(intid: u32) {
    // SAFETY: ICC_EOIR1_EL1, an EL1 register (write_sysreg! condition 1); ending an interrupt
    // changes the GIC's state only, never memory (condition 2).
    unsafe { write_sysreg!(ICC_EOIR1_EL1, ICC_EOIR1_EL1::INTID.val(u64::from(intid))) };
    isb();
}

/// `GICD_TYPER`, 0 before [`init`].
pub(crate) fn dist_typer() -> u32 {
    match DIST.load(Ordering::Relaxed) {
        0 => 0,
        d => rd32(d + gicreg::GICD_TYPER),
    }
}

fn wait_rwp(d: usize) {
    while rd32(d + GICD_CTLR) & GICD_CTLR_RWP != 0 {}
}

/// Configure `spi` (trigger, priority, group 1 non-secure, routed to this CPU) and enable it in
/// the distributor. The group registers are not written: with one security state as seen by a
/// non-secure guest (and in Xen's vGIC, where GICD_IGROUPR reads as zero and ignores writes)
/// every interrupt the CPU interface acknowledges through ICC_IAR1_EL1 is group 1.
pub(crate) fn enable_spi(spi: Spi, trigger: Trigger) {
    let d = DIST.load(Ordering::Relaxed);
    if d == 0 {
        return;
    }
    // Int_config may only change while the interrupt is disabled (IHI 0069 §12.9.10).
    disable_spi(spi);
    let (off, _) = spi.config();
    wr32(d + off, spi.with_trigger(rd32(d + off), trigger));
    let (off, shift) = spi.priority();
    wr32(
        d + off,
        (rd32(d + off) & !(0xff << shift)) | (PRIORITY << shift),
    );
    wr64(d + spi.irouter(), gicreg::irouter_value(mpidr_affinity()));
    let (off, bit) = spi.bit(gicreg::GICD_ISENABLER);
    wr32(d + off, bit);
}

/// Disable `spi` in the distributor and wait until that has taken effect (GICD_CTLR.RWP): an
/// interrupt is not signalled after this returns. Safe to call from the IRQ handler.
pub(crate) fn disable_spi(spi: Spi) {
    let d = DIST.load(Ordering::Relaxed);
    if d == 0 {
        return;
    }
    let (off, bit) = spi.bit(gicreg::GICD_ICENABLER);
    wr32(d + off, bit);
    wait_rwp(d);
}

/// Enable `spi` again after [`disable_spi`] (configuration unchanged).
pub(crate) fn unmask_spi(spi: Spi) {
    let d = DIST.load(Ordering::Relaxed);
    if d != 0 {
        let (off, bit) = spi.bit(gicreg::GICD_ISENABLER);
        wr32(d + off, bit);
    }
}
