"""Per-tensor summary of a whole workload, for policies that plan over the run, not per allocation.

For each tensor: kind, peak live bytes, the op (and layer) that first allocates it, the first and
last op that touch it, and per op its read and write bytes after the CPU cache (the traffic the
engine sends to memory). Also the live bytes of every tensor at each op's peak instant (after the
op's allocations, before its frees): a static placement fits at every moment iff it fits there,
because between two such instants the live set only shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.formats.live_counts import add_live, release_live
from hetier.simulator.workload import Workload


@dataclass
class TensorSummary:
    """What a whole-workload policy knows of one tensor."""

    tensor: int
    kind: str
    nbytes: int  # peak live bytes
    alloc_op: int  # op of its first allocation (-1: never allocated in the trace)
    alloc_layer: int
    site: str  # allocation site: allocating layer's name and the kind
    first_op: int
    last_op: int
    reads: dict[int, float] = field(default_factory=dict)  # op -> bytes read from memory
    writes: dict[int, float] = field(default_factory=dict)  # op -> bytes written to memory
    live: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # bytes at each op peak, first_op..last_op

    @property
    def read_bytes(self) -> float:
        return float(sum(self.reads.values()))

    @property
    def write_bytes(self) -> float:
        return float(sum(self.writes.values()))

    @property
    def lifetime_ops(self) -> int:
        return self.last_op - self.first_op + 1

    @property
    def density(self) -> float:
        """Bytes accessed per byte of footprint (0 for a tensor that never holds bytes)."""
        return (self.read_bytes + self.write_bytes) / self.nbytes if self.nbytes else 0.0

    def live_at(self, op: int) -> int:
        """Live bytes at op ``op``'s peak instant."""
        if op < self.first_op or op > self.last_op:
            return 0
        return int(self.live[op - self.first_op])


@dataclass
class TensorLifetimes:
    """Tensor summaries (ascending tensor id) of one workload at one CPU-cache size."""

    tensors: list[TensorSummary]
    n_ops: int
    peak_live: np.ndarray  # total live bytes at each op's peak instant

    def by_id(self) -> dict[int, TensorSummary]:
        return {s.tensor: s for s in self.tensors}


def tensor_lifetimes(workload: Workload, llc_bytes: int) -> TensorLifetimes:
    """Summarise every tensor once; traffic is filtered by a CPU cache of ``llc_bytes`` as the engine does."""
    from hetier.simulator.demands import llc_filter

    n = len(workload.ops)
    live: dict[int, int] = {}
    summaries: dict[int, TensorSummary] = {}
    peaks: dict[int, dict[int, int]] = {}  # tensor -> op -> live bytes at the op's peak
    peak_live = np.zeros(n, dtype=np.int64)

    def summary(t: int, op) -> TensorSummary:
        s = summaries.get(t)
        if s is None:
            kind = workload.tensor_kind.get(t, "ciphertext")
            s = summaries[t] = TensorSummary(t, kind, 0, -1, -1, f"{op.name}:{kind}", op.index, op.index)
        s.last_op = op.index
        return s

    for op in workload.ops:
        for t in op.alloc_tensor.tolist():
            s = summary(t, op)
            if s.alloc_op < 0:
                s.alloc_op, s.alloc_layer, s.site = op.index, op.layer, f"{op.name}:{s.kind}"
        add_live(live, op.alloc_tensor, op.alloc_count * op.alloc_unit)
        traffic = llc_filter(op.acc_bytes, op.acc_footprint, llc_bytes)
        for t, w, b in zip(op.acc_tensor.tolist(), op.acc_write.tolist(), traffic.tolist()):
            d = (summary(t, op).writes if w else summary(t, op).reads)
            d[op.index] = d.get(op.index, 0.0) + b
        for t, b in live.items():
            if b:
                peaks.setdefault(t, {})[op.index] = b
                summaries[t].nbytes = max(summaries[t].nbytes, b)
        peak_live[op.index] = sum(live.values())
        freed = op.free_tensor.tolist()
        for t in freed:
            summary(t, op)
        release_live(live, freed, [c * workload.tensor_unit.get(t, 0) for t, c in zip(freed, op.free_count.tolist())])
    out = []
    for t in sorted(summaries):
        s = summaries[t]
        p = peaks.get(t, {})
        if p:
            s.first_op = min(s.first_op, min(p))
            s.last_op = max(s.last_op, max(p))
        s.live = np.zeros(s.last_op - s.first_op + 1, dtype=np.int64)
        for o, b in p.items():
            s.live[o - s.first_op] = b
        out.append(s)
    return TensorLifetimes(out, n, peak_live)


def peak_live_bytes(workload: Workload) -> int:
    """The workload's peak of live bytes (allocated, not yet freed), over all ops."""
    lifetimes = tensor_lifetimes(workload, 0)
    return int(lifetimes.peak_live.max()) if lifetimes.n_ops else 0
