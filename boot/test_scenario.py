"""Host tests of the scenario parser and generator (run by scripts/test: python3 -m unittest)."""

import glob
import os
import re
import tempfile
import unittest

import scenario as scn


def write_scenario(text: str) -> str:
    d = tempfile.mkdtemp()
    path = os.path.join(d, "t.scn")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


BASE = """DESCRIPTION="test"
TIMEOUT=10
NUM_DOMUS=2
DOMU_NAME[0]=a
DOMU_KERNEL[0]=k
DOMU_MEM[0]=16
DOMU_NAME[1]=b
DOMU_KERNEL[1]=k
DOMU_MEM[1]=16
EXPECT="a b"
"""


class ParseTests(unittest.TestCase):
    def assertError(self, text: str, *fragments: str) -> None:
        with self.assertRaises(scn.ScenarioError) as cm:
            scn.parse(write_scenario(text))
        for frag in fragments:
            self.assertIn(frag, str(cm.exception))

    def test_every_shipped_scenario_parses(self):
        for name in scn.available():
            sc = scn.parse(name)
            self.assertTrue(sc.expect, name)

    def test_unknown_scenario_lists_valid_ones(self):
        with self.assertRaises(scn.ScenarioError) as cm:
            scn.parse("no-such-scenario")
        self.assertIn("inxen-dom0", str(cm.exception))

    def test_unknown_field_names_line_and_field(self):
        self.assertError(BASE + "BOGUS=1\n", "t.scn:11", "unknown field BOGUS")

    def test_bad_value_names_field(self):
        self.assertError(BASE.replace("DOMU_MEM[1]=16", "DOMU_MEM[1]=lots"), "DOMU_MEM[1]", "whole number")
        self.assertError(BASE + "XEN=fast\n", "field XEN", "debug, release")
        self.assertError(BASE + 'DOMU_CMD[0]="a; reset"\n', "DOMU_CMD[0]", "U-Boot script")

    def test_missing_required_field(self):
        self.assertError(BASE.replace("TIMEOUT=10\n", ""), "missing field TIMEOUT")
        self.assertError(BASE.replace("DOMU_MEM[1]=16\n", ""), "missing field DOMU_MEM[1]")

    def test_index_beyond_num_domus(self):
        self.assertError(BASE + "DOMU_VCPUS[2]=1\n", "DOMU_VCPUS[2]", "NUM_DOMUS=2")

    def test_array_without_index_and_scalar_with_index(self):
        self.assertError(BASE + "DOMU_MEM=3\n", "per domU")
        self.assertError(BASE + "TIMEOUT[0]=3\n", "takes no index")

    def test_expect_must_name_domains(self):
        self.assertError(BASE.replace('EXPECT="a b"', 'EXPECT="a c"'), "no domain is named 'c'")

    def test_duplicate_names(self):
        self.assertError(BASE.replace("DOMU_NAME[1]=b", "DOMU_NAME[1]=a"), "used twice")

    def test_quotes_and_comments(self):
        sc = scn.parse(write_scenario(BASE + 'DOMU_CMD[0]="x=1 # not a comment"  \nDOMU_VCPUS[1]=2 # comment\n'))
        self.assertEqual(sc.domus[0].cmd, "x=1 # not a comment")
        self.assertEqual(sc.domus[1].vcpus, 2)
        self.assertError(BASE + 'DOMU_CMD[0]="open\n', "unbalanced")

    def test_overrides(self):
        sc = scn.parse(write_scenario(BASE), ["TIMEOUT=99", "DOMU_TEE[1]=optee"])
        self.assertEqual(sc.timeout, 99)
        self.assertEqual(sc.domus[1].tee, "optee")

    def test_expect_secure_counts(self):
        sc = scn.parse(write_scenario(BASE + 'EXPECT_SECURE="Added guest [0-9]+=4;Removing=0"\n'))
        self.assertEqual(sc.expect_secure, [("Added guest [0-9]+", 4), ("Removing", 0)])
        self.assertError(BASE + 'EXPECT_SECURE="Added guest"\n', "REGEX=COUNT")
        self.assertError(BASE + 'EXPECT_SECURE="(unclosed=1"\n', "not a regular expression")

    def test_expect_secure_each_parses_and_needs_one_group(self):
        sc = scn.parse(write_scenario(BASE + 'EXPECT_SECURE_EACH="Added guest ([0-9]+)$=1"\n'))
        self.assertEqual(sc.expect_secure_each, [("Added guest ([0-9]+)$", 1)])
        self.assertError(BASE + 'EXPECT_SECURE_EACH="Added guest [0-9]+=1"\n', "exactly one capture group")
        self.assertError(BASE + 'EXPECT_SECURE_EACH="(a)(b)=1"\n', "exactly one capture group")
        self.assertError(BASE + 'EXPECT_SECURE_EACH="(a)"\n', "REGEX=COUNT")

    def test_secure_log_checks(self):
        text = BASE + ('EXPECT_SECURE="Added guest [0-9]+$=3"\n'
                       'EXPECT_SECURE_EACH="Added guest ([0-9]+)$=1;Removing guest ([1-9][0-9]*)$=1;'
                       '(?:Added|Removing) guest ([2-9]|[1-9][0-9]+)$=2"\n')
        sc = scn.parse(write_scenario(text))
        good = ["I/TC: Removing guest 0", "I/TC: Added guest 1", "D/TC:3 noise", "I/TC: Added guest 3",
                "I/TC: Removing guest 3", "I/TC: Added guest 4", "I/TC: Removing guest 4"]
        self.assertIsNone(scn.secure_log_failure(sc, good))
        # A client added twice (and removed once), though the total count of Added lines is right.
        twice = good[:4] + ["I/TC: Added guest 3", "I/TC: Removing guest 3"]
        msg = scn.secure_log_failure(sc, twice)
        self.assertIn("per captured value", msg)
        self.assertIn("3 (2 lines)", msg)
        # A client removed twice.
        msg = scn.secure_log_failure(sc, good + ["I/TC: Removing guest 4"])
        self.assertIn("4 (2 lines)", msg)
        # A client added but never removed: caught by the pairing expression.
        msg = scn.secure_log_failure(sc, good[:5] + ["I/TC: Added guest 5"])
        self.assertIn("5 (1 lines)", msg)
        # Plain counts come first.
        msg = scn.secure_log_failure(sc, good[:4])
        self.assertIn("matched 2 lines, expected 3", msg)

    def test_failure_digest(self):
        ns = [
            "(XEN) tee-stubdom: d1 is the TEE mediator (port 1)",
            "(d1) TSD-STATS mediator domid=2 name=domu1 calls=5 held=0 state=live",
            "(d1) TSD-STATS mediator domid=0 name=dom0 calls=9 held=1 threads=t0:fs state=live",
            "(XEN) d1v0 tee-stubdom: secure call 0xb200000e (client 0, x3 0) refused: -22",
            "(d1) TSD-STATS mediator domid=2 name=domu1 calls=7 held=1 threads=t1:irq state=live",
            "(XEN) tee-stubdom: d2 vCPU0: call 0x32000003 with the mediator for over 10000 ms",
            "TSD-INFO domu1 stall task xtest/117: optee_cq_wait_for_completion [optee]",
            "",
            "last line",
        ]
        d = scn.failure_digest(ns, ["I/TC: one", "I/TC: two"])
        self.assertEqual([l for l in d if l.startswith("xen: ")], [
            "xen: tee-stubdom: d1 is the TEE mediator (port 1)",
            "xen: d1v0 tee-stubdom: secure call 0xb200000e (client 0, x3 0) refused: -22",
            "xen: tee-stubdom: d2 vCPU0: call 0x32000003 with the mediator for over 10000 ms"])
        # The last statistics of each guest, without the console's domain prefix.
        self.assertEqual([l for l in d if l.startswith("last stats: ")], [
            "last stats: TSD-STATS mediator domid=2 name=domu1 calls=7 held=1 threads=t1:irq state=live",
            "last stats: TSD-STATS mediator domid=0 name=dom0 calls=9 held=1 threads=t0:fs state=live"])
        self.assertIn("stall: TSD-INFO domu1 stall task xtest/117: optee_cq_wait_for_completion [optee]", d)
        self.assertEqual(d[-3:], ["console: last line", "secure: I/TC: one", "secure: I/TC: two"])
        self.assertEqual(scn.failure_digest([], []), [])

    def test_policy_defaults_to_product(self):
        self.assertEqual(scn.parse(write_scenario(BASE + "XSM_POLICY=yes\n")).policy_image, "xenpolicy")
        sc = scn.parse(write_scenario(BASE + "XSM_POLICY=yes\nPOLICY=test\n"))
        self.assertEqual(sc.policy_image, "xenpolicy-test")
        self.assertEqual(scn.parse(write_scenario(BASE + "XSM_POLICY=yes\nPOLICY=product\n")).policy_image,
                         "xenpolicy")
        # No policy module without XSM_POLICY, whatever POLICY says.
        self.assertIsNone(scn.parse(write_scenario(BASE)).policy_image)
        self.assertIsNone(scn.parse(write_scenario(BASE + "POLICY=product\n")).policy_image)
        # An override chooses the policy for one run.
        sc = scn.parse(write_scenario(BASE + "XSM_POLICY=yes\nPOLICY=test\n"), ["POLICY=product"])
        self.assertEqual(sc.policy_image, "xenpolicy")

    def test_policy_other_values_are_errors(self):
        for bad in ("demo", "Product", "yes", ""):
            self.assertError(BASE + f"XSM_POLICY=yes\nPOLICY={bad}\n", "t.scn:12", "field POLICY",
                             "expected product", "test (", "or hostile", f"(got '{bad}')")
        self.assertError(BASE + "XSM_POLICY=yes\nPOLICY[0]=test\n", "takes no index")

    def test_test_policy_needs_xsm_policy(self):
        self.assertError(BASE + "POLICY=test\n", "POLICY=test, but XSM_POLICY=no")
        self.assertError(BASE + "POLICY=hostile\n", "POLICY=hostile, but XSM_POLICY=no")
        self.assertError(BASE + "XSM_POLICY=no\nPOLICY=test\n", "POLICY=test, but XSM_POLICY=no")

    def test_evtchn_peer_checks(self):
        self.assertError(BASE + 'DOMU_EVTCHN[0]="10:0:11"\n', "not another domU")
        self.assertError(BASE + 'DOMU_EVTCHN[0]="10:dom0:11"\n', "no dom0")
        self.assertError(BASE + 'DOMU_EVTCHN[0]="10-1-11"\n', "LOCALPORT:PEER:PEERPORT")


def declared_types(folder: str) -> set[str]:
    """The FLASK types the modules of xsm-policy/FOLDER declare."""
    types: set[str] = set()
    for path in glob.glob(os.path.join(scn.ROOT, "xsm-policy", folder, "*.te")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        types |= set(re.findall(r"^\s*declare_(?:singleton_)?domain\((\w+)", text, re.M))
        types |= set(re.findall(r"^\s*type\s+(\w+)", text, re.M))
    return types


def dom0_is_stubdom_tee_client(sc: scn.Scenario) -> bool:
    """dom0 is a TEE client of the stub-domain mediator under FLASK: Xen gives dom0 the active
    mediator's TEE type, and the test initramfs' /init (tests/initramfs/init) loads the optee driver
    and needs /dev/teepriv0 before it runs xtest or a script, so its calls must reach the mediator."""
    xen_cmd = sc.fields["XEN_CMD"].split()
    return (sc.dom0 is not None and sc.dom0.ramdisk in ("initramfs", "initramfs-xl")
            and "tsd.tee=0" not in sc.fields["DOM0_CMD"].split()
            and "tee=stubdom" in xen_cmd and "xsm=flask" in xen_cmd)


def stubdom_guest_uses_test_pta(sc: scn.Scenario) -> bool:
    """A guest of the product mediator (tee-mediator.bin, a domU here) opens one of OP-TEE's test
    PTAs, which the product policy opens to no guest (xsm-policy/product/tee_ta.te) and the
    mediator refuses under FLASK: xtest in a guest (`tsd.xtest=` of a domU or dom0, or
    `tsd.guest_xtest=` of the guests dom0 creates; the subsets we run include 1001/1002, the
    invoke-tests PTA) or the Rust test client (tee-client.bin: its pseudo-TA cases and its
    benchmark use the invoke-tests PTA)."""
    xen_cmd = sc.fields["XEN_CMD"].split()
    if not ("tee=stubdom" in xen_cmd and "xsm=flask" in xen_cmd):
        return False
    if not any(d.kernel.endswith("tee-mediator.bin") for d in sc.domus):
        return False
    cmds = [d.cmd for d in sc.domus] + [sc.fields["DOM0_CMD"] if sc.dom0 else ""]
    xtest = any(w.startswith(("tsd.xtest=", "tsd.guest_xtest=")) for c in cmds for w in c.split())
    return xtest or any(d.kernel.endswith("tee-client.bin") for d in sc.domus)


class ShippedPolicyTests(unittest.TestCase):
    """Every shipped scenario boots the FLASK policy it needs, and says so (xsm-policy/README.md)."""

    def test_flask_scenarios_name_their_policy(self):
        for name in scn.available():
            sc = scn.parse(name)
            if not sc.fields["XSM_POLICY"]:
                continue
            with open(sc.path, encoding="utf-8") as f:
                said = re.search(r"^POLICY=(product|test|hostile)\s*$", f.read(), re.M)
            self.assertTrue(said, f"{name}: XSM_POLICY=yes, but no POLICY= line says which policy")

    def test_test_policy_exactly_where_needed(self):
        test_only = declared_types("test") - declared_types("product")
        hostile_only = declared_types("hostile") - declared_types("product")
        self.assertIn("selftest_t", test_only)
        self.assertIn("hostile_canary_t", hostile_only)
        for name in scn.available():
            sc = scn.parse(name)
            labels = {d.label.rsplit(":", 1)[-1] for d in sc.domus if d.label}
            needs = sorted(labels & test_only)
            if dom0_is_stubdom_tee_client(sc):
                needs.append("dom0 is a TEE client of the mediator")
            if stubdom_guest_uses_test_pta(sc):
                needs.append("a guest of the mediator opens a test PTA")
            if labels & hostile_only:
                self.assertFalse(needs, f"{name}: the hostile policy's canaries, but also {needs}")
                self.assertEqual(sc.policy_image, "xenpolicy-hostile",
                                 f"{name} needs the hostile policy: {sorted(labels & hostile_only)}")
            elif needs:
                self.assertEqual(sc.policy_image, "xenpolicy-test", f"{name} needs the test policy: {needs}")
            elif sc.policy_image:
                self.assertEqual(sc.policy_image, "xenpolicy", f"{name}: the test policy, but it needs none of it")

    def test_stubdom_demo_boots_the_test_policy(self):
        # The demo makes dom0 a TEE client of the mediator: only the test policy allows that.
        self.assertEqual(scn.parse("stubdom-demo").policy_image, "xenpolicy-test")
        self.assertEqual(scn.parse("kernel-selftest").policy_image, "xenpolicy-test")
        self.assertEqual(scn.parse("hook-selftest").policy_image, "xenpolicy")
        # Issue 14: guests that open the test PTAs boot the test policy; the attacker of
        # attacks-ta-denied has a test type without them.
        for name in ("conformance-stubdom", "stubdom-full", "bench-stubdom", "bench-xtest-stubdom"):
            self.assertTrue(stubdom_guest_uses_test_pta(scn.parse(name)), name)
            self.assertEqual(scn.parse(name).policy_image, "xenpolicy-test", name)
        sc = scn.parse("attacks-ta-denied")
        self.assertEqual([d.label for d in sc.domus if d.name == "attacker"],
                         ["system_u:system_r:tee_attacker_t"])
        self.assertIn("tee_attacker_t", declared_types("test") - declared_types("product"))


class GenerateTests(unittest.TestCase):
    def setUp(self):
        self.images = tempfile.mkdtemp()
        for name, size in (("xen-debug", 1 << 20), ("k", 40 << 20), ("xenpolicy", 4096)):
            with open(os.path.join(self.images, name), "wb") as f:
                f.truncate(size)

    def test_script_and_modules(self):
        text = BASE + 'XSM_POLICY=yes\nDOMU_TEE[0]=optee\nDOMU_LABEL[1]="system_u:system_r:domU_t"\n' \
                      'DOMU_EVTCHN[0]="10:1:11"\nDOMU_PROPS[1]="xen,tee-mediator;foo=<1 2>;bar=str:x y"\n'
        script, modules = scn.generate(scn.parse(write_scenario(text)), self.images)
        self.assertEqual(modules[0].addr, scn.XEN_ADDR)
        self.assertEqual(script[-1], f"booti {scn.XEN_ADDR:#x} - {scn.DTB_ADDR:#x}")
        self.assertIn('fdt set /chosen/domU0 xen,tee "optee"', script)
        self.assertIn('fdt set /chosen/domU1 xen,flask-label "system_u:system_r:domU_t"', script)
        self.assertIn("fdt set /chosen/domU1 xen,tee-mediator", script)
        self.assertIn("fdt set /chosen/domU1 foo <1 2>", script)
        self.assertIn('fdt set /chosen/domU1 bar "x y"', script)
        # Modules never overlap each other, Xen, or the holes, and stay below the limit.
        spans = sorted((m.addr, m.addr + m.size) for m in modules)
        for (a0, a1), (b0, _) in zip(spans, spans[1:]):
            self.assertLessEqual(a1, b0)
        for lo, hi in scn.MODULE_HOLES:
            for a, b in spans:
                self.assertTrue(b <= lo or a >= hi)
        self.assertTrue(all(b <= scn.MODULE_LIMIT for _, b in spans))

    def test_static_event_channels_link_both_ends(self):
        text = BASE + 'DOMU_ENHANCED[0]=no-xenstore\nDOMU_ENHANCED[1]=no-xenstore\nDOMU_EVTCHN[0]="10:1:11"\n'
        script, _ = scn.generate(scn.parse(write_scenario(text)), self.images)
        links = {}
        phandles = {}
        for line in script:
            parts = line.split()
            if parts[:2] == ["fdt", "set"] and parts[3] == "phandle":
                phandles[parts[2]] = int(parts[4].strip("<>"), 16)
            if parts[:2] == ["fdt", "set"] and parts[3] == "xen,evtchn":
                links[parts[2]] = (int(parts[4].strip("<"), 16), int(parts[5].strip(">"), 16))
        self.assertEqual(len(links), 2)
        by_phandle = {v: k for k, v in phandles.items()}
        for node, (port, peer) in links.items():
            self.assertIn(peer, by_phandle)
            self.assertEqual(links[by_phandle[peer]][1], phandles[node])
        self.assertEqual(sorted(p for p, _ in links.values()), [10, 11])

    def test_policy_module_is_the_chosen_policy(self):
        with open(os.path.join(self.images, "xenpolicy-test"), "wb") as f:
            f.truncate(8192)
        for policy, image, size in (("product", "xenpolicy", 4096), ("test", "xenpolicy-test", 8192)):
            sc = scn.parse(write_scenario(BASE + f"XSM_POLICY=yes\nPOLICY={policy}\n"))
            script, modules = scn.generate(sc, self.images)
            pol = [m for m in modules if os.path.basename(m.path).startswith("xenpolicy")]
            self.assertEqual([(os.path.basename(m.path), m.size) for m in pol], [(image, size)])
            self.assertIn(f"fdt set /chosen/xsm-policy reg <{pol[0].addr:#x} {size:#x}>", script)
        # Without XSM_POLICY no policy module is loaded.
        _, modules = scn.generate(scn.parse(write_scenario(BASE)), self.images)
        self.assertFalse([m for m in modules if "xenpolicy" in m.path])

    def test_missing_policy_image_is_named(self):
        sc = scn.parse(write_scenario(BASE + "XSM_POLICY=yes\nPOLICY=test\n"))
        with self.assertRaises(scn.ScenarioError) as cm:
            scn.generate(sc, self.images)  # setUp made xenpolicy only
        self.assertIn("POLICY=test", str(cm.exception))
        self.assertIn("xenpolicy-test", str(cm.exception))

    def test_missing_image_is_named(self):
        with self.assertRaises(scn.ScenarioError) as cm:
            scn.generate(scn.parse(write_scenario(BASE.replace("DOMU_KERNEL[1]=k", "DOMU_KERNEL[1]=nope"))),
                         self.images)
        self.assertIn("DOMU_KERNEL[1]", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
