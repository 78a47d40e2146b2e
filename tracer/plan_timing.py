"""Plan-mode durations: each planned primitive costs its in-cache time from the cost model plus
the cold-traffic time of its events on tensors too big for the cache.

``ModelledRecorder`` times the symbolic backend's log (ciphertext granularity); the planner uses
the same rule on the tensor rows (tensor granularity), so both granularities agree.
"""

from __future__ import annotations

import numpy as np

from hetier.formats.trace import EV, EventBatch, TraceWriter
from hetier.formats.granularity import OpAggregator, aggregate_op
from hetier.formats.live_counts import carry_op, live_with
from hetier.tracer.params import HEParams
from hetier.tracer.recorder import Recorder


class ModelledRecorder(Recorder):
    """A recorder whose clock is the cost model's: a primitive starts when the ones before it end.

    An op of more than ``chunk`` primitives (a large dense layer: tens of millions of events,
    ~200 B each once expanded) is expanded a chunk at a time, twice (its tensors' footprints
    first, for the cold rule; then the timed events), so memory stays bounded by the chunk, not
    the op; the events are the same, byte for byte."""

    def __init__(self, params: HEParams, writer: TraceWriter | None, granularity: str, costs, table: np.ndarray):
        super().__init__(params, writer, granularity)
        self.costs, self.table = costs, table
        self.clock = 0
        self._live: dict[int, int] = {}  # tensor live counts, for the cold rule

    def now(self) -> int:
        return self.clock

    def _op_events(self, tuples: list, end: int, cpu: tuple[int, int]) -> EventBatch:
        ev, owner = self.expand(tuples, self._layer, self._op_begin, self._op_begin, owner=True)
        rows = aggregate_op(ev)
        body = ev.take(np.arange(1, len(ev) - 1))
        cold = cold_mask(body, rows, self._live, self.tensors.arrays()[2], self.costs.cache_bytes)
        arr = np.array(tuples, dtype=np.int64).reshape(-1, 7)
        lvl = np.minimum(arr[:, 1], self.table.shape[1] - 1)
        cost = self.table[arr[:, 0], lvl] + np.bincount(owner, weights=self.costs.cold_ns(body, cold),
                                                         minlength=len(arr))
        start = self._op_begin + np.concatenate([[0.0], np.cumsum(cost)[:-1]])
        ev.ts_ns[1:-1] = np.round(start[owner]).astype(np.int64)
        self.clock = int(round(self._op_begin + cost.sum()))
        ev.ts_ns[-1] = self.clock
        carry_op(self._live, rows)
        return ev

    def _op_chunks(self, arr: np.ndarray, end: int, cpu: tuple[int, int]):
        """``_op_events`` for a large op, a chunk of primitives at a time (same events)."""
        chunks = range(0, len(arr), self.chunk)
        agg = OpAggregator()  # the op's tensor rows: its tensors' peaks, for the cold rule
        for lo in chunks:
            agg.add(self.expand(arr[lo:lo + self.chunk], self._layer, 0, 0))
        rows = agg.finish()
        cold_set = cold_tensors(rows, self._live, self.tensors.arrays()[2], self.costs.cache_bytes)
        lvl = np.minimum(arr[:, 1], self.table.shape[1] - 1)
        cost = self.table[arr[:, 0], lvl]
        done = 0.0  # cost of the primitives before the chunk, summed as np.cumsum would
        for k, lo in enumerate(chunks):
            part = arr[lo:lo + self.chunk]
            ev, owner = self.expand(part, self._layer, self._op_begin, self._op_begin, owner=True)
            body = ev.take(np.arange(1, len(ev) - 1))
            rw = (body.event == EV["read"]) | (body.event == EV["write"])
            cold = rw & np.isin(body.tensor, cold_set)
            c = cost[lo:lo + len(part)]
            c += np.bincount(owner, weights=self.costs.cold_ns(body, cold), minlength=len(part))
            run = np.cumsum(np.concatenate([[done], c]))  # run[i]: cost before primitive lo + i
            body.ts_ns[:] = np.round(self._op_begin + run[:-1][owner]).astype(np.int64)
            done = float(run[-1])
            if k == 0:
                body = EventBatch.concat([ev.take(np.array([0])), body])
            yield body
        self.clock = int(round(self._op_begin + cost.sum()))
        last = ev.take(np.array([len(ev) - 1]))
        last.ts_ns[:] = self.clock
        carry_op(self._live, rows)
        yield last


def cold_tensors(rows: EventBatch, live_before: dict[int, int], caps: np.ndarray, cache_bytes: int) -> np.ndarray:
    """The tensors whose footprint in one op exceeds the cache: live before the op plus the op's
    peak allocation, as the op's tensor rows (``rows``) carry it."""
    al = rows.event == EV["alloc"]
    foot = live_with(live_before, rows.tensor[al], rows.count[al])
    return np.array(sorted(t for t, n in foot.items() if n * int(caps[t]) > cache_bytes), dtype=np.int64)


def cold_mask(ev: EventBatch, rows: EventBatch, live_before: dict[int, int], caps: np.ndarray,
              cache_bytes: int) -> np.ndarray:
    """Which read/write events of one op (``ev``, either granularity) touch a tensor too big for
    the cache (``cold_tensors``). Those events stream from memory."""
    rw = (ev.event == EV["read"]) | (ev.event == EV["write"])
    return rw & np.isin(ev.tensor, cold_tensors(rows, live_before, caps, cache_bytes))
