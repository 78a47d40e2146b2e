"""The exact reference of Memory Mode's DRAM cache: 64 B lines, one at a time, in order.

Small and slow on purpose (a Python loop per line): it is the oracle that the replay's model
(simulator/memory_mode.py) is held to in tests, for traces of up to a few hundred MB of traffic.

- Cache: direct-mapped, indexed by physical address; each 4 KiB (``page_bytes``) virtual page in a
  random frame by the same seeded hash as the replay's model (``memory_mode.page_sets``), so both
  put a page in the same sets. Tensors get addresses from the same size-class pool.
- Order: an op's rows are concurrent streams; row r makes n_r line touches cycling over its
  tensor's lines (n_r = round(bytes / tensor bytes * lines)); an OpenMP static schedule gives
  thread t the touches [t n_r / T, (t + 1) n_r / T); the T threads run in lockstep and the rows
  advance in proportion: touches issue by local time frac(x T / n_r), then thread, then row.
- Per touch: a load reads its line's tag and data from DRAM; on a miss it reads the line from
  PMem, fills DRAM and writes a dirty victim back. A store with read-for-ownership (``rfo``) does
  that read first (a store fill, not a demand load), then checks the tag (a DRAM read) and writes
  DRAM, leaving the line dirty. A streaming store (``rfo=False``) checks the tag and writes;
  on a miss it allocates the line without reading PMem (write-allocate), after writing back a
  dirty victim. Sources: Hildebrand et al., ISPASS 2021; darchr/dram-cache-model
  policy_manager.cc (a tag read on every request, writes included).
"""

from __future__ import annotations

import math

import numpy as np

from hetier.simulator.memory_mode import LINE, MemoryModeCache, MMTraffic, SizeClassPool, page_sets


class ReferenceCache:
    """Line-level, in-order Memory Mode cache with the public shape of ``MemoryModeCache``."""

    def __init__(self, cache_bytes: int, page_bytes: int = 4096, seed: int = 0, align: int = LINE):
        self.n_sets = max(1, cache_bytes // LINE)
        self.per_page = max(1, page_bytes // LINE)
        self.seed = seed
        self.tags = [-1] * self.n_sets
        self.dirty = [False] * self.n_sets
        self.pool = SizeClassPool(align=align)
        self.addrs: dict[int, list[np.ndarray]] = {}
        self.unit: dict[int, int] = {}
        self._geometry: dict = {}  # the replay model's per-tensor cache, which its alloc/free forget

    # Address bookkeeping is the replay model's own (same pool, same LIFO chunks, same
    # attributes): the oracle checks the cache, not the allocator.
    alloc = MemoryModeCache.alloc
    free = MemoryModeCache.free

    def lines(self, tensor: int) -> list[int]:
        """The tensor's 64 B lines, buffer after buffer (buffers in allocation order)."""
        u = self.unit[tensor]
        out = []
        for chunk in self.addrs.get(tensor, []):
            for a in chunk.tolist():
                out.extend(range(a // LINE, (a + u - 1) // LINE + 1))
        return out

    def op_traffic(self, tensors: np.ndarray, writes: np.ndarray, nbytes: np.ndarray, threads: int = 1,
                   rfo: bool = True) -> MMTraffic:
        """Replay one op's rows line by line; returns its traffic."""
        rows = []
        for r, (t, w, b) in enumerate(zip(tensors.tolist(), writes.tolist(), nbytes.tolist())):
            lines = self.lines(int(t)) if int(t) in self.unit else []
            if b <= 0 or not lines:
                continue
            tensor_bytes = sum(len(c) for c in self.addrs[int(t)]) * self.unit[int(t)]
            rows.append((r, lines, bool(w), b, max(1, round(b / tensor_bytes * len(lines)))))
        # local times as exact fractions over the rows' common denominator: touches of equal time are
        # ties, ordered by thread then row (floats would order them by rounding noise)
        common = math.lcm(*[n for *_, n in rows])  # (1 for no rows)
        touches = []  # (local time, thread, row, line, store, bytes)
        for r, lines, w, b, n in rows:
            scale = common // n
            for x in range(n):
                th, u = divmod(x * threads, n)
                touches.append((u * scale, th, r, lines[x % len(lines)], w, b / n))
        touches.sort(key=lambda e: (e[0], e[1], e[2]))
        out = MMTraffic()
        sets = page_sets(np.array([e[3] for e in touches], dtype=np.int64), self.n_sets, self.per_page, self.seed)
        for (_, _, _, line, store, nb), s in zip(touches, sets.tolist()):
            out.dram_read += nb  # the tag (and data) of the line
            if not store:
                out.load_bytes += nb
            hit = self.tags[s] == line
            if hit:
                out.hit_bytes += nb
            else:
                out.miss_bytes += nb
                if self.tags[s] >= 0 and self.dirty[s]:
                    out.writeback_bytes += nb
                    out.pmem_write += nb
                self.tags[s], self.dirty[s] = line, False
                out.dram_write += nb  # fill, or the streaming store's allocate
                if not store or rfo:
                    out.pmem_read += nb
                    if store:
                        out.rfo_pmem_bytes += nb
                    else:
                        out.load_pmem_bytes += nb
            if store:
                out.tag_check_bytes += nb
                if rfo:
                    out.rfo_bytes += nb
                    out.dram_read += nb  # the write's own tag check after the RFO
                    out.dram_write += nb
                elif hit:
                    out.dram_write += nb
                self.dirty[s] = True
        out.misses = int(round(out.pmem_read / LINE))  # 64 B lines read from PMem
        return out
