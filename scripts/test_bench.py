"""Host tests of scripts/bench's results and chart, without QEMU (run by scripts/test: python3 -m unittest).

The boots are faked where bench meets scripts/run (`run_scenario`, `read_log`): each fake run
"prints" the guest's TSD-BENCH lines and the xtest TSD-RESULT line, so the results.json that the
chart reads is the one bench's own code builds from them.
"""

import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "bench")


def load_bench():
    loader = importlib.machinery.SourceFileLoader("bench", BENCH)
    spec = importlib.util.spec_from_loader("bench", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


bench = load_bench()

# Guest medians in µs and xtest seconds per bench scenario, near the README's measurement.
FAKE_US = {
    "bench": {"local-call": 10.2, "fast-call": 80.9, "yield-call": 162.5, "shm-16p": 338.6},
    "bench-stubdom": {"local-call": 130.4, "fast-call": 238.1, "yield-call": 362.8, "shm-16p": 1524.3},
}
FAKE_S = {"bench-xtest": 9.9, "bench-xtest-stubdom": 12.5}
# Two guests at once: (dom0, domu1) seconds per boot.
FAKE_TWO = {"soak-two-guests-inxen": (16.6, 17.0), "soak-two-guests": (33.6, 34.0)}
# Long TA: guest B's (idle, busy) medians in µs.
FAKE_LONG = {"bench-long-ta": (160.0, 200.0), "bench-long-ta-stubdom": (360.0, 900.0)}
# Hypervisor entries over n=1000 calls: (entries, hvc, smc, other_traps, irqs, ipis, hypercalls, kicks).
FAKE_ENTRIES = {
    "bench": {"fast-call": (1003, 1000, 0, 1, 2, 0, 0, 0), "yield-call": (1010, 1000, 0, 3, 7, 0, 0, 0)},
    "bench-stubdom": {"fast-call": (5200, 3000, 0, 100, 100, 2000, 2000, 1000),
                      "yield-call": (6100, 4000, 0, 100, 0, 2000, 3000, 1000)},
}


def bench_line(dom: str, metric: str, us: float, boot: int) -> str:
    med = int(us * 1000 * (1 + 0.01 * boot))
    return (f"(XEN) DOM2: TSD-BENCH {dom} {metric} median_ns={med} min_ns={int(med * 0.85)} "
            f"p90_ns={int(med * 1.25)} n=1000 ok=1")


def fake_log(name: str, boot: int) -> list[str]:
    """What a boot of scenario NAME leaves in ns.log: each boot a little slower than the last."""
    if name in FAKE_S:
        return [f"TSD-RESULT inxen-dom0 passed=4 failed=0 seconds={FAKE_S[name] + 0.2 * boot} status=PASS"]
    if name in FAKE_TWO:
        a, b = FAKE_TWO[name]
        return ["TSD-RESULT mediator passed=1 failed=0 status=PASS",
                f"TSD-RESULT dom0 passed=7 failed=0 seconds={a + 0.2 * boot} status=PASS",
                f"(XEN) DOM2: TSD-RESULT domu1 passed=7 failed=0 seconds={b + 0.2 * boot} status=PASS",
                f"TSD-RESULT dom0 passed=7 failed=0 seconds=999 status=PASS"]  # a repeat: the first counts
    if name in FAKE_LONG:
        idle, busy = FAKE_LONG[name]
        return [bench_line("busy", "long-ta-call", 500_000, boot).replace("ok=1", "ok=1 reps=2000"),
                bench_line("measure", "long-ta-idle", idle, boot),
                bench_line("measure", "long-ta-busy", busy, boot)]
    lines = [bench_line("client", metric, us, boot) for metric, us in FAKE_US[name].items()]
    for metric, e in FAKE_ENTRIES[name].items():
        fields = " ".join(f"{f}={v + boot}" for f, v in zip(bench.ENTRY_FIELDS, e))
        lines.append(f"[client] TSD-BENCH client {metric}-entries {fields} n=1000 ok=1")
    return lines


class FakeBoots:
    """Stands in for scripts/run: counts the boots per scenario and never starts QEMU."""

    def __init__(self) -> None:
        self.boots: dict[str, int] = {}
        self.order: list[str] = []
        self.overrides: dict[str, list[str]] = {}

    def run_scenario(self, name, overrides, build):
        self.boots[name] = self.boots.get(name, 0) + 1
        self.order.append(name)
        self.overrides[name] = overrides
        return True, "PASS", f"{name}#{self.boots[name] - 1}"

    @staticmethod
    def read_log(run_dir):
        name, boot = run_dir.split("#")
        return fake_log(name, int(boot))


def measured_doc(out: str, *argv: str, fake: "FakeBoots | None" = None) -> tuple[dict, str]:
    """Runs bench's main() with the fake boots into OUT; (its results.json, the folder it wrote)."""
    fake = fake or FakeBoots()
    with mock.patch.object(bench, "OUT", out), \
            mock.patch.object(bench, "run_scenario", fake.run_scenario), \
            mock.patch.object(bench, "read_log", fake.read_log), \
            mock.patch.object(bench, "unavailable_reason", lambda name: None), \
            mock.patch.object(sys, "argv", ["bench", "--no-build", *argv]), \
            contextlib.redirect_stdout(io.StringIO()):
        rc = bench.main()
    (stamp,) = os.listdir(os.path.join(out, "bench"))
    folder = os.path.join(out, "bench", stamp)
    with open(os.path.join(folder, "results.json")) as f:
        doc = json.load(f)
    doc["_rc"] = rc
    return doc, folder


def png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def whiskers(ax) -> list[tuple[float, float, float]]:
    """(x, low, high) of every whisker drawn in AX."""
    out = []
    for c in ax.containers:
        if type(c).__name__ == "ErrorbarContainer":
            for seg in c.lines[2][0].get_segments():
                (x, lo), (_x, hi) = seg
                out.append((round(float(x), 6), float(lo), float(hi)))
    return out


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


class ChartTests(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_bench_writes_png_and_svg_of_its_results(self):
        doc, folder = measured_doc(self.tmp.name, "--reps", "3", "--xtest-reps", "2")
        self.assertEqual(doc["_rc"], 0)
        for f in ("results.json", "results.md", "chart.png", "chart.svg"):
            self.assertTrue(os.path.isfile(os.path.join(folder, f)), f)
        w, h = png_size(os.path.join(folder, "chart.png"))
        self.assertGreater(w, 1000)
        self.assertGreater(h, 500)
        root = ET.parse(os.path.join(folder, "chart.svg")).getroot()
        self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg")
        # p90 is stored per metric: the median of the boots' p90s.
        fast = doc["modes"]["optee"]["metrics"]["fast-call"]
        self.assertEqual(fast["runs"], 3)
        self.assertEqual(fast["p90"], int(int(80.9 * 1000 * 1.01) * 1.25))

    def test_groups_whiskers_ratio_and_goal(self):
        doc, _folder = measured_doc(self.tmp.name, "--reps", "3", "--xtest-reps", "2")
        fig = bench.chart_figure(doc)
        calls, ratio, entries, xtest = fig.axes
        # The µs calls span 10 µs .. 1.5 ms: a log axis; xtest 9.9 s against 34 s: linear.
        self.assertEqual(calls.get_yscale(), "log")
        self.assertEqual(xtest.get_yscale(), "linear")
        self.assertEqual(len(calls.patches), 12)  # 6 metrics x 2 modes
        self.assertEqual(len(ratio.patches), 2)
        self.assertEqual(len(entries.patches), 4)
        self.assertEqual(len(xtest.patches), 4)  # xtest, two-guest xtest
        self.assertEqual([t.get_text().split("\n")[0] for t in calls.get_xticklabels()][1], "null fast call")
        # Every whisker runs from the metric's min to its p90 (ns shown as µs); A's own long
        # call (long-ta-call) is kept in results.json, not drawn.
        shown_us = {k for k, _l, unit, _g, _k in bench.METRICS if unit == "us"}
        want = sorted((round(m["min"] / 1000, 6), round(m["p90"] / 1000, 6))
                      for mode in doc["modes"].values() for k, m in mode["metrics"].items()
                      if k in shown_us)
        got = sorted((round(lo, 6), round(hi, 6)) for _x, lo, hi in whiskers(calls))
        self.assertEqual(got, want)
        _x, lo, hi = sorted(whiskers(xtest))[0]
        self.assertAlmostEqual(lo, 9.9)  # xtest: min to max of its two boots
        self.assertAlmostEqual(hi, 10.1)
        # The ratio and the goal on each group; the goals.
        above = [t for t in texts(calls) if t.startswith("stubdom/optee")]
        self.assertEqual(len(above), 6)
        self.assertIn("no goal", above[0])
        self.assertIn("goal ≤ 1.5×: missed", above[1])
        self.assertIn("goal ≤ 1.5×: missed", above[3])
        r = doc["ratios_stubdom_over_optee"]["shm-16p"]
        self.assertIn(f"stubdom/optee {r:.2f}×", above[3])
        self.assertTrue(any("goal ≤ 1.1×: missed" in t for t in texts(xtest)))
        self.assertTrue(any("goal ≤ 1.15×: missed" in t for t in texts(xtest)))
        # Goals on the stubdom value itself: B's busy/idle ratio, entries per call.
        self.assertTrue(any("stubdom 2.5, goal ≤ 2: missed" in t for t in texts(ratio)), texts(ratio))
        e = [t for t in texts(entries) if t.startswith("stubdom/optee")]
        self.assertIn("stubdom 5.2, goal ≤ 4: missed", e[0])
        self.assertIn("stubdom 6.1, goal ≤ 6: missed", e[1])

    def test_new_metrics_from_their_markers(self):
        doc, folder = measured_doc(self.tmp.name, "--two-guest-reps", "2", "--long-ta-reps", "2")
        optee, stub = doc["modes"]["optee"]["metrics"], doc["modes"]["stubdom"]["metrics"]
        # Two guests: each guest's median beside the median over guests and boots (the first
        # TSD-RESULT of a guest counts, the mediator's has no seconds).
        two = stub["two-guest-xtest"]
        self.assertEqual(two["per_guest"], {"dom0": 33.7, "domu1": 34.1})
        self.assertAlmostEqual(two["median"], (33.8 + 34.0) / 2)
        self.assertEqual((two["min"], two["p90"], two["runs"]), (33.6, 34.2, 2))
        self.assertAlmostEqual(doc["ratios_stubdom_over_optee"]["two-guest-xtest"],
                               round(two["median"] / optee["two-guest-xtest"]["median"], 3))
        # Long TA: B's busy and idle medians, and their ratio per mode.
        self.assertEqual(optee["long-ta-idle"]["median"], statistics.median([160000, 161600]))
        self.assertAlmostEqual(optee["long-ta"]["median"], 1.25)
        self.assertAlmostEqual(stub["long-ta"]["median"], 2.5)
        # Entries: per call, with the breakdown.
        fe = stub["fast-call-entries"]
        self.assertAlmostEqual(fe["median"], 5.2)
        self.assertAlmostEqual(fe["per_call"]["hvc"], 3.0)
        self.assertAlmostEqual(fe["per_call"]["kicks"], 1.0)
        self.assertAlmostEqual(optee["yield-call-entries"]["median"], 1.01)
        with open(os.path.join(folder, "results.md")) as f:
            md = f.read()
        self.assertIn("| hypervisor entries per null fast call | 1.00 (hvc 1.00, other_traps 0.00, irqs 0.00) "
                      "| 5.20 (hvc 3.00, other_traps 0.10, irqs 0.10, ipis 2.00, hypercalls 2.00, kicks 1.00) "
                      "| 5.18× | stubdom ≤ 4 | **no** |", md)
        self.assertIn("| two guests' xtest at once, wall time per guest | 16.9 s (dom0 16.7, domu1 17.1) |", md)
        self.assertIn("| B's call while A computes ÷ idle | 1.25× | 2.50× | 2.00× | stubdom ≤ 2 | **no** |", md)
        self.assertEqual(doc["goals"]["fast-call"], 1.5)
        self.assertEqual(doc["goals"]["xtest"], 1.1)

    def test_boots_alternate_and_long_ta_sets_the_measuring_guest(self):
        fake = FakeBoots()
        measured_doc(self.tmp.name, "--reps", "2", "-n", "77", fake=fake)
        self.assertEqual(fake.order, ["bench", "bench-stubdom", "bench", "bench-stubdom",
                                      "bench-long-ta", "bench-long-ta-stubdom",
                                      "bench-xtest", "bench-xtest-stubdom",
                                      "soak-two-guests-inxen", "soak-two-guests"])
        (o,) = fake.overrides["bench-long-ta-stubdom"]
        self.assertTrue(o.startswith('DOMU_CMD[2]="name=measure '), o)
        self.assertIn(" role=measure ", o)
        self.assertTrue(o.endswith(' mode=stubdom cases=0 bench=77"'), o)
        self.assertEqual(fake.overrides["soak-two-guests"], [])

    def test_a_boot_without_its_markers_fails_its_mode(self):
        self.assertEqual(bench.parse_boot("long-ta", [bench_line("measure", "long-ta-idle", 1, 0)]),
                         (None, "no TSD-BENCH long-ta-busy"))
        self.assertEqual(bench.parse_boot("two-guest", ["TSD-RESULT dom0 passed=1 failed=0 seconds=3 status=PASS"]),
                         (None, "xtest seconds= from 1 guest(s), not 2"))
        self.assertEqual(bench.parse_boot("xtest", []), (None, "no xtest seconds="))
        fake = FakeBoots()
        real = fake.read_log
        fake.read_log = lambda d: [] if d.startswith("bench-long-ta-stubdom") else real(d)
        with mock.patch.object(FakeBoots, "read_log", staticmethod(fake.read_log)):
            doc, _folder = measured_doc(self.tmp.name, fake=fake)
        self.assertEqual(doc["_rc"], 1)
        self.assertEqual(doc["modes"]["stubdom"]["status"], "failed")
        self.assertIn("bench-long-ta-stubdom run 1: no TSD-BENCH lines", doc["modes"]["stubdom"]["reason"])
        self.assertNotIn("bench-xtest-stubdom", fake.order)  # a failed mode boots no more
        self.assertEqual(doc["modes"]["optee"]["status"], "ok")

    def test_unavailable_mode_keeps_its_place(self):
        doc, _folder = measured_doc(self.tmp.name, "--no-xtest", "--no-long-ta", "--no-two-guest")
        doc["modes"]["stubdom"] = {"status": "unavailable", "reason": "not built", "runs": [], "metrics": {}}
        doc["ratios_stubdom_over_optee"] = bench.ratios(doc["modes"])
        fig = bench.chart_figure(doc)
        calls, entries = fig.axes  # no xtest, no long TA: the calls and the entries
        self.assertEqual(len(calls.patches), 4)
        self.assertEqual(texts(calls).count("n/a"), 4)
        self.assertEqual(texts(entries).count("n/a"), 2)
        self.assertTrue(all("stubdom/optee –" in t for t in texts(calls) if t.startswith("stubdom/optee")))
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        self.assertTrue(labels[1].endswith("— unavailable"), labels)

    def test_chart_only_redraws_the_same_chart(self):
        _doc, folder = measured_doc(self.tmp.name)
        with open(os.path.join(folder, "chart.svg"), "rb") as f:
            first = f.read()
        os.remove(os.path.join(folder, "chart.svg"))
        os.remove(os.path.join(folder, "chart.png"))
        p = subprocess.run([sys.executable, BENCH, "--chart-only", os.path.join(folder, "results.json")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("chart.png", p.stdout)
        png_size(os.path.join(folder, "chart.png"))
        with open(os.path.join(folder, "chart.svg"), "rb") as f:
            self.assertEqual(f.read(), first)

    def test_chart_only_refuses_what_is_not_results(self):
        bad = os.path.join(self.tmp.name, "results.json")
        for text in ("not json", '{"time": "x"}'):
            with open(bad, "w") as f:
                f.write(text)
            p = subprocess.run([sys.executable, BENCH, "--chart-only", bad], capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, text)
            self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "chart.png")))

    def test_log_scale_from_an_order_of_magnitude(self):
        self.assertFalse(bench.log_scale([]))
        self.assertFalse(bench.log_scale([9.9, 12.5]))
        self.assertFalse(bench.log_scale([10.0, 99.0]))
        self.assertTrue(bench.log_scale([10.0, 100.0]))

    def test_ratio_text(self):
        self.assertEqual(bench.ratio_text(2.94, 3.0), ("stubdom/optee 2.94×\ngoal ≤ 3×: met", "#1a7f37"))
        self.assertEqual(bench.ratio_text(4.5, 1.5)[0], "stubdom/optee 4.50×\ngoal ≤ 1.5×: missed")
        self.assertEqual(bench.ratio_text(None, 1.5)[0], "stubdom/optee –\ngoal ≤ 1.5×")
        self.assertEqual(bench.ratio_text(12.8, None)[0], "stubdom/optee 12.80×\nno goal (locates the time)")
        self.assertEqual(bench.ratio_text(5.18, 4, "stubdom", 5.2),
                         ("stubdom/optee 5.18×\nstubdom 5.2, goal ≤ 4: missed", "#b31d28"))
        self.assertEqual(bench.ratio_text(None, 2.0, "stubdom", None)[0], "stubdom/optee –\ngoal: stubdom ≤ 2")


if __name__ == "__main__":
    unittest.main()
