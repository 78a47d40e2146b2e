"""How much memory SEAL's pool holds for a given peak of live blocks of one size.

SEAL 3.4 (native/src/seal/util/mempool.h, mempool.cpp) keeps one ``MemoryPoolHeadMT`` per block
size. The head's first allocation holds ``MemoryPool::first_alloc_count`` = 1 block; when its free
list is empty and its last allocation is used up, it allocates a new batch of
``ceil(MemoryPool::alloc_size_multiplier * last batch)`` blocks (``alloc_size_multiplier`` = 1.05;
the ``max_batch_alloc_byte_count`` cap is SIZE_MAX >> 1, never reached). Nothing is returned
before the pool is destroyed. So the resident blocks of a size class are the smallest sum of
batches 1, 2, 3, ... that holds the class's peak of live blocks.

Shared by analysis (the trace's resident peak) and anything else that needs the pool's size; it
imports only numpy so that every layer may use it.
"""

from __future__ import annotations

import math

import numpy as np

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
