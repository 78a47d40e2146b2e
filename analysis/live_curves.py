"""Accumulators of live bytes over time, by buffer kind and by allocating layer (fed by
trace_pass.py), sampled so a report stays small and memory stays bounded: even samples plus the peak."""

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
    """Live bytes over time split into columns (one per ``_columns`` value), sampled as the
    trace streams by: every ``stride``-th alloc or free row (the stride doubles whenever more
    than 2 x MAX_POINTS samples are held, so memory stays bounded whatever the trace's length),
    the row where their sum peaks and the last row; at the end, even samples of those plus the
    peak. Result: (ts, matrix)."""

    n_columns = 0

    def __init__(self) -> None:
        self.rows_seen = 0  # alloc and free rows so far
        self.stride = 1
        self.at: list[np.ndarray] = []  # kept samples: row number, time, live bytes per column
        self.ts_parts: list[np.ndarray] = []
        self.parts: list[np.ndarray] = []
        self.held = 0
        self.peak: tuple[float, int, int, np.ndarray] | None = None  # (sum, row, ts, columns)
        self.last: tuple[int, int, np.ndarray] | None = None
        self.live: np.ndarray | None = None

    def _columns(self, b: EventBatch, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add(self, b: EventBatch) -> None:
        af = np.flatnonzero((b.event == EV["alloc"]) | (b.event == EV["free"]))
        if not len(af):
            return
        if self.live is None:
            self.live = np.zeros(self.n_columns)
        d = b.live_delta()[af].astype(np.float64)
        col = self._columns(b, af)
        n, c = len(af), self.n_columns
        total = self.live.sum() + np.cumsum(d)
        top = int(np.argmax(total))
        row = self.rows_seen + np.arange(n)
        pick = np.unique(np.r_[np.flatnonzero(row % self.stride == 0), top, n - 1])
        seg = np.searchsorted(pick, np.arange(n))  # each row counts from the first picked row at or after it
        step = np.bincount(seg * c + col, weights=d, minlength=len(pick) * c).reshape(len(pick), c)
        values = self.live + np.cumsum(step, axis=0)
        self.live = values[-1].copy()
        at_top = int(np.searchsorted(pick, top))
        if self.peak is None or total[top] > self.peak[0]:
            self.peak = (float(total[top]), int(row[top]), int(b.ts_ns[af[top]]), values[at_top].copy())
        self.last = (int(row[-1]), int(b.ts_ns[af[-1]]), values[-1].copy())
        even = row[pick] % self.stride == 0
        self.at.append(row[pick][even])
        self.ts_parts.append(b.ts_ns[af][pick][even])
        self.parts.append(values[even])
        self.held += int(even.sum())
        self.rows_seen += n
        while self.held > 2 * MAX_POINTS:
            self.stride *= 2
            at, ts, live = np.concatenate(self.at), np.concatenate(self.ts_parts), np.concatenate(self.parts)
            keep = at % self.stride == 0
            self.at, self.ts_parts, self.parts = [at[keep]], [ts[keep]], [live[keep]]
            self.held = int(keep.sum())

    def curves(self) -> tuple[np.ndarray, np.ndarray]:
        if self.last is None:
            return np.zeros(0), np.zeros((0, self.n_columns))
        extra = [self.peak[1:], self.last]
        at = np.concatenate(self.at + [np.array([e[0] for e in extra], dtype=np.int64)])
        ts = np.concatenate(self.ts_parts + [np.array([e[1] for e in extra], dtype=np.int64)])
        live = np.concatenate(self.parts + [np.array([e[2] for e in extra])])
        _, first = np.unique(at, return_index=True)  # by row, each once
        ts, live = ts[first], live[first]
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
