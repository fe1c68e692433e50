//! GIC interrupt specifiers: three cells, `type`, `number`, `flags` (Linux
//! `Documentation/devicetree/bindings/interrupt-controller/arm,gic-v3.yaml`; type 0 = SPI from
//! INTID 32, type 1 = PPI from INTID 16).
#![forbid(unsafe_code)]

use super::read::cells;
use crate::gicreg::Trigger;

/// A GIC interrupt named by a three-cell specifier (Linux
/// `Documentation/devicetree/bindings/interrupt-controller/arm,gic-v3.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GicIrq {
    /// The INTID (SPI numbers + 32, PPI numbers + 16).
    pub intid: u32,
    /// From the flags cell's bits [3:0]: 1 (rising) or 2 (falling) edge, 4 (high) or 8 (low)
    /// level.
    pub trigger: Trigger,
}

/// INTID of the `index`th three-cell GIC interrupt specifier in `interrupts`.
pub fn gic_intid(interrupts: &[u8], index: usize) -> Option<u32> {
    let c: heapless::Vec<u32, 3> = cells(interrupts).skip(index * 3).take(3).collect();
    if c.len() != 3 {
        return None;
    }
    match c[0] {
        0 if c[1] < 988 => Some(c[1] + 32),
        1 if c[1] < 16 => Some(c[1] + 16),
        _ => None,
    }
}

/// The `index`th three-cell GIC interrupt specifier in `interrupts`, with its trigger type.
/// `None` for a bad type, an out-of-range number or flags that give no trigger type (0).
pub fn gic_irq(interrupts: &[u8], index: usize) -> Option<GicIrq> {
    let intid = gic_intid(interrupts, index)?;
    let flags = cells(interrupts).nth(index * 3 + 2)?;
    let trigger = match flags & 0xf {
        1 | 2 => Trigger::Edge,
        4 | 8 => Trigger::Level,
        _ => return None,
    };
    Some(GicIrq { intid, trigger })
}

#[cfg(test)]
mod tests {
    use super::super::testdtb::u32s;
    use super::*;

    #[test]
    fn interrupt_specifiers() {
        assert_eq!(gic_intid(&u32s(&[0, 5, 4]), 0), Some(37));
        assert_eq!(gic_intid(&u32s(&[1, 15, 4]), 0), Some(31));
        assert_eq!(gic_intid(&u32s(&[1, 16, 4]), 0), None);
        assert_eq!(gic_intid(&u32s(&[2, 1, 4]), 0), None);
        assert_eq!(gic_intid(&u32s(&[1, 15]), 0), None);
        assert_eq!(gic_intid(&u32s(&[1, 15, 4, 0, 1, 4]), 1), Some(33));
    }

    #[test]
    fn trigger_from_flags() {
        let edge = |f| gic_irq(&u32s(&[0, 187, f]), 0).map(|i| i.trigger);
        assert_eq!(edge(1), Some(Trigger::Edge));
        assert_eq!(edge(2), Some(Trigger::Edge));
        assert_eq!(edge(0xf04), Some(Trigger::Level));
        assert_eq!(edge(8), Some(Trigger::Level));
        assert_eq!(edge(0), None);
        assert_eq!(gic_irq(&u32s(&[2, 1, 1]), 0), None);
        assert_eq!(
            gic_irq(&u32s(&[1, 15, 0xf08, 0, 1, 1]), 1),
            Some(GicIrq {
                intid: 33,
                trigger: Trigger::Edge
            })
        );
    }
}
