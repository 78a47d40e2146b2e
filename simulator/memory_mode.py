"""Memory Mode: DRAM as a direct-mapped cache in front of PMem, with an address model.

Addresses come from a size-class pool like SEAL's memory pool: one free list per exact block
size, freed blocks reused last-in first-out, memory never returned. The cache maps
``cache_block_bytes`` blocks (the hardware maps 64 B lines; whole-ciphertext streams hit or miss
the same way at coarser blocks) to ``capacity / block`` sets.

Per access row (tensor, read/write, bytes after the CPU cache): the first pass over the tensor's
blocks is looked up in the tag array (compulsory and conflict misses, dirty write-backs); further
passes in the same op hit only on blocks whose set no other block of the op's working set uses.
Hit -> DRAM; read miss -> PMem read and DRAM fill; write miss -> DRAM write (whole lines, no fill);
evicting a dirty block -> PMem write.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class SizeClassPool:
    """Addresses of a pool allocator with one LIFO free list per block size; never shrinks."""

    def __init__(self, align: int = 4096):
        self.top = 0
        self.align = align
        self.free: dict[int, list[np.ndarray]] = {}

    def alloc(self, count: int, size: int) -> np.ndarray:
        out = []
        stack = self.free.get(size, [])
        need = count
        while need and stack:
            chunk = stack[-1]
            take = min(need, len(chunk))
            out.append(chunk[len(chunk) - take:][::-1])
            if take == len(chunk):
                stack.pop()
            else:
                stack[-1] = chunk[:len(chunk) - take]
            need -= take
        if need:
            step = -(-size // self.align) * self.align
            out.append(self.top + step * np.arange(need, dtype=np.int64))
            self.top += step * need
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def release(self, addrs: np.ndarray, size: int) -> None:
        if len(addrs):
            self.free.setdefault(size, []).append(addrs.copy())


@dataclass
class MMTraffic:
    """Bytes one op moves in Memory Mode."""

    dram_read: float = 0.0
    dram_write: float = 0.0
    pmem_read: float = 0.0
    pmem_write: float = 0.0
    hit_bytes: float = 0.0
    miss_bytes: float = 0.0
    writeback_bytes: float = 0.0
    misses: int = 0


class MemoryModeCache:
    """Direct-mapped DRAM cache state plus the pool that decides where tensors live."""

    def __init__(self, cache_bytes: int, block: int):
        self.block = block
        self.n_sets = max(1, cache_bytes // block)
        self.tags = np.full(self.n_sets, -1, dtype=np.int64)
        self.dirty = np.zeros(self.n_sets, dtype=bool)
        self.pool = SizeClassPool(align=block)
        self.addrs: dict[int, list[np.ndarray]] = {}  # tensor -> address chunks (LIFO)
        self.unit: dict[int, int] = {}

    def alloc(self, tensor: int, count: int, unit: int) -> None:
        self.unit[tensor] = unit
        self.addrs.setdefault(tensor, []).append(self.pool.alloc(count, unit))

    def free(self, tensor: int, count: int) -> None:
        chunks = self.addrs.get(tensor, [])
        while count and chunks:
            c = chunks[-1]
            take = min(count, len(c))
            self.pool.release(c[len(c) - take:], self.unit[tensor])
            if take == len(c):
                chunks.pop()
            else:
                chunks[-1] = c[:len(c) - take]
            count -= take

    def blocks(self, tensor: int) -> np.ndarray:
        chunks = self.addrs.get(tensor)
        if not chunks:
            return np.zeros(0, dtype=np.int64)
        addrs = np.concatenate(chunks)
        per = -(-self.unit[tensor] // self.block)
        return ((addrs // self.block)[:, None] + np.arange(per, dtype=np.int64)).reshape(-1)

    def _lookup(self, blocks: np.ndarray, write: bool) -> tuple[int, int, int]:
        """Look blocks up in order of the array; returns (hits, misses, dirty evictions)."""
        sets = blocks % self.n_sets
        hit = self.tags[sets] == blocks
        miss_sets = sets[~hit]
        evict_dirty = int((self.dirty[miss_sets] & (self.tags[miss_sets] >= 0)).sum())
        self.tags[sets] = blocks
        if write:
            self.dirty[sets] = True
        else:
            self.dirty[miss_sets] = False
        return int(hit.sum()), int(len(blocks) - hit.sum()), evict_dirty

    def op_traffic(self, tensors: np.ndarray, writes: np.ndarray, nbytes: np.ndarray) -> MMTraffic:
        """Traffic of one op's access rows (bytes already filtered by the CPU cache)."""
        out = MMTraffic()
        blocks_of = {int(t): self.blocks(int(t)) for t in np.unique(tensors)}
        all_blocks = np.concatenate(list(blocks_of.values())) if blocks_of else np.zeros(0, dtype=np.int64)
        sets, counts = np.unique(all_blocks % self.n_sets, return_counts=True)
        crowded = sets[counts > 1]
        B = self.block
        for t, w, b in zip(tensors.tolist(), writes.tolist(), nbytes.tolist()):
            blk = blocks_of[t]
            if b <= 0 or not len(blk):
                continue
            tensor_bytes = len(blk) * B
            passes = b / tensor_bytes
            first = blk[: max(1, int(round(len(blk) * min(passes, 1.0))))]
            h, m, wb = self._lookup(first, w)
            hit_b, miss_b, wb_b = h * B, m * B, wb * B
            if passes > 1:
                free_share = 1.0 - np.isin(blk % self.n_sets, crowded).mean() if len(crowded) else 1.0
                more = (passes - 1) * tensor_bytes
                hit_b += more * free_share
                conflict = more * (1 - free_share)
                miss_b += conflict
                if w:
                    wb_b += conflict
            out.hit_bytes += hit_b
            out.miss_bytes += miss_b
            out.writeback_bytes += wb_b
            out.misses += m
            if w:
                out.dram_write += hit_b + miss_b
            else:
                out.dram_read += hit_b
                out.pmem_read += miss_b
                out.dram_write += miss_b  # fill
            out.pmem_write += wb_b
        return out
