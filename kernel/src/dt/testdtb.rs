//! A minimal flattened-device-tree writer (test support, `cfg(test)`): blobs shaped like the
//! ones Xen builds for a dom0less domU, and nodes to vary them.

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
