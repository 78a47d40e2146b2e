"""Processor sharing of one channel's bandwidth among concurrent transfers.

With n transfers active, the channel delivers ``bw(n)`` bytes/ns in total (the device's
concurrency curve) and each transfer gets ``bw(n) / n``. Two implementations with one contract
(``insert``, ``next_finish``, ``pop_finished``):

- ``NaiveShare`` updates every transfer's remaining bytes at each change: O(n), obviously right.
- ``VirtualTimeShare`` keeps one virtual clock V (bytes served to each active transfer so far)
  and a heap of finish points V_start + bytes: O(log n) per change. Since every active transfer
  gets the same rate, V advances at bw(n)/n and a transfer ends when V reaches its finish point.

Times are ns (floats), sizes bytes; tests require the two to agree to 1e-9 relative.
"""

from __future__ import annotations

import heapq
import math
from typing import Callable

RateFn = Callable[[int], float]  # n concurrent -> total bytes/ns
_EPS = 1e-9


def _due(now: float, time_left: float) -> bool:
    """A transfer is done when its remaining time is within 1e-9 (relative) of now; this also
    covers a remainder too small for ``now + time_left`` to differ from ``now`` in floating point."""
    return time_left <= _EPS * max(1.0, now)


class NaiveShare:
    def __init__(self, rate: RateFn):
        self.rate = rate
        self.remaining: dict[int, float] = {}
        self.t = 0.0

    def _advance(self, now: float) -> None:
        n = len(self.remaining)
        if n:
            served = (now - self.t) * self.rate(n) / n
            for k in self.remaining:
                self.remaining[k] -= served
        self.t = now

    def insert(self, now: float, key: int, nbytes: float) -> None:
        self._advance(now)
        self.remaining[key] = float(nbytes)

    def next_finish(self, now: float) -> float:
        self._advance(now)
        if not self.remaining:
            return math.inf
        n = len(self.remaining)
        return now + max(min(self.remaining.values()), 0.0) / (self.rate(n) / n)

    def pop_finished(self, now: float) -> list[int]:
        self._advance(now)
        if not self.remaining:
            return []
        per = self.rate(len(self.remaining)) / len(self.remaining)
        done = sorted(k for k, r in self.remaining.items() if _due(now, r / per))
        for k in done:
            del self.remaining[k]
        return done

    def __len__(self) -> int:
        return len(self.remaining)


class VirtualTimeShare:
    def __init__(self, rate: RateFn):
        self.rate = rate
        self.heap: list[tuple[float, int]] = []
        self.v = 0.0  # bytes served to each active transfer since the channel started
        self.t = 0.0

    def _advance(self, now: float) -> None:
        n = len(self.heap)
        if n:
            self.v += (now - self.t) * self.rate(n) / n
        self.t = now

    def insert(self, now: float, key: int, nbytes: float) -> None:
        self._advance(now)
        heapq.heappush(self.heap, (self.v + float(nbytes), key))

    def next_finish(self, now: float) -> float:
        self._advance(now)
        if not self.heap:
            return math.inf
        n = len(self.heap)
        return now + max(self.heap[0][0] - self.v, 0.0) / (self.rate(n) / n)

    def pop_finished(self, now: float) -> list[int]:
        self._advance(now)
        if not self.heap:
            return []
        per = self.rate(len(self.heap)) / len(self.heap)
        done = []
        while self.heap and _due(now, (self.heap[0][0] - self.v) / per):
            done.append(heapq.heappop(self.heap)[1])
        return sorted(done)

    def __len__(self) -> int:
        return len(self.heap)


def simulate(share, arrivals: list[tuple[float, float]]) -> list[float]:
    """Finish time of each (arrival time, bytes) transfer on one channel (for tests and benchmarks)."""
    order = sorted(range(len(arrivals)), key=lambda i: (arrivals[i][0], i))
    finish = [math.nan] * len(arrivals)
    now, j = 0.0, 0
    while j < len(order) or len(share):
        t_next = share.next_finish(now)
        t_arr = arrivals[order[j]][0] if j < len(order) else math.inf
        if t_arr <= t_next:
            now = t_arr
            share.insert(now, order[j], arrivals[order[j]][1])
            j += 1
        else:
            now = t_next
            for k in share.pop_finished(now):
                finish[k] = now
    return finish
