//! The device tree Xen hands a domU in x0 (Linux `Documentation/arch/arm64/booting.rst`; Xen
//! `docs/misc/arm/device-tree/guest.txt` for `/hypervisor`).
//!
//! Everything the kernel needs is read from here once at boot; a missing node is a [`DtError`]
//! that stops the boot with a message naming it. Interrupt specifiers are GIC three-cell ones
//! (`type`, `number`, `flags`; type 0 = SPI from INTID 32, type 1 = PPI from INTID 16).
#![forbid(unsafe_code)]

use crate::gicreg::Trigger;
use crate::memmap::Region;
use fdt::node::FdtNode;
use fdt::Fdt;

/// Memory banks tracked.
pub const MAX_BANKS: usize = 8;

/// vCPUs tracked from `/cpus` (more are ignored: the kernel never starts them).
pub const MAX_CPUS: usize = 16;

/// How PSCI calls reach the firmware or hypervisor (`/psci` `method`, Linux
/// `Documentation/devicetree/bindings/arm/psci.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciConduit {
    /// `hvc #0` (Xen guests).
    Hvc,
    /// `smc #0`.
    Smc,
}

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

fn regs<const N: usize>(
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

fn cells(v: &[u8]) -> impl Iterator<Item = u32> + '_ {
    v.chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
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

fn intid(n: &FdtNode<'_, '_>, index: usize, what: &'static str) -> Result<u32, DtError> {
    let p = n.property("interrupts").ok_or(DtError::Missing(what))?;
    gic_intid(p.value, index).ok_or(DtError::Malformed(what))
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

    let mut cpus = heapless::Vec::new();
    if let Some(c) = find_path(&fdt, "/cpus") {
        for n in c.children() {
            let is_cpu = n.name.starts_with("cpu@")
                || n.property("device_type").and_then(|p| p.as_str()) == Some("cpu");
            if !is_cpu {
                continue;
            }
            // `reg` is one (Xen: `#address-cells = <1>`) or two cells of MPIDR affinity.
            let id = n.property("reg").and_then(|p| match p.value.len() {
                4 => cells(p.value).next().map(u64::from),
                8 => {
                    let mut c = cells(p.value);
                    Some((u64::from(c.next()?) << 32) | u64::from(c.next()?))
                }
                _ => None,
            });
            let id = id.ok_or(DtError::Malformed("/cpus/cpu reg"))?;
            if cpus.push(id).is_err() {
                break; // beyond MAX_CPUS: not used
            }
        }
    }
    let psci = find_path(&fdt, "/psci")
        .and_then(|n| n.property("method"))
        .and_then(|p| p.as_str())
        .and_then(|m| match m {
            "hvc" => Some(PsciConduit::Hvc),
            "smc" => Some(PsciConduit::Smc),
            _ => None,
        });

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

/// A minimal flattened-device-tree writer (test support, also used by other crates' tests).
#[cfg(test)]
pub mod testdtb {
    /// A node under construction.
    #[derive(Debug, Default)]
    pub struct Node {
        name: String,
        props: Vec<(String, Vec<u8>)>,
        children: Vec<Node>,
    }

    /// Big-endian cells.
    pub fn u32s(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    /// A nul-terminated string list.
    pub fn strs(v: &[&str]) -> Vec<u8> {
        v.iter().flat_map(|s| s.bytes().chain([0])).collect()
    }

    /// `reg` with two address and two size cells.
    pub fn reg64(v: &[(u64, u64)]) -> Vec<u8> {
        v.iter()
            .flat_map(|(a, s)| a.to_be_bytes().into_iter().chain(s.to_be_bytes()))
            .collect()
    }

    impl Node {
        /// A node named `name`.
        pub fn new(name: &str) -> Self {
            Node {
                name: name.into(),
                ..Default::default()
            }
        }
        /// Add a property.
        pub fn prop(mut self, name: &str, v: Vec<u8>) -> Self {
            self.props.push((name.into(), v));
            self
        }
        /// Add a child.
        pub fn child(mut self, c: Node) -> Self {
            self.children.push(c);
            self
        }
        /// Remove the children with these names.
        pub fn without(mut self, names: &[&str]) -> Self {
            self.children.retain(|c| !names.contains(&c.name.as_str()));
            self
        }

        fn emit(&self, s: &mut Vec<u8>, strings: &mut Vec<u8>) {
            s.extend(1u32.to_be_bytes());
            s.extend(self.name.bytes().chain([0]));
            while s.len() % 4 != 0 {
                s.push(0);
            }
            for (n, v) in &self.props {
                let off = strings.len() as u32;
                strings.extend(n.bytes().chain([0]));
                s.extend(3u32.to_be_bytes());
                s.extend((v.len() as u32).to_be_bytes());
                s.extend(off.to_be_bytes());
                s.extend(v);
                while s.len() % 4 != 0 {
                    s.push(0);
                }
            }
            for c in &self.children {
                c.emit(s, strings);
            }
            s.extend(2u32.to_be_bytes());
        }

        /// Serialise as a complete blob with this node as root.
        pub fn build(&self) -> Vec<u8> {
            let (mut st, mut strings) = (Vec::new(), Vec::new());
            self.emit(&mut st, &mut strings);
            st.extend(9u32.to_be_bytes());
            let off_rsv = 40u32;
            let off_struct = off_rsv + 16;
            let off_strings = off_struct + st.len() as u32;
            let total = off_strings + strings.len() as u32;
            let mut b = Vec::new();
            for v in [
                0xd00d_feed,
                total,
                off_struct,
                off_strings,
                off_rsv,
                17,
                16,
                0,
                strings.len() as u32,
                st.len() as u32,
            ] {
                b.extend(u32::to_be_bytes(v));
            }
            b.extend([0u8; 16]);
            b.extend(st);
            b.extend(strings);
            b
        }
    }

    /// A tree shaped like the one Xen 4.17 builds for a dom0less domU with `xen,enhanced`.
    pub fn xen_domu(bootargs: &str) -> Node {
        xen_domu_with(Node::new("chosen").prop("bootargs", strs(&[bootargs])))
    }

    /// [`xen_domu`] with a given `/chosen` node.
    pub fn xen_domu_with(chosen: Node) -> Node {
        Node::new("")
            .prop("#address-cells", u32s(&[2]))
            .prop("#size-cells", u32s(&[2]))
            .prop("compatible", strs(&["xen,xenvm-4.17", "xen,xenvm"]))
            .child(chosen)
            .child(
                Node::new("memory@40000000")
                    .prop("device_type", strs(&["memory"]))
                    .prop("reg", reg64(&[(0x4000_0000, 0x100_0000)])),
            )
            .child(
                Node::new("interrupt-controller@3001000")
                    .prop("compatible", strs(&["arm,gic-v3"]))
                    .prop("#interrupt-cells", u32s(&[3]))
                    .prop("interrupt-controller", vec![])
                    .prop(
                        "reg",
                        reg64(&[(0x300_1000, 0x1_0000), (0x302_0000, 0x2_0000)]),
                    ),
            )
            .child(
                Node::new("timer")
                    .prop("compatible", strs(&["arm,armv8-timer"]))
                    .prop(
                        "interrupts",
                        u32s(&[1, 13, 0xf08, 1, 14, 0xf08, 1, 11, 0xf08, 1, 10, 0xf08]),
                    ),
            )
            .child(
                Node::new("sbsa-uart@22000000")
                    .prop("compatible", strs(&["arm,sbsa-uart"]))
                    .prop("reg", reg64(&[(0x2200_0000, 0x1000)])),
            )
            .child(
                Node::new("psci")
                    .prop(
                        "compatible",
                        strs(&["arm,psci-1.0", "arm,psci-0.2", "arm,psci"]),
                    )
                    .prop("method", strs(&["hvc"])),
            )
            .child(
                Node::new("cpus")
                    .prop("#address-cells", u32s(&[1]))
                    .prop("#size-cells", u32s(&[0]))
                    .child(
                        Node::new("cpu@0")
                            .prop("device_type", strs(&["cpu"]))
                            .prop("compatible", strs(&["arm,armv8"]))
                            .prop("enable-method", strs(&["psci"]))
                            .prop("reg", u32s(&[0])),
                    )
                    .child(
                        Node::new("cpu@1")
                            .prop("device_type", strs(&["cpu"]))
                            .prop("compatible", strs(&["arm,armv8"]))
                            .prop("enable-method", strs(&["psci"]))
                            .prop("reg", u32s(&[1])),
                    ),
            )
            .child(
                Node::new("hypervisor")
                    .prop("compatible", strs(&["xen,xen-4.17", "xen,xen"]))
                    .prop(
                        "reg",
                        reg64(&[(0x3800_0000, 0x100_0000), (0x4100_0000, 0xbf00_0000)]),
                    )
                    .prop("interrupts", u32s(&[1, 15, 0xf08])),
            )
    }
}

/// The node at absolute `path` (`/firmware/optee`), found by walking the children from the root.
/// `Fdt::find_node` of fdt 0.1.5 gives up at a nop'ed node (`FDT_NOP` tokens, which libxl leaves
/// where the node of an unused RAM bank was), so in a tree made by `xl create` it misses every
/// node after one; the child iterators skip `FDT_NOP`.
fn find_path<'b, 'a>(fdt: &'b Fdt<'a>, path: &str) -> Option<FdtNode<'b, 'a>> {
    let mut node = fdt.find_node("/")?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        node = node
            .children()
            .find(|c| c.name == part || c.name.split('@').next() == Some(part))?;
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::testdtb::*;
    use super::*;

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

    #[test]
    fn interrupt_specifiers() {
        assert_eq!(gic_intid(&u32s(&[0, 5, 4]), 0), Some(37));
        assert_eq!(gic_intid(&u32s(&[1, 15, 4]), 0), Some(31));
        assert_eq!(gic_intid(&u32s(&[1, 16, 4]), 0), None);
        assert_eq!(gic_intid(&u32s(&[2, 1, 4]), 0), None);
        assert_eq!(gic_intid(&u32s(&[1, 15]), 0), None);
        assert_eq!(gic_intid(&u32s(&[1, 15, 4, 0, 1, 4]), 1), Some(33));
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

    #[test]
    fn cpus_and_psci() {
        // Two-cell reg, an Aff1 vCPU (Xen's vCPU 16), a non-cpu child, an smc conduit.
        let cpu = |name: &str, reg: Vec<u8>| {
            Node::new(name)
                .prop("device_type", strs(&["cpu"]))
                .prop("reg", reg)
        };
        let root = xen_domu("name=x")
            .without(&["cpus", "psci"])
            .child(
                Node::new("cpus")
                    .child(cpu("cpu@0", u32s(&[0, 0])))
                    .child(cpu("cpu@100", u32s(&[0, 0x100])))
                    .child(Node::new("cpu-map")),
            )
            .child(Node::new("psci").prop("method", strs(&["smc"])));
        let blob = root.build();
        let d = parse(&blob).unwrap();
        assert_eq!(d.cpus.as_slice(), &[0, 0x100]);
        assert_eq!(d.psci, Some(PsciConduit::Smc));
        // No /cpus, no /psci: empty, None (the kernel then runs on the boot vCPU only).
        let blob = xen_domu("name=x").without(&["cpus", "psci"]).build();
        let d = parse(&blob).unwrap();
        assert!(d.cpus.is_empty());
        assert_eq!(d.psci, None);
        // A cpu node with a 3-byte reg is malformed.
        let bad = xen_domu("name=x")
            .without(&["cpus"])
            .child(Node::new("cpus").child(cpu("cpu@0", vec![0, 0, 0])));
        assert_eq!(
            parse(&bad.build()).unwrap_err(),
            DtError::Malformed("/cpus/cpu reg")
        );
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
