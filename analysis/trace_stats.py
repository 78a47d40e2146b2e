"""Headline numbers of a trace, computed in one streaming pass (what `hetier info` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.formats.trace import EV, KINDS, PRIMS, TraceReader


@dataclass
class TraceStats:
    """Counts, peaks and times of one trace; bytes are summed over each row's count."""

    meta: dict
    events: int = 0
    by_event: dict[str, int] = field(default_factory=dict)
    buffers_by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (allocs, bytes)
    traffic_by_prim: dict[str, tuple[int, int]] = field(default_factory=dict)  # prim -> (read B, write B)
    peak_live_bytes: int = 0
    peak_ts_ns: int = 0
    peak_layer: str = ""
    resident_peak_bytes: int = 0  # size-class pool model: sum over classes of each class's peak
    layer_ns: dict[str, int] = field(default_factory=dict)
    layers_by_kind: dict[str, int] = field(default_factory=dict)
    duration_ns: int = 0
    truncated: str | None = None


class PoolPeak:
    """Resident memory under a size-class pool (SEAL's): each block size keeps its own peak of
    live blocks, since freed blocks are reused only by blocks of the same size."""

    def __init__(self) -> None:
        self.live: dict[int, int] = {}
        self.peak: dict[int, int] = {}

    def add(self, b) -> None:
        af = np.flatnonzero((b.event == EV["alloc"]) | (b.event == EV["free"]))
        unit = b.nbytes[af] // np.maximum(b.count[af], 1)
        for u in np.unique(unit):
            m = af[unit == u]
            d = np.where(b.event[m] == EV["alloc"], b.count[m], -b.count[m])
            c = self.live.get(int(u), 0) + np.cumsum(d)
            self.peak[int(u)] = max(self.peak.get(int(u), 0), int(c.max()))
            self.live[int(u)] = int(c[-1])

    def resident_bytes(self) -> int:
        return sum(u * n for u, n in self.peak.items())


def trace_stats(path: str, allow_truncated: bool = True) -> TraceStats:
    with TraceReader(path) as r:
        st = TraceStats(r.meta)
        names = r.layer_names
        for l in r.meta["layers"]:
            st.layers_by_kind[l["kind"]] = st.layers_by_kind.get(l["kind"], 0) + 1
        live = 0
        pool = PoolPeak()
        begin_ts = {}
        for b in r.batches():
            st.events += len(b)
            for e, n in zip(*np.unique(b.event, return_counts=True)):
                key = ("alloc", "free", "read", "write", "op_begin", "op_end")[e]
                st.by_event[key] = st.by_event.get(key, 0) + int(n)
            al = b.event == EV["alloc"]
            fr = b.event == EV["free"]
            for k in np.unique(b.kind[al]):
                m = al & (b.kind == k)
                c, nb = st.buffers_by_kind.get(KINDS[k], (0, 0))
                st.buffers_by_kind[KINDS[k]] = (c + int(b.count[m].sum()), nb + int(b.nbytes[m].sum()))
            for p in np.unique(b.prim[(b.event == EV["read"]) | (b.event == EV["write"])]):
                rd = int(b.nbytes[(b.event == EV["read"]) & (b.prim == p)].sum())
                wr = int(b.nbytes[(b.event == EV["write"]) & (b.prim == p)].sum())
                r0, w0 = st.traffic_by_prim.get(PRIMS[p], (0, 0))
                st.traffic_by_prim[PRIMS[p]] = (r0 + rd, w0 + wr)
            delta = np.where(al, b.nbytes, np.where(fr, -b.nbytes, 0))
            curve = live + np.cumsum(delta)
            if len(curve):
                i = int(np.argmax(curve))
                if curve[i] > st.peak_live_bytes:
                    st.peak_live_bytes = int(curve[i])
                    st.peak_ts_ns = int(b.ts_ns[i])
                    st.peak_layer = names[b.layer[i]]
                live = int(curve[-1])
            pool.add(b)
            for i in np.flatnonzero(b.event == EV["op_begin"]):
                begin_ts[int(b.layer[i])] = int(b.ts_ns[i])
            for i in np.flatnonzero(b.event == EV["op_end"]):
                layer = int(b.layer[i])
                st.layer_ns[names[layer]] = st.layer_ns.get(names[layer], 0) + int(b.ts_ns[i]) - begin_ts.pop(layer, int(b.ts_ns[i]))
                st.duration_ns = max(st.duration_ns, int(b.ts_ns[i]))
        st.resident_peak_bytes = pool.resident_bytes()
        if r.truncated:
            st.truncated = r.truncation_message()
    return st


def require_events(path: str) -> dict:
    """The trace's metadata, or a HetierError if it holds no complete event (an empty or cut
    trace would give a report of zeros). Reads up to the first non-empty batch only."""
    from hetier.errors import HetierError

    with TraceReader(path) as r:
        for b in r.batches():
            if len(b):
                return r.meta
        why = r.truncation_message() if r.truncated else f"trace '{path}' ends without events"
    raise HetierError(f"{why}: no events to show")
