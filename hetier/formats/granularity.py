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

from hetier.formats.key_groups import unique_first_inverse
from hetier.formats.live_counts import live_changes
from hetier.formats.trace import EV, PRIM, EventBatch


def aggregate_op(ev: EventBatch) -> EventBatch:
    """The tensor-granularity rows of one op's events (op_begin .. op_end). The rows depend on the
    op's own events only: counts are changes since the op began (``live_changes``)."""
    is_af = (ev.event == EV["alloc"]) | (ev.event == EV["free"])
    is_rw = (ev.event == EV["read"]) | (ev.event == EV["write"])
    parts = [ev.take(np.flatnonzero(ev.event == EV["op_begin"]))]
    frees = []
    af = np.flatnonzero(is_af)
    if len(af):
        ch = live_changes(ev.tensor[af], np.where(ev.event[af] == EV["alloc"], ev.count[af], -ev.count[af]))
        peak, final = ch.peak, ch.final
        alloc_rows, free_rows = [], []
        for j in range(len(ch.keys)):
            idx = af[ch.order[ch.span(j)]]
            unit = _unit_bytes(ev, idx)
            if peak[j] > 0:
                first = idx[ev.event[idx] == EV["alloc"]][0]
                alloc_rows.append((first, int(peak[j]), unit))
            n_free = int(peak[j] - final[j])
            if n_free > 0:
                last = idx[ev.event[idx] == EV["free"]][-1]
                free_rows.append((last, n_free, unit))
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
    _, first, inverse = unique_first_inverse(key)
    g = ev.take(rw[first])
    g.buffer = g.tensor.copy()
    g.count = np.bincount(inverse, weights=count).astype(np.int64)
    g.nbytes = np.zeros(len(first), dtype=np.int64)
    np.add.at(g.nbytes, inverse, nbytes)
    return g


class OpAggregator:
    """``aggregate_op`` of one op whose events come in pieces, in order: the same rows, in memory
    that follows the op's tensors and access keys, not its events (an op of a large dense layer
    holds tens of millions of ciphertext events)."""

    def __init__(self) -> None:
        self.begins: list[EventBatch] = []
        self.ends: list[EventBatch] = []
        self.rw: EventBatch | None = None  # access rows so far: first event's columns, sums
        # tensor -> [first alloc row, unit bytes, last free row, change so far, highest rise so far]
        self.tensors: dict[int, list] = {}

    def add(self, ev: EventBatch) -> None:
        self.begins.append(ev.take(np.flatnonzero(ev.event == EV["op_begin"])))
        self.ends.append(ev.take(np.flatnonzero(ev.event == EV["op_end"])))
        af = np.flatnonzero((ev.event == EV["alloc"]) | (ev.event == EV["free"]))
        if len(af):
            ch = live_changes(ev.tensor[af], np.where(ev.event[af] == EV["alloc"], ev.count[af], -ev.count[af]))
            for j, (t, peak, final) in enumerate(zip(ch.keys.tolist(), ch.peak.tolist(), ch.final.tolist())):
                idx = af[ch.order[ch.span(j)]]
                st = self.tensors.get(t)
                if st is None:
                    st = self.tensors[t] = [None, _unit_bytes(ev, idx), None, 0, 0]
                allocs, frees = idx[ev.event[idx] == EV["alloc"]], idx[ev.event[idx] == EV["free"]]
                if st[0] is None and len(allocs):
                    st[0] = ev.take(allocs[:1])
                if len(frees):
                    st[2] = ev.take(frees[-1:])
                st[4] = max(st[4], st[3] + peak)
                st[3] += final
        rw = np.flatnonzero((ev.event == EV["read"]) | (ev.event == EV["write"]))
        if len(rw):
            part = sum_accesses(ev, rw, ev.count[rw], ev.nbytes[rw])
            if self.rw is not None:
                both = EventBatch.concat([self.rw, part])
                part = sum_accesses(both, np.arange(len(both)), both.count, both.nbytes)
            self.rw = part

    def finish(self) -> EventBatch:
        """The op's tensor-granularity rows, as ``aggregate_op`` gives them."""
        parts = list(self.begins)
        grown = [(t, st) for t, st in sorted(self.tensors.items()) if st[4] > 0]
        shrunk = [(t, st) for t, st in sorted(self.tensors.items()) if st[4] - st[3] > 0]
        if grown:
            parts.append(_rows_of([st[0] for _, st in grown], [(st[4], st[1]) for _, st in grown], EV["alloc"], None))
        if self.rw is not None:
            parts.append(self.rw)
        if shrunk:
            parts.append(_rows_of([st[2] for _, st in shrunk], [(st[4] - st[3], st[1]) for _, st in shrunk],
                                  EV["free"], PRIM["free"]))
        parts.extend(self.ends)
        return EventBatch.concat(parts)


def _rows_of(rows: list[EventBatch], counts: list[tuple[int, int]], event: int, prim: int | None) -> EventBatch:
    """``_rows`` for rows already taken: (count, unit bytes) each."""
    out = EventBatch.concat(rows)
    out.event = np.full(len(out), event, dtype=np.int8)
    out.buffer = out.tensor.copy()
    out.count = np.array([c for c, _ in counts], dtype=np.int64)
    out.nbytes = np.array([c * u for c, u in counts], dtype=np.int64)
    if prim is not None:
        out.prim = np.full(len(out), prim, dtype=np.int8)
    return out


def op_pieces(batches) -> Iterator[tuple[EventBatch, bool, bool]]:
    """(piece, first, last) for the events of each complete op of a stream of batches, in order,
    an op's pieces never crossing its bounds: an op within one batch is one piece (a view of its
    rows: read them, do not write them), an op over several batches one piece per batch, so no
    op is ever joined in memory. An op cut off by a truncated trace ends without a last piece."""
    first = True
    for b in batches:
        start = 0
        for e in np.flatnonzero(b.event == EV["op_end"]).tolist():
            yield b.rows(start, e + 1), first, True
            first, start = True, e + 1
        if start < len(b):
            yield b.rows(start, len(b)), first, False
            first = False


def split_ops(batches) -> Iterator[EventBatch]:
    """The events of each complete op (op_begin .. op_end) of a stream of batches; an op cut
    off by a truncated trace is not yielded. An op within one batch is a view of its rows (read
    them, do not write them); an op over several batches is its ``op_pieces`` joined."""
    pending: list[EventBatch] = []
    for piece, first, last in op_pieces(batches):
        pending = [piece] if first else pending + [piece]
        if last:
            yield EventBatch.concat(pending) if len(pending) > 1 else pending[0]


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


def aggregated_ops(batches) -> Iterator[EventBatch]:
    """The tensor-granularity rows of each complete op of a ciphertext-granularity stream, each op
    aggregated piece by piece (``OpAggregator``: the rows ``aggregate_op`` gives the whole op)."""
    agg = OpAggregator()
    for piece, first, last in op_pieces(batches):
        if first:
            agg = OpAggregator()
        agg.add(piece)
        if last:
            yield agg.finish()


def aggregate_events(batches) -> EventBatch:
    """Aggregate a whole ciphertext-granularity event stream to tensor granularity."""
    return EventBatch.concat(list(aggregated_ops(batches)))
