"""The replay's Memory Mode model gives the same bytes as before its speed work (issue 19): every
MMTraffic field and the final tag array, pinned from the model at commit 662b9e5 (the line-level
cache model before it was vectorised further), but for op 3 at 48 threads: re-pinned when the
many-pass rule began counting the threads that touch a block together once; and ops 2-4 re-pinned
when the rule's windows between looked-up touches began counting blocks at their distinct touch
times and only once their first touch had come, and tied blocks (touched at the same local times
in one set) were replayed in the threads' order. An op here reads and writes one tensor in several
rows, reads a tensor in two many-pass rows of different passes, has rows of less than one pass and
one on a tensor it never allocated; tensors of 2 KiB, 4 KiB, 6000 B and 12 KiB in 4 KiB blocks."""

import dataclasses
import hashlib

import numpy as np
import pytest

from hetier.simulator.memory_mode import MemoryModeCache

OPS = [  # (allocs (tensor, count, unit), rows (tensor, store, bytes), frees (tensor, count))
    ([(0, 24, 6000), (1, 10, 4096)], [(0, True, 24 * 6000), (1, True, 10 * 4096)], []),
    ([(2, 30, 2048)], [(0, False, 24 * 6000), (0, True, 24 * 6000), (1, False, 1.5 * 10 * 4096),
                       (2, True, 2 * 30 * 2048)], []),
    ([(3, 8, 12288)], [(1, False, 7 * 10 * 4096), (2, False, 0.6 * 30 * 2048), (2, False, 30 * 2048),
                       (3, True, 8 * 12288), (9, False, 500.0)], [(0, 24)]),
    ([(4, 16, 4096)], [(3, False, 3 * 8 * 12288), (3, False, 6 * 8 * 12288), (1, False, 13 * 10 * 4096),
                       (4, True, 16 * 4096), (4, False, 16 * 4096)], [(2, 30)]),
    ([], [(4, False, 2.5 * 16 * 4096), (1, True, 10 * 4096), (3, False, 0.5 * 8 * 12288)], []),
]

# per op: MMTraffic's pinned fields in declaration order (load_bytes, added later, is checked apart);
# last: sha256 of the tags and dirty bits (16 hex)
PINNED_FIELDS = 12
PINNED = [
    [
        (369920.0, 369920.0, 184960.0, 35192.0, 0.0, 184960.0, 35192.0, 2890, 184960.0, 184960.0, 184960.0, 0.0),
        (739200.0, 442376.0, 175496.0, 136728.0, 296824.0, 175496.0, 136728.0, 2742, 266880.0, 86016.0, 266880.0, 89480.0),
        (581632.0, 266990.60164047405, 168686.60164047402, 92160.0, 314641.39835952595, 168686.60164047402, 92160.0, 2636, 98304.0, 98303.99999999999, 98304.0, 70382.60164047404),
        (1613824.0, 485003.5293385272, 419467.52933852724, 65536.0, 1128820.470661473, 419467.52933852724, 65536.0, 6554, 65536.0, 65536.0, 65536.0, 353931.52933852724),
        (294912.0, 109772.79999999999, 68812.79999999999, 16384.0, 185139.2, 68812.79999999999, 16384.0, 1075, 40960.0, 12288.0, 40960.0, 56524.79999999999),
        'c0fc269bc913cd93',
    ],
    [
        (369920.0, 369920.0, 184960.0, 35192.0, 0.0, 184960.0, 35192.0, 2890, 184960.0, 184960.0, 184960.0, 0.0),
        (739200.0, 447424.0, 180544.0, 140680.0, 291776.0, 180544.0, 140680.0, 2821, 266880.0, 88064.0, 266880.0, 92480.0),
        (581632.0, 251221.33333333334, 152917.33333333334, 100352.0, 330410.6666666666, 152917.33333333334, 100352.0, 2389, 98304.0, 98304.0, 98304.0, 54613.333333333336),
        (1613824.0, 495101.30711630516, 429565.30711630516, 65536.0, 1118722.6928836948, 429565.30711630516, 65536.0, 6712, 65536.0, 65536.0, 65536.0, 364029.30711630516),
        (294912.0, 106261.94285714286, 65301.94285714286, 12288.0, 188650.05714285714, 65301.94285714286, 12288.0, 1020, 40960.0, 12288.0, 40960.0, 53013.94285714286),
        '364395f89a2cef47',
    ],
    [
        (184960.0, 184960.0, 0.0, 36288.0, 0.0, 184960.0, 36288.0, 0, 0.0, 0.0, 184960.0, 0.0),
        (472320.0, 333168.0, 66288.0, 103152.0, 338448.0, 133872.0, 103152.0, 1036, 0.0, 0.0, 266880.0, 66288.0),
        (483328.0, 180200.912751585, 81896.912751585, 98304.0, 303127.087248415, 180200.912751585, 98304.0, 1280, 0.0, 0.0, 98304.0, 81896.912751585),
        (1548288.0, 235386.69824695564, 169850.69824695564, 61440.0, 1312901.3017530444, 235386.69824695564, 61440.0, 2654, 0.0, 0.0, 65536.0, 169850.69824695564),
        (253952.0, 86220.79999999999, 45260.79999999999, 12288.0, 196403.2, 57548.79999999999, 12288.0, 707, 0.0, 0.0, 40960.0, 45260.79999999999),
        '116b9f14a1902a7a',
    ],
]


@pytest.mark.parametrize("case", range(3))
def test_same_bytes_as_before_the_speed_work(case):
    threads, rfo = [(1, True), (7, True), (48, False)][case]
    m = MemoryModeCache(96 * 4096, 4096, 4096, 3)
    got = []
    for allocs, rows, frees in OPS:
        for a in allocs:
            m.alloc(*a)
        tr = m.op_traffic(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                          np.array([float(r[2]) for r in rows]), threads=threads, rfo=rfo)
        got.append(dataclasses.astuple(tr)[:PINNED_FIELDS])
        # every load that reached the cache: the hits' and misses' bytes of the op's load rows
        assert tr.load_bytes >= tr.load_pmem_bytes - 1e-6 and tr.load_bytes <= tr.hit_bytes + tr.miss_bytes + 1e-6
        for f in frees:
            m.free(*f)
    got.append(hashlib.sha256(m.tags.tobytes() + m.dirty.tobytes()).hexdigest()[:16])
    assert got == PINNED[case]


def test_blocks_past_int32_keep_their_tags():
    # the cache state starts as int32 ((block + 1) * 2 + dirty) and widens once the pool's blocks
    # outgrow it: here an 8 TiB buffer, never touched, puts the next tensor's blocks at 2^31
    m = MemoryModeCache(1 << 28, 4096, 4096, 0)
    m.alloc(0, 1, 1 << 43)
    m.alloc(1, 4, 4096)
    blocks = m.blocks(1)
    assert blocks.tolist() == [2 ** 31 + k for k in range(4)]
    w = m.op_traffic(np.array([1]), np.array([True]), np.array([4 * 4096.0]))
    assert (w.hit_bytes, w.miss_bytes) == (0, 4 * 4096)
    sets = m.sets(blocks)
    assert m.tags[sets].tolist() == blocks.tolist() and m.dirty[sets].all()
    r = m.op_traffic(np.array([1]), np.array([False]), np.array([4 * 4096.0]))
    assert (r.hit_bytes, r.miss_bytes, r.pmem_read) == (4 * 4096, 0, 0)
