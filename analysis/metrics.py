"""Access-pattern analyses of a trace, computed in one streaming pass (trace_pass.py; bounded memory per batch).

``analyze(path)`` returns plain tables (dicts of lists / numpy arrays) that the reports render:
live bytes over time by kind and by allocating layer (downsampled, peak kept), per allocation
site lifetimes and reads/writes per byte (the DHAT view), the reuse (stack) distance distribution
in bytes (``reuse.py``), the hot/cold CDF, traffic per layer and per primitive, time per layer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from hetier.analysis.buffer_metrics import BufferTable, HotCold, Lifetimes, ReuseDistance, Sites
from hetier.analysis.event_metrics import LayerTraffic, LivePeak, OpTimes, PoolPeak, TrafficByPrim
from hetier.analysis.live_curves import LiveByKind, LiveByLayer
from hetier.analysis.reuse import ReuseHistogram
from hetier.analysis.trace_pass import TracePass, run_pass
from hetier.formats.trace import PRIM, PRIMS


@dataclass
class Analysis:
    meta: dict
    events: int = 0
    truncated: str | None = None
    # live bytes over time: ts (ns) and one column per kind / per top layer
    live_ts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    live_by_kind: dict[str, np.ndarray] = field(default_factory=dict)
    live_by_layer: dict[str, np.ndarray] = field(default_factory=dict)
    peak_bytes: int = 0
    peak_ts: int = 0
    peak_layer: str = ""
    resident_peak_bytes: int = 0  # SEAL's size-class pool plus live host memory (formats/seal_pool.py)
    # per allocation site (allocating layer, kind)
    sites: dict[str, list] = field(default_factory=dict)
    # reuse (stack) distance: bytes and accesses per log2 bin of distinct bytes in between
    reuse: ReuseHistogram = field(default_factory=ReuseHistogram)
    # hot/cold CDF: share of bytes (x) vs share of accessed bytes (y), hottest first
    hot_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hot_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    allocated_bytes: float = 0.0  # sum of every buffer's size (hot_x is a share of it)
    # tensor granularity: buffer id -> lifetime of a buffer that lives inside one op, from the op's duration
    derived_lifetime_ns: dict[int, float] = field(default_factory=dict)
    per_layer: dict[str, list] = field(default_factory=dict)  # layer, kind, read, write, seconds
    per_prim: dict[str, list] = field(default_factory=dict)  # prim, read, write
    read_bytes: int = 0
    write_bytes: int = 0

    def hot_share(self, byte_share: float) -> float:
        """Share of accessed bytes that fall on the hottest ``byte_share`` of allocated bytes."""
        if not len(self.hot_x):
            return 0.0
        return float(np.interp(byte_share, self.hot_x, self.hot_y))


def analyze(source: str | os.PathLike | TracePass, top_layers: int = 8, figures: bool = True) -> Analysis:
    """Every table of the report, from one pass over a trace path (or an opened TracePass).

    ``figures=False``: only what the headline reads (peaks, traffic, the hot/cold CDF); the live
    curves, allocation sites and reuse distances (most of the pass's time and memory on a large
    ciphertext-granularity trace) stay empty."""
    table, ops = BufferTable(), OpTimes()
    lifetimes = Lifetimes(table, ops)
    peak, pool, by_kind, by_layer = LivePeak(), PoolPeak(), LiveByKind(), LiveByLayer(table, top_layers)
    sites, hot, reuse, layers, prims = Sites(table, lifetimes), HotCold(table), ReuseDistance(table), LayerTraffic(), TrafficByPrim()
    shown = [by_kind, by_layer, sites, reuse] if figures else []
    tp = run_pass(source, [peak, pool, hot, layers, prims, ops, *shown])
    an = Analysis(tp.meta, events=tp.events, truncated=tp.truncated, peak_bytes=peak.result.bytes,
                  peak_ts=peak.result.ts_ns, peak_layer=peak.result.layer, resident_peak_bytes=pool.result,
                  hot_x=hot.result.x, hot_y=hot.result.y, allocated_bytes=hot.result.allocated_bytes)
    if figures:
        an.sites, an.reuse, an.derived_lifetime_ns = sites.result, reuse.result, lifetimes.result.derived_by_id
        an.live_ts, an.live_by_kind = by_kind.result
        an.live_by_layer = by_layer.result
    return _per_layer(an, tp, layers, ops, prims)


def _per_layer(an: Analysis, tp: TracePass, layers: LayerTraffic, ops: OpTimes, prims: TrafficByPrim) -> Analysis:
    """Traffic and time per layer and traffic per primitive, into ``an``."""
    rw = layers.result
    an.read_bytes, an.write_bytes = int(rw[:, 0].sum()), int(rw[:, 1].sum())
    layer_ns = ops.result.by_layer(len(tp.layer_names))
    an.per_layer = {"layer": list(tp.layer_names), "kind": [l["kind"] for l in an.meta["layers"]],
                    "read_bytes": rw[:, 0].astype(np.float64).tolist(), "write_bytes": rw[:, 1].astype(np.float64).tolist(),
                    "seconds": (layer_ns / 1e9).tolist()}
    used = sorted(PRIM[p] for p, (r, w) in prims.result.items() if r + w > 0)
    an.per_prim = {"prim": [PRIMS[p] for p in used], "read_bytes": [float(prims.result[PRIMS[p]][0]) for p in used],
                   "write_bytes": [float(prims.result[PRIMS[p]][1]) for p in used]}
    return an
