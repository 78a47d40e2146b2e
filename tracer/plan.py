"""Plan mode at tensor granularity: the kernels' loops counted, not run.

The plan backend runs each kernel (kernels.py, the same code the real run executes) once per
loop level with a representative index and records ``count`` repetitions: an op becomes a tree of
``Loop``s of ``Item``s (primitives on representative buffers), and ``aggregate_plan`` turns loop
counts into the op's tensor rows directly, so ResNet-50 at batch 2048 plans in seconds without
visiting its billions of ciphertext events. Tests hold it to the real runtime's traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hetier.formats.trace import EV, KIND, PRIM, EventBatch
from hetier.formats.granularity import sum_accesses
from hetier.tracer.params import HEParams
from hetier.tracer.recorder import _N_ROWS, _T, Recorder
from hetier.tracer.symbolic import SymbolicBackend

_ROWS = tuple(_T.values())  # each template's event rows, by template code


@dataclass
class Item:
    """One primitive (a recorder template) on representative buffers (a tensor's first id)."""

    template: int
    level: int
    a: int = -1
    b: int = -1
    c: int = -1
    d: int = -1


@dataclass
class Loop:
    """``count`` repetitions of ``body`` (items and loops, in program order)."""

    count: int
    body: list = field(default_factory=list)


@dataclass
class _Frame:
    loop: Loop
    hoist: bool  # a spread loop: its count is per run of the enclosing loop
    after: list = field(default_factory=list)  # spread loops met inside, placed after this one


class PlanBackend(SymbolicBackend):
    """The symbolic backend whose loops run their body once and record their count: each op
    becomes a ``Loop`` handed to ``on_op(layer, loop)``."""

    def __init__(self, params: HEParams, rec: Recorder, on_op: Callable[[int, Loop], None]):
        super().__init__(params, rec)
        self.log = self._item
        self.on_op = on_op
        self._frames: list[_Frame] = []

    def begin_op(self, layer: int) -> None:
        self._layer = layer
        self._frames = [_Frame(Loop(1), False)]

    def end_op(self) -> None:
        root = self._frames.pop()
        root.loop.body.extend(root.after)
        self.on_op(self._layer, root.loop)

    def loop(self, n: int, items=None, rep=0):
        return self._count(n, rep, False)

    def spread(self, n: int, items=None, rep=0):
        return self._count(n, rep, True)

    def _count(self, n: int, rep, hoist: bool):
        frame = _Frame(Loop(n), hoist)
        self._frames.append(frame)
        yield rep
        self._frames.pop()
        if frame.after:
            self._check_hoist(frame)
        parent = self._frames[-1]
        into = parent.after if hoist else parent.loop.body
        into.append(frame.loop)
        into.extend(frame.after)

    def _check_hoist(self, frame: _Frame) -> None:
        """A spread loop moves after its enclosing loop: sound for the tensor rows only if no
        tensor is allocated or freed both inside the spread loops and in the enclosing body."""
        tensor_of = self.rec.tensors.tensor_of
        inside = _alloc_tensors(frame.loop.body, tensor_of)
        spread = _alloc_tensors(frame.after, tensor_of)
        if inside & spread:
            raise RuntimeError(f"kernel of layer {self._layer}: a spread loop allocates tensor(s) "
                               f"{sorted(inside & spread)} that its enclosing loop also allocates")

    def _item(self, t: tuple) -> None:
        self._frames[-1].loop.body.append(Item(*t[:6]))


def _alloc_tensors(nodes: list, tensor_of) -> set[int]:
    """Tensors allocated or freed by the items of ``nodes`` (loops that run)."""
    out: set[int] = set()
    for node in nodes:
        if isinstance(node, Item):
            out.update(t for t, _, _, _ in _tensor_deltas(node, tensor_of))
        elif node.count > 0:
            out |= _alloc_tensors(node.body, tensor_of)
    return out


def _walk_totals(node, mult: int, totals: dict) -> None:
    if isinstance(node, Item):
        key = (node.template, node.level, node.a, node.b, node.c, node.d)
        totals[key] = totals.get(key, 0) + mult
        return
    if node.count <= 0:
        return
    for child in node.body:
        _walk_totals(child, mult * node.count, totals)


def _tensor_deltas(item: Item, tensor_of) -> list[tuple[int, int, int, int]]:
    """(tensor, +1/-1, level, prim) for each alloc/free in one execution of ``item``."""
    out = []
    for row in _ROWS[item.template]:
        ev, slot, prim = row[0], row[1], row[2]
        if ev in ("alloc", "free"):
            buf = (item.a, item.b, item.c, item.d)[slot]
            dlevel = row[4] if len(row) > 4 else 0
            out.append((tensor_of(buf), 1 if ev == "alloc" else -1, item.level + dlevel, PRIM[prim]))
    return out


def _summary(node, tensor_of, memo: dict) -> dict[int, tuple[int, int]]:
    """Per tensor (net change, highest point above the start) over one execution of ``node``."""
    key = id(node)
    if key in memo:
        return memo[key]
    if isinstance(node, Item):
        res: dict[int, tuple[int, int]] = {}
        for t, d, _, _ in _tensor_deltas(node, tensor_of):
            net, high = res.get(t, (0, 0))
            res[t] = (net + d, max(high, net + d))
    else:
        seq: dict[int, tuple[int, int]] = {}
        for child in node.body:
            for t, (d, m) in _summary(child, tensor_of, memo).items():
                net, high = seq.get(t, (0, 0))
                seq[t] = (net + d, max(high, net + m))
        k = node.count
        res = {} if k <= 0 else {t: (k * d, m + max(d, 0) * (k - 1)) for t, (d, m) in seq.items()}
    memo[key] = res
    return res


def _first_last(node, tensor_of, first: dict, last: dict) -> None:
    """Level and prim of each tensor's first alloc and last free, in program order."""
    if isinstance(node, Item):
        for t, d, lvl, prim in _tensor_deltas(node, tensor_of):
            if d > 0:
                first.setdefault(t, (lvl, prim))
            else:
                last[t] = lvl
        return
    if node.count > 0:
        for child in node.body:
            _first_last(child, tensor_of, first, last)


def aggregate_plan(rec: Recorder, op: Loop, layer: int, ts: int, ts_end: int) -> EventBatch:
    """The tensor-granularity rows of one planned op (canonical order, as granularity.py)."""
    base, kinds, caps = rec.tensors.arrays()
    tensor_of = rec.tensors.tensor_of
    totals: dict = {}
    _walk_totals(op, 1, totals)
    parts = []
    if totals:
        keys = list(totals)
        tuples = [(k[0], k[1], k[2], k[3], k[4], k[5], ts + rec._t0) for k in keys]
        ev = rec.expand(tuples, layer, ts, ts)
        body = ev.take(np.arange(1, len(ev) - 1))
        n_rows = np.array([_N_ROWS[k[0]] for k in keys])
        mult = np.repeat(np.array([totals[k] for k in keys], dtype=np.int64), n_rows)
        rw = np.flatnonzero((body.event == EV["read"]) | (body.event == EV["write"]))
        rw_rows = sum_accesses(body, rw, mult[rw], body.nbytes[rw] * mult[rw]) if len(rw) else None
    summ = _summary(op, tensor_of, {})
    first, last = {}, {}
    _first_last(op, tensor_of, first, last)
    allocs, frees = [], []
    for t in sorted(summ):
        net, high = summ[t]
        if high > 0:
            lvl, prim = first[t]
            allocs.append((t, high, lvl, prim, EV["alloc"]))
        if high - net > 0:
            frees.append((t, high - net, last[t], PRIM["free"], EV["free"]))
    begin = _op_row(EV["op_begin"], layer, ts)
    parts.append(begin)
    if allocs:
        parts.append(_af_rows(allocs, kinds, caps, base, layer, ts))
    if totals and rw_rows is not None:
        rw_rows.ts_ns = np.full(len(rw_rows), ts, dtype=np.int64)
        parts.append(rw_rows)
    if frees:
        parts.append(_af_rows(frees, kinds, caps, base, layer, ts))
    parts.append(_op_row(EV["op_end"], layer, ts_end))
    return EventBatch.concat(parts)


def _op_row(event: int, layer: int, ts: int) -> EventBatch:
    return EventBatch(ts_ns=np.array([ts]), event=np.array([event], dtype=np.int8), buffer=np.array([-1]),
                      tensor=np.array([-1]), nbytes=np.array([0]), count=np.array([0]),
                      kind=np.array([KIND["none"]], dtype=np.int8), level=np.array([-1], dtype=np.int8),
                      layer=np.array([layer], dtype=np.int32), prim=np.array([PRIM["none"]], dtype=np.int8))


def _af_rows(rows, kinds, caps, base, layer: int, ts: int) -> EventBatch:
    t = np.array([r[0] for r in rows], dtype=np.int64)
    n = np.array([r[1] for r in rows], dtype=np.int64)
    return EventBatch(ts_ns=np.full(len(rows), ts, dtype=np.int64),
                      event=np.array([r[4] for r in rows], dtype=np.int8), buffer=t, tensor=t.copy(),
                      nbytes=n * caps[t], count=n, kind=kinds[t].astype(np.int8),
                      level=np.array([r[2] for r in rows], dtype=np.int8),
                      layer=np.full(len(rows), layer, dtype=np.int32),
                      prim=np.array([r[3] for r in rows], dtype=np.int8))


def op_cost_ns(op: Loop, table: np.ndarray) -> float:
    """Modelled duration of a planned op: count x cost per primitive."""
    totals: dict = {}
    _walk_totals(op, 1, totals)
    return float(sum(n * table[k[0], min(k[1], table.shape[1] - 1)] for k, n in totals.items()))


def op_event_count(op: Loop) -> int:
    """Events this op would have at ciphertext granularity (op rows included)."""
    totals: dict = {}
    _walk_totals(op, 1, totals)
    return 2 + int(sum(n * _N_ROWS[k[0]] for k, n in totals.items()))
