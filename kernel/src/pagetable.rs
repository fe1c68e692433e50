//! Stage-1 translation tables (Arm ARM D8, VMSAv8-64): 4 KiB granule, 39-bit VA (T0SZ = 25),
//! walks start at level 1. Identity maps only (VA = PA, and for the foreign window VA = IPA).
//!
//! Pure logic over a pool of tables whose addresses are `pool_base + 4096 * i`, so it is tested on
//! the host; the MMU module owns the real pool and turns entries into stores.
#![forbid(unsafe_code)]

use aarch64_cpu::registers::MAIR_EL1;
use tock_registers::fields::FieldValue;

/// Entries per table.
pub const ENTRIES: usize = 512;
/// Bytes per page.
pub const PAGE: u64 = 4096;
/// Virtual address bits (T0SZ = 64 - 39).
pub const VA_BITS: u32 = 39;

/// Memory types and permissions of a mapping (W^X: nothing is both writable and executable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// Device-nGnRE (MAIR index 0), read/write, execute-never.
    Device,
    /// Normal write-back (MAIR index 1), inner shareable, read/write, execute-never: data,
    /// stacks, heap, foreign pages.
    Normal,
    /// Normal write-back, inner shareable, read-only, executable: the image's text.
    Code,
}

/// The MAIR_EL1 attribute index of [`Attr::Device`] and of the Normal memory types.
const ATTR_INDEX_DEVICE: u64 = 0;
const ATTR_INDEX_NORMAL: u64 = 1;

/// MAIR_EL1 for these tables: attribute index 0 Device-nGnRE, index 1 Normal write-back
/// (inner and outer: non-transient, read- and write-allocate).
pub fn mair() -> FieldValue<u64, MAIR_EL1::Register> {
    MAIR_EL1::Attr0_Device::nonGathering_nonReordering_EarlyWriteAck
        + MAIR_EL1::Attr1_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc
        + MAIR_EL1::Attr1_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc
}

const VALID: u64 = 1;
const TABLE: u64 = 1 << 1; // table at levels 1–2, page at level 3
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 3 << 8;
const AP_RO: u64 = 1 << 7; // AP[2]: read-only (EL0 has no access either way: AP[1] = 0)
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;
const ADDR_MASK: u64 = 0x0000_FFFF_FFFF_F000;

/// A translation table.
#[derive(Debug, Clone)]
#[repr(C, align(4096))]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    /// An all-invalid table.
    pub const EMPTY: Table = Table([0; ENTRIES]);
}

/// Why a mapping could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PtError {
    /// Address or size not page aligned, or beyond the 39-bit VA space.
    BadRange,
    /// The table pool is exhausted.
    NoTables,
    /// The range overlaps an existing, different mapping.
    Conflict,
}

/// Leaf attribute bits for `attr` (AF set, EL0 no access, UXN always; PXN for devices).
pub fn leaf_attrs(attr: Attr) -> u64 {
    const DEV: u64 = ATTR_INDEX_DEVICE << 2; // AttrIndx, bits [4:2]
    const WB: u64 = ATTR_INDEX_NORMAL << 2;
    match attr {
        Attr::Device => DEV | AF | UXN | PXN,
        Attr::Normal => WB | AF | SH_INNER | UXN | PXN,
        Attr::Code => WB | AF | SH_INNER | UXN | AP_RO,
    }
}

/// A level-3 page descriptor for `pa`.
pub fn page_desc(pa: u64, attr: Attr) -> u64 {
    (pa & ADDR_MASK) | leaf_attrs(attr) | TABLE | VALID
}

fn shift(level: u32) -> u32 {
    39 - 9 * level
}

fn index(va: u64, level: u32) -> usize {
    ((va >> shift(level)) & 511) as usize
}

/// Where a page's level-3 entry is, or will be once its 2 MiB block is split
/// ([`Builder::page_slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSlot {
    /// The page is mapped through level-3 table `table`, at `entry`.
    L3 { table: usize, entry: usize },
    /// The page lies in a 2 MiB block. Level-3 table `table` (new, not linked yet) now maps the
    /// same 2 MiB as 512 pages with the block's attributes; entry `l2_entry` of level-2 table
    /// `l2_table` must become `desc` (break-before-make: invalidate, TLB invalidate, write), and
    /// then the page's entry is `entry` of `table`.
    Split {
        l2_table: usize,
        l2_entry: usize,
        desc: u64,
        table: usize,
        entry: usize,
    },
}

/// Builds tables in a pool; table 0 is the level-1 root.
#[derive(Debug)]
pub struct Builder<'a> {
    pool: &'a mut [Table],
    base: u64,
    used: usize,
}

impl<'a> Builder<'a> {
    /// Start with an empty root in `pool[0]`; `base` is the address of `pool[0]`.
    pub fn new(pool: &'a mut [Table], base: u64) -> Result<Self, PtError> {
        let first = pool.first_mut().ok_or(PtError::NoTables)?;
        *first = Table::EMPTY;
        Ok(Self {
            pool,
            base,
            used: 1,
        })
    }

    /// Continue with a pool whose first `used` tables were built before (by a `Builder` over
    /// the same pool and base): nothing is cleared, new mappings are added to the live tables.
    pub fn resume(pool: &'a mut [Table], base: u64, used: usize) -> Result<Self, PtError> {
        if used == 0 || used > pool.len() {
            return Err(PtError::NoTables);
        }
        Ok(Self { pool, base, used })
    }

    /// The root table's address (for TTBR0_EL1).
    pub fn root(&self) -> u64 {
        self.base
    }

    /// Tables used so far.
    pub fn tables_used(&self) -> usize {
        self.used
    }

    /// The pool.
    pub fn pool(&self) -> &[Table] {
        self.pool
    }

    fn table_index(&self, desc: u64) -> usize {
        ((desc & ADDR_MASK).wrapping_sub(self.base) / PAGE) as usize
    }

    /// The next-level table of entry `e` of table `t`, creating it if `create`.
    fn next(&mut self, t: usize, e: usize, create: bool) -> Result<Option<usize>, PtError> {
        let d = self.pool[t].0[e];
        if d & VALID != 0 {
            if d & TABLE == 0 {
                return Err(PtError::Conflict); // a block is in the way
            }
            return Ok(Some(self.table_index(d)));
        }
        if !create {
            return Ok(None);
        }
        let n = self.used;
        let slot = self.pool.get_mut(n).ok_or(PtError::NoTables)?;
        *slot = Table::EMPTY;
        self.used += 1;
        self.pool[t].0[e] = (self.base + n as u64 * PAGE) | TABLE | VALID;
        Ok(Some(n))
    }

    fn check(va: u64, size: u64) -> Result<(), PtError> {
        let end = va.checked_add(size).ok_or(PtError::BadRange)?;
        if va % PAGE != 0 || size % PAGE != 0 || end > (1 << VA_BITS) {
            return Err(PtError::BadRange);
        }
        Ok(())
    }

    /// Identity-map `[pa, pa + size)` with `attr`, using 1 GiB and 2 MiB blocks where aligned.
    pub fn map(&mut self, pa: u64, size: u64, attr: Attr) -> Result<(), PtError> {
        Self::check(pa, size)?;
        let mut a = pa;
        let end = pa + size;
        while a < end {
            let mut t = 0;
            let mut level = 1;
            loop {
                let blk = 1u64 << shift(level);
                let e = index(a, level);
                let fits = a % blk == 0 && end - a >= blk;
                if level == 3 || (fits && level >= 1) {
                    let want = (a & ADDR_MASK)
                        | leaf_attrs(attr)
                        | VALID
                        | if level == 3 { TABLE } else { 0 };
                    let cur = self.pool[t].0[e];
                    if cur & VALID != 0 && cur != want {
                        if level < 3 && cur & TABLE != 0 {
                            // A finer table already covers this block: descend instead.
                            t = self.table_index(cur);
                            level += 1;
                            continue;
                        }
                        return Err(PtError::Conflict);
                    }
                    self.pool[t].0[e] = want;
                    a += blk;
                    break;
                }
                t = self.next(t, e, true)?.ok_or(PtError::NoTables)?;
                level += 1;
            }
        }
        Ok(())
    }

    /// Create the level-3 tables covering `[va, va + size)` with all entries invalid, so that
    /// pages can later be mapped there by single stores (the foreign window).
    pub fn reserve(&mut self, va: u64, size: u64) -> Result<(), PtError> {
        Self::check(va, size)?;
        let mut a = va;
        while a < va + size {
            let l2 = self.next(0, index(a, 1), true)?.ok_or(PtError::NoTables)?;
            let l3 = self.next(l2, index(a, 2), true)?.ok_or(PtError::NoTables)?;
            if self.pool[l3].0[index(a, 3)] & VALID != 0 {
                return Err(PtError::Conflict);
            }
            a += PAGE;
        }
        Ok(())
    }

    /// (table index, entry index) of the level-3 entry for `va`, if the tables exist.
    pub fn l3_slot(&mut self, va: u64) -> Option<(usize, usize)> {
        let l2 = self.next(0, index(va, 1), false).ok()??;
        let l3 = self.next(l2, index(va, 2), false).ok()??;
        Some((l3, index(va, 3)))
    }

    /// The level-3 entry of the mapped page at `va`, preparing a split of its 2 MiB block into
    /// pages if needed (see [`PageSlot::Split`]: the caller links the new table). Errors:
    /// `BadRange` if `va` is not mapped (or beyond the VA space), `Conflict` if it lies in a
    /// 1 GiB block (not split here), `NoTables` if the pool is exhausted.
    pub fn page_slot(&mut self, va: u64) -> Result<PageSlot, PtError> {
        Self::check(va & !(PAGE - 1), PAGE)?;
        let l1 = self.pool[0].0[index(va, 1)];
        if l1 & VALID == 0 {
            return Err(PtError::BadRange);
        }
        if l1 & TABLE == 0 {
            return Err(PtError::Conflict);
        }
        let l2_table = self.table_index(l1);
        let l2_entry = index(va, 2);
        let l2 = self.pool[l2_table].0[l2_entry];
        if l2 & VALID == 0 {
            return Err(PtError::BadRange);
        }
        let entry = index(va, 3);
        if l2 & TABLE != 0 {
            return Ok(PageSlot::L3 {
                table: self.table_index(l2),
                entry,
            });
        }
        let n = self.used;
        let t = self.pool.get_mut(n).ok_or(PtError::NoTables)?;
        // Block and page descriptors share the attribute fields; a page also sets bit 1.
        let attrs = l2 & !ADDR_MASK;
        let base = l2 & ADDR_MASK;
        for (i, e) in t.0.iter_mut().enumerate() {
            *e = (base + i as u64 * PAGE) | attrs | TABLE;
        }
        self.used += 1;
        Ok(PageSlot::Split {
            l2_table,
            l2_entry,
            desc: (self.base + n as u64 * PAGE) | TABLE | VALID,
            table: n,
            entry,
        })
    }

    /// Write `desc` to entry `entry` of table `table` (test support for what the MMU module
    /// does with stores).
    #[cfg(test)]
    fn set(&mut self, table: usize, entry: usize, desc: u64) {
        self.pool[table].0[entry] = desc;
    }

    /// Walk the tables: the leaf descriptor mapping `va`, if any (test and debug aid).
    pub fn lookup(&self, va: u64) -> Option<u64> {
        let mut t = 0;
        for level in 1..=3 {
            let d = self.pool[t].0[index(va, level)];
            if d & VALID == 0 {
                return None;
            }
            if level == 3 || d & TABLE == 0 {
                return Some(d);
            }
            t = self.table_index(d);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mair_is_device_ngnre_then_normal_write_back() {
        // Arm ARM, MAIR_EL1: Attr0 = 0b0000_0100 (Device-nGnRE), Attr1 = 0b1111_1111
        // (Normal, inner and outer write-back non-transient, read/write-allocate).
        assert_eq!(mair().value, 0xff04);
        assert_eq!((mair().value >> (8 * ATTR_INDEX_DEVICE)) & 0xff, 0x04);
        assert_eq!((mair().value >> (8 * ATTR_INDEX_NORMAL)) & 0xff, 0xff);
    }

    fn pool(n: usize) -> Vec<Table> {
        vec![Table::EMPTY; n]
    }

    #[test]
    fn blocks_and_pages() {
        let mut p = pool(8);
        let mut b = Builder::new(&mut p, 0x8000_0000).unwrap();
        // RAM: 16 MiB at 1 GiB -> eight 2 MiB blocks under one level-2 table.
        b.map(0x4000_0000, 0x100_0000, Attr::Normal).unwrap();
        // GIC distributor and redistributor: 4 KiB pages in one level-3 table.
        b.map(0x300_1000, 0x1_0000, Attr::Device).unwrap();
        b.map(0x302_0000, 0x2_0000, Attr::Device).unwrap();
        assert_eq!(b.tables_used(), 4);
        let d = b.lookup(0x40ab_cdef).unwrap();
        assert_eq!(d & 3, 1, "2 MiB block");
        assert_eq!(d & ADDR_MASK, 0x40a0_0000);
        assert_eq!((d >> 2) & 7, 1, "MAIR index 1");
        assert_ne!(d & PXN, 0, "data is not executable");
        assert_eq!(d & AP_RO, 0, "data is writable");
        let g = b.lookup(0x300_1004).unwrap();
        assert_eq!(g & 3, 3, "page");
        assert_eq!(g & ADDR_MASK, 0x300_1000);
        assert_ne!(g & PXN, 0);
        assert_eq!(b.lookup(0x300_0000), None);
        assert_eq!(b.lookup(0x304_0000), None);
        // Mapping the same range again is idempotent; a different attribute conflicts.
        b.map(0x300_1000, 0x1000, Attr::Device).unwrap();
        assert_eq!(
            b.map(0x300_1000, 0x1000, Attr::Normal),
            Err(PtError::Conflict)
        );
    }

    #[test]
    fn code_is_read_only_and_executable() {
        let mut p = pool(4);
        let mut b = Builder::new(&mut p, 0x1000_0000).unwrap();
        b.map(0x4020_1000, 0x2000, Attr::Code).unwrap();
        b.map(0x4020_3000, 0x1000, Attr::Normal).unwrap();
        let c = b.lookup(0x4020_1800).unwrap();
        assert_eq!(c & (PXN | UXN | AP_RO), UXN | AP_RO);
        let d = b.lookup(0x4020_3000).unwrap();
        assert_eq!(d & (PXN | AP_RO), PXN);
        assert_eq!(
            b.map(0x4020_2000, 0x1000, Attr::Normal),
            Err(PtError::Conflict)
        );
    }

    #[test]
    fn gigabyte_block_and_errors() {
        let mut p = pool(3);
        let mut b = Builder::new(&mut p, 0).unwrap();
        b.map(0x8000_0000, 0x4000_0000, Attr::Normal).unwrap();
        assert_eq!(b.tables_used(), 1);
        assert_eq!(b.lookup(0xbfff_ffff).unwrap() & ADDR_MASK, 0x8000_0000);
        assert_eq!(b.map(0x1001, 0x1000, Attr::Normal), Err(PtError::BadRange));
        assert_eq!(b.map(1 << 39, 0x1000, Attr::Normal), Err(PtError::BadRange));
        assert_eq!(b.map(0x1000, 0x1000, Attr::Normal), Ok(())); // level-2 and level-3 tables 1, 2
        assert_eq!(
            b.map(0x4000_1000, 0x1000, Attr::Normal),
            Err(PtError::NoTables)
        );
    }

    #[test]
    fn resume_extends_live_tables() {
        let mut p = pool(8);
        let used = {
            let mut b = Builder::new(&mut p, 0x1000_0000).unwrap();
            b.map(0x4020_1000, 0x1000, Attr::Code).unwrap(); // early: image text page
            b.map(0x4020_2000, 0x3000, Attr::Normal).unwrap(); // early: image data
            b.tables_used()
        };
        let mut b = Builder::resume(&mut p, 0x1000_0000, used).unwrap();
        // Later: all RAM but the text page, in blocks where possible, overlapping the early data.
        b.map(0x4000_0000, 0x20_1000, Attr::Normal).unwrap();
        b.map(0x4020_2000, 0x4220_0000 - 0x4020_2000, Attr::Normal)
            .unwrap();
        assert_eq!(
            b.tables_used(),
            used,
            "no new tables: the early ones are reused"
        );
        assert_eq!(b.lookup(0x4020_1000).unwrap() & AP_RO, AP_RO);
        assert_eq!(
            b.lookup(0x4000_0000).unwrap() & 3,
            1,
            "2 MiB block below the image"
        );
        assert_eq!(
            b.lookup(0x4020_3000).unwrap() & 3,
            3,
            "page next to the image"
        );
        assert_eq!(
            Builder::resume(&mut p, 0, 0).unwrap_err(),
            PtError::NoTables
        );
    }

    #[test]
    fn split_block_into_pages() {
        let mut p = pool(8);
        let mut b = Builder::new(&mut p, 0x1000_0000).unwrap();
        b.map(0x4020_1000, 0x1000, Attr::Code).unwrap(); // a level-3 table already
        b.map(0x4000_0000, 0x20_1000, Attr::Normal).unwrap();
        b.map(0x4020_2000, 0x4100_0000 - 0x4020_2000, Attr::Normal)
            .unwrap();
        let used = b.tables_used();
        assert_eq!(used, 3);
        let block = b.lookup(0x40a0_0000).unwrap();
        let slot = b.page_slot(0x40a0_3abc).unwrap();
        let PageSlot::Split {
            l2_table,
            l2_entry,
            desc,
            table,
            entry,
        } = slot
        else {
            panic!("expected a split, got {slot:?}");
        };
        assert_eq!((table, entry), (used, 3));
        assert_eq!(b.tables_used(), used + 1);
        // Not linked yet: the block still maps it.
        assert_eq!(b.lookup(0x40a0_3000), Some(block));
        b.set(l2_table, l2_entry, desc);
        // Every page of the old block: same address and attributes, now as pages.
        for i in 0..512u64 {
            let va = 0x40a0_0000 + i * PAGE;
            let d = b.lookup(va).unwrap();
            assert_eq!(d & ADDR_MASK, va);
            assert_eq!(d & !ADDR_MASK, (block & !ADDR_MASK) | TABLE);
        }
        // Now a level-3 slot; unmapping it leaves its neighbours.
        assert_eq!(
            b.page_slot(0x40a0_3000),
            Ok(PageSlot::L3 { table, entry: 3 })
        );
        b.set(table, 3, 0);
        assert_eq!(b.lookup(0x40a0_3000), None);
        assert!(b.lookup(0x40a0_2fff).is_some() && b.lookup(0x40a0_4000).is_some());
        // Already pages: no new table.
        assert_eq!(
            b.page_slot(0x4020_1000),
            Ok(PageSlot::L3 { table: 2, entry: 1 })
        );
        assert_eq!(b.page_slot(0x5000_0000), Err(PtError::BadRange));
    }

    #[test]
    fn split_limits() {
        let mut p = pool(2);
        let mut b = Builder::new(&mut p, 0).unwrap();
        b.map(0x4000_0000, 0x4000_0000, Attr::Normal).unwrap(); // a 1 GiB block
        assert_eq!(b.page_slot(0x4000_0000), Err(PtError::Conflict));
        b.map(0x20_0000, 0x20_0000, Attr::Normal).unwrap(); // level-2 table 1, a 2 MiB block
        assert_eq!(b.page_slot(0x20_0000), Err(PtError::NoTables));
        assert_eq!(b.page_slot(0x1000), Err(PtError::BadRange));
        assert_eq!(b.page_slot(1 << 39), Err(PtError::BadRange));
    }

    #[test]
    fn window_reservation() {
        let mut p = pool(8);
        let mut b = Builder::new(&mut p, 0x1000_0000).unwrap();
        b.map(0x4000_0000, 0x10_0000, Attr::Normal).unwrap(); // 1 MiB: pages
        b.reserve(0x4100_0000, 0x20_0000).unwrap();
        assert_eq!(b.lookup(0x4100_0000), None);
        let (t, e) = b.l3_slot(0x4100_3000).unwrap();
        assert_eq!(e, 3);
        assert!(b.l3_slot(0x4200_0000).is_none());
        let desc = page_desc(0x4100_3000, Attr::Normal);
        b.pool[t].0[e] = desc;
        assert_eq!(b.lookup(0x4100_3abc), Some(desc));
        assert_eq!(b.reserve(0x4000_0000, 0x1000), Err(PtError::Conflict));
    }
}
