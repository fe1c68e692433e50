//! The GICv3 CPU-interface system registers (Arm IHI 0069, §12.2 "AArch64 GIC System register descriptions") that `aarch64-cpu` does not
//! define, with the fields this kernel uses: the one place their layout is written down.
//!
//! `aarch64-cpu` 11 has `ICC_CTLR_EL1` read-only with only `ExtRange`, and none of the others;
//! each is defined here in its style (a `tock-registers` field module under the register's
//! name), read with [`read_sysreg!`](super::regs) and written with
//! [`write_sysreg!`](super::regs), which take the assembler's name for the register. The
//! encodings, as a disassembler may print them (`S3_<op1>_C<CRn>_C<CRm>_<op2>`):
//!
//! | register          | encoding         |
//! |-------------------|------------------|
//! | `ICC_PMR_EL1`     | `S3_0_C4_C6_0` |
//! | `ICC_IAR1_EL1`    | `S3_0_C12_C12_0` |
//! | `ICC_EOIR1_EL1`   | `S3_0_C12_C12_1` |
//! | `ICC_BPR1_EL1`    | `S3_0_C12_C12_3` |
//! | `ICC_CTLR_EL1`    | `S3_0_C12_C12_4` |
//! | `ICC_SRE_EL1`     | `S3_0_C12_C12_5` |
//! | `ICC_IGRPEN1_EL1` | `S3_0_C12_C12_7` |
#![allow(non_snake_case)] // tock-registers names each field module after its register

tock_registers::register_bitfields! {u64,
    /// Interrupt Controller Interrupt Priority Mask Register: interrupts of a priority value
    /// below `Priority` (i.e. higher priority) are signalled.
    pub ICC_PMR_EL1 [
        Priority OFFSET(0) NUMBITS(8) []
    ],
    /// Interrupt Controller Interrupt Acknowledge Register 1: reading it acknowledges the
    /// highest-priority pending group-1 interrupt.
    pub ICC_IAR1_EL1 [
        /// The acknowledged INTID (1023: none pending).
        INTID OFFSET(0) NUMBITS(24) []
    ],
    /// Interrupt Controller End Of Interrupt Register 1.
    pub ICC_EOIR1_EL1 [
        INTID OFFSET(0) NUMBITS(24) []
    ],
    /// Interrupt Controller Binary Point Register 1: how priorities split into group priority
    /// (preemption) and subpriority.
    pub ICC_BPR1_EL1 [
        BinaryPoint OFFSET(0) NUMBITS(3) []
    ],
    /// Interrupt Controller Control Register (EL1).
    pub ICC_CTLR_EL1 [
        /// 0: a write to ICC_EOIR1_EL1 both drops the priority and deactivates the interrupt.
        EOImode OFFSET(1) NUMBITS(1) [
            DropAndDeactivate = 0,
            DropOnly = 1
        ],
        /// Common binary point (the BPR1 writes also set BPR0).
        CBPR OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt Controller System Register Enable register (EL1).
    pub ICC_SRE_EL1 [
        /// The CPU interface is used through these system registers (not a memory-mapped
        /// GICC).
        SRE OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt Controller Interrupt Group 1 Enable register.
    pub ICC_IGRPEN1_EL1 [
        Enable OFFSET(0) NUMBITS(1) []
    ]
}
