"""Consistency of a trace: everything that would make another verb fail or lie.

Values out of the format's ranges, accesses to unknown or freed buffers, double frees, buffers
live at the end, unbalanced op rows, time running backwards between op rows, live bytes past
what int64 sums hold, corruption and truncation; each with the first events that show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.analysis.ids import IdMap
from hetier.formats.live_counts import live_changes
from hetier.formats.trace import EV, EVENTS, TraceError, TraceReader, row_problems

MAX_EXAMPLES = 5
MAX_LIVE_BYTES = 1 << 62


@dataclass
class CheckReport:
    """Violations found, by kind, with counts and a few examples; empty means consistent."""

    events: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    truncated: str | None = None
    corrupt: str | None = None

    def add(self, what: str, n: int, examples: list[str]) -> None:
        if n:
            self.counts[what] = self.counts.get(what, 0) + n
            ex = self.examples.setdefault(what, [])
            ex.extend(examples[: MAX_EXAMPLES - len(ex)])

    @property
    def ok(self) -> bool:
        return not self.counts and self.truncated is None and self.corrupt is None


class _OpRows:
    """op_begin/op_end must alternate, name the same layer, and never go back in time."""

    def __init__(self) -> None:
        self.open_layer: int | None = None
        self.open_ts = 0
        self.last_ts = 0

    def feed(self, rep: CheckReport, b, row0: int, ok: np.ndarray) -> None:
        # each row's op start: the last op_begin at or before it (or the op open from the last batch)
        begins = ok & (b.event == EV["op_begin"])
        at = np.maximum.accumulate(np.where(begins, np.arange(len(b)), -1)) if len(b) else np.zeros(0, int)
        op_start = np.where(at >= 0, b.ts_ns[np.maximum(at, 0)], self.open_ts)
        was_open = self.open_layer is not None
        early = np.flatnonzero(ok & (b.event < EV["op_begin"]) & (b.ts_ns < op_start))
        rep.add("time going backwards: event before its op began", len(early),
                [f"event {row0 + i}: {b.ts_ns[i]} ns, op began at {op_start[i]} ns" for i in early[:MAX_EXAMPLES]])
        for i in np.flatnonzero(ok & ((b.event == EV["op_begin"]) | (b.event == EV["op_end"]))).tolist():
            begin = b.event[i] == EV["op_begin"]
            ts, layer = int(b.ts_ns[i]), int(b.layer[i])
            if begin == (self.open_layer is not None):
                rep.add("unbalanced op rows", 1, [f"event {row0 + i}"])
            elif not begin and layer != self.open_layer:
                rep.add("op_end names another layer than its op_begin", 1, [f"event {row0 + i}"])
            if ts < self.last_ts:
                rep.add("time going backwards between op rows", 1,
                        [f"event {row0 + i}: {EVENTS[b.event[i]]} at {ts} ns after {self.last_ts} ns"])
            self.last_ts = max(self.last_ts, ts)
            self.open_layer = layer if begin else None
            if begin:
                self.open_ts = ts
        # inside an op: after an op_begin and before its op_end (state carried over from the last batch)
        op_rows = ok & ((b.event == EV["op_begin"]) | (b.event == EV["op_end"]))
        last_op = np.maximum.accumulate(np.where(op_rows, np.arange(len(b)), -1)) if len(b) else np.zeros(0, int)
        inside = np.where(last_op >= 0, b.event[np.maximum(last_op, 0)] == EV["op_begin"], was_open)
        outside = np.flatnonzero(ok & (b.event < EV["op_begin"]) & ~inside)
        rep.add("memory event outside an op", len(outside), [f"event {row0 + i}" for i in outside[:MAX_EXAMPLES]])


def _buffer_events(rep: CheckReport, b, row0: int, ids: IdMap, live: np.ndarray, seen: np.ndarray,
                   ok: np.ndarray):
    """Unknown, freed and doubly freed buffers; returns the grown (live, seen) arrays."""
    idx = np.flatnonzero(ok & (b.buffer >= 0) & (b.event < EV["op_begin"]))
    if not len(idx):
        return live, seen
    buf = ids.dense(b.buffer[idx])
    if len(ids) > len(live):
        size = 1 << (len(ids) - 1).bit_length()
        live = np.concatenate([live, np.zeros(size - len(live), dtype=np.int64)])
        seen = np.concatenate([seen, np.zeros(size - len(seen), dtype=bool)])
    ev = b.event[idx]
    cnt = np.clip(b.count[idx], 0, 1 << 40)
    delta = np.where(ev == EV["alloc"], cnt, np.where(ev == EV["free"], -cnt, 0))
    ch = live_changes(buf, delta)
    order, uniq, start = ch.order, ch.keys, ch.start
    sb, sd = buf[order], delta[order]
    sizes = ch.sizes
    after = ch.change + live[sb]
    before = after - sd
    was_seen = seen[sb] | (np.maximum.accumulate(np.where(sd > 0, np.arange(len(sb)), -1)) >= np.repeat(start, sizes))
    sev = ev[order]
    rows = idx[order] + row0
    access = (sev == EV["read"]) | (sev == EV["write"]) | (sev == EV["free"])
    bad = access & (before <= 0)
    over_free = (sev == EV["free"]) & (before > 0) & (after < 0)
    for what, mask in (("access to unknown buffer", bad & ~was_seen), ("access to freed buffer", bad & was_seen),
                       ("double free", over_free)):
        hit = np.flatnonzero(mask)
        if len(hit):
            hit = hit[np.argsort(rows[hit], kind="stable")]  # first events first
            rep.add(what, len(hit), [f"event {rows[i]}: {EVENTS[sev[i]]} of buffer {ids.original(sb[i])}"
                                     for i in hit[:MAX_EXAMPLES]])
    live[uniq] = after[ch.last]
    seen[uniq[np.maximum.reduceat((sd > 0).astype(np.int8), start) > 0]] = True
    return live, seen


def check_trace(path: str) -> CheckReport:
    """Stream ``path`` and report every violation with the first events that show it."""
    rep = CheckReport()
    ids = IdMap()
    live = np.zeros(1 << 10, dtype=np.int64)
    seen = np.zeros(1 << 10, dtype=bool)
    ops = _OpRows()
    live_bytes = 0.0
    with TraceReader(path, strict=False) as r:
        row0 = 0
        n_layers = len(r.layer_names)
        try:
            for b in r.batches():
                n = len(b)
                rep.events += n
                bad_row = np.zeros(n, dtype=bool)
                for what, mask in row_problems(b, n_layers):
                    hit = np.flatnonzero(mask)
                    rep.add(what, len(hit), [f"event {row0 + i}" for i in hit[:MAX_EXAMPLES]])
                    bad_row |= mask
                ok = ~bad_row  # the other checks look at rows whose values are in range
                ops.feed(rep, b, row0, ok)
                live, seen = _buffer_events(rep, b, row0, ids, live, seen, ok)
                d = np.where(ok, b.live_delta(), 0)  # rows out of range add nothing
                curve = live_bytes + np.cumsum(d.astype(np.float64))
                if len(curve) and curve.max() > MAX_LIVE_BYTES:
                    i = int(np.argmax(curve > MAX_LIVE_BYTES))
                    rep.add("live bytes over 2^62 (sums overflow)", 1, [f"event {row0 + i}"])
                live_bytes = float(curve[-1]) if len(curve) else live_bytes
                row0 += n
        except TraceError as e:
            rep.corrupt = str(e)
        if r.truncated:
            rep.truncated = r.truncation_message()
    if ops.open_layer is not None and rep.corrupt is None and rep.truncated is None:
        rep.add("unbalanced op rows", 1, ["last op has no op_end"])
    still = np.flatnonzero(live[: len(ids)] > 0)
    rep.add("live at end", len(still), [f"buffer {ids.original(i)} ({live[i]} live)" for i in still[:MAX_EXAMPLES]])
    return rep

