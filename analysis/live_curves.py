"""Accumulators of live bytes over time, by buffer kind and by allocating layer (fed by
trace_pass.py), sampled so a report stays small: even samples plus the peak."""

from __future__ import annotations

import numpy as np

from hetier.analysis.buffer_metrics import BufferTable
from hetier.analysis.trace_pass import Accumulator, TracePass
from hetier.formats.trace import EV, KINDS, EventBatch

MAX_POINTS = 4000  # samples kept of each live-bytes curve


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
        d = b.live_delta()[af].astype(np.float64)
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
