"""Bytes reserved in each tier at every op's peak instant, for policies that must fit at every moment.

A tensor placed in a tier reserves its live bytes at the peak instant of each op of its life
(``TensorSummary.live``); it fits if no instant then goes above the tier's capacity. Between two
peak instants the live set only shrinks, so fitting there is fitting at every moment.
"""

from __future__ import annotations

import numpy as np

from hetier.simulator.machine import Machine
from hetier.simulator.tensor_lifetimes import TensorSummary, TensorLifetimes


class CapacityTimeline:
    """Reserved bytes per tier per op instant."""

    def __init__(self, machine: Machine, n_ops: int):
        self.tiers = machine.tier_names
        self.cap = {t: machine.device(t).capacity_bytes for t in self.tiers}
        self.used = {t: np.zeros(n_ops, dtype=np.int64) for t in self.tiers}

    def _span(self, s: TensorSummary, from_op: int) -> tuple[int, np.ndarray]:
        lo = max(s.first_op, from_op)
        return lo, s.live[lo - s.first_op:]

    def fits(self, s: TensorSummary, tier: str, from_op: int = 0) -> bool:
        """Would the tensor fit in ``tier`` from op ``from_op`` to the end of its life?"""
        lo, live = self._span(s, from_op)
        if not len(live):
            return True
        return bool(np.all(self.used[tier][lo:lo + len(live)] + live <= self.cap[tier]))

    def add(self, s: TensorSummary, tier: str, from_op: int = 0) -> None:
        lo, live = self._span(s, from_op)
        self.used[tier][lo:lo + len(live)] += live

    def remove(self, s: TensorSummary, tier: str, from_op: int = 0) -> None:
        lo, live = self._span(s, from_op)
        self.used[tier][lo:lo + len(live)] -= live


def fill_in_order(profile: TensorLifetimes, machine: Machine, order: list[TensorSummary],
                  fast_ok=lambda s: True) -> tuple[dict[int, str], CapacityTimeline]:
    """Each tensor, in ``order``, to the fastest tier where it fits at every instant of its life
    (only the last tier if ``fast_ok`` says no); a tensor that fits nowhere goes to the last tier,
    where the placement pass reports the overflow."""
    tl = CapacityTimeline(machine, profile.n_ops)
    tiers = machine.tier_names
    start: dict[int, str] = {}
    for s in order:
        tier = next((t for t in tiers[:-1] if fast_ok(s) and tl.fits(s, t)), tiers[-1])
        tl.add(s, tier)
        start[s.tensor] = tier
    return start, tl
