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
from hetier.simulator.machine import Machine
from hetier.simulator.memory_systems import memory_system_for
from hetier.simulator.memory_systems.dram_cache import DramCache
from hetier.simulator.stack import StackProfile
from hetier.formats.advice import ADVICE_MAGIC, ADVICE_VERSION
from hetier.formats.placement import placement_document
from hetier.simulator.policies import ScheduledPolicy, get_policy
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.tensor_lifetimes import peak_live_bytes
from hetier.simulator.workload import Workload
from hetier.vocabulary import exceeds_all_tiers

ADVISOR_POLICIES = ("optimal", "hot-cold", "lifetime", "migrate")  # the advisor's own answers
BASELINES = ("dram-first", "kind-aware", "interleave", "all-pmem")  # whole-tier rules, for comparison
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
    needs: dict = field(default_factory=dict)  # tiering alternatives: kernel, settings, BIOS, code (and a note)

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
    """The same devices in Memory Mode (fast tier caching the slow one); None unless two tiers
    under a placement policy."""
    if not memory_system_for(machine).takes_policy or len(machine.tiers) != 2:
        return None
    return dataclasses.replace(machine, mode=DramCache.mode, name=f"{machine.name} as memory mode")


def advise_machine(workload: Workload, machine: Machine, policies: list[str], threads: int,
                   bisect: bool = True, stack: StackProfile = StackProfile("hetier"),
                   allow_runtime_mismatch: bool = False, tiering: bool = False) -> MachineAdvice:
    """Replay ``policies`` on a ``machine`` that takes placement policies and rank them; see the
    module docstring. ``tiering`` adds the rows of simulator/tiering_alternatives.py (Linux
    tiering, Flat Memory Mode on the same devices), with what each needs."""
    peak = max(peak_live_bytes(workload), 1)
    fast = machine.tier_names[0]
    cap = machine.device(fast).capacity_bytes

    def scenario(m: Machine, policy: str | None) -> Scenario:
        return Scenario(workload, m, policy, stack, threads, allow_runtime_mismatch=allow_runtime_mismatch)

    system = memory_system_for(machine)
    if not system.takes_policy:
        why = f"machine '{machine.name}' is in {system.title}: it takes no placement policy"
        return MachineAdvice(machine.name, fast, cap, peak, None, None, [Row(machine.name, p, why=why) for p in policies])
    big = with_fast_capacity(machine, max(cap, peak))
    all_dram = simulate(scenario(big, "all-dram")).makespan_ns
    twin = memory_mode_twin(machine)
    mm = simulate(scenario(twin, None)).makespan_ns if twin else None
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
            r = simulate(scenario(machine, spec))
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
            row.min_fast_bytes = smallest_fast_tier(scenario(machine, spec), all_dram * (1 + WITHIN), peak)
    if tiering:
        adv.rows += tiering_rows(workload, machine, scenario, all_dram, mm)
    adv.rows.sort(key=lambda r: (not r.ok, r.time_ns or 0.0))
    return adv


def tiering_rows(workload: Workload, machine: Machine, scenario, all_dram: float | None,
                 mm: float | None) -> list[Row]:
    """One row per tiering alternative of ``machine``: time, bytes the kernel migrated or the
    hardware swapped, and what it needs; a configuration that cannot run is a row saying why."""
    from hetier.simulator.tiering_alternatives import tiering_alternatives

    rows = []
    for alt in tiering_alternatives(machine):
        row = Row(alt.machine.name, alt.name, needs={**alt.needs, **({"note": alt.note} if alt.note else {})})
        rows.append(row)
        try:
            memory_system_for(alt.machine).check_machine(alt.machine, f"machine '{alt.machine.name}'")
            r = simulate(scenario(alt.machine, alt.policy))
        except HetierError as e:
            row.why = str(e)
            continue
        if not r.fits:
            row.why = r.headline()
            continue
        moved = r.notes.get("tiering") or {}
        swap = r.notes.get("flat_memory_mode") or {}
        row.time_ns = r.makespan_ns
        row.fast_peak_bytes = r.peak_bytes[machine.tier_names[0]]
        row.migrated_bytes = float(moved.get("promoted_bytes", 0.0) + moved.get("demoted_bytes", 0.0)
                                   + swap.get("swapped_in_bytes", 0.0) + swap.get("swapped_out_bytes", 0.0))
        row.vs_all_dram = row.time_ns / all_dram if all_dram else None
        row.vs_memory_mode = row.time_ns / mm if mm else None
    return rows


def smallest_fast_tier(base: Scenario, target_ns: float, peak: int) -> int | None:
    """Smallest fast-tier size (bisection between 0 and the peak live bytes) at which ``base``'s
    policy takes at most ``target_ns``; None if even the peak does not get there. Assumes time
    does not grow with capacity, which greedy policies do not promise: the answer is then one such size."""
    def good(c: int) -> bool:
        try:
            r = simulate(dataclasses.replace(base, machine=with_fast_capacity(base.machine, c)))
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
    from hetier.simulator.tensor_lifetimes import tensor_lifetimes

    pol = get_policy(spec, machine.tier_names)
    if not isinstance(pol, ScheduledPolicy):
        raise HetierError(f"policy '{spec}' has no per-tensor schedule to write")
    pol.prepare(workload, machine, threads)
    doc = placement_document(workload.trace_id, machine.name, pol.label, pol.start, pol.moves,
                             getattr(pol, "sites", None))
    lifetimes = tensor_lifetimes(workload, machine.llc_bytes)
    by_id = lifetimes.by_id()
    over_time = []
    for op in workload.ops:
        where = {t: 0 for t in machine.tier_names}
        for s in lifetimes.tensors:
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
