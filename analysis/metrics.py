"""Access-pattern analyses of a trace, computed in one streaming pass (bounded memory per batch).

``analyze(path)`` returns plain tables (dicts of lists / numpy arrays) that the reports render:
live bytes over time by kind and by allocating layer (downsampled, peak kept), per allocation
site lifetimes and reads/writes per byte (the DHAT view), the reuse (stack) distance distribution
in bytes (``reuse.py``), the hot/cold CDF, traffic per layer and per primitive, time per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.analysis.reuse import ReuseHistogram, StackDistance
from hetier.analysis.ids import IdMap
from hetier.analysis.trace_stats import PoolPeak
from hetier.formats.trace import EV, KINDS, PRIMS, TraceReader

MAX_POINTS = 4000  # samples kept of each live-bytes curve


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
    resident_peak_bytes: int = 0  # under SEAL's size-class pool
    # per allocation site (allocating layer, kind)
    sites: dict[str, list] = field(default_factory=dict)
    # reuse (stack) distance: bytes and accesses per log2 bin of distinct bytes in between
    reuse: ReuseHistogram = field(default_factory=ReuseHistogram)
    # hot/cold CDF: share of bytes (x) vs share of accessed bytes (y), hottest first
    hot_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hot_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    allocated_bytes: float = 0.0  # sum of every buffer's size (hot_x is a share of it)
    # tensor granularity: buffers that live inside one op get a lifetime from the op's duration
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


class _Grow:
    """A numpy array indexed by dense buffer index (analysis/ids.py) that grows as ids appear."""

    def __init__(self, dtype, fill=0):
        self.a = np.full(1 << 12, fill, dtype=dtype)
        self.fill = fill

    def ensure(self, n: int) -> None:
        if n > len(self.a):
            size = 1 << int(n - 1).bit_length()
            self.a = np.concatenate([self.a, np.full(size - len(self.a), self.fill, dtype=self.a.dtype)])


def _downsample(n: int, keep: list[int]) -> np.ndarray:
    step = max(1, -(-n // MAX_POINTS))
    idx = np.arange(0, n, step)
    return np.unique(np.concatenate([idx, np.array(keep, dtype=np.int64), [n - 1]]))


def op_share_lifetimes(ids: np.ndarray, layer: np.ndarray, peak: np.ndarray, written: dict, layer_ns: np.ndarray) -> np.ndarray:
    """Mean lifetime (ns) of one ciphertext of each tensor that is allocated and freed inside one op.

    A tensor row does not keep when each of its ciphertexts was allocated and freed (plan traces
    give the alloc and the free the same time), but it keeps how many were live at once (``peak``,
    the alloc count) and how many were made: at least the count of every primitive that writes it
    (each made ciphertext is written by each such primitive; the smallest of these sums over levels
    counts them). By Little's law, mean lifetime = mean live / creation rate, taken here as
    op duration x peak / made: an upper bound, since the mean live count is at most the peak.
    """
    out = np.zeros(len(ids))
    for j, b in enumerate(ids.tolist()):
        made = max(int(peak[b]), min(written.get(b, {}).values(), default=0), 1)
        out[j] = layer_ns[layer[b]] * int(peak[b]) / made
    return out


def analyze(path: str, top_layers: int = 8) -> Analysis:
    with TraceReader(path) as r:
        names = r.layer_names
        an = Analysis(r.meta)
        n_layers = len(names)
        n_kinds = len(KINDS)
        alloc_layer = _Grow(np.int32, -1)
        alloc_kind = _Grow(np.int8, -1)
        alloc_ts = _Grow(np.int64)
        free_ts = _Grow(np.int64, -1)
        size = _Grow(np.int64)
        alloc_count = _Grow(np.int64)  # ciphertexts (plaintexts, keys) allocated: sum of alloc rows' count
        free_layer = _Grow(np.int32, -1)
        tensor_rows = r.meta.get("granularity") == "tensor"
        written: dict[int, dict[int, int]] = {}  # tensor granularity: buffer -> prim -> ciphertexts written
        reads = _Grow(np.float64)
        writes = _Grow(np.float64)
        stack = StackDistance()
        live_kind = np.zeros(n_kinds)
        live_layer = np.zeros(n_layers)
        ts_parts, kind_parts, layer_parts = [], [], []
        layer_rw = np.zeros((n_layers, 2))
        prim_rw = np.zeros((len(PRIMS), 2))
        layer_ns = np.zeros(n_layers)
        begin = {}
        pool = PoolPeak()
        ids_seen = IdMap()
        for b in r.batches():
            an.events += len(b)
            pool.add(b)
            buf = ids_seen.dense(b.buffer)  # dense indices: memory follows events, not id values
            if len(ids_seen):
                for g in (alloc_layer, alloc_kind, alloc_ts, free_ts, size, reads, writes, alloc_count, free_layer):
                    g.ensure(len(ids_seen))
            al = np.flatnonzero(b.event == EV["alloc"])
            fr = np.flatnonzero(b.event == EV["free"])
            alloc_layer.a[buf[al]] = np.where(alloc_layer.a[buf[al]] < 0, b.layer[al], alloc_layer.a[buf[al]])
            alloc_kind.a[buf[al]] = b.kind[al]
            first_alloc = alloc_ts.a[buf[al]] == 0
            alloc_ts.a[buf[al[first_alloc]]] = b.ts_ns[al[first_alloc]]
            np.maximum.at(size.a, buf[al], b.nbytes[al])
            free_ts.a[buf[fr]] = b.ts_ns[fr]
            free_layer.a[buf[fr]] = b.layer[fr]
            np.add.at(alloc_count.a, buf[al], b.count[al])
            if tensor_rows:
                for i in np.flatnonzero(b.event == EV["write"]).tolist():
                    by_prim = written.setdefault(int(buf[i]), {})
                    by_prim[int(b.prim[i])] = by_prim.get(int(b.prim[i]), 0) + int(b.count[i])
            # live bytes: +alloc, -free, charged to the kind and to the allocating layer
            af = np.concatenate([al, fr])
            af.sort()
            if len(af):
                d = np.where(b.event[af] == EV["alloc"], b.nbytes[af], -b.nbytes[af]).astype(np.float64)
                k = b.kind[af].astype(np.int64)
                lay = alloc_layer.a[buf[af]].astype(np.int64)
                dk = np.zeros((len(af), n_kinds))
                dk[np.arange(len(af)), k] = d
                ck = live_kind + np.cumsum(dk, axis=0)
                dl = np.zeros((len(af), n_layers))
                dl[np.arange(len(af)), lay] = d
                cl = live_layer + np.cumsum(dl, axis=0)
                total = ck.sum(axis=1)
                i = int(np.argmax(total))
                if total[i] > an.peak_bytes:
                    an.peak_bytes, an.peak_ts = int(total[i]), int(b.ts_ns[af[i]])
                    an.peak_layer = names[b.layer[af[i]]]
                idx = _downsample(len(af), [i])
                ts_parts.append(b.ts_ns[af][idx])
                kind_parts.append(ck[idx])
                layer_parts.append(cl[idx])
                live_kind, live_layer = ck[-1], cl[-1]
            stack.rows(b.event, buf, b.nbytes, b.count)
            # accesses: per-buffer bytes, traffic by layer and primitive
            rw = np.flatnonzero((b.event == EV["read"]) | (b.event == EV["write"]))
            if len(rw):
                nb = b.nbytes[rw].astype(np.float64)
                isw = b.event[rw] == EV["write"]
                np.add.at(reads.a, buf[rw[~isw]], nb[~isw])
                np.add.at(writes.a, buf[rw[isw]], nb[isw])
                np.add.at(layer_rw, (b.layer[rw], isw.astype(int)), nb)
                np.add.at(prim_rw, (b.prim[rw], isw.astype(int)), nb)
            for i in np.flatnonzero(b.event == EV["op_begin"]):
                begin[int(b.layer[i])] = int(b.ts_ns[i])
            for i in np.flatnonzero(b.event == EV["op_end"]):
                layer = int(b.layer[i])
                layer_ns[layer] += int(b.ts_ns[i]) - begin.pop(layer, int(b.ts_ns[i]))
        if r.truncated:
            an.truncated = r.truncation_message()
        an.resident_peak_bytes = pool.resident_bytes()

    an.read_bytes, an.write_bytes = int(layer_rw[:, 0].sum()), int(layer_rw[:, 1].sum())
    if ts_parts:
        an.live_ts = np.concatenate(ts_parts)
        kinds_live = np.concatenate(kind_parts)
        layers_live = np.concatenate(layer_parts)
        if len(an.live_ts) > MAX_POINTS:  # keep the report small: even samples plus the peak
            keep = _downsample(len(an.live_ts), [int(np.argmax(kinds_live.sum(axis=1)))])
            an.live_ts, kinds_live, layers_live = an.live_ts[keep], kinds_live[keep], layers_live[keep]
        an.live_by_kind = {KINDS[k]: kinds_live[:, k] for k in range(n_kinds) if kinds_live[:, k].max() > 0}
        peak_by_layer = layers_live.max(axis=0)
        top = [int(j) for j in np.argsort(-peak_by_layer)[:top_layers] if peak_by_layer[j] > 0]
        an.live_by_layer = {names[j]: layers_live[:, j] for j in sorted(top)}
        rest = np.delete(layers_live, top, axis=1).sum(axis=1)
        if rest.max() > 0:
            an.live_by_layer["other layers"] = rest
    n = len(size.a)
    ids = np.flatnonzero(alloc_kind.a[:n] >= 0)
    if len(ids):
        end = np.where(free_ts.a[ids] >= 0, free_ts.a[ids], max(an.live_ts.max() if len(an.live_ts) else 0, 0))
        life = (end - alloc_ts.a[ids]).astype(np.float64)
        derived = np.zeros(len(ids), dtype=bool)
        if tensor_rows:
            derived = (alloc_layer.a[ids] == free_layer.a[ids]) & (free_ts.a[ids] >= 0)
            life[derived] = op_share_lifetimes(ids[derived], alloc_layer.a, alloc_count.a, written, layer_ns)
            an.derived_lifetime_ns = dict(zip(ids[derived].tolist(), life[derived].tolist()))
        site = alloc_layer.a[ids].astype(np.int64) * n_kinds + alloc_kind.a[ids]
        us, inv = np.unique(site, return_inverse=True)
        inv = inv.reshape(-1)
        sz = size.a[ids].astype(np.float64)
        sums = lambda w: np.bincount(inv, weights=w, minlength=len(us))  # noqa: E731
        total_size = sums(sz)
        never = sums(np.where(reads.a[ids] == 0, sz, 0.0))
        an.sites = {
            "layer": [names[s // n_kinds] for s in us], "kind": [KINDS[s % n_kinds] for s in us],
            "buffers": np.bincount(inv, minlength=len(us)).tolist(), "bytes": total_size.tolist(),
            "count": sums(alloc_count.a[ids].astype(np.float64)).astype(np.int64).tolist(),
            "mean_lifetime_s": (sums(life) / np.bincount(inv, minlength=len(us)) / 1e9).tolist(),
            "lifetime_derived": (sums(derived.astype(np.float64)) > 0).tolist(),
            "reads_per_byte": (sums(reads.a[ids]) / np.maximum(total_size, 1)).tolist(),
            "writes_per_byte": (sums(writes.a[ids]) / np.maximum(total_size, 1)).tolist(),
            "bytes_never_read": never.tolist(),
        }
        acc = reads.a[ids] + writes.a[ids]
        density = acc / np.maximum(sz, 1)
        order = np.argsort(-density, kind="stable")
        an.allocated_bytes = float(sz.sum())
        an.hot_x = np.concatenate([[0.0], np.cumsum(sz[order]) / max(sz.sum(), 1)])
        an.hot_y = np.concatenate([[0.0], np.cumsum(acc[order]) / max(acc.sum(), 1)])
        if len(an.hot_x) > MAX_POINTS:
            keep = np.unique(np.linspace(0, len(an.hot_x) - 1, MAX_POINTS).astype(int))
            an.hot_x, an.hot_y = an.hot_x[keep], an.hot_y[keep]
    an.reuse = stack.hist
    kinds = [l["kind"] for l in an.meta["layers"]]
    an.per_layer = {"layer": list(names), "kind": kinds, "read_bytes": layer_rw[:, 0].tolist(),
                    "write_bytes": layer_rw[:, 1].tolist(), "seconds": (layer_ns / 1e9).tolist()}
    used = np.flatnonzero(prim_rw.sum(axis=1) > 0)
    an.per_prim = {"prim": [PRIMS[p] for p in used], "read_bytes": prim_rw[used, 0].tolist(),
                   "write_bytes": prim_rw[used, 1].tolist()}
    return an
