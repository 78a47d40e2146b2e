"""Live counts: how many of each key (tensor, buffer, block size) are allocated and not yet freed.

One rule, an alloc adds its count and a free takes its count away, in the two forms its readers need:
- event by event within a batch (``live_changes``): each key's running change, in event order,
  for tensor-granularity aggregation, the trace checker and SEAL's pool model;
- op by op (``add_live``, ``release_live``, ``carry_live``, ``live_with``): a dict key -> live
  count carried past an op's alloc rows, then its free rows, never below zero (a key that reaches
  zero leaves the dict), for the tracer's plan timing, the simulator's workload and tensor lifetimes;
- in all, bytes over a stream (``LiveBytes``): the live total and its peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hetier.formats.key_groups import stable_order
from hetier.formats.trace import EV, EventBatch


@dataclass(frozen=True)
class LiveChanges:
    """A batch's events grouped by key (stable: event order within a key), with each key's
    running live change since the batch began, after each of its events."""

    order: np.ndarray  # event positions, by key
    keys: np.ndarray  # the distinct keys, ascending
    start: np.ndarray  # where each key's events begin in ``order``
    change: np.ndarray  # per position of ``order``: its key's live change since the batch began

    @property
    def sizes(self) -> np.ndarray:
        """How many events each key has."""
        return np.diff(np.append(self.start, len(self.order)))

    @property
    def last(self) -> np.ndarray:
        """Where each key's events end in ``order`` (inclusive)."""
        return np.append(self.start[1:], len(self.order)) - 1

    @property
    def final(self) -> np.ndarray:
        """Each key's change over the whole batch."""
        return self.change[self.last]

    @property
    def peak(self) -> np.ndarray:
        """Each key's highest rise above its count at the batch start (0 if it never rose)."""
        return np.maximum(np.maximum.reduceat(self.change, self.start), 0)

    def span(self, j: int) -> slice:
        """The positions in ``order`` of key ``keys[j]``'s events."""
        return slice(int(self.start[j]), int(self.last[j]) + 1)


def live_changes(keys: np.ndarray, delta: np.ndarray) -> LiveChanges:
    """Group events by ``keys`` and sum each key's ``delta`` (+count at an alloc, -count at a
    free, 0 otherwise) in event order."""
    order, uniq, start = stable_order(keys)
    if not len(order):
        return LiveChanges(order, uniq, start, np.zeros(0, dtype=np.asarray(delta).dtype))
    csum = np.cumsum(delta[order])
    offset = np.repeat(np.concatenate([[0], csum[start[1:] - 1]]), LiveChanges(order, uniq, start, csum).sizes)
    return LiveChanges(order, uniq, start, csum - offset)  # each key's sum from its own first event


def _ints(values) -> list[int]:
    return values.tolist() if isinstance(values, np.ndarray) else [int(v) for v in values]


def add_live(live: dict[int, int], keys, counts) -> None:
    """An op's allocations: each key's count rises by its row's count."""
    for k, c in zip(_ints(keys), _ints(counts)):
        live[k] = live.get(k, 0) + c


def release_live(live: dict[int, int], keys, counts) -> None:
    """An op's frees: each key's count falls by its row's count, at most to zero; a key at zero
    leaves ``live`` (a free of more than is live releases what is)."""
    for k, c in zip(_ints(keys), _ints(counts)):
        left = live.get(k, 0) - c
        if left > 0:
            live[k] = left
        else:
            live.pop(k, None)


def carry_live(live: dict[int, int], alloc_keys, alloc_counts, free_keys, free_counts) -> None:
    """Carry live counts past an op: its alloc rows, then its free rows."""
    add_live(live, alloc_keys, alloc_counts)
    release_live(live, free_keys, free_counts)


def live_with(live: dict[int, int], keys, counts) -> dict[int, int]:
    """The counts at an op's peak: live before it plus what it allocates (a new dict)."""
    peak = dict(live)
    add_live(peak, keys, counts)
    return peak


def carry_op(live: dict[int, int], ev: EventBatch) -> None:
    """Carry per-tensor live counts past one op's tensor rows (alloc and free rows' counts)."""
    al, fr = ev.event == EV["alloc"], ev.event == EV["free"]
    carry_live(live, ev.tensor[al], ev.count[al], ev.tensor[fr], ev.count[fr])


class LiveBytes:
    """Live bytes (allocated, not yet freed) over a stream of batches, and their peak: the one
    running total the workload's live peak and ``hetier info``'s peak read."""

    def __init__(self) -> None:
        self.now = 0  # live bytes after the rows added so far
        self.peak = 0

    def add(self, b: EventBatch) -> int | None:
        """Carry the total past ``b``; the row of ``b`` that reached a new peak, if one did."""
        if not len(b):
            return None
        curve = b.live_after(self.now)
        self.now = int(curve[-1])
        i = int(np.argmax(curve))
        if curve[i] <= self.peak:
            return None
        self.peak = int(curve[i])
        return i
