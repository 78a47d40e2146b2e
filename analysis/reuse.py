"""Reuse distance as stack distance, in bytes, computed in one streaming pass.

For each access (a read or write row) of a buffer, its stack distance is the number of distinct
bytes touched since the previous access of the same buffer: the sum, over the other buffers
accessed in between (each counted once), of the bytes their most recent access touched
(``footprint``: the access's bytes, capped at the buffer's live bytes, so a tensor read twice in
one row counts its size once). A fully associative LRU cache holding whole buffers finds an access
whose distance is below its capacity; one above it comes back from the slower tier. Freed buffers
stay on the stack, as they do in a hardware cache (Memory Mode's DRAM cache does not know a buffer
was freed).

Weights: a row of ``count`` ciphertexts stands for ``count`` accesses that share the row's
distance and together move the row's bytes; the histogram is weighted by bytes. At tensor
granularity the buffer is the tensor, so the distance between two ciphertexts of one tensor inside
a row is not visible (the trace does not keep their order).

Method: a Fenwick tree over access positions holds, at each buffer's last-access position, that
access's footprint; the distance of an access is the tree's sum between the buffer's previous
position and now (O(log n)). Positions are renumbered when the tree fills, so memory follows the
number of distinct buffers, not the number of accesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.formats.live_counts import live_changes
from hetier.formats.trace import EV

N_BINS = 66  # bin 0: distance 0; bin k >= 1: distance in [2^(k-1), 2^k) bytes


def distance_bin(d: float) -> int:
    """Histogram bin of a distance in bytes: 0 for 0, else 1 + floor(log2 d)."""
    return 0 if d < 1 else min(N_BINS - 1, 1 + int(np.floor(np.log2(d))))


def bin_lower_bytes(k: int) -> float:
    return 0.0 if k == 0 else 2.0 ** (k - 1)


@dataclass
class ReuseHistogram:
    """Bytes and accesses per distance bin, plus first touches (no previous access)."""

    bytes: np.ndarray = field(default_factory=lambda: np.zeros(N_BINS))
    accesses: np.ndarray = field(default_factory=lambda: np.zeros(N_BINS))
    cold_bytes: float = 0.0
    cold_accesses: float = 0.0

    def share_beyond(self, capacity_bytes: float) -> float:
        """Share of re-accessed bytes whose distance bin lies wholly at or above ``capacity_bytes``
        (a lower bound on what an LRU fast tier of that size would miss)."""
        total = self.bytes.sum()
        if not total:
            return 0.0
        k = np.array([bin_lower_bytes(k) >= capacity_bytes for k in range(N_BINS)])
        return float(self.bytes[k].sum() / total)


class StackDistance:
    """Streaming stack distances: call ``access`` per row in trace order."""

    def __init__(self, capacity: int = 1 << 12):
        self.hist = ReuseHistogram()
        self._last: dict[int, int] = {}  # buffer -> position (1-based) of its last access
        self._live: dict[int, float] = {}  # buffer -> live bytes (allocs minus frees so far)
        self._reset(capacity, [])

    def _reset(self, capacity: int, items: list[tuple[int, float]]) -> None:
        """Fresh tree of ``capacity`` positions holding ``items`` (buffer, weight) in order."""
        self._cap = capacity
        self._w = [0.0] * (capacity + 1)
        for i, (b, w) in enumerate(items, start=1):
            self._last[b] = i
            self._w[i] = w
        tree = self._w[:]
        for i in range(1, capacity + 1):  # linear-time Fenwick construction
            j = i + (i & -i)
            if j <= capacity:
                tree[j] += tree[i]
        self._tree = tree
        self._n = len(items)

    def _compact(self) -> None:
        items = sorted(self._last.items(), key=lambda kv: kv[1])
        weights = [(b, self._w[p]) for b, p in items]
        self._reset(max(1 << 12, 2 * len(items)), weights)

    def _add(self, i: int, v: float) -> None:
        self._w[i] += v
        tree, cap = self._tree, self._cap
        while i <= cap:
            tree[i] += v
            i += i & -i

    def _prefix(self, i: int) -> float:
        s, tree = 0.0, self._tree
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s

    def access(self, buffer: int, nbytes: float, count: float, footprint: float) -> float | None:
        """Record one access row; returns its distance in bytes (None for a first touch)."""
        if self._n >= self._cap:
            self._compact()
        prev = self._last.get(buffer)
        h = self.hist
        if prev is None:
            d = None
            h.cold_bytes += nbytes
            h.cold_accesses += count
        else:
            d = max(0.0, self._prefix(self._n) - self._prefix(prev))
            k = distance_bin(d)
            h.bytes[k] += nbytes
            h.accesses[k] += count
            self._add(prev, -self._w[prev])
        self._n += 1
        self._last[buffer] = self._n
        self._add(self._n, footprint)
        return d

    def rows(self, event: np.ndarray, buffer: np.ndarray, nbytes: np.ndarray, count: np.ndarray) -> None:
        """Feed a batch of trace rows in order: allocs and frees keep each buffer's live bytes
        (the cap on a footprint), reads and writes are accesses."""
        is_rw = (event == EV["read"]) | (event == EV["write"])
        sel = np.flatnonzero(is_rw | (event == EV["alloc"]) | (event == EV["free"]))
        if not len(sel):
            return
        ev, buf = event[sel], buffer[sel]
        ch = live_changes(buf, np.where(ev == EV["alloc"], nbytes[sel], np.where(ev == EV["free"], -nbytes[sel], 0)))
        before = np.array([self._live.get(b, 0) for b in ch.keys.tolist()], dtype=np.int64)
        live = np.empty(len(sel), dtype=np.int64)  # each row's buffer's live bytes after the row
        live[ch.order] = np.repeat(before, ch.sizes) + ch.change
        self._live.update(zip(ch.keys.tolist(), (before + ch.final).tolist()))
        acc = np.flatnonzero(is_rw[sel])
        for b, nb, c, lv in zip(buf[acc].tolist(), nbytes[sel][acc].tolist(), count[sel][acc].tolist(),
                                live[acc].tolist()):
            self.access(b, nb, c, min(nb, lv) if lv > 0 else nb)
