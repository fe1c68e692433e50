//! Reading the blob through the `fdt` crate: a node by its path (past `FDT_NOP`s), a `reg` as
//! regions, an `interrupts` entry as an INTID, big-endian cells.
#![forbid(unsafe_code)]

use super::irq::gic_intid;
use super::DtError;
use crate::memmap::Region;
use fdt::node::FdtNode;
use fdt::Fdt;

/// The `reg` of `n` as regions; `what` names it in the error.
pub(super) fn regs<const N: usize>(
    n: &FdtNode<'_, '_>,
    what: &'static str,
) -> Result<heapless::Vec<Region, N>, DtError> {
    let mut v = heapless::Vec::new();
    for r in n.reg().ok_or(DtError::Missing(what))? {
        let size = r.size.ok_or(DtError::Malformed(what))?;
        v.push(Region::new(r.starting_address as usize as u64, size as u64))
            .map_err(|_| DtError::Malformed(what))?;
    }
    Ok(v)
}

/// A property's value as big-endian 32-bit cells (a trailing partial cell is ignored).
pub(super) fn cells(v: &[u8]) -> impl Iterator<Item = u32> + '_ {
    v.chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}

/// The INTID of the `index`th specifier of `n`'s `interrupts`; `what` names it in the error.
pub(super) fn intid(n: &FdtNode<'_, '_>, index: usize, what: &'static str) -> Result<u32, DtError> {
    let p = n.property("interrupts").ok_or(DtError::Missing(what))?;
    gic_intid(p.value, index).ok_or(DtError::Malformed(what))
}

/// The node at absolute `path` (`/firmware/optee`), found by walking the children from the root.
/// `Fdt::find_node` of fdt 0.1.5 gives up at a nop'ed node (`FDT_NOP` tokens, which libxl leaves
/// where the node of an unused RAM bank was), so in a tree made by `xl create` it misses every
/// node after one; the child iterators skip `FDT_NOP`.
pub(super) fn find_path<'b, 'a>(fdt: &'b Fdt<'a>, path: &str) -> Option<FdtNode<'b, 'a>> {
    let mut node = fdt.find_node("/")?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        node = node
            .children()
            .find(|c| c.name == part || c.name.split('@').next() == Some(part))?;
    }
    Some(node)
}
