"""Headline numbers of a trace, computed in one streaming pass (what `hetier info` prints)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hetier.analysis.event_metrics import BuffersByKind, EventCounts, LivePeak, OpTimes, PoolPeak, TrafficByPrim
from hetier.analysis.trace_pass import TracePass, run_pass


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
    resident_peak_bytes: int = 0  # SEAL's pool (each size class grown in batches to its peak) plus live host memory (formats/seal_pool.py)
    layer_ns: dict[str, int] = field(default_factory=dict)
    layers_by_kind: dict[str, int] = field(default_factory=dict)
    duration_ns: int = 0
    truncated: str | None = None


def trace_stats(source: str | os.PathLike | TracePass) -> TraceStats:
    """The headline numbers of a trace path (or an opened TracePass), in one pass; a truncated
    trace gives those of its complete batches and says so in ``truncated``."""
    counts, ops, peak, pool, kinds, prims = EventCounts(), OpTimes(), LivePeak(), PoolPeak(), BuffersByKind(), TrafficByPrim()
    tp = run_pass(source, [counts, ops, peak, pool, kinds, prims])
    names = tp.layer_names
    st = TraceStats(tp.meta, events=tp.events, by_event=counts.result, buffers_by_kind=kinds.result,
                    traffic_by_prim=prims.result, peak_live_bytes=peak.result.bytes, peak_ts_ns=peak.result.ts_ns,
                    peak_layer=peak.result.layer, resident_peak_bytes=pool.result, duration_ns=ops.result.duration_ns,
                    truncated=tp.truncated)
    for layer in tp.meta["layers"]:
        st.layers_by_kind[layer["kind"]] = st.layers_by_kind.get(layer["kind"], 0) + 1
    for layer, ns in ops.result.ns.items():
        st.layer_ns[names[layer]] = st.layer_ns.get(names[layer], 0) + ns
    return st
