//! The EL1 virtual timer (`CNTV_*`, Arm ARM D11). Xen virtualises it per vCPU and injects its PPI
//! while the vCPU is descheduled.

use super::regs::{isb, read_sysreg, write_sysreg};

/// Counter frequency in Hz (CNTFRQ_EL0, programmed by firmware/Xen).
pub fn freq_hz() -> u64 {
    read_sysreg!("cntfrq_el0")
}

/// The virtual counter (ordered after earlier instructions).
pub fn now() -> u64 {
    isb();
    read_sysreg!("cntvct_el0")
}

/// Fire the timer interrupt when the counter reaches `deadline`.
pub(crate) fn arm(deadline: u64) {
    // SAFETY: the EL1 virtual timer's registers (write_sysreg! condition 1; Xen keeps them per
    // vCPU); they only schedule the timer's PPI, which the IRQ vector handles, and touch no
    // memory (condition 2).
    unsafe {
        write_sysreg!("cntv_cval_el0", deadline);
        write_sysreg!("cntv_ctl_el0", 1); // ENABLE, IMASK clear
    }
    isb();
}

/// Stop the timer (its level interrupt drops).
pub(crate) fn disarm() {
    // SAFETY: as in `arm`; disabling the timer only drops its interrupt.
    unsafe { write_sysreg!("cntv_ctl_el0", 2) }; // IMASK, disabled
    isb();
}
