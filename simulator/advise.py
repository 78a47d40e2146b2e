"""The placement advisor: replay candidate policies on a machine, rank them against all-DRAM and
Memory Mode, and find for each the smallest fast tier that keeps it within 5% of all-DRAM.

All-DRAM is the same machine with a fast tier large enough for the whole run; Memory Mode is
the same two devices with the fast one as a direct-mapped cache (only for two-tier flat
machines). A configuration that cannot run (a policy the machine cannot take, a placement that
does not fit) is a row saying why, so the others still run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from hetier.errors import HetierError
from hetier.simulator.machines import Machine
from hetier.formats.placement import check_trace, placement_document, read_document
from hetier.validation import ADVICE, validate
from hetier.simulator.policies import ScheduledPolicy, get_policy
from hetier.simulator.replay import replay
from hetier.simulator.workload import Workload
from hetier.vocabulary import exceeds_all_tiers

ADVISOR_POLICIES = ("optimal", "hot-cold", "lifetime", "migrate")  # the advisor's own answers
BASELINES = ("dram-first", "kind-aware", "interleave", "all-pmem")  # whole-tier rules, for comparison
ADVICE_MAGIC = "hetier-advice"
ADVICE_VERSION = 1
WITHIN = 0.05  # "close to all-DRAM": at most 5% slower
BISECT_STEPS = 10  # capacity resolution: peak live bytes / 2**10


@dataclass
class Row:
    """One machine x policy: its predicted time, or why there is none."""

    machine: str
    policy: str
    time_ns: float | None = None
    vs_all_dram: float | None = None
    vs_memory_mode: float | None = None
    fast_peak_bytes: int = 0
    migrated_bytes: float = 0.0
    min_fast_bytes: int | None = None  # smallest fast tier within WITHIN of all-DRAM
    why: str = ""  # set when there is no time

    @property
    def ok(self) -> bool:
        return self.time_ns is not None


@dataclass
class MachineAdvice:
    machine: str
    fast_tier: str
    fast_bytes: int
    peak_live_bytes: int
    all_dram_ns: float | None
    memory_mode_ns: float | None
    rows: list[Row] = field(default_factory=list)


def with_fast_capacity(machine: Machine, nbytes: int) -> Machine:
    """The machine with its first tier resized to ``nbytes``."""
    (name, dev), *rest = machine.tiers
    return dataclasses.replace(machine, tiers=((name, dataclasses.replace(dev, capacity_bytes=int(nbytes))), *rest))


def memory_mode_twin(machine: Machine) -> Machine | None:
    """The same devices in Memory Mode (fast tier caching the slow one); None unless two flat tiers."""
    if machine.mode != "flat" or len(machine.tiers) != 2:
        return None
    return dataclasses.replace(machine, mode="memory", name=f"{machine.name} as memory mode")


def advise_machine(workload: Workload, machine: Machine, policies: list[str], threads: int,
                   bisect: bool = True) -> MachineAdvice:
    """Replay ``policies`` on a flat ``machine`` and rank them; see the module docstring."""
    peak = max(_peak_live(workload), 1)
    fast = machine.tier_names[0]
    cap = machine.device(fast).capacity_bytes
    if machine.mode != "flat":
        why = f"machine '{machine.name}' is in Memory Mode: it takes no placement policy"
        return MachineAdvice(machine.name, fast, cap, peak, None, None, [Row(machine.name, p, why=why) for p in policies])
    big = with_fast_capacity(machine, max(cap, peak))
    all_dram = replay(workload, big, "all-dram", threads).makespan_ns
    twin = memory_mode_twin(machine)
    mm = replay(workload, twin, None, threads).makespan_ns if twin else None
    adv = MachineAdvice(machine.name, fast, cap, peak, all_dram, mm)
    total = sum(d.capacity_bytes for _, d in machine.tiers)
    for spec in policies:
        row = Row(machine.name, spec)
        adv.rows.append(row)
        if total < peak:
            row.why = exceeds_all_tiers(peak, total)
            continue
        try:
            row.policy = get_policy(spec, machine.tier_names).label
            r = replay(workload, machine, spec, threads)
        except HetierError as e:
            row.why = str(e)
            continue
        if not r.fits:
            row.why = r.headline()
            continue
        row.time_ns = r.makespan_ns
        row.fast_peak_bytes = r.peak_bytes[fast]
        row.migrated_bytes = float(r.notes.get("migrated_bytes", 0.0))
        row.vs_all_dram = row.time_ns / all_dram if all_dram else None
        row.vs_memory_mode = row.time_ns / mm if mm else None
        if bisect and all_dram:
            row.min_fast_bytes = smallest_fast_tier(workload, machine, spec, threads, all_dram * (1 + WITHIN), peak)
    adv.rows.sort(key=lambda r: (not r.ok, r.time_ns or 0.0))
    return adv


def smallest_fast_tier(workload: Workload, machine: Machine, policy: str, threads: int, target_ns: float,
                       peak: int) -> int | None:
    """Smallest fast-tier size (bisection between 0 and the peak live bytes) at which ``policy``
    takes at most ``target_ns``; None if even the peak does not get there. Assumes time does not
    grow with capacity, which greedy policies do not promise: the answer is then one such size."""
    def good(c: int) -> bool:
        try:
            r = replay(workload, with_fast_capacity(machine, c), policy, threads)
        except HetierError:
            return False
        return r.fits and r.makespan_ns <= target_ns

    if not good(peak):
        return None
    if good(0):
        return 0
    lo, hi = 0, peak
    for _ in range(BISECT_STEPS):
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if good(mid) else (mid, hi)
    return hi


def recommended(advice: list[MachineAdvice]) -> Row | None:
    """The fastest advisor policy that ran, over all machines."""
    rows = [r for a in advice for r in a.rows if r.ok and r.policy.split(":")[0] in ADVISOR_POLICIES]
    return min(rows, key=lambda r: r.time_ns, default=None)


def placement_for(workload: Workload, machine: Machine, spec: str, threads: int) -> tuple[dict, list[dict]]:
    """The placement file document of an advisor policy on ``machine``, and per op where the
    live bytes are at its peak (layer, tier -> bytes, bytes moved at its start)."""
    from hetier.simulator.tensor_profile import profile_workload

    pol = get_policy(spec, machine.tier_names)
    if not isinstance(pol, ScheduledPolicy):
        raise HetierError(f"policy '{spec}' has no per-tensor schedule to write")
    pol.prepare(workload, machine, threads)
    doc = placement_document(workload.trace_id, machine.name, pol.label, pol.start, pol.moves,
                             getattr(pol, "sites", None))
    profile = profile_workload(workload, machine.llc_bytes)
    by_id = profile.by_id()
    over_time = []
    for op in workload.ops:
        where = {t: 0 for t in machine.tier_names}
        for s in profile.tensors:
            if s.first_op <= op.index <= s.last_op:
                where[pol.tier_at(s.tensor, op.index)] += s.live_at(op.index)
        moved = sum(by_id[t].live_at(op.index - 1) for t, _ in pol.moves_before(op.index))
        over_time.append({"op": op.index, "layer": op.name, "bytes": where, "moved_bytes": moved})
    return doc, over_time


def advice_document(trace: dict, advice: list[MachineAdvice], best: Row, threads: int, bisected: bool,
                    over_time: list[dict]) -> dict:
    """What `hetier report --advice` renders: the ranking per machine, the recommended policy and
    per op where its live bytes are (tier -> bytes) and what moved in before it."""
    return {"magic": ADVICE_MAGIC, "version": ADVICE_VERSION, "trace": trace, "threads": threads,
            "bisected": bisected, "within": WITHIN, "machines": [dataclasses.asdict(a) for a in advice],
            "recommended": dataclasses.asdict(best), "layers": over_time}


def read_advice(path: str, trace: dict) -> dict:
    """Load an advice file written by `hetier advise --advice`, refused for any trace but ``trace``."""
    doc = read_document(path, ADVICE_MAGIC, ADVICE_VERSION, "advice")
    for key, kind in (("machines", list), ("recommended", dict), ("layers", list)):
        if not isinstance(doc.get(key), kind):
            raise HetierError(f"advice file '{path}': '{key}' missing or not a {kind.__name__}")
    validate(doc, ADVICE, f"advice file '{path}'")  # types, ranges, sizes: hetier/validation.py
    check_trace(doc, trace, path, "advice")
    return doc


def _peak_live(workload: Workload) -> int:
    from hetier.simulator.tensor_profile import profile_workload

    p = profile_workload(workload, 0)
    return int(p.peak_live.max()) if p.n_ops else 0
