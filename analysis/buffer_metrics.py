"""Accumulators of per-buffer metrics (fed by trace_pass.py): the ``BufferTable`` of per-buffer
facts, which maps buffer ids to dense indices (analysis/ids.py) so memory follows the number of
buffers, not their id values; and what reads it: lifetimes, allocation sites (the DHAT view), the
hot/cold CDF, reuse distance, tensor spans for the Perfetto export."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.analysis.event_metrics import OpTimes, access_rows
from hetier.analysis.ids import IdMap
from hetier.analysis.reuse import ReuseHistogram, StackDistance
from hetier.analysis.trace_pass import Accumulator, TracePass
from hetier.formats.trace import EV, KINDS, EventBatch

MAX_CDF_POINTS = 4000  # points kept of the hot/cold CDF


class _Grow:
    """A numpy array indexed by dense buffer index that grows as ids appear."""

    def __init__(self, dtype, fill=0):
        self.a = np.full(1 << 12, fill, dtype=dtype)
        self.fill = fill

    def ensure(self, n: int) -> None:
        if n > len(self.a):
            size = 1 << int(n - 1).bit_length()
            self.a = np.concatenate([self.a, np.full(size - len(self.a), self.fill, dtype=self.a.dtype)])


class BufferTable(Accumulator):
    """Per buffer: allocating layer and kind, first alloc and last free (time, layer), size,
    ciphertexts allocated (sum of alloc rows' count), bytes read and written; at tensor granularity
    ciphertexts written per primitive. During a batch, ``buf`` holds its rows' dense buffer indices
    for the accumulators that need this one. Result: the table itself (``allocated``: the dense
    indices of buffers that were allocated; ``last_alloc_free_ns``: the last alloc or free)."""

    def start(self, trace: TracePass) -> None:
        self.tensor_rows = trace.meta.get("granularity") == "tensor"
        self.ids = IdMap()
        self.alloc_layer = _Grow(np.int32, -1)
        self.alloc_kind = _Grow(np.int8, -1)
        self.alloc_ts = _Grow(np.int64)
        self.free_ts = _Grow(np.int64, -1)
        self.free_layer = _Grow(np.int32, -1)
        self.size = _Grow(np.int64)  # the most bytes the buffer held at once
        self.held = _Grow(np.int64)  # bytes the buffer holds now (after the batches so far)
        self.alloc_count = _Grow(np.int64)
        self.reads = _Grow(np.float64)
        self.writes = _Grow(np.float64)
        self.written: dict[int, dict[int, int]] = {}  # tensor granularity: buffer -> prim -> ciphertexts
        self.last_alloc_free_ns = 0
        self.buf = np.zeros(0, dtype=np.int64)

    def add(self, b: EventBatch) -> None:
        buf = self.buf = self.ids.dense(b.buffer)
        for g in (self.alloc_layer, self.alloc_kind, self.alloc_ts, self.free_ts, self.free_layer, self.size,
                  self.held, self.alloc_count, self.reads, self.writes):
            g.ensure(len(self.ids))
        al = np.flatnonzero(b.event == EV["alloc"])
        fr = np.flatnonzero(b.event == EV["free"])
        lay = self.alloc_layer.a
        lay[buf[al]] = np.where(lay[buf[al]] < 0, b.layer[al], lay[buf[al]])
        self.alloc_kind.a[buf[al]] = b.kind[al]
        first_alloc = self.alloc_ts.a[buf[al]] == 0
        self.alloc_ts.a[buf[al[first_alloc]]] = b.ts_ns[al[first_alloc]]
        self._sizes(buf, b)
        self.free_ts.a[buf[fr]] = b.ts_ns[fr]
        self.free_layer.a[buf[fr]] = b.layer[fr]
        np.add.at(self.alloc_count.a, buf[al], b.count[al])
        if len(al) or len(fr):
            self.last_alloc_free_ns = max(self.last_alloc_free_ns, int(b.ts_ns[np.concatenate([al, fr])].max()))
        if self.tensor_rows:
            for i in np.flatnonzero(b.event == EV["write"]).tolist():
                by_prim = self.written.setdefault(int(buf[i]), {})
                by_prim[int(b.prim[i])] = by_prim.get(int(b.prim[i]), 0) + int(b.count[i])
        rw = access_rows(b)
        nb = b.nbytes[rw].astype(np.float64)
        isw = b.event[rw] == EV["write"]
        np.add.at(self.reads.a, buf[rw[~isw]], nb[~isw])
        np.add.at(self.writes.a, buf[rw[isw]], nb[isw])

    def _sizes(self, buf: np.ndarray, b: EventBatch) -> None:
        """Each buffer's size: the most bytes it held at once, its alloc and free rows taken in order.
        One alloc row per buffer is the rule, but the writer splits a row of more than
        MAX_ROW_BYTES (formats/trace.py) into several of one buffer: their bytes add up."""
        af = np.flatnonzero((b.event == EV["alloc"]) | (b.event == EV["free"]))
        if not len(af):
            return
        delta = np.where(b.event[af] == EV["alloc"], b.nbytes[af], -b.nbytes[af]).astype(np.int64)
        order = np.argsort(buf[af], kind="stable")  # by buffer, rows in trace order within one
        bs, ds = buf[af][order], delta[order]
        first = np.r_[True, bs[1:] != bs[:-1]]
        run = np.cumsum(ds)
        starts = np.flatnonzero(first)
        run -= np.repeat(run[starts] - ds[starts], np.diff(np.r_[starts, len(bs)]))  # restart per buffer
        run += self.held.a[bs]
        np.maximum.at(self.size.a, bs, run)
        last = np.r_[starts[1:], len(bs)] - 1
        self.held.a[bs[last]] = np.maximum(run[last], 0)

    def finish(self) -> "BufferTable":
        self.allocated = np.flatnonzero(self.alloc_kind.a[: len(self.size.a)] >= 0)
        return self


def op_share_lifetimes(ids: np.ndarray, layer: np.ndarray, peak: np.ndarray, written: dict, layer_ns: np.ndarray) -> np.ndarray:
    """Mean lifetime (ns) of one ciphertext of each tensor that is allocated and freed inside one op.

    A tensor row does not keep when each of its ciphertexts was allocated and freed (plan traces
    give the alloc and the free the same time), but it keeps how many were live at once (``peak``,
    the alloc count) and how many were made: at least the count of every primitive that writes it
    (each made ciphertext is written by each such primitive; the smallest of these sums over levels
    counts them). By Little's law, mean lifetime = mean live / creation rate, taken here as
    op duration x peak / made: an upper bound, since the mean live count is at most the peak.
    """
    out = np.zeros(len(ids))
    for j, b in enumerate(ids.tolist()):
        made = max(int(peak[b]), min(written.get(b, {}).values(), default=0), 1)
        out[j] = layer_ns[layer[b]] * int(peak[b]) / made
    return out


@dataclass
class LifetimesResult:
    ns: np.ndarray  # per allocated buffer (BufferTable.allocated): first alloc to last free
    derived: np.ndarray  # True where the lifetime is an op share (tensor rows inside one op)
    derived_by_id: dict[int, float]  # buffer id (the trace's) -> op-share lifetime ns


class Lifetimes(Accumulator):
    """Lifetime of each allocated buffer: first alloc to last free (never freed: to the last
    alloc or free of the trace); at tensor granularity, a tensor allocated and freed inside one op
    gets its ciphertexts' mean lifetime from the op's duration (``op_share_lifetimes``)."""

    def __init__(self, table: BufferTable, ops: OpTimes) -> None:
        self.table, self.ops = table, ops
        self.needs = (table, ops)

    def start(self, trace: TracePass) -> None:
        self.n_layers = len(trace.layer_names)

    def finish(self) -> LifetimesResult:
        t = self.table
        ids = t.allocated
        end = np.where(t.free_ts.a[ids] >= 0, t.free_ts.a[ids], t.last_alloc_free_ns)
        life = (end - t.alloc_ts.a[ids]).astype(np.float64)
        derived = np.zeros(len(ids), dtype=bool)
        by_id: dict[int, float] = {}
        if t.tensor_rows and len(ids):
            layer_ns = self.ops.result.by_layer(self.n_layers)
            derived = (t.alloc_layer.a[ids] == t.free_layer.a[ids]) & (t.free_ts.a[ids] >= 0)
            life[derived] = op_share_lifetimes(ids[derived], t.alloc_layer.a, t.alloc_count.a, t.written, layer_ns)
            by_id = dict(zip(t.ids.original(ids[derived]).tolist(), life[derived].tolist()))
        return LifetimesResult(life, derived, by_id)


class Sites(Accumulator):
    """Per allocation site (allocating layer, kind), the DHAT view: buffers, bytes, ciphertexts,
    mean lifetime, reads and writes per byte, bytes never read. Result: dict of columns."""

    def __init__(self, table: BufferTable, lifetimes: Lifetimes) -> None:
        self.table, self.lifetimes = table, lifetimes
        self.needs = (table, lifetimes)

    def start(self, trace: TracePass) -> None:
        self.names = trace.layer_names

    def finish(self) -> dict[str, list]:
        t, lt = self.table, self.lifetimes.result
        ids = t.allocated
        if not len(ids):
            return {}
        n_kinds = len(KINDS)
        site = t.alloc_layer.a[ids].astype(np.int64) * n_kinds + t.alloc_kind.a[ids]
        us, inv = np.unique(site, return_inverse=True)
        inv = inv.reshape(-1)
        sz = t.size.a[ids].astype(np.float64)
        sums = lambda w: np.bincount(inv, weights=w, minlength=len(us))  # noqa: E731
        total_size = sums(sz)
        return {
            "layer": [self.names[s // n_kinds] for s in us], "kind": [KINDS[s % n_kinds] for s in us],
            "buffers": np.bincount(inv, minlength=len(us)).tolist(), "bytes": total_size.tolist(),
            "count": sums(t.alloc_count.a[ids].astype(np.float64)).astype(np.int64).tolist(),
            "mean_lifetime_s": (sums(lt.ns) / np.bincount(inv, minlength=len(us)) / 1e9).tolist(),
            "lifetime_derived": (sums(lt.derived.astype(np.float64)) > 0).tolist(),
            "reads_per_byte": (sums(t.reads.a[ids]) / np.maximum(total_size, 1)).tolist(),
            "writes_per_byte": (sums(t.writes.a[ids]) / np.maximum(total_size, 1)).tolist(),
            "bytes_never_read": sums(np.where(t.reads.a[ids] == 0, sz, 0.0)).tolist(),
        }


@dataclass
class HotColdResult:
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))  # share of allocated bytes, hottest first
    y: np.ndarray = field(default_factory=lambda: np.zeros(0))  # share of accessed bytes on them
    allocated_bytes: float = 0.0  # sum of every buffer's size


class HotCold(Accumulator):
    """The hot/cold CDF: buffers by accesses per byte, hottest first (at most MAX_CDF_POINTS points)."""

    def __init__(self, table: BufferTable) -> None:
        self.table = table
        self.needs = (table,)

    def finish(self) -> HotColdResult:
        t = self.table
        ids = t.allocated
        if not len(ids):
            return HotColdResult()
        sz = t.size.a[ids].astype(np.float64)
        acc = t.reads.a[ids] + t.writes.a[ids]
        order = np.argsort(-(acc / np.maximum(sz, 1)), kind="stable")
        x = np.concatenate([[0.0], np.cumsum(sz[order]) / max(sz.sum(), 1)])
        y = np.concatenate([[0.0], np.cumsum(acc[order]) / max(acc.sum(), 1)])
        if len(x) > MAX_CDF_POINTS:
            keep = np.unique(np.linspace(0, len(x) - 1, MAX_CDF_POINTS).astype(int))
            x, y = x[keep], y[keep]
        return HotColdResult(x, y, float(sz.sum()))


class ReuseDistance(Accumulator):
    """Reuse (stack) distance histogram in bytes (reuse.py)."""

    def __init__(self, table: BufferTable) -> None:
        self.table = table
        self.needs = (table,)
        self.stack = StackDistance()

    def add(self, b: EventBatch) -> None:
        self.stack.rows(b.event, self.table.buf, b.nbytes, b.count)

    def finish(self) -> ReuseHistogram:
        return self.stack.histogram()


@dataclass
class TensorSpan:
    tensor: int
    kind: str
    layer: int  # allocating layer
    start_ns: int
    end_ns: int
    derived: bool  # end = start + op-share lifetime (tensor rows keep no per-ciphertext times)


class TensorSpans(Accumulator):
    """Each tensor from its first alloc to its last free (never freed: the trace's last free);
    at tensor granularity a tensor that lives inside one op ends after its op-share lifetime."""

    def __init__(self, lifetimes: Lifetimes) -> None:
        self.lifetimes = lifetimes
        self.needs = (lifetimes,)
        self.first: dict[int, tuple[int, int, int]] = {}  # tensor -> (alloc ts, kind, layer)
        self.last_free: dict[int, int] = {}

    def add(self, b: EventBatch) -> None:
        for i in np.flatnonzero(b.event == EV["alloc"]):
            self.first.setdefault(int(b.tensor[i]), (int(b.ts_ns[i]), int(b.kind[i]), int(b.layer[i])))
        fr = np.flatnonzero(b.event == EV["free"])
        for t, ts in zip(b.tensor[fr].tolist(), b.ts_ns[fr].tolist()):
            self.last_free[t] = ts

    def finish(self) -> list[TensorSpan]:
        end_ts = max(self.last_free.values(), default=0)
        derived = self.lifetimes.result.derived_by_id  # tensor granularity only: buffer == tensor
        return [TensorSpan(t, KINDS[k], layer, ts, ts + round(derived[t]) if t in derived else self.last_free.get(t, end_ts),
                           t in derived) for t, (ts, k, layer) in sorted(self.first.items())]
