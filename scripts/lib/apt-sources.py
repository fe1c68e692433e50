#!/usr/bin/python3
"""Write a deb822 apt source for another suite, derived from this machine's own apt configuration.

The repository never names an archive host: we copy the URI and keyring of the machine's entry for
its own release (e.g. bookworm) and change only Types and Suites.

usage: apt-sources.py TYPES SUITES...   (prints the stanza on stdout)
"""
import glob
import re
import sys


def stanzas():
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        text = open(path, encoding="utf-8").read()
        for block in re.split(r"\n\s*\n", text):
            fields = {}
            key = None
            for line in block.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0].isspace() and key:
                    fields[key] += "\n" + line.strip()
                    continue
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
            if fields.get("URIs") and fields.get("Suites"):
                yield fields
    try:
        lines = open("/etc/apt/sources.list", encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 3 and parts[0] in ("deb", "deb-src"):
            opts = ""
            if parts[1].startswith("["):
                end = next(i for i, p in enumerate(parts) if p.endswith("]"))
                opts = " ".join(parts[1 : end + 1])
                parts = [parts[0]] + parts[end + 1 :]
            signed = re.search(r"signed-by=([^\] ]+)", opts)
            yield {"URIs": parts[1], "Suites": parts[2], "Signed-By": signed.group(1) if signed else ""}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    types, suites = sys.argv[1], sys.argv[2:]
    codename = ""
    for line in open("/etc/os-release", encoding="utf-8"):
        if line.startswith("VERSION_CODENAME="):
            codename = line.split("=", 1)[1].strip().strip('"')
    # A "-security" suite comes from the machine's security archive entry, all others from its main one.
    groups = {}
    for suite in suites:
        want = f"{codename}-security" if suite.endswith("-security") else codename
        groups.setdefault(want, []).append(suite)
    known = list(stanzas())
    for want, group in groups.items():
        fields = next((f for f in known if want in f["Suites"].split()), None)
        if fields is None:
            sys.exit(f"apt-sources.py: no apt source for '{want}' in this machine's /etc/apt")
        print(f"Types: {types}")
        print(f"URIs: {fields['URIs'].split()[0]}")
        print(f"Suites: {' '.join(group)}")
        print("Components: main")
        # The archive keys of every Debian release are in the machine's keyring package.
        print("Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg")
        print()

main()
