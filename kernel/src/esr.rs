//! Exception syndrome decoding for crash reports (Arm ARM D17.2.37, ESR_EL1).
#![forbid(unsafe_code)]

/// Exception class (ESR bits 31:26).
pub fn ec(esr: u64) -> u32 {
    ((esr >> 26) & 0x3f) as u32
}

/// A short name for an exception class.
pub fn ec_name(ec: u32) -> &'static str {
    match ec {
        0x00 => "unknown",
        0x01 => "wfi/wfe",
        0x07 => "fp/simd access",
        0x0e => "illegal execution state",
        0x15 => "svc",
        0x16 => "hvc",
        0x17 => "smc",
        0x18 => "msr/mrs trap",
        0x20 => "instruction abort (lower EL)",
        0x21 => "instruction abort",
        0x22 => "pc alignment",
        0x24 => "data abort (lower EL)",
        0x25 => "data abort",
        0x26 => "sp alignment",
        0x2c => "fp exception",
        0x2f => "serror",
        0x30 | 0x31 => "breakpoint",
        0x32 | 0x33 => "software step",
        0x34 | 0x35 => "watchpoint",
        0x3c => "brk",
        _ => "other",
    }
}

/// The vector a fatal exception came through (the `kind` the vectors pass).
pub fn vector_name(kind: u64) -> &'static str {
    const NAMES: [&str; 16] = [
        "sync",
        "irq",
        "fiq",
        "serror",
        "sync/in-handler",
        "irq/in-handler",
        "fiq/in-handler",
        "serror/in-handler",
        "sync/el0",
        "irq/el0",
        "fiq/el0",
        "serror/el0",
        "sync/el0-32",
        "irq/el0-32",
        "fiq/el0-32",
        "serror/el0-32",
    ];
    NAMES.get(kind as usize).copied().unwrap_or("?")
}

/// For aborts: the fault status code description (DFSC/IFSC, bits 5:0).
pub fn fault_status(esr: u64) -> &'static str {
    match esr & 0x3f {
        0x04..=0x07 => "translation fault",
        0x09..=0x0b => "access flag fault",
        0x0d..=0x0f => "permission fault",
        0x10 => "synchronous external abort",
        0x21 => "alignment fault",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode() {
        let esr = 0x9600_0006; // data abort, same EL, translation fault level 2
        assert_eq!(ec(esr), 0x25);
        assert_eq!(ec_name(ec(esr)), "data abort");
        assert_eq!(fault_status(esr), "translation fault");
        assert_eq!(vector_name(0), "sync");
        assert_eq!(vector_name(4), "sync/in-handler");
        assert_eq!(vector_name(99), "?");
    }
}
