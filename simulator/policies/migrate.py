"""Migration: start from the ilp static placement (least modelled memory time), then move tensors between the fastest and
the slowest tier at layer (op) boundaries when the stall saved exceeds the copy.

Optimises modelled memory time (``simulator/memory_time.py``) including copies, greedily: at
each op start, tensors in the slow tier with traffic still ahead are promoted in decreasing
order of saved time per byte, where saved time = the cost difference between the tiers of
their traffic up to its last op minus F x the copy's modelled time (``migrate:F``, default 1;
``migrate:inf`` never moves, leaving the ``ilp`` start). A promotion that does not fit for the
rest of the tensor's life demotes fast-tier tensors that lose least over that window (their
saving there, their copy out, and their copy back if they have traffic after it), if the
promotion saves more. A demoted tensor is a candidate again at the next op start. Tensors
allocated by the op are candidates too, with no copy: demoting idle tensors can make room for
them where the static start could not.
Copies are traffic the engine replays on both tiers' channels, in the op they precede.
"""

from __future__ import annotations

import math

from hetier.simulator.capacity_timeline import CapacityTimeline
from hetier.simulator.memory_time import copy_ns, ns_per_byte, tensor_cost_ns
from hetier.simulator.policies.base import ScheduledPolicy
from hetier.simulator.policies.ilp import ilp_start
from hetier.simulator.tensor_lifetimes import TensorSummary, tensor_lifetimes


class Migrate(ScheduledPolicy):
    name = "migrate"
    description = "ilp start, then moves at op starts when the saved stall exceeds F x the copy (migrate:F)"

    def __init__(self, tiers, arg=None):
        super().__init__(tiers)
        self.copy_factor = self.number_arg(arg, 1.0, float, 0.0, "copy-cost factor")

    @property
    def label(self) -> str:
        return self.name if self.copy_factor == 1.0 else f"{self.name}:{self.copy_factor:g}"

    def schedule(self, workload, machine, threads):
        profile = tensor_lifetimes(workload, machine.llc_bytes)
        start = ilp_start(profile, machine, threads)[0]
        if math.isinf(self.copy_factor):
            return start, {}
        fast, slow = machine.tier_names[0], machine.tier_names[-1]
        rates = ns_per_byte(machine, threads)
        tl = CapacityTimeline(machine, profile.n_ops)
        for s in profile.tensors:
            tl.add(s, start[s.tensor])
        cur = dict(start)
        moves: dict[int, list[tuple[int, str]]] = {}

        def benefit(s: TensorSummary, lo: int, hi: int) -> float:
            """Modelled time saved by serving the tensor's traffic in ops lo..hi from the fast tier."""
            return sum(tensor_cost_ns(s, slow, rates, o) - tensor_cost_ns(s, fast, rates, o)
                       for o in set(s.reads) | set(s.writes) if lo <= o <= hi)

        def copy(s: TensorSummary, b: int, src: str, dst: str) -> float:
            return self.copy_factor * copy_ns(s.live_at(b - 1), src, dst, rates)

        def used_after(s: TensorSummary, op: int) -> bool:
            return any(o > op for o in (*s.reads, *s.writes))

        for b in range(1, profile.n_ops):
            live = [s for s in profile.tensors if s.first_op < b <= s.last_op and s.live_at(b - 1)]
            born = [s for s in profile.tensors if s.first_op == b and s.live_at(b)]
            gains = []
            for s in live + born:
                if cur[s.tensor] == slow and used_after(s, b - 1):
                    end = max(o for o in (*s.reads, *s.writes) if o >= b)  # its traffic ahead ends here
                    fetch = copy(s, b, slow, fast) if s.first_op < b else 0.0  # a new tensor is just born there
                    gains.append((benefit(s, b, end) - fetch, end, s))
            for gain, end, s in sorted(gains, key=lambda g: (-g[0] / g[2].nbytes, g[2].tensor)):
                if gain <= 0:
                    break

                def loss(v: TensorSummary) -> float:
                    """What demoting v for s's window costs: its saving there, its copy out and back."""
                    back = copy(v, b, slow, fast) if used_after(v, end) else 0.0
                    return benefit(v, b, end) + copy(v, b, fast, slow) + back

                residents = [v for v in live if cur[v.tensor] == fast]
                victims = _make_room(tl, s, b, residents, fast, loss)
                if victims is None:
                    continue
                lost = sum(loss(v) for v in victims)
                if victims and s.last_op > end and any(used_after(v, end) for v in victims):
                    lost += copy(s, b, fast, slow)  # s must leave again for them to come back
                if gain <= lost:
                    for v in victims:
                        tl.add(v, fast, b)
                    continue
                for v in victims:
                    tl.add(v, slow, b)
                    cur[v.tensor] = slow
                    moves.setdefault(b, []).append((v.tensor, slow))
                tl.remove(s, slow, b)
                tl.add(s, fast, b)
                cur[s.tensor] = fast
                if s.first_op < b:
                    moves.setdefault(b, []).append((s.tensor, fast))
                else:
                    start[s.tensor] = fast
        return start, moves



def _make_room(tl: CapacityTimeline, s: TensorSummary, b: int, residents: list[TensorSummary], fast: str,
               loss) -> list[TensorSummary] | None:
    """Fast-tier tensors to demote, least ``loss`` per byte first (taken off ``tl``), so that ``s``
    fits in the fast tier from op b on; None (and ``tl`` unchanged) if demoting all does not help."""
    victims: list[TensorSummary] = []
    if tl.fits(s, fast, b):
        return victims
    for v in sorted(residents, key=lambda v: (loss(v) / v.nbytes, v.tensor)):
        tl.remove(v, fast, b)
        victims.append(v)
        if tl.fits(s, fast, b):
            return victims
    for v in victims:
        tl.add(v, fast, b)
    return None
