"""Tensor granularity: one buffer per tensor, each op's accesses summed with counts.

The rule, applied op by op (rows between op_begin and op_end), is the contract that makes
"aggregate a ciphertext trace" equal "record at tensor granularity":
- one alloc row per tensor whose live count rose during the op, by tensor id: count = peak live
  in the op minus live at op start (temporaries: their peak, usually 1); level and prim of the
  tensor's first alloc in the op;
- one read/write row per (tensor, level, prim, read/write), in that sort order, with the count
  and bytes summed and the first event's timestamp;
- one free row per tensor, by tensor id: count = peak live in the op minus live at op end;
  level of the tensor's last free in the op.
The order is canonical (sorted), not chronological, so that plan mode can produce the same rows
from loop counts without replaying every ciphertext.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from hetier.formats.trace import EV, PRIM, EventBatch


def carry_live(live: dict[int, int], alloc_tensors, alloc_counts, free_tensors, free_counts) -> None:
    """Carry per-tensor live ciphertext counts past an op's alloc rows, then its free rows; a tensor
    whose count reaches zero leaves ``live`` (the one live-count rule of the tracer and simulator)."""
    for t, c in zip(alloc_tensors.tolist(), alloc_counts.tolist()):
        live[t] = live.get(t, 0) + c
    for t, c in zip(free_tensors.tolist(), free_counts.tolist()):
        left = live.get(t, 0) - c
        if left > 0:
            live[t] = left
        else:
            live.pop(t, None)


class TensorAggregator:
    """Aggregates consecutive ops, carrying each tensor's live count from op to op."""

    def __init__(self) -> None:
        self.live: dict[int, int] = {}

    def aggregate_op(self, ev: EventBatch) -> EventBatch:
        is_af = (ev.event == EV["alloc"]) | (ev.event == EV["free"])
        is_rw = (ev.event == EV["read"]) | (ev.event == EV["write"])
        parts = [ev.take(np.flatnonzero(ev.event == EV["op_begin"]))]
        frees = []
        af = np.flatnonzero(is_af)
        if len(af):
            tensors = ev.tensor[af]
            delta = np.where(ev.event[af] == EV["alloc"], ev.count[af], -ev.count[af])
            order = np.argsort(tensors, kind="stable")
            ts_sorted = tensors[order]
            uniq, start = np.unique(ts_sorted, return_index=True)
            csum = np.cumsum(delta[order])
            offset = np.repeat(np.concatenate([[0], csum[start[1:] - 1]]), np.diff(np.append(start, len(order))))
            within = csum - offset  # live change since op start, per tensor, in event order
            peak = np.maximum.reduceat(within, start)
            peak = np.maximum(peak, 0)
            final = within[np.append(start[1:], len(order)) - 1]
            alloc_rows, free_rows = [], []
            for j, t in enumerate(uniq):
                idx = af[order[start[j]:(start[j + 1] if j + 1 < len(start) else len(order))]]
                unit = _unit_bytes(ev, idx)
                before = self.live.get(int(t), 0)
                if peak[j] > 0:
                    first = idx[ev.event[idx] == EV["alloc"]][0]
                    alloc_rows.append((first, int(peak[j]), unit))
                n_free = int(peak[j] - final[j])
                if n_free > 0:
                    last = idx[ev.event[idx] == EV["free"]][-1]
                    free_rows.append((last, n_free, unit))
                after = before + int(final[j])
                if after:
                    self.live[int(t)] = after
                else:
                    self.live.pop(int(t), None)
            parts.append(_rows(ev, alloc_rows, EV["alloc"], None))
            frees.append(_rows(ev, free_rows, EV["free"], PRIM["free"]))
        rw = np.flatnonzero(is_rw)
        if len(rw):
            parts.append(sum_accesses(ev, rw, ev.count[rw], ev.nbytes[rw]))
        parts.extend(frees)
        parts.append(ev.take(np.flatnonzero(ev.event == EV["op_end"])))
        return EventBatch.concat(parts)


def sum_accesses(ev: EventBatch, rw: np.ndarray, count: np.ndarray, nbytes: np.ndarray) -> EventBatch:
    """One row per (tensor, level, prim, read/write) of the read/write events ``rw`` of ``ev``,
    in that (canonical) order, with ``count`` and ``nbytes`` summed and the first event's other
    columns."""
    # one int64 per key: a 1-D unique is far faster than a unique over rows
    key = (((ev.tensor[rw] * 128 + ev.level[rw]) * 64 + ev.prim[rw]) * 2 + (ev.event[rw] == EV["write"]))
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    g = ev.take(rw[first])
    g.buffer = g.tensor.copy()
    g.count = np.bincount(inverse, weights=count).astype(np.int64)
    g.nbytes = np.zeros(len(first), dtype=np.int64)
    np.add.at(g.nbytes, inverse, nbytes)
    return g


def split_ops(batches) -> Iterator[EventBatch]:
    """The events of each complete op (op_begin .. op_end) of a stream of batches; an op cut
    off by a truncated trace is not yielded."""
    pending: list[EventBatch] = []
    for b in batches:
        start = 0
        for e in np.flatnonzero(b.event == EV["op_end"]):
            pending.append(b.take(np.arange(start, e + 1)))
            yield EventBatch.concat(pending)
            pending, start = [], e + 1
        if start < len(b):
            pending.append(b.take(np.arange(start, len(b))))


def _unit_bytes(ev: EventBatch, idx: np.ndarray) -> int:
    """Bytes of one buffer of the tensor (alloc/free rows carry count x unit)."""
    return int(ev.nbytes[idx[0]] // max(int(ev.count[idx[0]]), 1))


def _rows(ev: EventBatch, rows: list, event: int, prim: int | None) -> EventBatch:
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    out = ev.take(idx)
    out.event = np.full(len(idx), event, dtype=np.int8)
    out.buffer = out.tensor.copy()
    out.count = np.array([r[1] for r in rows], dtype=np.int64)
    out.nbytes = np.array([r[1] * r[2] for r in rows], dtype=np.int64)
    if prim is not None:
        out.prim = np.full(len(idx), prim, dtype=np.int8)
    return out


def aggregate_events(batches) -> EventBatch:
    """Aggregate a whole ciphertext-granularity event stream to tensor granularity."""
    agg = TensorAggregator()
    return EventBatch.concat([agg.aggregate_op(ev) for ev in split_ops(batches)])
