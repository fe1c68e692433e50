#!/usr/bin/python3
"""Checks a built FLASK policy against the expectations in xsm-policy/expectations.

scripts/build runs it on every policy it builds, before the policy reaches out/images/, so that a
module that grants too much (or too little) fails the build instead of a boot:

    policy-check.py POLICY_NAME POLICY_FILE ACCESS_VECTORS... EXPECTATIONS

POLICY_NAME selects the expectation lines (their first column: the name, or ``*`` for every
policy); the ACCESS_VECTORS files (Xen's xen/xsm/flask/policy/access_vectors, and the policy's
local tools/flask/policy/policy/access_vectors with our userspace class ``tee``) name the classes
and permissions (a misspelt permission would otherwise be "denied" and pass). The answers come from
checkpolicy's own debug mode on the binary policy (``checkpolicy -t xen -b -d``:
context_to_sid, then compute_access_vector), i.e. from libsepol's access computation with every
allow rule, attribute and constraint applied -- the same decision Xen's security server makes.

Expectation lines (``#`` starts a comment):

    POLICY  SOURCE_TYPE  TARGET_TYPE  CLASS  [+|-]PERMISSION...   +: must be allowed, -: denied
    POLICY  no-type      TYPE...                                  no such type (in neither context)

Types are looked up as ``system_u:system_r:TYPE`` (a domain's context), else as
``system_u:object_r:TYPE`` (an object's: the TA types, which the TEE mediator resolves so, and
which may be written by their alias ``ta_<uuid>_t``). Prints one line per policy; exits 1 naming
every broken expectation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys


def access_vectors(paths: list[str]) -> dict[str, set[str]]:
    """class -> permissions, from access_vectors files."""
    classes: dict[str, set[str]] = {}
    for path in paths:
        current = None
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                m = re.fullmatch(r"class\s+(\w+)", line)
                if m:
                    current = classes.setdefault(m.group(1), set())
                elif line == "}":
                    current = None
                elif current is not None and line != "{":
                    current.update(line.split())
    return classes


def expectations(path: str, policy: str, classes: dict[str, set[str]]):
    """The (where, source, target, class, {perm: wanted}) rules and (where, type) absences that
    apply to POLICY."""
    rules, absent = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            where = f"{os.path.relpath(path)}:{n}"
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) < 3:
                sys.exit(f"error: {where}: expected POLICY SOURCE TARGET CLASS PERMS or POLICY no-type TYPES")
            if words[0] not in ("*", policy):
                continue
            if words[1] == "no-type":
                absent += [(where, t) for t in words[2:]]
                continue
            if len(words) < 5:
                sys.exit(f"error: {where}: expected POLICY SOURCE TARGET CLASS [+|-]PERMISSION...")
            src, tgt, cls, perms = words[1], words[2], words[3], words[4:]
            if cls not in classes:
                sys.exit(f"error: {where}: no class {cls} in the access_vectors files")
            wanted = {}
            for p in perms:
                if p[:1] not in "+-" or len(p) < 2:
                    sys.exit(f"error: {where}: '{p}': write +PERMISSION (allowed) or -PERMISSION (denied)")
                if p[1:] not in classes[cls]:
                    sys.exit(f"error: {where}: class {cls} has no permission {p[1:]}")
                wanted[p[1:]] = p[0] == "+"
            rules.append((where, src, tgt, cls, wanted))
    return rules, absent


def sid_of(answer: str) -> str | None:
    """The SID of a context_to_sid answer ("sid N"); None for an invalid context."""
    m = re.search(r"^sid (\d+)$", answer, re.M)
    return m.group(1) if m else None


# The contexts a type is looked up in, in order: a domain's, then an object's (TA types).
ROLES = ("system_r", "object_r")


def query(policy_file: str, types: list[str], avs: list[tuple[str, str, str]]):
    """Ask checkpolicy's debug mode: the SID of each type (None: no such context) and the allowed
    permissions of each (source, target, class)."""
    script = "".join(f"2\nsystem_u:{r}:{t}\n" for t in types for r in ROLES)
    n = len(types) * len(ROLES)
    out = subprocess.run(["checkpolicy", "-t", "xen", "-b", "-d", policy_file],
                         input=script + "q\n", capture_output=True, text=True, timeout=60)
    # Each answer follows a "Choose:" prompt; the text before the first prompt is the menu.
    answers = out.stdout.split("Choose:")[1:]
    if len(answers) < n:
        sys.exit(f"error: checkpolicy -d gave {len(answers)} answers for {n} questions:\n"
                 f"{out.stdout[-2000:]}{out.stderr[-2000:]}")
    first = [sid_of(a) for a in answers[:n]]
    # The first valid context of each type (system_r, else object_r).
    sids = {t: next((x for x in first[i * len(ROLES):(i + 1) * len(ROLES)] if x), None)
            for i, t in enumerate(types)}
    asked = [(s, t, c) for s, t, c in avs if sids[s] and sids[t]]
    script += "".join(f"0\n{sids[s]}\n{sids[t]}\n{c}\n" for s, t, c in asked)
    out = subprocess.run(["checkpolicy", "-t", "xen", "-b", "-d", policy_file],
                         input=script + "q\n", capture_output=True, text=True, timeout=60)
    # The second run asks the same context_to_sid questions first: the SIDs they give are the same.
    answers = out.stdout.split("Choose:")[1:]
    if [sid_of(a) for a in answers[:n]] != first:
        sys.exit("error: checkpolicy -d gave other SIDs on the second run")
    answers = answers[n:]
    allowed = {}
    for key, a in zip(asked, answers):
        m = re.search(r"allowed \{([^}]*)\}", a)
        if not m:
            sys.exit(f"error: checkpolicy -d: no access vector for {key}: {a.strip()[:200]}")
        allowed[key] = set(m.group(1).split())
    if len(allowed) != len(asked):
        sys.exit(f"error: checkpolicy -d answered {len(allowed)} of {len(asked)} access questions")
    return sids, allowed


def main() -> int:
    if len(sys.argv) < 5:
        sys.exit(__doc__.split("\n\n")[1])
    name, policy_file, *av_files, exp_file = sys.argv[1:]
    rules, absent = expectations(exp_file, name, access_vectors(av_files))
    types = sorted({t for _, s, d, _, _ in rules for t in (s, d)} | {t for _, t in absent})
    sids, allowed = query(policy_file, types, sorted({(s, d, c) for _, s, d, c, _ in rules}))
    broken = []
    for where, t in absent:
        if sids[t]:
            broken.append(f"{where}: type {t} exists in {name}")
    for where, src, tgt, cls, wanted in rules:
        for t in (src, tgt):
            if not sids[t]:
                broken.append(f"{where}: no type {t} in {name}")
        if not (sids[src] and sids[tgt]):
            continue
        have = allowed[(src, tgt, cls)]
        for perm, want in sorted(wanted.items()):
            if (perm in have) != want:
                broken.append(f"{where}: {src} -> {tgt}:{cls} {perm} is "
                              f"{'denied' if want else 'ALLOWED'}, expected {'allowed' if want else 'denied'}")
    checked = sum(len(w) for *_, w in rules) + len(absent)
    if broken:
        print(f"{name}: {len(broken)} of {checked} expectations broken:", file=sys.stderr)
        for b in broken:
            print("  " + b, file=sys.stderr)
        return 1
    print(f"{name}: {checked} expectations hold ({len(rules)} access vectors, {len(absent)} absent types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
