"""Scenarios as data: parse a boot/scenarios/NAME.scn file and turn it into a U-Boot script, a boot disk
and a QEMU command line for the QEMU virt testbed (ImageBuilder-style configuration, dom0less boot).

A scenario file holds KEY=VALUE lines (``#`` starts a comment; values may be double-quoted; per-domU
fields are arrays ``KEY[i]=value`` with ``i`` from 0 to NUM_DOMUS-1). See boot/README.md for every
field. The file is parsed strictly, never sourced: an unknown field, a malformed value or a missing
required field is an error that names the file, the line and the field.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO_DIR = os.path.join(ROOT, "boot", "scenarios")

# QEMU virt memory map of the testbed (see DESIGN.md): RAM starts at 0x40000000. U-Boot uses the
# first 64 MiB (its DT, script and distro-boot load addresses), OP-TEE's static SHM sits at
# 0x42000000-0x421fffff, TF-A loads U-Boot (BL33) at 0x60000000 and U-Boot relocates itself to the
# top of RAM. Boot modules are preloaded by QEMU between those holes.
XEN_ADDR = 0x48000000
DTB_ADDR = 0x46000000
DTB_EXTRA = 0x20000
MODULE_BASE = 0x4A000000
MODULE_HOLES = [(0x60000000, 0x62000000)]
MODULE_LIMIT = 0xA0000000
MODULE_ALIGN = 0x200000

# The FLASK label property of dom0less domain nodes (hv-patches: dom0less label patch).
LABEL_PROPERTY = "xen,flask-label"

# The FLASK policies scripts/build makes (xsm-policy/README.md), by the value of POLICY: the product
# modules only, the product plus the test and demo modules, or the product plus the hostile-mediator
# suite's canaries (dom0 no TEE client, as in the product).
POLICY_IMAGES = {"product": "xenpolicy", "test": "xenpolicy-test", "hostile": "xenpolicy-hostile"}


class ScenarioError(Exception):
    """A scenario file or its inputs are wrong; the message names the file, line and field."""


def _yes_no(v: str) -> bool:
    if v not in ("yes", "no"):
        raise ValueError("expected yes or no")
    return v == "yes"


def _positive(v: str) -> int:
    if not re.fullmatch(r"[0-9]+", v) or int(v) <= 0:
        raise ValueError("expected a whole number greater than 0")
    return int(v)


def _count(v: str) -> int:
    if not re.fullmatch(r"[0-9]+", v):
        raise ValueError("expected a whole number")
    return int(v)


def _flag(v: str) -> bool:
    if v not in ("0", "1"):
        raise ValueError("expected 0 or 1")
    return v == "1"


def _choice(*allowed: str):
    def parse(v: str) -> str:
        if v not in allowed:
            raise ValueError("expected one of " + ", ".join(allowed))
        return v

    return parse


def _policy(v: str) -> str:
    if v not in POLICY_IMAGES:
        raise ValueError("expected product (out/images/xenpolicy: xsm-policy/product/), test "
                         "(out/images/xenpolicy-test: xsm-policy/product/ + xsm-policy/test/) or hostile "
                         "(out/images/xenpolicy-hostile: xsm-policy/product/ + xsm-policy/hostile/)")
    return v


def _name(v: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", v):
        raise ValueError("expected a name of lower-case letters, digits, '-' or '_'")
    return v


def _names(v: str) -> list[str]:
    return [_name(x) for x in v.split()]


def _text(v: str) -> str:
    if '"' in v or "\\" in v or "$" in v or ";" in v:
        raise ValueError("must not contain quotes, backslashes, '$' or ';' (it goes into a U-Boot script)")
    return v


def _evtchns(v: str) -> list[tuple[int, str, int]]:
    out = []
    for item in v.split():
        m = re.fullmatch(r"([0-9]+):(dom0|[0-9]+):([0-9]+)", item)
        if not m:
            raise ValueError(f"'{item}' is not LOCALPORT:PEER:PEERPORT (PEER: a domU index or dom0)")
        local, peer, remote = int(m.group(1)), m.group(2), int(m.group(3))
        if not (0 < local < 4096 and 0 < remote < 4096):
            raise ValueError(f"'{item}': ports must be between 1 and 4095 (2-level ABI)")
        out.append((local, peer, remote))
    return out


def _log_counts(v: str) -> list[tuple[str, int]]:
    """``REGEX=N;REGEX=N``: how many lines of a log must match each regular expression."""
    out = []
    for item in filter(None, (x.strip() for x in v.split(";"))):
        rx, eq, n = item.rpartition("=")
        if not eq or not rx or not re.fullmatch(r"[0-9]+", n):
            raise ValueError(f"'{item}' is not REGEX=COUNT")
        try:
            re.compile(rx)
        except re.error as e:
            raise ValueError(f"'{rx}' is not a regular expression: {e}") from None
        out.append((rx, int(n)))
    return out


def _log_each(v: str) -> list[tuple[str, int]]:
    """``REGEX=N;...`` where each REGEX has one capture group: every distinct value it captures
    must occur in exactly N matching lines (e.g. "each client ID is added exactly once")."""
    out = _log_counts(v)
    for rx, _ in out:
        if re.compile(rx).groups != 1:
            raise ValueError(f"'{rx}' must have exactly one capture group")
    return out


def secure_log_failure(sc: "Scenario", lines: list[str]) -> str | None:
    """The first EXPECT_SECURE / EXPECT_SECURE_EACH expectation the secure log's lines break, as
    a message; None if it meets them all."""
    for rx, want in sc.expect_secure:
        seen = sum(1 for line in lines if re.search(rx, line))
        if seen != want:
            return f"secure log: /{rx}/ matched {seen} lines, expected {want}"
    for rx, want in sc.expect_secure_each:
        counts: dict[str, int] = {}
        for line in lines:
            m = re.search(rx, line)
            if m:
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        bad = [f"{k} ({n} lines)" for k, n in counts.items() if n != want]
        if bad:
            return (f"secure log: /{rx}/ must match {want} lines per captured value; "
                    f"not so for {', '.join(bad)}")
    return None


def failure_digest(ns_lines: list[str], secure_lines: list[str]) -> list[str]:
    """What a failed boot's logs say about where it stood, in a few lines: Xen's tee-stubdom
    messages (an overdue call, a slow pause, a refusal), each guest's last TSD-STATS line (its
    OP-TEE threads and what they wait for), the stall watchdog's task stacks, and the last lines of
    both consoles. For a run's output and a soak's failures, where the logs may not be at hand."""
    xen = [l for l in ns_lines if re.search(r"\(XEN\) (?:d\d+v\d+ )?tee-stubdom: ", l)]
    stats: dict[str, str] = {}
    for line in ns_lines:
        m = re.search(r"TSD-STATS \S+ .*?\bname=(\S+)", line)
        if m:
            stats[m.group(1)] = line[m.start():]
    stalls = [l for l in ns_lines if re.search(r"TSD-INFO \S+ stall", l)]
    out = [f"xen: {l.split('(XEN)', 1)[1].strip()}" for l in xen[-12:]]
    if len(xen) > 12:
        out.insert(0, f"xen: ({len(xen) - 12} earlier tee-stubdom lines)")
    out += [f"last stats: {l}" for l in stats.values()]
    out += [f"stall: {l.strip()}" for l in stalls[-12:]]
    out += [f"console: {l}" for l in ns_lines[-8:] if l.strip()]
    out += [f"secure: {l}" for l in secure_lines[-4:] if l.strip()]
    return out


def _props(v: str) -> list[tuple[str, str | None]]:
    """Extra device-tree properties: ``name``, ``name=<cells>`` or ``name=str:TEXT``, ';'-separated."""
    out = []
    for item in filter(None, (x.strip() for x in v.split(";"))):
        name, eq, value = item.partition("=")
        if not re.fullmatch(r"[a-z0-9,#._-]+", name):
            raise ValueError(f"'{name}' is not a device-tree property name")
        if not eq:
            out.append((name, None))
        elif re.fullmatch(r"<[0-9a-fx ]+>", value):
            out.append((name, value))
        elif value.startswith("str:") and re.fullmatch(r"[A-Za-z0-9_,.:/ -]*", value[4:]):
            out.append((name, '"' + value[4:] + '"'))
        else:
            raise ValueError(f"'{item}': a value is <cells> or str:TEXT")
    return out


SCALARS = {
    "DESCRIPTION": (str, None),
    "XEN": (_choice("debug", "release"), "debug"),
    "XEN_CMD": (_text, ""),
    "XSM_POLICY": (_yes_no, False),
    "POLICY": (_policy, "product"),
    "TIMEOUT": (_positive, None),
    "FIRMWARE": (_text, "flash.bin"),
    "QEMU_SMP": (_positive, 2),
    "QEMU_MEM": (_positive, 2048),
    "DOM0_KERNEL": (_text, None),
    "DOM0_RAMDISK": (_text, None),
    "DOM0_CMD": (_text, ""),
    "DOM0_MEM": (_positive, 512),
    "DOM0_VCPUS": (_positive, 1),
    "NUM_DOMUS": (_count, 0),
    "EXPECT": (_names, []),
    "EXPECT_CRASH": (_names, []),
    "EXPECT_SECURE": (_log_counts, []),
    "EXPECT_SECURE_EACH": (_log_each, []),
}
ARRAYS = {
    "DOMU_NAME": (_name, None),
    "DOMU_KERNEL": (_text, None),
    "DOMU_RAMDISK": (_text, None),
    "DOMU_CMD": (_text, ""),
    "DOMU_MEM": (_positive, None),
    "DOMU_VCPUS": (_positive, 1),
    "DOMU_VPL011": (_flag, True),
    "DOMU_ENHANCED": (_choice("enabled", "disabled", "no-xenstore"), None),
    "DOMU_TEE": (_choice("none", "optee"), None),
    "DOMU_LABEL": (_text, None),
    "DOMU_EVTCHN": (_evtchns, []),
    "DOMU_PROPS": (_props, []),
}
REQUIRED = ("DESCRIPTION", "TIMEOUT")
REQUIRED_DOMU = ("DOMU_NAME", "DOMU_KERNEL", "DOMU_MEM")


@dataclasses.dataclass
class Domain:
    name: str
    kernel: str
    ramdisk: str | None
    cmd: str
    mem_mib: int
    vcpus: int
    index: int | None = None  # domU index; None for dom0
    vpl011: bool = True
    enhanced: str | None = None
    tee: str | None = None
    label: str | None = None
    evtchn: list = dataclasses.field(default_factory=list)
    props: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Scenario:
    name: str
    path: str
    fields: dict
    dom0: Domain | None
    domus: list[Domain]

    @property
    def timeout(self) -> int:
        return self.fields["TIMEOUT"]

    @property
    def expect(self) -> list[str]:
        return self.fields["EXPECT"]

    @property
    def expect_crash(self) -> list[str]:
        return self.fields["EXPECT_CRASH"]

    @property
    def expect_secure(self) -> list[tuple[str, int]]:
        return self.fields["EXPECT_SECURE"]

    @property
    def expect_secure_each(self) -> list[tuple[str, int]]:
        return self.fields["EXPECT_SECURE_EACH"]

    @property
    def policy_image(self) -> str | None:
        """The FLASK policy in out/images/ this scenario boots with; None without XSM_POLICY."""
        return POLICY_IMAGES[self.fields["POLICY"]] if self.fields["XSM_POLICY"] else None

    def domains(self) -> list[Domain]:
        return ([self.dom0] if self.dom0 else []) + self.domus


# Build steps of scripts/build that only some scenarios need, by the image they need.
EXTRA_BUILD_STEPS = {"flash-4guests.bin": "firmware-4guests"}


def build_steps(sc: "Scenario") -> list[str]:
    """The on-demand scripts/build steps this scenario needs besides the default ones."""
    step = EXTRA_BUILD_STEPS.get(sc.fields["FIRMWARE"])
    return [step] if step else []


def available() -> list[str]:
    return sorted(f[:-4] for f in os.listdir(SCENARIO_DIR) if f.endswith(".scn"))


def _unquote(raw: str, where: str) -> str:
    raw = raw.strip()
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"') or '"' in raw[1:-1]:
            raise ScenarioError(f"{where}: unbalanced double quotes")
        return raw[1:-1]
    if '"' in raw or "'" in raw:
        raise ScenarioError(f"{where}: quote the whole value with double quotes")
    return raw


def parse(name: str, overrides: list[str] | None = None) -> Scenario:
    """Load boot/scenarios/NAME.scn (NAME may also be a path), then apply KEY=VALUE overrides."""
    path = name if name.endswith(".scn") and os.sep in name else os.path.join(SCENARIO_DIR, name + ".scn")
    if not os.path.isfile(path):
        raise ScenarioError(f"unknown scenario '{name}'; valid scenarios: {', '.join(available())}")
    rel = os.path.relpath(path, ROOT) if os.path.abspath(path).startswith(ROOT + os.sep) else path
    with open(path, encoding="utf-8") as f:
        lines = [(f"{rel}:{n}", line) for n, line in enumerate(f, 1)]
    lines += [(f"--set {o}", o) for o in overrides or []]

    scalars: dict = {}
    arrays: dict[str, dict[int, object]] = {k: {} for k in ARRAYS}
    for where, line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Z0-9_]+)(?:\[([0-9]+)\])?=(.*)", line)
        if not m:
            raise ScenarioError(f"{where}: expected KEY=VALUE or KEY[i]=VALUE, got '{line}'")
        key, index, raw = m.group(1), m.group(2), m.group(3)
        # A trailing comment after an unquoted value.
        if not raw.strip().startswith('"'):
            raw = raw.split("#", 1)[0]
        value = _unquote(raw, f"{where}: {key}")
        if key in SCALARS and index is None:
            parser = SCALARS[key][0]
            try:
                scalars[key] = parser(value)
            except ValueError as e:
                raise ScenarioError(f"{where}: field {key}: {e} (got '{value}')") from None
        elif key in ARRAYS and index is not None:
            try:
                arrays[key][int(index)] = ARRAYS[key][0](value)
            except ValueError as e:
                raise ScenarioError(f"{where}: field {key}[{index}]: {e} (got '{value}')") from None
        elif key in ARRAYS:
            raise ScenarioError(f"{where}: field {key} is per domU: write {key}[i]=...")
        elif key in SCALARS:
            raise ScenarioError(f"{where}: field {key} takes no index")
        else:
            raise ScenarioError(f"{where}: unknown field {key} (see boot/README.md)")

    for key in REQUIRED:
        if key not in scalars:
            raise ScenarioError(f"{rel}: missing field {key}")
    fields = {k: scalars.get(k, default) for k, (_, default) in SCALARS.items()}
    n = fields["NUM_DOMUS"]
    for key, values in arrays.items():
        extra = [i for i in values if i >= n]
        if extra:
            raise ScenarioError(f"{rel}: field {key}[{extra[0]}] but NUM_DOMUS={n}")
    for key in REQUIRED_DOMU:
        missing = [i for i in range(n) if i not in arrays[key]]
        if missing:
            raise ScenarioError(f"{rel}: missing field {key}[{missing[0]}]")

    if fields["POLICY"] != "product" and not fields["XSM_POLICY"]:
        raise ScenarioError(f"{rel}: POLICY={fields['POLICY']}, but XSM_POLICY=no loads no policy "
                            "(set XSM_POLICY=yes, or POLICY=product to boot without one)")

    dom0 = None
    if fields["DOM0_KERNEL"]:
        dom0 = Domain("dom0", fields["DOM0_KERNEL"], fields["DOM0_RAMDISK"], fields["DOM0_CMD"],
                      fields["DOM0_MEM"], fields["DOM0_VCPUS"])
    elif fields["DOM0_RAMDISK"] or fields["DOM0_CMD"]:
        raise ScenarioError(f"{rel}: DOM0_RAMDISK/DOM0_CMD given without DOM0_KERNEL")

    domus = []
    for i in range(n):
        get = lambda k: arrays[k].get(i, ARRAYS[k][1])  # noqa: E731
        domus.append(Domain(get("DOMU_NAME"), get("DOMU_KERNEL"), get("DOMU_RAMDISK"), get("DOMU_CMD"),
                            get("DOMU_MEM"), get("DOMU_VCPUS"), i, get("DOMU_VPL011"), get("DOMU_ENHANCED"),
                            get("DOMU_TEE"), get("DOMU_LABEL"), get("DOMU_EVTCHN"), get("DOMU_PROPS")))

    sc = Scenario(os.path.basename(path)[:-4], path, fields, dom0, domus)
    names = [d.name for d in sc.domains()]
    dup = {x for x in names if names.count(x) > 1}
    if dup:
        raise ScenarioError(f"{rel}: domain name {sorted(dup)[0]} used twice")
    for key in ("EXPECT", "EXPECT_CRASH"):
        for x in fields[key]:
            if x not in names:
                raise ScenarioError(f"{rel}: field {key}: no domain is named '{x}' (domains: {', '.join(names)})")
    if not fields["EXPECT"]:
        raise ScenarioError(f"{rel}: field EXPECT names no domain, so the run could never pass")
    for d in domus:
        for _, peer, _ in d.evtchn:
            if peer == "dom0" and dom0 is None:
                raise ScenarioError(f"{rel}: DOMU_EVTCHN[{d.index}] links to dom0, but there is no dom0")
            if peer != "dom0" and (int(peer) >= n or int(peer) == d.index):
                raise ScenarioError(f"{rel}: DOMU_EVTCHN[{d.index}]: peer {peer} is not another domU")
    return sc


def image_path(images_dir: str, ref: str, where: str) -> str:
    """A kernel or ramdisk reference: a name in out/images/ or a path relative to out/."""
    for cand in (os.path.join(images_dir, ref), os.path.join(os.path.dirname(images_dir), ref)):
        if os.path.isfile(cand):
            return cand
    raise ScenarioError(f"{where}: image '{ref}' not found in out/images/ (did scripts/build run?)")


@dataclasses.dataclass
class Module:
    path: str
    addr: int
    size: int


class _Allocator:
    def __init__(self) -> None:
        self.next = MODULE_BASE

    def place(self, path: str) -> Module:
        size = os.path.getsize(path)
        addr = self.next
        for lo, hi in MODULE_HOLES:
            if addr < hi and addr + size > lo:
                addr = hi
        end = addr + size
        if end > MODULE_LIMIT:
            raise ScenarioError(f"boot modules do not fit below {MODULE_LIMIT:#x} (at {os.path.basename(path)})")
        self.next = (end + MODULE_ALIGN - 1) & ~(MODULE_ALIGN - 1)
        return Module(path, addr, size)


def _fdt_str(s: str) -> str:
    return '"' + s + '"'


def generate(sc: Scenario, images_dir: str, xen_cmd_extra: str = "") -> tuple[list[str], list[Module]]:
    """Return the U-Boot script lines and the modules QEMU must preload."""
    alloc = _Allocator()
    xen = Module(os.path.join(images_dir, "xen-" + sc.fields["XEN"]), XEN_ADDR, 0)
    if not os.path.isfile(xen.path):
        raise ScenarioError(f"{xen.path} is missing (run scripts/build)")
    xen.size = os.path.getsize(xen.path)
    modules = [xen]
    cmd = ["echo tee-stubdom: scenario " + sc.name,
           "fdt addr ${fdtcontroladdr}",
           f"fdt move ${{fdtcontroladdr}} {DTB_ADDR:#x}",
           f"fdt resize {DTB_EXTRA:#x}",
           "fdt set /chosen \\#address-cells <1>",
           "fdt set /chosen \\#size-cells <1>"]
    xen_cmd = " ".join(x for x in ("console=dtuart bootscrub=0 loglvl=all guest_loglvl=all",
                                   f"dom0_mem={sc.fields['DOM0_MEM']}M dom0_max_vcpus={sc.fields['DOM0_VCPUS']}"
                                   if sc.dom0 else "", sc.fields["XEN_CMD"], xen_cmd_extra) if x)
    cmd.append(f"fdt set /chosen xen,xen-bootargs {_fdt_str(xen_cmd)}")

    def module_node(parent: str, node: str, compat: list[str], mod: Module, bootargs: str | None = None):
        cmd.append(f"fdt mknode {parent} {node}")
        cmd.append(f"fdt set {parent}/{node} compatible " + " ".join(_fdt_str(c) for c in compat))
        cmd.append(f"fdt set {parent}/{node} reg <{mod.addr:#x} {mod.size:#x}>")
        if bootargs is not None:
            cmd.append(f"fdt set {parent}/{node} bootargs {_fdt_str(bootargs)}")

    if sc.policy_image:
        pol = alloc.place(image_path(images_dir, sc.policy_image, f"POLICY={sc.fields['POLICY']}"))
        modules.append(pol)
        module_node("/chosen", "xsm-policy", ["xen,xsm-policy", "xen,multiboot-module", "multiboot,module"], pol)

    phandles: dict[tuple[str, int], int] = {}

    def evtchn_phandle(dom: str, port: int) -> int:
        return phandles.setdefault((dom, port), 0xFE00 + len(phandles))

    # Each link is declared once (on one side); both sides get a node that points at the other.
    links = []
    for d in sc.domus:
        for local, peer, remote in d.evtchn:
            links.append((str(d.index), local, peer, remote))
            links.append((peer, remote, str(d.index), local))

    def evtchn_nodes(dom_key: str, parent: str):
        for dom, local, peer, remote in links:
            if dom != dom_key:
                continue
            node = f"{parent}/evtchn@{evtchn_phandle(dom, local):x}"
            cmd.append(f"fdt mknode {parent} evtchn@{evtchn_phandle(dom, local):x}")
            cmd.append(f"fdt set {node} compatible \"xen,evtchn-v1\"")
            cmd.append(f"fdt set {node} phandle <{evtchn_phandle(dom, local):#x}>")
            cmd.append(f"fdt set {node} xen,evtchn <{local:#x} {evtchn_phandle(peer, remote):#x}>")

    if sc.dom0:
        kernel = alloc.place(image_path(images_dir, sc.dom0.kernel, "DOM0_KERNEL"))
        modules.append(kernel)
        module_node("/chosen", "dom0", ["xen,linux-zimage", "xen,multiboot-module", "multiboot,module"],
                    kernel, sc.dom0.cmd)
        if sc.dom0.ramdisk:
            rd = alloc.place(image_path(images_dir, sc.dom0.ramdisk, "DOM0_RAMDISK"))
            modules.append(rd)
            module_node("/chosen", "dom0-ramdisk",
                        ["xen,linux-initrd", "xen,multiboot-module", "multiboot,module"], rd)
        evtchn_nodes("dom0", "/chosen")

    for d in sc.domus:
        node = f"/chosen/domU{d.index}"
        cmd.append(f"fdt mknode /chosen domU{d.index}")
        cmd.append(f"fdt set {node} compatible \"xen,domain\"")
        cmd.append(f"fdt set {node} \\#address-cells <1>")
        cmd.append(f"fdt set {node} \\#size-cells <1>")
        cmd.append(f"fdt set {node} memory <0 {d.mem_mib * 1024:#x}>")
        cmd.append(f"fdt set {node} cpus <{d.vcpus}>")
        if d.vpl011:
            cmd.append(f"fdt set {node} vpl011")
        if d.enhanced:
            cmd.append(f"fdt set {node} xen,enhanced {_fdt_str(d.enhanced)}")
        if d.tee:
            cmd.append(f"fdt set {node} xen,tee {_fdt_str(d.tee)}")
        if d.label:
            cmd.append(f"fdt set {node} {LABEL_PROPERTY} {_fdt_str(d.label)}")
        for prop, value in d.props:
            cmd.append(f"fdt set {node} {prop}" + (f" {value}" if value else ""))
        kernel = alloc.place(image_path(images_dir, d.kernel, f"DOMU_KERNEL[{d.index}]"))
        modules.append(kernel)
        module_node(node, f"module@{kernel.addr:x}", ["multiboot,kernel", "multiboot,module"], kernel, d.cmd)
        if d.ramdisk:
            rd = alloc.place(image_path(images_dir, d.ramdisk, f"DOMU_RAMDISK[{d.index}]"))
            modules.append(rd)
            module_node(node, f"module@{rd.addr:x}", ["multiboot,ramdisk", "multiboot,module"], rd)
        evtchn_nodes(str(d.index), node)

    cmd.append(f"booti {XEN_ADDR:#x} - {DTB_ADDR:#x}")
    return cmd, modules


def make_disk(script_lines: list[str], out_path: str) -> None:
    """A raw disk with an MBR and one ext4 partition at LBA 2048 holding /boot.scr: Debian's U-Boot
    distro boot runs a script only from a partitioned disk."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd_file = os.path.join(tmp, "boot.cmd")
        with open(cmd_file, "w", encoding="utf-8") as f:
            f.write("\n".join(script_lines) + "\n")
        root = os.path.join(tmp, "root")
        os.mkdir(root)
        _check(["mkimage", "-A", "arm64", "-T", "script", "-C", "none", "-n", "tee-stubdom",
                "-d", cmd_file, os.path.join(root, "boot.scr")])
        fs = os.path.join(tmp, "fs.img")
        _check(["mkfs.ext4", "-q", "-F", "-L", "tsdboot", "-d", root, fs, "4M"])
        with open(out_path, "wb") as disk:
            disk.truncate(2048 * 512 + os.path.getsize(fs))
        _check(["sfdisk", "-q", out_path], stdin="label: dos\nstart=2048, type=83, bootable\n")
        with open(out_path, "r+b") as disk, open(fs, "rb") as src:
            disk.seek(2048 * 512)
            disk.write(src.read())


def _check(argv: list[str], stdin: str | None = None) -> None:
    r = subprocess.run(argv, input=stdin, text=True, capture_output=True)
    if r.returncode != 0:
        raise ScenarioError(f"{' '.join(shlex.quote(a) for a in argv)} failed: {r.stderr.strip()}")


def qemu_argv(sc: Scenario, images_dir: str, disk: str, modules: list[Module], ns_log: str,
              secure_log: str) -> list[str]:
    firmware = image_path(images_dir, sc.fields["FIRMWARE"], "FIRMWARE")
    argv = ["qemu-system-aarch64",
            "-machine", "virt,secure=on,virtualization=on,gic-version=3",
            "-cpu", "cortex-a57", "-smp", str(sc.fields["QEMU_SMP"]), "-m", str(sc.fields["QEMU_MEM"]),
            "-bios", firmware, "-display", "none", "-monitor", "none", "-nic", "none", "-no-reboot",
            "-serial", "file:" + ns_log, "-serial", "file:" + secure_log,
            "-drive", f"if=none,file={disk},format=raw,id=boot", "-device", "virtio-blk-device,drive=boot"]
    for m in modules:
        argv += ["-device", f"loader,file={m.path},addr={m.addr:#x},force-raw=on"]
    return argv
