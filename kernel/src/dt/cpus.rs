//! The vCPUs (`/cpus/cpu@*` `reg`) and how PSCI reaches the hypervisor (`/psci` `method`): what
//! `kernel::smp` needs to start secondary vCPUs.
#![forbid(unsafe_code)]

use super::read::{cells, find_path};
use super::DtError;
use fdt::Fdt;

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

/// The MPIDR affinities of `/cpus/cpu@*` in tree order (empty without `/cpus`; beyond
/// [`MAX_CPUS`] not kept).
pub(super) fn cpus(fdt: &Fdt<'_>) -> Result<heapless::Vec<u64, MAX_CPUS>, DtError> {
    let mut cpus = heapless::Vec::new();
    if let Some(c) = find_path(fdt, "/cpus") {
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
    Ok(cpus)
}

/// The PSCI conduit, if the tree has a `/psci` node with a known `method`.
pub(super) fn psci(fdt: &Fdt<'_>) -> Option<PsciConduit> {
    find_path(fdt, "/psci")
        .and_then(|n| n.property("method"))
        .and_then(|p| p.as_str())
        .and_then(|m| match m {
            "hvc" => Some(PsciConduit::Hvc),
            "smc" => Some(PsciConduit::Smc),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::super::testdtb::*;
    use super::super::{parse, DtError};
    use super::*;

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
}
