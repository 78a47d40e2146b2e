"""Memory Mode: DRAM as a direct-mapped cache in front of PMem, with an address model.

Addresses come from a size-class pool like SEAL's memory pool: one free list per exact block
size, freed blocks reused last-in first-out, memory never returned. The cache is indexed by
physical address, and the OS backs each virtual page (4 KiB, or 2 MiB huge pages) with a frame
of its choosing: pages are mapped to frames at random (seeded), so a page's blocks land in a
random group of sets and hit ratios move smoothly with the cache size. The cache maps
``cache_block_bytes`` blocks (the hardware maps 64 B lines; whole-ciphertext streams hit or miss
the same way at coarser blocks) to ``capacity / block`` sets; a block larger than a page is
placed as one unit.

Per access row (tensor, read/write, bytes after the CPU cache): the first pass over the tensor's
blocks is looked up in the tag array (compulsory and conflict misses, dirty write-backs); a
further pass in the same op hits on a block unless a block touched since the last pass landed in
its set: every other block of the tensor, and each block of the op's other tensors with
probability 1 / passes (their share of one pass).
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
    evicted_bytes: float = 0.0  # blocks a miss pushed out, clean or dirty (an exclusive cache writes all of them back)


def _mix(x: np.ndarray, seed: int) -> np.ndarray:
    """A seeded 64-bit hash (splitmix64's finaliser): the frame the OS gave each page."""
    z = (x.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15 + 1) % 2 ** 64)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class MemoryModeCache:
    """Direct-mapped DRAM cache state plus the pool that decides where tensors live."""

    def __init__(self, cache_bytes: int, block: int, page_bytes: int = 4096, seed: int = 0):
        self.block = block
        self.n_sets = max(1, cache_bytes // block)
        self.per_page = max(1, page_bytes // block)  # blocks of one page: consecutive sets
        self.seed = seed
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

    def sets(self, blocks: np.ndarray) -> np.ndarray:
        """Cache set of each (virtual) block: its page's random frame, then its place in the page."""
        k = self.per_page
        groups = max(1, self.n_sets // k)
        frame = (_mix(blocks // k, self.seed) % np.uint64(groups)).astype(np.int64)
        return (frame * k + blocks % k) % self.n_sets

    def _lookup(self, blocks: np.ndarray, write: bool) -> tuple[int, int, int, int]:
        """Look blocks up in order of the array; returns (hits, misses, dirty evictions, evictions)."""
        sets = self.sets(blocks)
        hit = self.tags[sets] == blocks
        miss_sets = sets[~hit]
        evict_dirty = int((self.dirty[miss_sets] & (self.tags[miss_sets] >= 0)).sum())
        evict = int((self.tags[miss_sets] >= 0).sum())
        self.tags[sets] = blocks
        if write:
            self.dirty[sets] = True
        else:
            self.dirty[miss_sets] = False
        return int(hit.sum()), int(len(blocks) - hit.sum()), evict_dirty, evict

    def op_traffic(self, tensors: np.ndarray, writes: np.ndarray, nbytes: np.ndarray) -> MMTraffic:
        """Traffic of one op's access rows (bytes already filtered by the CPU cache)."""
        out = MMTraffic()
        blocks_of = {int(t): self.blocks(int(t)) for t in np.unique(tensors)}
        # the op's working set by cache set: where each tensor's blocks land and what else is there
        order = list(blocks_of)
        all_sets = self.sets(np.concatenate([blocks_of[t] for t in order])) if order else np.zeros(0, np.int64)
        _, where, per_set = np.unique(all_sets, return_inverse=True, return_counts=True)
        segment, start = {}, 0
        for t in order:
            segment[t] = where[start:start + len(blocks_of[t])]
            start += len(blocks_of[t])
        B = self.block
        for t, w, b in zip(tensors.tolist(), writes.tolist(), nbytes.tolist()):
            blk = blocks_of[t]
            if b <= 0 or not len(blk):
                continue
            tensor_bytes = len(blk) * B
            passes = b / tensor_bytes
            first = blk[: max(1, int(round(len(blk) * min(passes, 1.0))))]
            h, m, wb, ev = self._lookup(first, w)
            hit_b, miss_b, wb_b, ev_b = h * B, m * B, wb * B, ev * B
            if passes > 1:
                # between two passes over this tensor the op touches all its blocks and each other
                # block with probability 1 / passes (the other tensors' share of one pass): a block
                # survives if no other block of its own lands in its set and none of the others'
                mine = segment[t]
                own = np.bincount(mine, minlength=len(per_set))[mine]
                others = per_set[mine] - own
                free_share = float(np.mean(np.where(own > 1, 0.0, (1.0 - 1.0 / passes) ** others)))
                more = (passes - 1) * tensor_bytes
                hit_b += more * free_share
                conflict = more * (1 - free_share)
                miss_b += conflict
                ev_b += conflict
                if w:
                    wb_b += conflict
            out.hit_bytes += hit_b
            out.miss_bytes += miss_b
            out.writeback_bytes += wb_b
            out.evicted_bytes += ev_b
            out.misses += m
            if w:
                out.dram_write += hit_b + miss_b
            else:
                out.dram_read += hit_b
                out.pmem_read += miss_b
                out.dram_write += miss_b  # fill
            out.pmem_write += wb_b
        return out
