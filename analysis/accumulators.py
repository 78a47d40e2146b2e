"""One class per metric of a trace, fed batch by batch by the one pass (trace_pass.py).

Bytes are summed over each row's count. Per-buffer metrics (sites, lifetimes, hot/cold, reuse,
live bytes by allocating layer) read the ``BufferTable``, which maps buffer ids to dense indices
(analysis/ids.py) so memory follows the number of buffers, not their id values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.analysis.ids import IdMap
from hetier.analysis.reuse import ReuseHistogram, StackDistance
from hetier.analysis.trace_pass import Accumulator, TracePass
from hetier.tracer.format import EV, EVENTS, KINDS, PRIMS, EventBatch

MAX_POINTS = 4000  # samples kept of each live-bytes curve and of the hot/cold CDF


def _rw_rows(b: EventBatch) -> np.ndarray:
    return np.flatnonzero((b.event == EV["read"]) | (b.event == EV["write"]))


class EventCounts(Accumulator):
    """Rows per event type (alloc, free, ...), in order of first appearance."""

    def __init__(self) -> None:
        self.by_event: dict[str, int] = {}

    def add(self, b: EventBatch) -> None:
        for e, n in zip(*np.unique(b.event, return_counts=True)):
            self.by_event[EVENTS[e]] = self.by_event.get(EVENTS[e], 0) + int(n)

    def finish(self) -> dict[str, int]:
        return self.by_event


@dataclass
class OpTimesResult:
    ns: dict[int, int]  # layer index -> summed op time, in order of the layers' first op end
    duration_ns: int  # the last op end
    slices: list[tuple[int, int, int]]  # (layer, begin ns, end ns) per op, when kept


class OpTimes(Accumulator):
    """Time per layer from op_begin/op_end rows taken in trace order (an end without a begin
    counts 0 ns), the run's duration, and with ``slices`` every op as (layer, begin, end)."""

    def __init__(self, slices: bool = False) -> None:
        self.keep = slices
        self.out = OpTimesResult({}, 0, [])
        self._begin: dict[int, int] = {}

    def add(self, b: EventBatch) -> None:
        out = self.out
        rows = np.flatnonzero(b.event >= EV["op_begin"])
        for e, layer, ts in zip(b.event[rows].tolist(), b.layer[rows].tolist(), b.ts_ns[rows].tolist()):
            if e == EV["op_begin"]:
                self._begin[layer] = ts
                continue
            t0 = self._begin.pop(layer, ts)
            out.ns[layer] = out.ns.get(layer, 0) + ts - t0
            out.duration_ns = max(out.duration_ns, ts)
            if self.keep:
                out.slices.append((layer, t0, ts))

    def finish(self) -> OpTimesResult:
        return self.out


@dataclass
class Peak:
    bytes: int = 0
    ts_ns: int = 0
    layer: str = ""  # layer of the event that reached the peak


class LivePeak(Accumulator):
    """Live bytes (allocs minus frees) and their peak: value, time and layer."""

    def __init__(self) -> None:
        self.live = 0
        self.peak = Peak()

    def start(self, trace: TracePass) -> None:
        self.names = trace.layer_names

    def add(self, b: EventBatch) -> None:
        delta = np.where(b.event == EV["alloc"], b.nbytes, np.where(b.event == EV["free"], -b.nbytes, 0))
        curve = self.live + np.cumsum(delta)
        i = int(np.argmax(curve))
        if curve[i] > self.peak.bytes:
            self.peak = Peak(int(curve[i]), int(b.ts_ns[i]), self.names[b.layer[i]])
        self.live = int(curve[-1])

    def finish(self) -> Peak:
        return self.peak


class PoolPeak(Accumulator):
    """Resident memory under a size-class pool (SEAL's): each block size keeps its own peak of
    live blocks, since freed blocks are reused only by blocks of the same size. Result: bytes."""

    def __init__(self) -> None:
        self.live: dict[int, int] = {}
        self.peak: dict[int, int] = {}

    def add(self, b: EventBatch) -> None:
        af = np.flatnonzero((b.event == EV["alloc"]) | (b.event == EV["free"]))
        unit = b.nbytes[af] // np.maximum(b.count[af], 1)
        for u in np.unique(unit):
            m = af[unit == u]
            d = np.where(b.event[m] == EV["alloc"], b.count[m], -b.count[m])
            c = self.live.get(int(u), 0) + np.cumsum(d)
            self.peak[int(u)] = max(self.peak.get(int(u), 0), int(c.max()))
            self.live[int(u)] = int(c[-1])

    def finish(self) -> int:
        return sum(u * n for u, n in self.peak.items())


class BuffersByKind(Accumulator):
    """Per buffer kind: (allocations, bytes allocated), in order of first appearance."""

    def __init__(self) -> None:
        self.by_kind: dict[str, tuple[int, int]] = {}

    def add(self, b: EventBatch) -> None:
        al = b.event == EV["alloc"]
        for k in np.unique(b.kind[al]):
            m = al & (b.kind == k)
            c, nb = self.by_kind.get(KINDS[k], (0, 0))
            self.by_kind[KINDS[k]] = (c + int(b.count[m].sum()), nb + int(b.nbytes[m].sum()))

    def finish(self) -> dict[str, tuple[int, int]]:
        return self.by_kind


class TrafficByPrim(Accumulator):
    """Per HE primitive seen on a read or write row: (bytes read, bytes written), in order of
    first appearance."""

    def __init__(self) -> None:
        self.rw = np.zeros((len(PRIMS), 2), dtype=np.int64)
        self.seen: list[int] = []

    def add(self, b: EventBatch) -> None:
        rw = _rw_rows(b)
        np.add.at(self.rw, (b.prim[rw], (b.event[rw] == EV["write"]).astype(int)), b.nbytes[rw])
        self.seen += [p for p in np.unique(b.prim[rw]).tolist() if p not in self.seen]

    def finish(self) -> dict[str, tuple[int, int]]:
        return {PRIMS[p]: (int(self.rw[p, 0]), int(self.rw[p, 1])) for p in self.seen}


class LayerTraffic(Accumulator):
    """Bytes read and written per layer: an array (layers x [read, write])."""

    def start(self, trace: TracePass) -> None:
        self.rw = np.zeros((len(trace.layer_names), 2), dtype=np.int64)

    def add(self, b: EventBatch) -> None:
        rw = _rw_rows(b)
        np.add.at(self.rw, (b.layer[rw], (b.event[rw] == EV["write"]).astype(int)), b.nbytes[rw])

    def finish(self) -> np.ndarray:
        return self.rw


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
        self.size = _Grow(np.int64)
        self.alloc_count = _Grow(np.int64)
        self.reads = _Grow(np.float64)
        self.writes = _Grow(np.float64)
        self.written: dict[int, dict[int, int]] = {}  # tensor granularity: buffer -> prim -> ciphertexts
        self.last_alloc_free_ns = 0
        self.buf = np.zeros(0, dtype=np.int64)

    def add(self, b: EventBatch) -> None:
        buf = self.buf = self.ids.dense(b.buffer)
        for g in (self.alloc_layer, self.alloc_kind, self.alloc_ts, self.free_ts, self.free_layer, self.size,
                  self.alloc_count, self.reads, self.writes):
            g.ensure(len(self.ids))
        al = np.flatnonzero(b.event == EV["alloc"])
        fr = np.flatnonzero(b.event == EV["free"])
        lay = self.alloc_layer.a
        lay[buf[al]] = np.where(lay[buf[al]] < 0, b.layer[al], lay[buf[al]])
        self.alloc_kind.a[buf[al]] = b.kind[al]
        first_alloc = self.alloc_ts.a[buf[al]] == 0
        self.alloc_ts.a[buf[al[first_alloc]]] = b.ts_ns[al[first_alloc]]
        np.maximum.at(self.size.a, buf[al], b.nbytes[al])
        self.free_ts.a[buf[fr]] = b.ts_ns[fr]
        self.free_layer.a[buf[fr]] = b.layer[fr]
        np.add.at(self.alloc_count.a, buf[al], b.count[al])
        if len(al) or len(fr):
            self.last_alloc_free_ns = max(self.last_alloc_free_ns, int(b.ts_ns[np.concatenate([al, fr])].max()))
        if self.tensor_rows:
            for i in np.flatnonzero(b.event == EV["write"]).tolist():
                by_prim = self.written.setdefault(int(buf[i]), {})
                by_prim[int(b.prim[i])] = by_prim.get(int(b.prim[i]), 0) + int(b.count[i])
        rw = _rw_rows(b)
        nb = b.nbytes[rw].astype(np.float64)
        isw = b.event[rw] == EV["write"]
        np.add.at(self.reads.a, buf[rw[~isw]], nb[~isw])
        np.add.at(self.writes.a, buf[rw[isw]], nb[isw])

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

    def add(self, b: EventBatch) -> None:
        pass  # reads the table at the end

    def finish(self) -> LifetimesResult:
        t = self.table
        ids = t.allocated
        end = np.where(t.free_ts.a[ids] >= 0, t.free_ts.a[ids], t.last_alloc_free_ns)
        life = (end - t.alloc_ts.a[ids]).astype(np.float64)
        derived = np.zeros(len(ids), dtype=bool)
        by_id: dict[int, float] = {}
        if t.tensor_rows and len(ids):
            layer_ns = np.zeros(self.n_layers)
            for layer, ns in self.ops.result.ns.items():
                layer_ns[layer] = ns
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

    def add(self, b: EventBatch) -> None:
        pass

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
    """The hot/cold CDF: buffers by accesses per byte, hottest first (at most MAX_POINTS points)."""

    def __init__(self, table: BufferTable) -> None:
        self.table = table
        self.needs = (table,)

    def add(self, b: EventBatch) -> None:
        pass

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
        if len(x) > MAX_POINTS:
            keep = np.unique(np.linspace(0, len(x) - 1, MAX_POINTS).astype(int))
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
        return self.stack.hist


def _downsample(n: int, keep: list[int]) -> np.ndarray:
    step = max(1, -(-n // MAX_POINTS))
    idx = np.arange(0, n, step)
    return np.unique(np.concatenate([idx, np.array(keep, dtype=np.int64), [n - 1]]))


class _LiveCurves(Accumulator):
    """Live bytes over time split into columns (one per ``_columns`` value), sampled: per batch
    and at the end, even samples plus the sample where their sum peaks. Result: (ts, matrix)."""

    n_columns = 0

    def __init__(self) -> None:
        self.ts_parts: list[np.ndarray] = []
        self.parts: list[np.ndarray] = []

    def _columns(self, b: EventBatch, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add(self, b: EventBatch) -> None:
        af = np.flatnonzero((b.event == EV["alloc"]) | (b.event == EV["free"]))
        if not len(af):
            return
        d = np.where(b.event[af] == EV["alloc"], b.nbytes[af], -b.nbytes[af]).astype(np.float64)
        dm = np.zeros((len(af), self.n_columns))
        dm[np.arange(len(af)), self._columns(b, af)] = d
        curves = (self.parts[-1][-1] if self.parts else 0) + np.cumsum(dm, axis=0)
        idx = _downsample(len(af), [int(np.argmax(curves.sum(axis=1)))])
        self.ts_parts.append(b.ts_ns[af][idx])
        self.parts.append(curves[idx])

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.parts:
            return np.zeros(0), np.zeros((0, self.n_columns))
        ts, live = np.concatenate(self.ts_parts), np.concatenate(self.parts)
        if len(ts) > MAX_POINTS:  # keep the report small: even samples plus the peak
            keep = _downsample(len(ts), [int(np.argmax(live.sum(axis=1)))])
            ts, live = ts[keep], live[keep]
        return ts, live


class LiveByKind(_LiveCurves):
    """Live bytes over time per buffer kind. Result: (ts ns, {kind: bytes}) for kinds ever live."""

    n_columns = len(KINDS)

    def _columns(self, b: EventBatch, rows: np.ndarray) -> np.ndarray:
        return b.kind[rows].astype(np.int64)

    def finish(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        ts, live = self.curves()
        return ts, {KINDS[k]: live[:, k] for k in range(self.n_columns) if len(ts) and live[:, k].max() > 0}


class LiveByLayer(_LiveCurves):
    """Live bytes over time charged to the layer that allocated each buffer: the ``top`` layers
    by peak (in layer order) and "other layers". Result: {name: bytes} on LiveByKind's times."""

    def __init__(self, table: BufferTable, top: int = 8) -> None:
        super().__init__()
        self.table, self.top = table, top
        self.needs = (table,)

    def start(self, trace: TracePass) -> None:
        self.names = trace.layer_names
        self.n_columns = len(self.names)

    def _columns(self, b: EventBatch, rows: np.ndarray) -> np.ndarray:
        return self.table.alloc_layer.a[self.table.buf[rows]].astype(np.int64)

    def finish(self) -> dict[str, np.ndarray]:
        ts, live = self.curves()
        if not len(ts):
            return {}
        peak_by_layer = live.max(axis=0)
        top = [int(j) for j in np.argsort(-peak_by_layer)[: self.top] if peak_by_layer[j] > 0]
        out = {self.names[j]: live[:, j] for j in sorted(top)}
        rest = np.delete(live, top, axis=1).sum(axis=1)
        if rest.max() > 0:
            out["other layers"] = rest
        return out


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
