"""Accumulators of event-level metrics (one class per metric, fed by trace_pass.py): rows per
event type, time per layer and op slices, live bytes and their peak, the resident peak (SEAL's
size-class pool plus host memory), buffers by kind, traffic per primitive and per layer. Bytes are summed over each
row's count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hetier.analysis.trace_pass import Accumulator, TracePass
from hetier.formats.live_counts import LiveBytes
from hetier.formats.seal_pool import ResidentPeak
from hetier.formats.trace import EV, EVENTS, KINDS, PRIMS, EventBatch


def access_rows(b: EventBatch) -> np.ndarray:
    """Indices of the batch's read and write rows."""
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

    def by_layer(self, n_layers: int) -> np.ndarray:
        """Summed op ns indexed by layer (0 for layers with no op)."""
        out = np.zeros(n_layers)
        for layer, ns in self.ns.items():
            out[layer] = ns
        return out


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
        self.live = LiveBytes()
        self.peak = Peak()

    def start(self, trace: TracePass) -> None:
        self.names = trace.layer_names

    def add(self, b: EventBatch) -> None:
        i = self.live.add(b)
        if i is not None:
            self.peak = Peak(self.live.peak, int(b.ts_ns[i]), self.names[b.layer[i]])

    def finish(self) -> Peak:
        return self.peak


class PoolPeak(Accumulator):
    """Resident memory: SEAL's size-class pool, grown in MemoryPoolHeadMT's batches and never
    returned, plus the runtime's host memory while live (formats/seal_pool.py). Result: bytes."""

    def __init__(self) -> None:
        self.model = ResidentPeak()

    def add(self, b: EventBatch) -> None:
        self.model.add(b)

    def finish(self) -> int:
        return self.model.best


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
        rw = access_rows(b)
        np.add.at(self.rw, (b.prim[rw], (b.event[rw] == EV["write"]).astype(int)), b.nbytes[rw])
        self.seen += [p for p in np.unique(b.prim[rw]).tolist() if p not in self.seen]

    def finish(self) -> dict[str, tuple[int, int]]:
        return {PRIMS[p]: (int(self.rw[p, 0]), int(self.rw[p, 1])) for p in self.seen}


class LayerTraffic(Accumulator):
    """Bytes read and written per layer: an array (layers x [read, write])."""

    def start(self, trace: TracePass) -> None:
        self.rw = np.zeros((len(trace.layer_names), 2), dtype=np.int64)

    def add(self, b: EventBatch) -> None:
        rw = access_rows(b)
        np.add.at(self.rw, (b.layer[rw], (b.event[rw] == EV["write"]).astype(int)), b.nbytes[rw])

    def finish(self) -> np.ndarray:
        return self.rw
