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

Method (exact, vectorized): accesses are solved a chunk at a time, offline. With ``prev(k)`` and
``next(k)`` the previous and next access of position k's buffer, the distance of k is the weight
of the positions j with prev(k) < j < k < next(j) (the latest access of each buffer touched in
between), i.e. all j with next(j) > k, minus those at or after k, minus those with j < prev(k):
a two-dimensional dominance sum, answered for every access at once by a weighted wavelet matrix
(one stable partition per bit of next(j)). What comes before a chunk is the stack (each buffer's
latest access, in order, with its footprint), where the buffers the chunk does not touch are
merged run by run into one entry, so a chunk's work follows the chunk, not the whole history;
memory follows the number of distinct buffers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.formats.live_counts import live_changes
from hetier.formats.trace import EV

N_BINS = 66  # bin 0: distance 0; bin k >= 1: distance in [2^(k-1), 2^k) bytes
CHUNK_ACCESSES = 1 << 20  # accesses solved together (a chunk's arrays: about 100 B per access)


def distance_bin(d: float) -> int:
    """Histogram bin of a distance in bytes: 0 below 1, else 1 + floor(log2 d)."""
    return int(distance_bins(np.array([d], dtype=np.float64))[0])


def distance_bins(d: np.ndarray) -> np.ndarray:
    """``distance_bin`` of many distances (exact at powers of two: the binary exponent, not a log)."""
    e = np.frexp(np.asarray(d, dtype=np.float64))[1]  # d = m * 2^e with 0.5 <= m < 1: e = 1 + floor(log2 d)
    return np.where(np.asarray(d) < 1, 0, np.minimum(e, N_BINS - 1)).astype(np.int64)


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


def neighbours(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per position, the previous (-1 if none) and next (len if none) position of the same id."""
    n = len(buf)
    order = np.argsort(buf, kind="stable")
    same = buf[order[1:]] == buf[order[:-1]]
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, n, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    nxt[order[:-1][same]] = order[1:][same]
    return prev, nxt


def weight_above(y: np.ndarray, w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each query q, the sum of ``w[j]`` over j < a[q] with y[j] > b[q] (y >= 0, b >= 0).

    A weighted wavelet matrix: per bit of y from the highest, the sequence is stably split into
    the zeros and the ones of that bit, and each query's range follows its own bit of b, adding
    the ones' weight where b's bit is 0 (those values are larger whatever their lower bits)."""
    n = len(y)
    acc = np.zeros(len(a), dtype=np.int64)
    if not n or not len(a):
        return acc
    it = np.int32 if max(n, int(y.max()), int(b.max())) < 2**31 - 1 else np.int64  # half the bytes to gather
    cur, cw, bq = y.astype(it), w.astype(np.int64), b.astype(it)
    lo, hi = np.zeros(len(a), dtype=it), a.astype(it)
    ones = np.zeros(n + 1, dtype=it)  # ones of this bit among the first i of the level's order
    wones = np.zeros(n + 1, dtype=np.int64)  # and their weight
    for t in range(int(max(cur.max(), bq.max(), 1)).bit_length() - 1, -1, -1):
        bit = ((cur >> t) & 1).astype(bool)
        np.cumsum(bit, out=ones[1:])
        np.cumsum(np.where(bit, cw, 0), out=wones[1:])
        zeros = n - ones[n]
        up = ((bq >> t) & 1).astype(bool)  # b's bit is 1: follow the ones; 0: count them, follow the zeros
        olo, ohi = ones[lo], ones[hi]
        more = wones[hi]
        more -= wones[lo]
        more[up] = 0
        acc += more
        lo = np.where(up, zeros + olo, lo - olo)
        hi = np.where(up, zeros + ohi, hi - ohi)
        split = np.concatenate([np.flatnonzero(~bit), np.flatnonzero(bit)])
        cur, cw = cur[split], cw[split]
    return acc


def stack_distances(buf: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact stack distances of a sequence of accesses (buffer ids, footprints): per position the
    weight of the distinct other buffers' latest accesses since the previous access of its buffer
    (-1 where there is none), with ``neighbours``' prev and next."""
    n = len(buf)
    prev, nxt = neighbours(buf)
    w = weight.astype(np.int64)
    ends = np.zeros(n + 2, dtype=np.int64)  # weight by next position (next = n: never again)
    last = nxt == n
    ends[nxt[~last]] = w[~last]
    ends[n] = w[last].sum()
    live_after = np.cumsum(ends[::-1])[::-1]  # [k + 1]: weight of positions j with next(j) > k
    from_k = np.cumsum(w[::-1])[::-1]  # [k]: weight of positions j >= k
    d = np.full(n, -1, dtype=np.int64)
    q = np.flatnonzero(prev >= 0)
    k = q.astype(np.int64)
    d[q] = live_after[k + 1] - from_k[k] - weight_above(nxt, w, prev[q], k)
    return d, prev, nxt


class StackDistance:
    """Streaming stack distances over buffers with non-negative ids (dense indices): call ``rows``
    per batch of trace rows in order, then ``histogram``."""

    def __init__(self, chunk: int = CHUNK_ACCESSES):
        self.hist = ReuseHistogram()
        self.chunk = chunk
        self._stack_buf = np.zeros(0, dtype=np.int64)  # each accessed buffer once, by latest access
        self._stack_w = np.zeros(0, dtype=np.int64)  # that access's footprint
        self._live = np.zeros(0, dtype=np.int64)  # buffer -> live bytes (allocs minus frees so far)
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._pending_n = 0

    def _grow(self, top: int) -> None:
        if top >= len(self._live):
            self._live = np.concatenate([self._live, np.zeros(max(top + 1, 2 * len(self._live)) - len(self._live), np.int64)])

    def accesses(self, buffer: np.ndarray, nbytes: np.ndarray, count: np.ndarray, footprint: np.ndarray) -> None:
        """Queue access rows (in order); they are solved a chunk at a time."""
        if not len(buffer):
            return
        self._pending.append((np.asarray(buffer, np.int64), np.asarray(nbytes, np.float64),
                              np.asarray(count, np.float64), np.asarray(footprint, np.int64)))
        self._pending_n += len(buffer)
        if self._pending_n >= self.chunk:
            self._solve()

    def advance(self, buffer: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """Stack distances of these accesses (in order; -1 for a first touch) against the stack so
        far, which then moves past them."""
        cb, cf = np.asarray(buffer, np.int64), np.asarray(footprint, np.int64)
        if not len(cb):
            return np.zeros(0, dtype=np.int64)
        sb, sw = self._stack_buf, self._stack_w
        mark = np.zeros(max(int(cb.max()), int(sb.max(initial=0))) + 1, dtype=bool)
        mark[cb] = True
        touched = mark[sb]
        # the stack before them: the buffers they touch one by one, the rest merged run by run
        starts = np.flatnonzero(touched | np.r_[True, touched[:-1]]) if len(sb) else np.zeros(0, np.int64)
        pw = np.add.reduceat(sw, starts) if len(starts) else np.zeros(0, np.int64)
        pb = np.where(touched[starts], sb[starts], -1 - np.arange(len(starts)))  # merged runs: ids of their own
        m = len(starts)
        d, _, nxt = stack_distances(np.concatenate([pb, cb]), np.concatenate([pw, cf]))
        latest = nxt[m:] == m + len(cb)  # each buffer's last access among them
        self._stack_buf = np.concatenate([sb[~touched], cb[latest]])
        self._stack_w = np.concatenate([sw[~touched], cf[latest]])
        return d[m:]

    def _solve(self) -> None:
        """Distances of the queued accesses, into the histogram."""
        if not self._pending:
            return
        cb, cn, cc, cf = (np.concatenate(col) for col in zip(*self._pending))
        self._pending, self._pending_n = [], 0
        d = self.advance(cb, cf)
        h = self.hist
        cold = d < 0
        h.cold_bytes += float(cn[cold].sum())
        h.cold_accesses += float(cc[cold].sum())
        k = distance_bins(d[~cold])
        h.bytes += np.bincount(k, weights=cn[~cold], minlength=N_BINS)
        h.accesses += np.bincount(k, weights=cc[~cold], minlength=N_BINS)

    def rows(self, event: np.ndarray, buffer: np.ndarray, nbytes: np.ndarray, count: np.ndarray) -> None:
        """Feed a batch of trace rows in order: allocs and frees keep each buffer's live bytes
        (the cap on a footprint), reads and writes are accesses."""
        is_rw = (event == EV["read"]) | (event == EV["write"])
        sel = np.flatnonzero(is_rw | (event == EV["alloc"]) | (event == EV["free"]))
        if not len(sel):
            return
        ev, buf, nb = event[sel], buffer[sel].astype(np.int64), nbytes[sel].astype(np.int64)
        ch = live_changes(buf, np.where(ev == EV["alloc"], nb, np.where(ev == EV["free"], -nb, 0)))
        self._grow(int(ch.keys.max()))
        before = self._live[ch.keys]
        live = np.empty(len(sel), dtype=np.int64)  # each row's buffer's live bytes after the row
        live[ch.order] = np.repeat(before, ch.sizes) + ch.change
        self._live[ch.keys] = before + ch.final
        acc = np.flatnonzero(is_rw[sel])
        lv, a_nb = live[acc], nb[acc]
        self.accesses(buf[acc], a_nb, count[sel][acc], np.where(lv > 0, np.minimum(a_nb, lv), a_nb))

    def histogram(self) -> ReuseHistogram:
        """The histogram of every access fed so far (solves what is queued)."""
        self._solve()
        return self.hist
