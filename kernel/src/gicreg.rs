//! GICv3 distributor register arithmetic for shared peripheral interrupts (SPIs), kept apart
//! from the MMIO in `arch::gic` so that it tests on the host. Offsets and bit positions are those
//! of Arm IHI 0069 (GICv3/v4 architecture specification) §12.9, "The GIC Distributor register
//! descriptions".
#![forbid(unsafe_code)]

/// The first SPI (INTIDs 0–15 are SGIs, 16–31 PPIs).
pub const FIRST_SPI: u32 = 32;
/// One past the last SPI (1020–1023 are special INTIDs).
pub const SPI_END: u32 = 1020;

/// `GICD_TYPER` (ITLinesNumber in bits [4:0]).
pub const GICD_TYPER: usize = 0x4;
/// `GICD_ISENABLER<n>`: one set-enable bit per INTID.
pub const GICD_ISENABLER: usize = 0x100;
/// `GICD_ICENABLER<n>`: one clear-enable bit per INTID.
pub const GICD_ICENABLER: usize = 0x180;
/// `GICD_ICPENDR<n>`: one clear-pending bit per INTID.
pub const GICD_ICPENDR: usize = 0x280;
/// `GICD_IPRIORITYR<n>`: one priority byte per INTID.
pub const GICD_IPRIORITYR: usize = 0x400;
/// `GICD_ICFGR<n>`: two configuration bits per INTID (bit 1 of the pair: edge-triggered).
pub const GICD_ICFGR: usize = 0xc00;
/// `GICD_IROUTER<n>`: one 64-bit routing register per INTID (SPIs only).
pub const GICD_IROUTER: usize = 0x6000;

/// How an interrupt is signalled (`GICD_ICFGR` `Int_config`; the device tree's flags cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Edge-triggered: each assertion is one interrupt.
    Edge,
    /// Level-sensitive: pending while the source holds it.
    Level,
}

/// Why an interrupt cannot be used as a shared peripheral interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpiError {
    /// The INTID is an SGI, a PPI or a special INTID, not an SPI.
    NotSpi(u32),
    /// The distributor does not implement the INTID (`GICD_TYPER.ITLinesNumber`).
    NotImplemented(u32),
}

/// A shared peripheral interrupt: an INTID in `FIRST_SPI..SPI_END`. The constructor is the only
/// way to make one, so the register arithmetic below never sees a private or special INTID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Spi(u32);

impl Spi {
    /// `intid` if it names an SPI.
    pub const fn new(intid: u32) -> Option<Spi> {
        if intid >= FIRST_SPI && intid < SPI_END {
            Some(Spi(intid))
        } else {
            None
        }
    }

    /// The INTID.
    pub const fn intid(self) -> u32 {
        self.0
    }

    /// Whether a distributor whose `GICD_TYPER` is `typer` implements this INTID: it has
    /// `32 * (ITLinesNumber + 1)` INTIDs (IHI 0069 §12.9.38).
    pub const fn implemented(self, typer: u32) -> bool {
        self.0 < 32 * ((typer & 0x1f) + 1)
    }

    /// Offset and bit of this INTID in a one-bit-per-INTID register array at `base`
    /// (`GICD_ISENABLER`, `GICD_ICENABLER`, `GICD_ICPENDR`, ...).
    pub const fn bit(self, base: usize) -> (usize, u32) {
        (base + 4 * (self.0 as usize / 32), 1 << (self.0 % 32))
    }

    /// Offset of the 32-bit `GICD_IPRIORITYR` word holding this INTID's byte, and the shift of
    /// that byte in it.
    pub const fn priority(self) -> (usize, u32) {
        (GICD_IPRIORITYR + (self.0 as usize & !3), 8 * (self.0 % 4))
    }

    /// Offset of this INTID's `GICD_ICFGR` word and the shift of its two-bit field.
    pub const fn config(self) -> (usize, u32) {
        (GICD_ICFGR + 4 * (self.0 as usize / 16), 2 * (self.0 % 16))
    }

    /// `word` (a `GICD_ICFGR` value) with this INTID's field set to `t`. Bit 0 of the field is
    /// reserved (RES0 for SPIs in GICv3), so the field is `0b10` for edge and `0b00` for level.
    pub const fn with_trigger(self, word: u32, t: Trigger) -> u32 {
        let shift = self.config().1;
        let cleared = word & !(0b11 << shift);
        match t {
            Trigger::Edge => cleared | (0b10 << shift),
            Trigger::Level => cleared,
        }
    }

    /// Offset of this INTID's `GICD_IROUTER`.
    pub const fn irouter(self) -> usize {
        GICD_IROUTER + 8 * self.0 as usize
    }
}

/// The `GICD_IROUTER` value that routes an SPI to the one PE with affinity `aff` (Aff3:Aff2:
/// Aff1:Aff0 packed in 32 bits, as `GICR_TYPER[63:32]`): Interrupt_Routing_Mode 0, Aff3 in bits
/// [39:32], Aff2..Aff0 in bits [23:0] (IHI 0069 §12.9.22).
pub const fn irouter_value(aff: u32) -> u64 {
    ((aff as u64 >> 24) << 32) | (aff as u64 & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spis_are_spis() {
        assert_eq!(Spi::new(31), None);
        assert_eq!(Spi::new(32).map(Spi::intid), Some(32));
        assert_eq!(Spi::new(1019).map(Spi::intid), Some(1019));
        assert_eq!(Spi::new(1020), None);
        assert_eq!(Spi::new(1023), None);
    }

    #[test]
    fn implemented_follows_it_lines_number() {
        // QEMU virt: ITLinesNumber 9 -> 320 INTIDs (0..=319).
        let s = Spi::new(219).unwrap();
        assert!(s.implemented(9));
        assert!(s.implemented(6)); // 224 INTIDs
        assert!(!s.implemented(5)); // 192 INTIDs
        assert!(!Spi::new(319 + 1).unwrap().implemented(9));
        assert!(Spi::new(319).unwrap().implemented(9));
    }

    #[test]
    fn register_positions_of_intid_219() {
        // OP-TEE's notification interrupt on QEMU virt.
        let s = Spi::new(219).unwrap();
        assert_eq!(s.bit(GICD_ISENABLER), (0x100 + 4 * 6, 1 << 27));
        assert_eq!(s.bit(GICD_ICENABLER), (0x198, 1 << 27));
        assert_eq!(s.priority(), (0x400 + 216, 24));
        assert_eq!(s.config(), (0xc00 + 4 * 13, 22));
        assert_eq!(s.irouter(), 0x6000 + 8 * 219);
    }

    #[test]
    fn register_positions_at_word_boundaries() {
        let s = Spi::new(32).unwrap();
        assert_eq!(s.bit(GICD_ISENABLER), (0x104, 1));
        assert_eq!(s.priority(), (0x420, 0));
        assert_eq!(s.config(), (0xc08, 0));
        let s = Spi::new(63).unwrap();
        assert_eq!(s.bit(GICD_ICPENDR), (0x284, 1 << 31));
        assert_eq!(s.priority(), (0x43c, 24));
        assert_eq!(s.config(), (0xc0c, 30));
    }

    #[test]
    fn trigger_field() {
        let s = Spi::new(219).unwrap(); // field at bits [23:22]
        assert_eq!(s.with_trigger(0, Trigger::Edge), 0b10 << 22);
        assert_eq!(s.with_trigger(u32::MAX, Trigger::Level), !(0b11 << 22));
        assert_eq!(
            s.with_trigger(0x5555_5555, Trigger::Edge),
            (0x5555_5555 & !(0b11 << 22)) | (0b10 << 22)
        );
    }

    #[test]
    fn irouter_routes_to_one_pe() {
        assert_eq!(irouter_value(0), 0);
        assert_eq!(irouter_value(0x0000_0001), 1);
        assert_eq!(irouter_value(0x0102_0304), 0x01_0002_0304);
    }
}
