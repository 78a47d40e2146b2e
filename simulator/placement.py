"""Static placement in recorded allocation order, with real capacities.

Walks the ops' allocation and free rows in order, asks the policy where each allocation goes,
spills overflow down the tiers for spilling policies, and records per tier the peak live bytes
(overall, and per op: once it has allocated and after its frees) and, when a tier is over
capacity, by how much ("does not fit: needs X more"). Policies that plan over the whole run are
prepared first; moves they ask for at an op's start are carried out there, recorded as copies
(bytes read from the old tier, written to the new) and as a change of the tensor's tiers from
that op on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hetier.simulator.machine import Machine
from hetier.simulator.policies import Policy, TensorInfo
from hetier.simulator.workload import Workload


@dataclass
class Placement:
    """Where each tensor's bytes live (tier -> share) and what that needs of each tier."""

    share: dict[int, dict[str, float]] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)  # worst overflow per tier
    history: dict[int, list[tuple[int, dict[str, float]]]] = field(default_factory=dict)  # moved tensors: (op, share) from that op on
    copies: dict[int, dict[str, list[float]]] = field(default_factory=dict)  # op -> tier -> [read, written] by moves at its start
    live_peak: dict[str, list[int]] = field(default_factory=dict)  # tier -> per op: live bytes once it has allocated (its peak)
    live_end: dict[str, list[int]] = field(default_factory=dict)  # tier -> per op: live bytes after its frees

    @property
    def fits(self) -> bool:
        return not any(self.missing.values())

    @property
    def migrated_bytes(self) -> float:
        return float(sum(rw[0] for c in self.copies.values() for rw in c.values()))

    def tier_shares(self, tensor: int, default: str, op: int | None = None) -> dict[str, float]:
        """The tensor's tier shares (during op ``op``, for a tensor that moves)."""
        if op is not None and tensor in self.history:
            share = None
            for at, s in self.history[tensor]:
                if at > op:
                    break
                share = s
            if share is not None:
                return share
        return self.share.get(tensor, {default: 1.0})


def _move(pl: Placement, op: int, tensor: int, to: str, tb: dict[str, int], live: dict[str, int]) -> None:
    """Move all of a tensor's live bytes to tier ``to`` at the start of ``op``, as copies."""
    for x, b in list(tb.items()):
        if x == to or not b:
            continue
        c = pl.copies.setdefault(op, {})
        c.setdefault(x, [0.0, 0.0])[0] += b
        c.setdefault(to, [0.0, 0.0])[1] += b
        live[x] -= b
        live[to] += b
        tb[to] = tb.get(to, 0) + b
        tb[x] = 0
    if tensor not in pl.history:
        pl.history[tensor] = [(-1, pl.share[tensor])]
    pl.share[tensor] = {to: 1.0}
    pl.history.setdefault(tensor, []).append((op, {to: 1.0}))


def scaled_capacities(machine: Machine, scale: float) -> Machine:
    """The machine as a placement sees it when each live byte needs ``scale`` bytes: capacities / scale."""
    if scale == 1.0:
        return machine
    return dataclasses.replace(machine, tiers=tuple(
        (n, dataclasses.replace(d, capacity_bytes=int(d.capacity_bytes / scale))) for n, d in machine.tiers))


def place(workload: Workload, machine: Machine, policy: Policy, threads: int = 1, scale: float = 1.0) -> Placement:
    """Every allocation where ``policy`` puts it (a cache's memory system passes "all in the
    backing tier"), with the machine's capacities. A tier's live bytes count ``scale`` times
    toward its capacity (memory needed per live byte: simulator/memory_needed.py), for the policy
    planning as for the check; missing bytes are reported in those needed bytes."""
    machine = scaled_capacities(machine, scale)
    tiers = machine.tier_names
    policy.prepare(workload, machine, threads)
    cap = {t: machine.device(t).capacity_bytes for t in tiers}
    live = {t: 0 for t in tiers}
    bytes_of: dict[int, dict[str, int]] = {}  # tensor -> tier -> bytes
    pl = Placement(peak={t: 0 for t in tiers}, missing={t: 0 for t in tiers},
                   live_peak={t: [] for t in tiers}, live_end={t: [] for t in tiers})
    for op in workload.ops:
        for t, to in policy.moves_before(op.index):
            if bytes_of.get(t):
                _move(pl, op.index, t, to, bytes_of[t], live)
                for x in tiers:
                    pl.peak[x] = max(pl.peak[x], live[x])
                    pl.missing[x] = max(pl.missing[x], live[x] - cap[x])
        for t, c, u in zip(op.alloc_tensor.tolist(), op.alloc_count.tolist(), op.alloc_unit.tolist()):
            nbytes = c * u
            free = {x: cap[x] - live[x] for x in tiers}
            want = policy.place(TensorInfo(t, workload.tensor_kind.get(t, "ciphertext"), nbytes, op.index), free)
            spills = policy.spills
            got: dict[str, int] = {}
            for tier, share in want.items():
                b = int(round(nbytes * share))
                if spills:
                    start = tiers.index(tier)
                    for x in tiers[start:]:
                        take = b if x == tiers[-1] else min(b, max(cap[x] - live[x], 0))
                        if take:
                            got[x] = got.get(x, 0) + take
                            live[x] += take
                            b -= take
                        if not b:
                            break
                else:
                    got[tier] = got.get(tier, 0) + b
                    live[tier] += b
            tb = bytes_of.setdefault(t, {})
            for x, b in got.items():
                tb[x] = tb.get(x, 0) + b
            total = sum(tb.values())
            pl.share[t] = {x: b / total for x, b in sorted(tb.items()) if b} if total else {tiers[0]: 1.0}
            if t in pl.history and pl.history[t][-1][1] != pl.share[t]:
                pl.history[t].append((op.index, pl.share[t]))
            for x in tiers:
                pl.peak[x] = max(pl.peak[x], live[x])
                pl.missing[x] = max(pl.missing[x], live[x] - cap[x])
        for x in tiers:
            pl.live_peak[x].append(live[x])
        for t, c in zip(op.free_tensor.tolist(), op.free_count.tolist()):
            tb = bytes_of.get(t)
            if not tb:
                continue
            unit = workload.tensor_unit.get(t, 0)
            total = sum(tb.values())
            if total <= 0:  # a tensor of zero bytes (a crafted trace): nothing to release
                continue
            release = min(c * unit, total)
            for x in list(tb):
                r = int(round(release * tb[x] / total))
                r = min(r, tb[x])
                tb[x] -= r
                live[x] -= r
        for x in tiers:
            pl.live_end[x].append(live[x])
    pl.missing = {x: int(round(m * scale)) for x, m in pl.missing.items()}
    return pl
