#!/usr/bin/env python3
"""Writes the hand-made seed corpora of the fuzz targets into corpus/<target>/.

Each seed is spelled in the byte order in which the target's reader consumes
its input (see the target's source); the fuzzer grows everything else.
Run: /usr/bin/python3 mediator/fuzz/seeds.py (from anywhere); idempotent.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
RAM = 0x4000_0000
SIM_TA = bytes([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00])
META_IN = 0x1 | 0x100
VALUE_IN, VALUE_INOUT = 0x1, 0x3
RMEM_IN = 0x5
TMEM_IN, TMEM_OUT, TMEM_INOUT = 0x9, 0xA, 0xB
NONCONTIG = 0x200


def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v & (2**64 - 1))


def param(attr, a=0, b=0, c=0):
    return u64(attr) + u64(a) + u64(b) + u64(c)


def msg(cmd, params, func=0, session=0, num=None):
    n = len(params) if num is None else num
    return u32(cmd) + u32(func) + u32(session) + u32(0) * 2 + u32(0) * 2 + u32(n) + b"".join(params)


OPEN = msg(0, [param(META_IN, struct.unpack("<Q", SIM_TA[:8])[0], struct.unpack("<Q", SIM_TA[8:])[0]),
               param(META_IN)])
ECHO = msg(1, [param(VALUE_INOUT, 1, 2, 3), param(VALUE_IN, 4)], func=1)

SEEDS = {
    "abi_types": {
        # selector, base, param index, param, value, page bytes
        "msgarg_base0": b"\x00" + u16(0) + b"\x01" + param(TMEM_IN | NONCONTIG, 0x1234, 5, 6) + u32(7) + ECHO,
        "msgarg_base_end": b"\x00" + u16(4080) + b"\x7f" + param(1, 2, 3, 4) + u32(9) + ECHO,
        "msgarg_base_out": b"\x00" + u16(4150) + b"\x00" + param(0) + u32(1) + b"\xff" * 64,
        # selector, buf_ptr, size kind (u64), size, max pages
        "pagelist_ok": b"\x01" + u64(RAM + 0x10) + b"\x02" + u64(8192) + u16(129),
        "pagelist_overflow": b"\x01" + u64(0xfff) + b"\x01" + u16(0) + u16(129),
        "pagelist_toomany": b"\x01" + u64(RAM + 1) + b"\x02" + u64(129 * 4096) + u16(129),
        # selector, x, y, n, f
        "words_rpc": b"\x02" + u64(0xFFFF0005) + u64(RAM) + u32(127) + u32(0xFFFF),
        "words_unknown": b"\x02" + u64(0xFFFFFFFF) + u64(2**64 - 1) + u32(128) + u32(4),
    },
    "smc_regs": {
        # x0 kind 0 (served), index, no upper garbage; x1 = RAM high half
        # (kind 3); x2 = page 2 (kind 2); x3..x7 = 0; no forced resume.
        "call_with_arg": b"\x00\x06\x01" + b"\x03" + b"\x02\x02\x00" + b"\x00" * 5 + b"\x01" + b"\x00",
        "calls_count": b"\x00\x00\x01" + b"\x00" * 7 + b"\x01",
        "shm_config": b"\x00\x07\x01" + b"\x00" * 7 + b"\x01",
        "upper_bits": b"\x00\x06\x00" + u32(0x1) + b"\x03" + b"\x02\x02\x00" + b"\x00" * 5 + b"\x01",
        "raw_x0": b"\x03" + u64(0x3200_000D) + b"\x04" + u64(1) + b"\x00" * 6 + b"\x01",
        "flipped_bit": b"\x02\x0a\x1e" + b"\x00" * 7 + b"\x01",
        "regd_arg": b"\x00\x0f\x01" + b"\x00" + b"\x01\x77" + b"\x00" * 5 + b"\x01",
        "rpc_arg_then_resume": (b"\x00\x0e\x01" + b"\x03" + b"\x02\x02\x00" + b"\x00" * 5 + b"\x01" + b"\x01"
                                + b"\x00\x05\x01" + b"\x00" * 7 + b"\x00"),
        "caps_cache_notif": (b"\x00\x08\x01" + b"\x01\x01" + b"\x00" * 6 + b"\x01"
                             + b"\x00\x09\x01" + b"\x00" * 7 + b"\x01"
                             + b"\x00\x0c\x01" + b"\x00" * 7 + b"\x01"
                             + b"\x00\x0d\x01" + b"\x00" * 7 + b"\x01"),
    },
    "msg_arg": {
        # variant 0 (CALL_WITH_ARG), offset 0, keep session, argument bytes
        "invoke_echo": b"\x00\x01\x00" + ECHO,
        "open_session": b"\x00\x01\x01" + OPEN,
        "close_session": b"\x00\x01\x00" + msg(2, []),
        "cancel": b"\x00\x01\x00" + msg(3, []),
        "register_shm": b"\x00\x01\x00" + msg(4, [param(TMEM_INOUT | NONCONTIG, RAM + 40 * 4096, 4096, 9)]),
        "unregister_shm": b"\x00\x01\x00" + msg(5, [param(RMEM_IN, 0, 0, 0x77)]),
        "bottom_half": b"\x00\x01\x00" + msg(6, []),
        "bad_cmd": b"\x00\x01\x00" + msg(99, []),
        "too_many_params": b"\x00\x01\x00" + msg(1, [], func=1, num=200),
        "contig_tmem": b"\x00\x01\x00" + msg(1, [param(TMEM_IN, RAM, 16)], func=1),
        "null_tmem": b"\x00\x01\x00" + msg(1, [param(TMEM_OUT | NONCONTIG, 0, 16)], func=1),
        "rmem_echo": b"\x00\x01\x00" + msg(1, [param(RMEM_IN, 16, 64, 0x77)], func=1),
        "unaligned_arg": b"\x00\x00" + u16(8) + b"\x00" + ECHO,
        # variant 1 (CALL_WITH_RPC_ARG) at offset 0x100; variant 2 (REGD_ARG)
        "rpc_arg": b"\x01" + u16(0x100) + b"\x01\x00" + msg(1, [param(VALUE_IN)], func=3),
        "rpc_arg_end": b"\x01" + u16(0xF80) + b"\x01\x00" + ECHO,
        "regd_arg": b"\x02" + u16(0x200) + b"\x01\x00" + msg(1, [param(VALUE_IN)], func=2),
    },
    "page_list": {
        # invoke (1) / register (0), first list page, offset, size kind+size,
        # then per list page: explicit entries, fill rule, next pointer.
        "invoke_3_pages": b"\x01\x00" + u16(0x10) + b"\x04" + u16(12288) + b"\x00\x00\x00",
        "register_3_pages": b"\x00\x00" + u16(0x10) + b"\x04" + u16(12288) + b"\x00\x00\x00",
        "invoke_chain_520": (b"\x01\x00" + u16(0) + b"\x03" + u16(520) + b"\x00"
                             + b"\x00\x00\x08" + b"\x00\x02\x00"),
        "register_chain_520": (b"\x00\x00" + u16(0x800) + b"\x03" + u16(520) + b"\x00"
                               + b"\x00\x00\x08" + b"\x00\x02\x00"),
        "bad_entries": b"\x01\x00" + u16(0) + b"\x04" + u16(16384) + b"\x03\xc0\x80\x05\x01\x00",
        "too_many": b"\x01\x00" + u16(0) + b"\x03" + u16(700) + b"\x00" + b"\x00\x00\x00",
        "overflow": b"\x01\x00" + u16(0xfff) + b"\x01" + u16(0) + b"\x00\x00\x00",
        "loop": b"\x00\x03" + u16(0) + b"\x03" + u16(1500 % 600) + b"\x00" + b"\x00\x00\x18",
    },
    "rpc_return": {
        # ncalls-1, per call (function, with RPC arg), then steps of
        # (call, kind, ...); kind 0 is the well-behaved driver.
        "shm_rpc_driver": b"\x00\x00\x01" + b"\x00\x00" * 12,
        "get_time_rpc_arg": b"\x00\x01\x00" + b"\x00\x00" * 6,
        "rpc_cmds": b"\x00\x02\x01" + b"\x00\x00" * 8,
        "two_calls": b"\x01\x00\x01\x02\x00" + b"\x00\x00\x01\x00" * 8,
        "raw_resume": b"\x00\x00\x01" + b"\x00\x01\x00" + u64(0) + b"\x01\x00" + u64(0) * 2 + b"\x00\x00" * 4,
        "bad_thread": b"\x00\x03\x01" + b"\x00\x01\x02\x00" + u64(77) + b"\x00" + u64(0) * 2,
        "rewrite_arg": b"\x00\x01\x00" + b"\x00\x00" + b"\x00\x02" + b"\x00" * 96 + b"\x00\x00" * 4,
        "shm_alloc_contig": (b"\x00\x00\x01" + b"\x00\x00\x00\x00" + b"\x00\x03\x00" + b"\x00\x00" * 4
                             + b"\x01" + b"\x01\x00" + b"\x01" + u16(64) + b"\x00" + b"\x01\x01\x01"
                             + b"\x00\x00" * 6),
        "cache_while_suspended": b"\x00\x01\x01" + b"\x00\x04\x00" + b"\x00\x04\x01" + b"\x00\x00" * 6,
    },
    "stubdom_pieces": {
        # ipa, length word (bit 31: usize::MAX - low 16 bits)
        "one_page": u64(RAM) + u32(4096),
        "cross": u64(RAM + 0xff8) + u32(16),
        "wrap": u64(2**64 - 8) + u32(16),
        "empty": u64(0x1234) + u32(0),
        "big": u64(RAM + 0x10) + u32(0x123456),
        "huge": u64(0) + u32(0x80000010),
    },
}

for target, seeds in SEEDS.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(target, len(seeds), "seeds,", sum(len(s) for s in seeds.values()), "bytes")
