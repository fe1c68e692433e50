//! The EL1 virtual timer (`CNTV_*`, Arm ARM D11). Xen virtualises it per vCPU and injects its PPI
//! while the vCPU is descheduled.

use super::regs::{isb, write_sysreg};
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTVCT_EL0, CNTV_CTL_EL0};
use tock_registers::interfaces::Readable;

/// Counter frequency in Hz (CNTFRQ_EL0, programmed by firmware/Xen).
pub fn freq_hz() -> u64 {
    CNTFRQ_EL0.get()
}

/// The virtual counter (ordered after earlier instructions).
pub fn now() -> u64 {
    isb();
    CNTVCT_EL0.get()
}

/// Fire the timer interrupt when the counter reaches `deadline`.
pub(crate) fn arm(deadline: u64) {
    // SAFETY: the EL1 virtual timer's registers (write_sysreg! condition 1; Xen keeps them per
    // vCPU); they only schedule the timer's PPI, which the IRQ vector handles, and touch no
    // memory (condition 2).
    unsafe {
        write_sysreg!(CNTV_CVAL_EL0 = raw deadline);
        write_sysreg!(
            CNTV_CTL_EL0,
            CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR
        );
    }
    isb();
}

/// Stop the timer (its level interrupt drops).
pub(crate) fn disarm() {
    // SAFETY: as in `arm`; disabling the timer only drops its interrupt.
    unsafe {
        write_sysreg!(
            CNTV_CTL_EL0,
            CNTV_CTL_EL0::ENABLE::CLEAR + CNTV_CTL_EL0::IMASK::SET
        )
    };
    isb();
}
