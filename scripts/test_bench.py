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


def fake_log(name: str, boot: int) -> list[str]:
    """What a boot of scenario NAME leaves in ns.log: each boot a little slower than the last."""
    if name in FAKE_S:
        return [f"TSD-RESULT inxen-dom0 passed=4 failed=0 seconds={FAKE_S[name] + 0.2 * boot} status=PASS"]
    lines = []
    for metric, us in FAKE_US[name].items():
        med = int(us * 1000 * (1 + 0.01 * boot))
        lines.append(f"[client] TSD-BENCH client {metric} median_ns={med} min_ns={int(med * 0.85)} "
                     f"p90_ns={int(med * 1.25)} n=1000 ok=1000")
    return lines


class FakeBoots:
    """Stands in for scripts/run: counts the boots per scenario and never starts QEMU."""

    def __init__(self) -> None:
        self.boots: dict[str, int] = {}

    def run_scenario(self, name, overrides, build):
        self.boots[name] = self.boots.get(name, 0) + 1
        return True, "PASS", f"{name}#{self.boots[name] - 1}"

    @staticmethod
    def read_log(run_dir):
        name, boot = run_dir.split("#")
        return fake_log(name, int(boot))


def measured_doc(out: str, *argv: str) -> tuple[dict, str]:
    """Runs bench's main() with the fake boots into OUT; (its results.json, the folder it wrote)."""
    fake = FakeBoots()
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
        calls, xtest = fig.axes
        # The µs calls span 10 µs .. 1.5 ms: a log axis; xtest 9.9 s against 12.5 s: linear.
        self.assertEqual(calls.get_yscale(), "log")
        self.assertEqual(xtest.get_yscale(), "linear")
        self.assertEqual(len(calls.patches), 8)  # 4 metrics x 2 modes
        self.assertEqual(len(xtest.patches), 2)
        self.assertEqual([t.get_text().split("\n")[0] for t in calls.get_xticklabels()][1], "null fast call")
        # Every whisker runs from the metric's min to its p90 (ns shown as µs).
        want = sorted((round(m["min"] / 1000, 6), round(m["p90"] / 1000, 6))
                      for mode in doc["modes"].values() for k, m in mode["metrics"].items() if k != "xtest")
        got = sorted((round(lo, 6), round(hi, 6)) for _x, lo, hi in whiskers(calls))
        self.assertEqual(got, want)
        (_x, lo, hi), _stub = sorted(whiskers(xtest))
        self.assertAlmostEqual(lo, 9.9)  # xtest: min to max of its two boots
        self.assertAlmostEqual(hi, 10.1)
        # The ratio and the goal on each group.
        above = [t for t in texts(calls) if t.startswith("stubdom/optee")]
        self.assertEqual(len(above), 4)
        self.assertIn("no goal", above[0])
        self.assertIn("goal ≤ 3×: met", above[1])
        self.assertIn("goal ≤ 1.5×: missed", above[3])
        r = doc["ratios_stubdom_over_optee"]["shm-16p"]
        self.assertIn(f"stubdom/optee {r:.2f}×", above[3])
        self.assertTrue(any("goal ≤ 1.15×: missed" in t for t in texts(xtest)))

    def test_unavailable_mode_keeps_its_place(self):
        doc, _folder = measured_doc(self.tmp.name, "--no-xtest")
        doc["modes"]["stubdom"] = {"status": "unavailable", "reason": "not built", "runs": [], "metrics": {}}
        doc["ratios_stubdom_over_optee"] = bench.ratios(doc["modes"])
        fig = bench.chart_figure(doc)
        (calls,) = fig.axes  # no xtest: one panel
        self.assertEqual(len(calls.patches), 4)
        self.assertEqual(texts(calls).count("n/a"), 4)
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


if __name__ == "__main__":
    unittest.main()
