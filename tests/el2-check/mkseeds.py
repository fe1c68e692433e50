#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the hand-made seeds of the fuzz target (tests/el2-check/seeds/) and
the reproducers of its findings (tests/el2-check/findings/).

Each seed is a valid message a well-behaved mediator builds, in the input
format documented at the top of fuzz.c; `./run smoke` checks that Xen accepts
every one of them, and that no reproducer in findings/ is a finding any more
(README.md, "Findings"). Run it again after changing the format:

    tests/el2-check/mkseeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = 4096
NONCONTIG = 1 << 9
VALUE_IN, VALUE_INOUT, RMEM_INOUT = 0x1, 0x3, 0x7
TMEM_IN, TMEM_OUT, TMEM_INOUT = 0x9, 0xA, 0xB
UNMAPPED, MEDIATOR, CLIENT, OTHER, XEN = range(5)


class Seed:
    """One input: header, machine, then records writing mediator pages."""

    def __init__(self, op, rpc_params=0, mediator=range(1, 9), clients=range(9, 41)):
        self.op, self.rpc_params, self.flags, self.med_low = op, rpc_params, 0, 0
        self.frames = [UNMAPPED] * 64
        for f in mediator:
            self.frames[f] = MEDIATOR
        for f in clients:
            self.frames[f] = CLIENT
        self.frames[41], self.frames[42] = OTHER, XEN
        self.med = 1
        self.extra = b""
        self.records = b""

    def word(self, frame, word, value):
        self.records += struct.pack("<BBHQ", 0, frame, word, value)

    def run(self, frame, word, count, base, step):
        self.records += struct.pack("<BBHHQQ", 1, frame, word, count, base, step)

    def param(self, frame, off, attr, a, b, c):
        self.records += struct.pack("<BBHQQQQ", 3, frame, off, attr, a, b, c)

    def header(self, frame, off, cmd, num_params, ret=0, origin=0):
        hdr = struct.pack("<IIIIIIII", cmd, 0, 0, 0, 0, ret, origin, num_params)
        self.records += struct.pack("<BBHB", 2, frame, off, len(hdr)) + hdr

    def page_list(self, first, entries, offset=0):
        """A page list in mediator frames first.. with the mediator's next pointers."""
        frame, i = first, 0
        while i < len(entries):
            chunk = entries[i:i + 511]
            # Runs of evenly spaced entries (the same page, or consecutive pages).
            j = 0
            while j < len(chunk):
                step = chunk[j + 1] - chunk[j] if j + 1 < len(chunk) else 0
                if step not in (0, PAGE):
                    step = 0
                k = j
                while k + 1 < len(chunk) and chunk[k + 1] == chunk[k] + step:
                    k += 1
                self.run(frame, j, k - j + 1, chunk[j], step)
                j = k + 1
            i += len(chunk)
            if i < len(entries):
                self.word(frame, 511, (frame + 1) * PAGE)
                frame += 1
        return first * PAGE + offset

    def bytes(self):
        head = struct.pack("<BBBBHB", self.op, self.flags, self.rpc_params, 0xFF, 0, 0)
        frames = bytes(self.frames)
        return head + frames + struct.pack("<BH", self.med, self.med_low) + self.extra + self.records


def clients(n, first=9, count=32):
    return [(first + i % count) * PAGE for i in range(n)]


def seeds():
    # An INVOKE_COMMAND with values and a cookie (RMEM): no address at all.
    s = Seed(0)
    s.header(1, 0, 1, 4)
    s.param(1, 32, VALUE_IN, 1, 2, 3)
    s.param(1, 64, VALUE_INOUT, 4, 5, 6)
    s.param(1, 96, RMEM_INOUT, 0, 4096, 0xC00C1E)
    s.param(1, 128, TMEM_IN, 0, 0, 0)
    yield "invoke-values", s

    # A temporary memref of one page, offset 0x123.
    s = Seed(0)
    s.header(1, 0, 1, 1)
    s.param(1, 32, TMEM_INOUT | NONCONTIG, s.page_list(2, clients(1), 0x123), 100, 0x1000)
    yield "invoke-noncontig-1", s

    # 600 pages: two list pages, the mediator's next pointer.
    s = Seed(0)
    s.header(1, 0, 1, 2)
    s.param(1, 32, TMEM_IN | NONCONTIG, s.page_list(2, clients(600), 0x10), 600 * PAGE - 0x10, 0x2000)
    s.param(1, 64, VALUE_IN, 7, 8, 9)
    yield "invoke-noncontig-600", s

    # OPEN_SESSION through CALL_WITH_RPC_ARG: meta values, then two memrefs.
    s = Seed(1, rpc_params=4)
    s.header(1, 0, 0, 4)
    s.param(1, 32, VALUE_IN | (1 << 8), 0x11, 0x22, 0)
    s.param(1, 64, VALUE_IN | (1 << 8), 0, 0, 0)
    s.param(1, 96, TMEM_IN | NONCONTIG, s.page_list(2, clients(3)), 3 * PAGE, 0x3000)
    s.param(1, 128, TMEM_OUT | NONCONTIG, s.page_list(3, clients(2, first=20)) | 0xFF8, 16, 0x3001)
    yield "open-session-rpc-arg", s

    # REGISTER_SHM of 1023 pages: three list pages.
    s = Seed(0)
    s.header(1, 0, 4, 1)
    s.param(1, 32, TMEM_OUT | NONCONTIG, s.page_list(2, clients(1023)), 1023 * PAGE, 0x4000)
    yield "register-shm-1023", s

    # The largest buffer: 16384 pages, 33 list pages.
    s = Seed(0, mediator=range(1, 40), clients=range(40, 64))
    s.frames[1] = MEDIATOR
    s.header(1, 0, 4, 1)
    s.param(1, 32, TMEM_OUT | NONCONTIG, s.page_list(2, clients(16384, first=40, count=1)),
            16384 * PAGE, 0x5000)
    yield "register-shm-16384", s

    # The answer to OP-TEE's SHM_ALLOC RPC (2 pages), after a 4-parameter argument.
    s = Seed(2)
    moff, off = 0x200, 32 + 4 * 32
    s.extra = struct.pack("<HHBB", moff, off, 1, 1)
    s.header(1, moff, 0x7777, 0x66, 0, 0)
    s.param(1, moff + 32, TMEM_OUT | NONCONTIG, s.page_list(2, clients(2)), 2 * PAGE, 0x6000)
    yield "rpc-shm-alloc", s

    # The answer to a GET_TIME RPC: values.
    s = Seed(2)
    s.extra = struct.pack("<HHBB", 0, 32 + 4 * 32, 1, 3 * 2)
    s.header(1, 0, 3, 1, 0, 0)
    s.param(1, 32, VALUE_INOUT, 1234, 5678, 0)
    yield "rpc-get-time", s

    # The largest argument that leaves room for a 4-parameter RPC argument.
    s = Seed(1, rpc_params=4)
    s.header(1, 0, 1, 122)
    for i in range(122):
        s.param(1, 32 + 32 * i, VALUE_INOUT, i, 0, 0)
    s.param(1, 32 + 32 * 121, TMEM_IN | NONCONTIG, s.page_list(2, clients(1)), 10, 0x7000)
    yield "invoke-122-params-rpc-arg", s

    # One function ID of each kind Xen passes.
    for name, fid in (("call-with-arg", 0x32000004), ("call-with-rpc-arg", 0x32000012),
                      ("return-from-rpc", 0x32000003), ("vm-created", 0xB200000D),
                      ("get-os-revision", 0xB2000001), ("calls-uid", 0xBF00FF01)):
        s = Seed(3)
        s.extra = struct.pack("<Q", fid)
        yield "classify-" + name, s


def findings():
    # F1: REGISTER_SHM with a null page list; PA 0 is a mediator page whose
    # "list" names a Xen page and another domain's page.
    s = Seed(0)
    s.frames[0] = MEDIATOR
    s.header(1, 0, 4, 1)
    s.param(1, 32, TMEM_OUT | NONCONTIG, 0, 2 * PAGE, 0x8000)
    s.word(0, 0, 42 * PAGE)
    s.word(0, 1, 41 * PAGE)
    yield "f1-register-shm-null", s

    # F1: the SHM_ALLOC answer "null" TMEM_OUTPUT; PA 0 is Xen's.
    s = Seed(2)
    s.frames[0] = XEN
    s.extra = struct.pack("<HHBB", 0, 32 + 4 * 32, 1, 1)
    s.header(1, 0, 0, 1, 0, 0)
    s.param(1, 32, TMEM_OUT, 0, PAGE, 0x8001)
    yield "f1-shm-alloc-null", s

    # F2: an RPC answer at a misaligned mediator address: refused, but not
    # turned into a failed answer.
    s = Seed(2)
    s.flags, s.med_low = 2, 0x40
    s.extra = struct.pack("<HHBB", 0, 32 + 4 * 32, 1, 3 * 2)
    s.header(1, 0x40, 3, 1, 0, 0)
    s.param(1, 0x40 + 32, VALUE_INOUT, 1, 2, 3)
    yield "f2-rpc-misaligned-med", s


def main():
    for folder, gen in (("seeds", seeds), ("findings", findings)):
        out = os.path.join(HERE, folder)
        os.makedirs(out, exist_ok=True)
        for name, s in gen():
            data = s.bytes()
            with open(os.path.join(out, name + ".bin"), "wb") as f:
                f.write(data)
            print(f"{folder}/{name}.bin: {len(data)} bytes")


if __name__ == "__main__":
    main()
