"""A trace as the simulator sees it: one op per layer, with its per-tensor traffic.

Ciphertext-granularity traces are aggregated to tensor granularity on the way in (streaming,
an op over several batches piece by piece, never joined), so replay cost does not grow with the
number of ciphertexts and memory does not grow with an op's events. Each op keeps its recorded
duration, its allocation and free rows, and one access row per (tensor, read/write) with the
bytes, the ciphertext-level count and the tensor's live footprint during the op (what a CPU
cache could hold of it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from hetier.errors import HetierError
from hetier.formats.granularity import OpAggregator, op_pieces
from hetier.formats.live_counts import LiveBytes, carry_live, live_with
from hetier.formats.identity import trace_identity
from hetier.formats.seal_pool import ResidentPeak
from hetier.formats.trace import EV, KINDS, EventBatch, TraceReader


@dataclass
class Op:
    """One layer's work: recorded time, allocations, frees and per-tensor accesses."""

    index: int
    layer: int
    name: str
    kind: str
    duration_ns: int
    alloc_tensor: np.ndarray
    alloc_count: np.ndarray
    alloc_unit: np.ndarray  # bytes of one buffer
    free_tensor: np.ndarray
    free_count: np.ndarray
    acc_tensor: np.ndarray
    acc_write: np.ndarray  # bool
    acc_bytes: np.ndarray
    acc_count: np.ndarray
    acc_footprint: np.ndarray  # live bytes of the tensor during the op
    parallelism: int  # independent output ciphertexts (data parallelism within the op)
    serial_rows: int = 0  # the last rows of acc_*: the serial part's reads, after the others, on one thread


@dataclass
class Workload:
    """The ops of a trace plus what the simulator needs to know about each tensor."""

    meta: dict
    ops: list[Op]
    tensor_kind: dict[int, str]
    tensor_unit: dict[int, int]
    events_read: int
    truncated: bool
    trace_id: dict = field(default_factory=dict)
    op_cpu_ns: list[list[int]] = field(default_factory=list)  # per op [thread, process] CPU ns, if recorded
    live_peak_bytes: int = 0  # peak of allocated, not yet freed bytes
    resident_peak_bytes: int = 0  # the process's peak under SEAL's pool model plus live host memory (formats/seal_pool)


def _op_from_events(ev: EventBatch, index: int, names: list[str], kinds: list[str],
                    live: dict[int, int], unit: dict[int, int], tkind: dict[int, str]) -> Op:
    layer = int(ev.layer[0])
    t0 = ev.ts_ns[ev.event == EV["op_begin"]]
    t1 = ev.ts_ns[ev.event == EV["op_end"]]
    dur = int(t1[-1] - t0[0]) if len(t0) and len(t1) else 0
    al = ev.event == EV["alloc"]
    fr = ev.event == EV["free"]
    a_t, a_c = ev.tensor[al], ev.count[al]
    a_u = ev.nbytes[al] // np.maximum(a_c, 1)
    for t, u, k in zip(a_t.tolist(), a_u.tolist(), ev.kind[al].tolist()):
        unit[t] = u
        tkind[t] = KINDS[k]
    # footprint: live count before the op plus what the op allocates (the op's peak, per tensor)
    peak = live_with(live, a_t, a_c)
    carry_live(live, a_t, a_c, ev.tensor[fr], ev.count[fr])  # the masks above, not computed again
    rw = np.flatnonzero((ev.event == EV["read"]) | (ev.event == EV["write"]))
    if len(rw):
        key = ev.tensor[rw] * 2 + (ev.event[rw] == EV["write"])
        uk, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        nbytes = np.bincount(inv, weights=ev.nbytes[rw]).astype(np.int64)
        count = np.bincount(inv, weights=ev.count[rw]).astype(np.int64)
        tensors = uk // 2
        foot = np.array([peak.get(int(t), 0) * unit.get(int(t), 0) for t in tensors], dtype=np.int64)
    else:
        tensors = np.zeros(0, dtype=np.int64)
        uk = nbytes = count = foot = tensors
    ct_allocs = [c for c, k in zip(a_c.tolist(), ev.kind[al].tolist()) if KINDS[k] == "ciphertext"]
    return Op(index=index, layer=layer, name=names[layer], kind=kinds[layer], duration_ns=dur,
              alloc_tensor=a_t, alloc_count=a_c, alloc_unit=a_u,
              free_tensor=ev.tensor[fr], free_count=ev.count[fr],
              acc_tensor=tensors, acc_write=(uk % 2 == 1), acc_bytes=nbytes, acc_count=count,
              acc_footprint=foot, parallelism=max(1, max(ct_allocs, default=1)))


def load_workload(path: str, allow_truncated: bool = False) -> Workload:
    """Read a trace (either granularity) into ops; a truncated trace needs ``allow_truncated``."""
    with TraceReader(path) as r:
        names = r.layer_names
        kinds = [l["kind"] for l in r.meta["layers"]]
        aggregate = r.meta["granularity"] == "ciphertext"
        ops: list[Op] = []
        live: dict[int, int] = {}
        unit: dict[int, int] = {}
        tkind: dict[int, str] = {}
        resident, live_bytes = ResidentPeak(), LiveBytes()
        rows = None  # the current op's: an OpAggregator (ciphertext granularity) or its pieces
        before = None  # the peaks before the current op (an op a truncated trace cuts off does not count)
        last = True
        for piece, first, last in op_pieces(r.batches()):  # an op over several batches is never joined
            if first:
                rows = OpAggregator() if aggregate else []
                before = (copy.deepcopy(resident), copy.deepcopy(live_bytes))
            resident.add(piece)  # the trace's own rows, as `hetier info` reads them
            live_bytes.add(piece)
            if aggregate:
                rows.add(piece)
            else:
                rows.append(piece)
            if last:
                ev = rows.finish() if aggregate else EventBatch.concat(rows)
                ops.append(_op_from_events(ev, len(ops), names, kinds, live, unit, tkind))
        if not last:
            resident, live_bytes = before
        if r.truncated and not allow_truncated:
            raise HetierError(r.truncation_message() + " (use --allow-truncated to replay its complete ops)")
        meta, events, truncated, cpu = r.meta, r.events_read, r.truncated, r.op_cpu_ns
    if not ops:
        raise HetierError(f"trace '{path}' has no complete op")
    return Workload(meta, ops, tkind, unit, events, truncated, trace_identity(path, meta), cpu[:len(ops)],
                    live_bytes.peak, resident.best)
