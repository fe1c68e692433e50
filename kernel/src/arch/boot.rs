//! Image header, entry and exception vectors.
//!
//! Boot protocol (Linux `Documentation/arch/arm64/booting.rst`, as Xen follows it for domUs):
//! EL1, MMU and D-cache off, x0 = device tree address, the image cleaned to the point of coherency.
//! The entry masks all exceptions, enables FP/SIMD (Rust code uses the q-registers), installs the
//! vectors, invalidates the data cache over the image (bss lines may be stale: they are written
//! with the MMU off, i.e. non-cacheable, and later read through a cacheable mapping), zeroes bss,
//! invalidates again, sets the two stacks and calls [`super::traps`]'s
//! `__tsd_kernel_start(dtb, t0)`.
//!
//! Stacks: the kernel runs at EL1 on SP_EL0 ("EL1t"); exceptions switch to SP_EL1, a separate
//! exception stack. Both sit above unmapped guard pages (see `link.ld`), so a thread-stack
//! overflow is a clean data abort reported from the exception stack instead of a silent
//! corruption or a recursive fault.
//!
//! Vectors (Arm ARM D1.10.2): 16 slots of 128 bytes at a 2 KiB aligned base. Each slot holds only
//! a few instructions and branches out, so no slot can overflow. Normal operation only uses the
//! "current EL with SP_EL0" group; the "SP_ELx" group is reached by a fault inside an exception
//! handler and the lower-EL groups by nothing (this kernel has no EL0): they all report and stop
//! the domain.

core::arch::global_asm!(
    r#"
.section .text.head, "ax"
.global _start
_start:
    b       __tsd_entry                 /* code0 */
    .long   0                           /* code1 */
    .quad   __text_offset               /* load offset from the RAM base (link.ld) */
    .quad   __image_size                /* image_size, including bss and stack */
    .quad   0x2                         /* flags: little endian, 4 KiB pages */
    .quad   0                           /* res2 */
    .quad   0                           /* res3 */
    .quad   0                           /* res4 */
    .ascii  "ARM\x64"                   /* magic */
    .long   0                           /* res5 */

.section .text.boot, "ax"
__tsd_entry:
    mov     x19, x0
    isb
    mrs     x20, cntvct_el0
    msr     daifset, #0xf
    mov     x1, #(3 << 20)              /* CPACR_EL1.FPEN: no FP/SIMD traps */
    msr     cpacr_el1, x1
    adrp    x1, __tsd_vectors
    add     x1, x1, :lo12:__tsd_vectors
    msr     vbar_el1, x1
    adrp    x0, __image_start
    add     x0, x0, :lo12:__image_start
    adrp    x1, __image_end
    add     x1, x1, :lo12:__image_end
    bl      __tsd_dcache_inval
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b
2:  adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    bl      __tsd_dcache_inval
    adrp    x1, __exc_stack_top
    add     x1, x1, :lo12:__exc_stack_top
    mov     sp, x1                      /* SP_EL1: exception stack */
    msr     spsel, #0
    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1                      /* SP_EL0: thread stack */
    mov     x29, #0
    mov     x30, #0
    mov     x0, x19
    mov     x1, x20
    bl      __tsd_kernel_start
3:  wfi
    b       3b

/* Clean and invalidate [x0, x1) to the PoC by VA (DC IVAC is upgraded to DC CIVAC under a
 * hypervisor, so dirty lines are written back first: harmless, the range is ours).
 * Clobbers x0, x2, x3. */
.global __tsd_dcache_inval
__tsd_dcache_inval:
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4
    mov     x2, #4
    lsl     x2, x2, x3
    sub     x3, x2, #1
    bic     x0, x0, x3
1:  cmp     x0, x1
    b.hs    2f
    dc      civac, x0
    add     x0, x0, x2
    b       1b
2:  dsb     sy
    ret

.macro TSD_VEC kind
    .balign 128
    sub     sp, sp, #288
    stp     x0, x1, [sp]
    mov     x0, #\kind
    b       __tsd_trap_common
.endm

.section .text.vectors, "ax"
.balign 2048
.global __tsd_vectors
__tsd_vectors:
    TSD_VEC 0   /* current EL, SP_EL0 (the kernel): sync */
    .balign 128
    b       __tsd_irq_entry            /* current EL, SP_EL0: IRQ */
    TSD_VEC 2   /* FIQ */
    TSD_VEC 3   /* SError */
    TSD_VEC 4   /* current EL, SP_ELx (inside an exception handler): sync */
    TSD_VEC 5   /* IRQ (handlers run with IRQs masked: never) */
    TSD_VEC 6   /* FIQ */
    TSD_VEC 7   /* SError */
    TSD_VEC 8   /* lower EL, AArch64: sync */
    TSD_VEC 9
    TSD_VEC 10
    TSD_VEC 11
    TSD_VEC 12  /* lower EL, AArch32: sync */
    TSD_VEC 13
    TSD_VEC 14
    TSD_VEC 15

/* Fatal path: a TrapFrame (x0-x30, sp, elr, spsr, esr, far; 288 bytes) on the stack, then
 * __tsd_trap_fatal(kind, frame), which never returns. */
__tsd_trap_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x1, sp_el0                  /* the interrupted SP: SP_EL0 ... */
    add     x2, sp, #288                /* ... or, from the SP_ELx group, SP_EL1 before entry */
    cmp     x0, #4
    csel    x1, x2, x1, hs
    stp     x30, x1, [sp, #240]
    mrs     x1, elr_el1
    mrs     x2, spsr_el1
    stp     x1, x2, [sp, #256]
    mrs     x1, esr_el1
    mrs     x2, far_el1
    stp     x1, x2, [sp, #272]
    mov     x1, sp
    bl      __tsd_trap_fatal
1:  wfi
    b       1b

/* IRQ: save all general-purpose and FP/SIMD state (800 bytes), call __tsd_irq_handler(),
 * restore, return. */
__tsd_irq_entry:
    sub     sp, sp, #800
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mrs     x0, elr_el1
    mrs     x1, spsr_el1
    stp     x0, x1, [sp, #256]
    add     x0, sp, #272
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]
    mrs     x1, fpsr
    mrs     x2, fpcr
    add     x3, sp, #784
    stp     x1, x2, [x3]
    bl      __tsd_irq_handler
    add     x3, sp, #784
    ldp     x1, x2, [x3]
    add     x0, sp, #272
    msr     fpsr, x1
    msr     fpcr, x2
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    ldp     x0, x1, [sp, #256]
    msr     elr_el1, x0
    msr     spsr_el1, x1
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    add     sp, sp, #800
    eret
"#
);

/// The register state saved by the fatal exception path (layout fixed by the assembly above).
#[derive(Debug, Clone)]
#[repr(C)]
pub struct TrapFrame {
    /// x0–x30.
    pub x: [u64; 31],
    /// SP at the time of the exception.
    pub sp: u64,
    /// ELR_EL1: the faulting (or interrupted) instruction.
    pub elr: u64,
    /// SPSR_EL1.
    pub spsr: u64,
    /// ESR_EL1: exception syndrome.
    pub esr: u64,
    /// FAR_EL1: faulting address (valid for aborts).
    pub far: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 288);
