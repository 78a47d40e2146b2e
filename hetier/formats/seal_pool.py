"""How much memory SEAL's pool holds for a given peak of live blocks of one size.

SEAL 3.4 (native/src/seal/util/mempool.h, mempool.cpp) keeps one ``MemoryPoolHeadMT`` per block
size. The head's first allocation holds ``MemoryPool::first_alloc_count`` = 1 block; when its free
list is empty and its last allocation is used up, it allocates a new batch of
``ceil(MemoryPool::alloc_size_multiplier * last batch)`` blocks (``alloc_size_multiplier`` = 1.05;
the ``max_batch_alloc_byte_count`` cap is SIZE_MAX >> 1, never reached). Nothing is returned
before the pool is destroyed. So the resident blocks of a size class are the smallest sum of
batches 1, 2, 3, ... that holds the class's peak of live blocks.

``ResidentPeak`` follows a trace's alloc/free rows with that model, adding the runtime's host
memory (kind ``host``: malloc'd, returned when freed) while it is live. It is the one resident
model of hetier: analysis (PoolPeak, ``hetier info``) and the tracer's memory guard use it.
"""

from __future__ import annotations

import math

import numpy as np

from hetier.formats.live_counts import live_changes
from hetier.formats.trace import EV, KIND, EventBatch

FIRST_ALLOC_COUNT = 1  # MemoryPool::first_alloc_count (mempool.h)
ALLOC_SIZE_MULTIPLIER = 1.05  # MemoryPool::alloc_size_multiplier (mempool.h)


def _capacities(limit: int) -> np.ndarray:
    """Cumulative blocks after each batch, until the total reaches ``limit``."""
    caps, batch, total = [], FIRST_ALLOC_COUNT, 0
    while True:
        total += batch
        caps.append(total)
        if total >= limit:
            return np.array(caps, dtype=np.int64)
        batch = math.ceil(ALLOC_SIZE_MULTIPLIER * batch)


class PoolGrowth:
    """Blocks a ``MemoryPoolHeadMT`` holds once ``n`` of its blocks were live at once (vectorised,
    with the batch table grown as needed)."""

    def __init__(self) -> None:
        self._caps = _capacities(1 << 20)

    def blocks(self, n) -> np.ndarray:
        """Resident blocks for peaks ``n`` (an array; 0 for 0)."""
        n = np.asarray(n, dtype=np.int64)
        top = int(n.max()) if n.size else 0
        if top > self._caps[-1]:
            self._caps = _capacities(top)
        held = self._caps[np.searchsorted(self._caps, np.maximum(n, 1))]
        return np.where(n > 0, held, 0)


POOL = PoolGrowth()


def pool_blocks(n: int) -> int:
    """Resident blocks of one size class whose peak of live blocks is ``n``."""
    return int(POOL.blocks(np.array([n]))[0])


class ResidentPeak:
    """Peak resident bytes over a stream of event batches: each block size's pool (batches grown
    to hold its peak of live blocks, never returned) plus the host bytes live at that moment."""

    def __init__(self, batches: bool = True, host: bool = True) -> None:
        self.batches = batches  # False: each class holds exactly its peak (no batch growth)
        self.count_host = host  # False: host buffers left out
        self.live: dict[int, int] = {}
        self.peak: dict[int, int] = {}  # per block size: peak live blocks
        self.held = 0  # bytes the pool holds
        self.host = 0  # live host bytes
        self.best = 0
        self.last_high = 0  # highest resident bytes within the last batch added

    @property
    def now(self) -> int:
        """Resident bytes after the rows added so far."""
        return self.held + self.host

    def add(self, b: EventBatch) -> None:
        af = np.flatnonzero((b.event == EV["alloc"]) | (b.event == EV["free"]))
        self.last_high = self.now
        if not len(af):
            return
        host = b.kind[af] == KIND["host"]
        if not self.count_host:
            af, host = af[~host], host[~host]
        sign = np.where(b.event[af] == EV["alloc"], 1, -1)
        delta = np.where(host, sign * b.nbytes[af], 0)  # change of resident bytes at each row
        count = b.count[af]
        unit = b.nbytes[af]  # bytes of one block: nbytes / count, divided only where count > 1 (rows of one mostly)
        many = np.flatnonzero(count > 1)
        unit[many] //= count[many]
        pooled = np.flatnonzero(~host)
        ch = live_changes(unit[pooled], sign[pooled] * count[pooled])
        for j, u in enumerate(ch.keys.tolist()):
            k = pooled[ch.order[ch.span(j)]]
            c = self.live.get(u, 0) + ch.change[ch.span(j)]
            high = np.maximum.accumulate(np.maximum(c, self.peak.get(u, 0)))
            blocks = POOL.blocks if self.batches else np.asarray
            held = blocks(high) * u
            delta[k] += np.diff(held, prepend=blocks(np.array([self.peak.get(u, 0)]))[0] * u)
            self.peak[u] = int(high[-1])
            self.live[u] = int(c[-1])
        curve = self.held + self.host + np.cumsum(delta)
        self.last_high = max(self.last_high, int(curve.max()))
        self.best = max(self.best, self.last_high)
        self.host += int(delta[host].sum())
        self.held = int(curve[-1]) - self.host
