"""Consistency of a trace: every access and free hits a live buffer, nothing is freed twice."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hetier.tracer.format import EV, EVENTS, TraceReader

MAX_EXAMPLES = 5


@dataclass
class CheckReport:
    """Violations found, by kind, with counts and a few examples; empty means consistent."""

    events: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    truncated: str | None = None

    def add(self, what: str, n: int, examples: list[str]) -> None:
        if n:
            self.counts[what] = self.counts.get(what, 0) + n
            ex = self.examples.setdefault(what, [])
            ex.extend(examples[: MAX_EXAMPLES - len(ex)])

    @property
    def ok(self) -> bool:
        return not self.counts and self.truncated is None


def check_trace(path: str) -> CheckReport:
    """Stream ``path`` and report access to unknown or freed buffers, double frees, bad sizes,
    buffers live at the end, unbalanced op rows and a truncated file."""
    rep = CheckReport()
    live = np.zeros(1 << 16, dtype=np.int64)
    seen = np.zeros(1 << 16, dtype=bool)
    open_op = False
    with TraceReader(path) as r:
        row0 = 0
        for b in r.batches():
            n = len(b)
            rep.events += n
            neg = np.flatnonzero((b.nbytes < 0) | (b.count < 0))
            rep.add("negative size or count", len(neg), [f"row {row0 + i}" for i in neg])
            # op rows must alternate begin/end
            ops = np.flatnonzero((b.event == EV["op_begin"]) | (b.event == EV["op_end"]))
            for i in ops:
                begin = b.event[i] == EV["op_begin"]
                if begin == open_op:
                    rep.add("unbalanced op rows", 1, [f"row {row0 + i}"])
                open_op = bool(begin)
            idx = np.flatnonzero(b.buffer >= 0)
            if len(idx):
                buf = b.buffer[idx]
                if buf.max() >= len(live):
                    size = 1 << int(buf.max()).bit_length()
                    live = np.concatenate([live, np.zeros(size - len(live), dtype=np.int64)])
                    seen = np.concatenate([seen, np.zeros(size - len(seen), dtype=bool)])
                ev = b.event[idx]
                delta = np.where(ev == EV["alloc"], b.count[idx], np.where(ev == EV["free"], -b.count[idx], 0))
                order = np.argsort(buf, kind="stable")
                sb, sd = buf[order], delta[order]
                uniq, start = np.unique(sb, return_index=True)
                csum = np.cumsum(sd)
                group_start_sum = np.repeat(np.concatenate([[0], csum[start[1:] - 1]]),
                                            np.diff(np.append(start, len(sb))))
                after = csum - group_start_sum + live[sb]
                before = after - sd
                was_seen = seen[sb] | (np.maximum.accumulate(np.where(sd > 0, np.arange(len(sb)), -1)) >=
                                       np.repeat(start, np.diff(np.append(start, len(sb)))))
                sev = ev[order]
                rows = idx[order] + row0
                access = (sev == EV["read"]) | (sev == EV["write"]) | (sev == EV["free"])
                bad = access & (before <= 0)
                unknown = bad & ~was_seen
                freed = bad & was_seen
                over_free = (sev == EV["free"]) & (before > 0) & (after < 0)
                for what, mask in (("access to unknown buffer", unknown), ("access to freed buffer", freed),
                                   ("double free", over_free)):
                    hit = np.flatnonzero(mask)
                    rep.add(what, len(hit), [f"row {rows[i]}: {EVENTS[sev[i]]} of buffer {sb[i]}" for i in hit])
                last = np.append(start[1:], len(sb)) - 1
                live[uniq] = after[last]
                seen[uniq[np.maximum.reduceat((sd > 0).astype(np.int8), start) > 0]] = True
            row0 += n
        if r.truncated:
            rep.truncated = r.truncation_message()
    if open_op:
        rep.add("unbalanced op rows", 1, ["last op has no op_end"])
    still = np.flatnonzero(live > 0)
    rep.add("live at end", len(still), [f"buffer {i} ({live[i]} live)" for i in still])
    return rep
