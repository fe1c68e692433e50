//! The device tree Xen hands a domU in x0 (Linux `Documentation/arch/arm64/booting.rst`; Xen
//! `docs/misc/arm/device-tree/guest.txt` for `/hypervisor`).
//!
//! Everything the kernel needs is read from here once at boot; a missing node is a [`DtError`]
//! that stops the boot with a message naming it. Interrupt specifiers are GIC three-cell ones
//! (`type`, `number`, `flags`; type 0 = SPI from INTID 32, type 1 = PPI from INTID 16).
//!
//! This module holds the facts ([`DtInfo`]) and reads memory, GIC, timer, `/hypervisor`, UART,
//! `/chosen` and `/firmware/optee`; `read` is the access to the blob (a path walk past
//! `FDT_NOP`s, `reg`, cells), `irq` the interrupt specifiers ([`GicIrq`]), `cpus` the vCPUs and
//! the PSCI conduit, and `testdtb` a blob writer for the tests.
#![forbid(unsafe_code)]

mod cpus;
mod irq;
mod read;
#[cfg(test)]
pub mod testdtb;

pub use cpus::{PsciConduit, MAX_CPUS};
pub use irq::{gic_intid, gic_irq, GicIrq};

use crate::memmap::Region;
use fdt::Fdt;
use read::{find_path, intid, regs};

/// Memory banks tracked.
pub const MAX_BANKS: usize = 8;

/// What the kernel uses from the device tree.
#[derive(Debug, Clone)]
pub struct DtInfo<'a> {
    /// RAM banks (`/memory*` `reg`).
    pub memory: heapless::Vec<Region, MAX_BANKS>,
    /// GICv3 distributor (`arm,gic-v3` reg 0).
    pub gic_dist: Region,
    /// GICv3 redistributor region (`arm,gic-v3` reg 1).
    pub gic_redist: Region,
    /// INTID of the EL1 virtual timer (`arm,armv8-timer` interrupt 2).
    pub vtimer_intid: u32,
    /// `/hypervisor` `compatible` (first string, e.g. `xen,xen-4.17`).
    pub xen_compatible: &'a str,
    /// INTID of the event-channel upcall (`/hypervisor` `interrupts`).
    pub evtchn_intid: u32,
    /// `/hypervisor` `reg`: the grant-table region first, then extended regions (free guest
    /// physical space for foreign mappings).
    pub xen_regions: heapless::Vec<Region, MAX_BANKS>,
    /// SBSA/PL011 UART (the vpl011), if any.
    pub uart: Option<Region>,
    /// `/chosen/bootargs` (empty if absent).
    pub bootargs: &'a str,
    /// The ramdisk Xen loaded (`/chosen` `linux,initrd-start` / `-end`), if any.
    pub initrd: Option<Region>,
    /// Size of the blob (`totalsize`).
    pub total_size: usize,
    /// The interrupt of `/firmware/optee` (`interrupts`, first specifier), if the node names
    /// one: OP-TEE's asynchronous-notification interrupt in the host's tree, the one the TEE
    /// mediator raises in a TEE guest's (hv-patches 0007). Absent or malformed: `None` (no
    /// notifications; not a boot error).
    pub optee_interrupt: Option<GicIrq>,
    /// The vCPUs' MPIDR affinities (`/cpus/cpu@*` `reg`), in device-tree order: index 0 is the
    /// boot vCPU under Xen (vCPU n has Aff0 = n % 16, Aff1 = n / 16). Empty without `/cpus`.
    pub cpus: heapless::Vec<u64, MAX_CPUS>,
    /// The PSCI conduit (`/psci` `method`), if the tree has a PSCI node with a known method.
    pub psci: Option<PsciConduit>,
}

/// Why the device tree could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtError {
    /// Not a flattened device tree (bad magic or truncated).
    BadBlob,
    /// A required node or property is absent (names it).
    Missing(&'static str),
    /// A required property has an unexpected shape (names it).
    Malformed(&'static str),
}

impl core::fmt::Display for DtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DtError::BadBlob => write!(f, "no valid device tree at x0"),
            DtError::Missing(what) => write!(f, "device tree lacks {what}"),
            DtError::Malformed(what) => write!(f, "device tree has a malformed {what}"),
        }
    }
}

/// Parse the blob.
pub fn parse(blob: &[u8]) -> Result<DtInfo<'_>, DtError> {
    let fdt = Fdt::new(blob).map_err(|_| DtError::BadBlob)?;

    let mut memory = heapless::Vec::new();
    for n in fdt.all_nodes() {
        let is_mem = n.name == "memory"
            || n.name.starts_with("memory@")
            || n.property("device_type").and_then(|p| p.as_str()) == Some("memory");
        if is_mem {
            for r in regs::<MAX_BANKS>(&n, "/memory reg")? {
                if r.size > 0 {
                    memory
                        .push(r)
                        .map_err(|_| DtError::Malformed("/memory reg (too many banks)"))?;
                }
            }
        }
    }
    if memory.is_empty() {
        return Err(DtError::Missing("a /memory node"));
    }

    let gic = fdt
        .find_compatible(&["arm,gic-v3"])
        .ok_or(DtError::Missing("an arm,gic-v3 interrupt controller"))?;
    let g = regs::<4>(&gic, "arm,gic-v3 reg")?;
    if g.len() < 2 {
        return Err(DtError::Malformed(
            "arm,gic-v3 reg (needs distributor and redistributor)",
        ));
    }

    let timer = fdt
        .find_compatible(&["arm,armv8-timer", "arm,armv7-timer"])
        .ok_or(DtError::Missing("an arm,armv8-timer node"))?;
    let vtimer_intid = intid(&timer, 2, "arm,armv8-timer interrupts (virtual timer)")?;

    let hyp =
        find_path(&fdt, "/hypervisor").ok_or(DtError::Missing("/hypervisor (xen,enhanced)"))?;
    let xen_compatible = hyp
        .compatible()
        .map(|c| c.first())
        .filter(|c| c.starts_with("xen,xen"))
        .ok_or(DtError::Malformed("/hypervisor compatible (not xen,xen)"))?;
    let evtchn_intid = intid(&hyp, 0, "/hypervisor interrupts")?;
    let xen_regions = regs::<MAX_BANKS>(&hyp, "/hypervisor reg")?;

    let uart = match fdt.find_compatible(&["arm,sbsa-uart", "arm,pl011"]) {
        Some(u) => regs::<2>(&u, "uart reg")?.first().copied(),
        None => None,
    };

    let chosen = find_path(&fdt, "/chosen");
    let bootargs = chosen
        .and_then(|c| c.property("bootargs"))
        .and_then(|p| p.as_str())
        .unwrap_or("");
    let prop_u64 = |name: &str| {
        chosen
            .and_then(|c| c.property(name))
            .and_then(|p| p.as_usize())
            .map(|v| v as u64)
    };
    let initrd = match (prop_u64("linux,initrd-start"), prop_u64("linux,initrd-end")) {
        (Some(s), Some(e)) if e > s => Some(Region::new(s, e - s)),
        (Some(_), Some(_)) | (None, None) => None, // an empty range: no ramdisk
        _ => return Err(DtError::Malformed("/chosen linux,initrd-start/-end")),
    };

    let optee_interrupt = find_path(&fdt, "/firmware/optee")
        .and_then(|n| n.property("interrupts"))
        .and_then(|p| gic_irq(p.value, 0));

    let cpus = cpus::cpus(&fdt)?;
    let psci = cpus::psci(&fdt);

    Ok(DtInfo {
        memory,
        gic_dist: g[0],
        gic_redist: g[1],
        vtimer_intid,
        xen_compatible,
        evtchn_intid,
        xen_regions,
        uart,
        bootargs,
        initrd,
        total_size: fdt.total_size(),
        optee_interrupt,
        cpus,
        psci,
    })
}

/// `totalsize` from the header of a blob, for sizing the slice before parsing; `None` without
/// the FDT magic.
pub fn header_total_size(header: &[u8; 8]) -> Option<usize> {
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    (magic == 0xd00d_feed && size >= 40).then_some(size as usize)
}

#[cfg(test)]
mod tests {
    use super::testdtb::*;
    use super::*;
    use crate::gicreg::Trigger;

    /// Like libxl's `fdt_nop_node` of the unused second RAM bank: a node before `/hypervisor`
    /// and `/chosen` becomes `FDT_NOP` tokens.
    #[test]
    fn finds_nodes_after_a_nopped_node() {
        // The first child is "unused", an empty node (BEGIN_NODE, "unused\0" padded to 8,
        // END_NODE), which becomes NOPs; /chosen comes last.
        let tree = xen_domu_with(Node::new("unused"))
            .child(Node::new("chosen").prop("bootargs", strs(&["name=after-nop"])));
        let mut blob = tree.build();
        let pat: Vec<u8> = [&[0, 0, 0, 1][..], b"unused\0\0", &[0, 0, 0, 2][..]].concat();
        let at = blob.windows(pat.len()).position(|w| w == pat).unwrap();
        for w in blob[at..at + pat.len()].chunks_mut(4) {
            w.copy_from_slice(&[0, 0, 0, 4]);
        }
        let f = Fdt::new(&blob).unwrap();
        assert!(
            f.find_node("/hypervisor").is_none(),
            "fdt's find_node handles NOPs now"
        );
        let d = parse(&blob).unwrap();
        assert_eq!(d.evtchn_intid, 31);
        assert_eq!(d.bootargs, "name=after-nop");
        // /cpus and /psci come after the NOPs too (a multi-vCPU domain made by xl).
        assert_eq!(d.cpus.as_slice(), &[0, 1]);
        assert_eq!(d.psci, Some(PsciConduit::Hvc));
    }

    #[test]
    fn parses_a_xen_domu_tree() {
        let blob = xen_domu("name=selftest peer-gfn=0x40fff").build();
        let d = parse(&blob).unwrap();
        assert_eq!(d.memory.as_slice(), &[Region::new(0x4000_0000, 0x100_0000)]);
        assert_eq!(d.gic_dist, Region::new(0x300_1000, 0x1_0000));
        assert_eq!(d.gic_redist, Region::new(0x302_0000, 0x2_0000));
        assert_eq!(d.vtimer_intid, 27);
        assert_eq!(d.evtchn_intid, 31);
        assert_eq!(d.xen_compatible, "xen,xen-4.17");
        assert_eq!(d.xen_regions.len(), 2);
        assert_eq!(d.uart, Some(Region::new(0x2200_0000, 0x1000)));
        assert_eq!(d.bootargs, "name=selftest peer-gfn=0x40fff");
        assert_eq!(d.initrd, None);
        assert_eq!(d.optee_interrupt, None);
        assert_eq!(d.cpus.as_slice(), &[0, 1]);
        assert_eq!(d.psci, Some(PsciConduit::Hvc));
        assert_eq!(d.total_size, blob.len());
        let hdr: [u8; 8] = blob[..8].try_into().unwrap();
        assert_eq!(header_total_size(&hdr), Some(blob.len()));
    }

    #[test]
    fn missing_nodes_are_named() {
        let no_hyp = Node::new("")
            .prop("#address-cells", u32s(&[2]))
            .prop("#size-cells", u32s(&[2]))
            .child(Node::new("memory@40000000").prop("reg", reg64(&[(0x4000_0000, 0x100_0000)])))
            .child(
                Node::new("gic")
                    .prop("compatible", strs(&["arm,gic-v3"]))
                    .prop("reg", reg64(&[(1, 1), (2, 2)])),
            )
            .child(
                Node::new("timer")
                    .prop("compatible", strs(&["arm,armv8-timer"]))
                    .prop("interrupts", u32s(&[1, 13, 0, 1, 14, 0, 1, 11, 0])),
            );
        assert_eq!(
            parse(&no_hyp.build()).unwrap_err(),
            DtError::Missing("/hypervisor (xen,enhanced)")
        );
        let no_mem = Node::new("")
            .prop("#address-cells", u32s(&[2]))
            .prop("#size-cells", u32s(&[2]));
        assert_eq!(
            parse(&no_mem.build()).unwrap_err(),
            DtError::Missing("a /memory node")
        );
        assert_eq!(parse(&[0u8; 64]).unwrap_err(), DtError::BadBlob);
        assert_eq!(header_total_size(&[0; 8]), None);
    }

    #[test]
    fn initrd_range() {
        let chosen = Node::new("chosen")
            .prop("linux,initrd-start", u32s(&[0x4800_0000]))
            .prop("linux,initrd-end", u32s(&[0, 0x4810_0000])); // 32- and 64-bit cells both occur
        let b = xen_domu_with(chosen).build();
        assert_eq!(
            parse(&b).unwrap().initrd,
            Some(Region::new(0x4800_0000, 0x10_0000))
        );
        let empty = Node::new("chosen")
            .prop("linux,initrd-start", u32s(&[0x4800_0000]))
            .prop("linux,initrd-end", u32s(&[0x4800_0000]));
        assert_eq!(parse(&xen_domu_with(empty).build()).unwrap().initrd, None);
        let half = Node::new("chosen").prop("linux,initrd-start", u32s(&[0x4800_0000]));
        assert_eq!(
            parse(&xen_domu_with(half).build()).unwrap_err(),
            DtError::Malformed("/chosen linux,initrd-start/-end")
        );
    }

    fn with_optee(optee: Node) -> Vec<u8> {
        xen_domu("name=guest")
            .child(Node::new("firmware").child(optee))
            .build()
    }

    #[test]
    fn optee_interrupt_of_a_tee_guest() {
        // As hv-patches 0007 writes it: SPI 187 (INTID 219), CPU mask 0xf, edge rising.
        let optee = Node::new("optee")
            .prop("compatible", strs(&["linaro,optee-tz"]))
            .prop("method", strs(&["hvc"]))
            .prop("interrupts", u32s(&[0, 187, 0xf01]))
            .prop("interrupt-parent", u32s(&[0xfde8]));
        assert_eq!(
            parse(&with_optee(optee)).unwrap().optee_interrupt,
            Some(GicIrq {
                intid: 219,
                trigger: Trigger::Edge
            })
        );
        let level = Node::new("optee").prop("interrupts", u32s(&[0, 5, 4]));
        assert_eq!(
            parse(&with_optee(level)).unwrap().optee_interrupt,
            Some(GicIrq {
                intid: 37,
                trigger: Trigger::Level
            })
        );
        // No interrupts (Xen's in-hypervisor mediator) or a malformed one: no notifications.
        let none = Node::new("optee").prop("method", strs(&["hvc"]));
        assert_eq!(parse(&with_optee(none)).unwrap().optee_interrupt, None);
        let short = Node::new("optee").prop("interrupts", u32s(&[0, 187]));
        assert_eq!(parse(&with_optee(short)).unwrap().optee_interrupt, None);
    }
}
