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
    write_sysreg!("cntv_cval_el0", deadline);
    write_sysreg!("cntv_ctl_el0", 1); // ENABLE, IMASK clear
    isb();
}

/// Stop the timer (its level interrupt drops).
pub(crate) fn disarm() {
    write_sysreg!("cntv_ctl_el0", 2); // IMASK, disabled
    isb();
}
