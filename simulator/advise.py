"""The placement advisor: replay candidate policies on a machine, rank them against all-DRAM and
Memory Mode, and find for the best of them (the fastest advisor policy and the fastest
deployable one) the smallest fast tier that keeps it within 5% of all-DRAM.

All-DRAM is the same machine with a fast tier large enough for the whole run; Memory Mode is
the same two devices with the fast one as a direct-mapped cache (only where the slow tier is
PMem: Memory Mode is an Optane feature). A configuration that cannot run (a policy the machine
cannot take, a placement that does not fit) is a row saying why, so the others still run. Each
row says how a real process can get that placement (numactl) or that only the simulator can.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from hetier.errors import HetierError
from hetier.simulator.machine import Machine
from hetier.simulator.memory_systems import memory_system_for
from hetier.simulator.memory_systems.dram_cache import DramCache
from hetier.simulator.memory_needed import memory_needed
from hetier.simulator.stack import StackProfile, load_stack
from hetier.formats.advice import ADVICE_MAGIC, ADVICE_VERSION
from hetier.formats.placement import placement_document
from hetier.simulator.policies import ScheduledPolicy, get_policy, policy_class
from hetier.simulator.scenario import Scenario, simulate
from hetier.simulator.workload import Workload
from hetier.vocabulary import threads_exceed

ADVISOR_POLICIES = ("ilp", "hot-cold", "lifetime", "migrate")  # the advisor's own answers
BASELINES = ("dram-first", "kind-aware", "interleave", "all-pmem")  # whole-tier rules, for comparison
WITHIN = 0.05  # "close to all-DRAM": at most 5% slower
BISECT_STEPS = 7  # capacity resolution: memory needed / 2**7 (under 1%)


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
    searched: bool = False  # whether that smallest fast tier was searched for
    why: str = ""  # set when there is no time
    deploy: str | None = None  # how a real process gets this placement; None: simulation only
    needs: dict = field(default_factory=dict)  # tiering alternatives: kernel, settings, BIOS, code (and a note)

    @property
    def ok(self) -> bool:
        return self.time_ns is not None


@dataclass
class MachineAdvice:
    machine: str
    fast_tier: str
    fast_bytes: int
    memory_needed_bytes: int  # what decides fit (simulator/memory_needed.py)
    all_dram_ns: float | None
    memory_mode_ns: float | None
    rows: list[Row] = field(default_factory=list)
    threads: int = 1
    tiering: list[dict] = field(default_factory=list)  # per tiering row that ran: its bytes moved per op


def ranking(advice: MachineAdvice) -> dict:
    """One machine's ranking as plain data (``--json``, the advice file's ``machines``): without
    the per-op tiering columns, which the advice file keeps apart (``tiering``)."""
    d = dataclasses.asdict(advice)
    del d["tiering"]
    return d


def with_fast_capacity(machine: Machine, nbytes: int) -> Machine:
    """The machine with its first tier resized to ``nbytes``."""
    (name, dev), *rest = machine.tiers
    return dataclasses.replace(machine, tiers=((name, dataclasses.replace(dev, capacity_bytes=int(nbytes))), *rest))


def memory_mode_twin(machine: Machine) -> Machine | None:
    """The same devices in Memory Mode (fast tier caching the slow one); None unless two tiers
    under a placement policy, the slow one PMem (Memory Mode is an Optane feature)."""
    if not memory_system_for(machine).takes_policy or len(machine.tiers) != 2 or machine.tiers[1][1].kind != "pmem":
        return None
    twin = dataclasses.replace(machine, mode=DramCache.mode, name=f"{machine.name} as memory mode")
    try:  # the cache's simulated state is bounded as for any Memory Mode machine (a 4 TB DRAM would need 8.7 GB)
        DramCache.check_machine(twin, f"machine '{twin.name}'")
    except HetierError:
        return None
    return twin


def advise_machine(workload: Workload, machine: Machine, policies: list[str], threads: int | None = None,
                   bisect: bool = True, stack: StackProfile | None = None,
                   allow_runtime_mismatch: bool = False,
                   progress: Callable[[str], None] | None = None, fit_by: str = "resident",
                   tiering: bool = False) -> MachineAdvice:
    """Replay ``policies`` on a ``machine`` that takes placement policies and rank them, with
    ``threads`` simulated threads (default: the machine's cores); see the module docstring.
    ``progress`` hears about each replay as it starts; ``tiering`` adds the rows of
    simulator/tiering_alternatives.py (Linux tiering, Flat Memory Mode on the same devices), with
    what each needs."""
    say = progress or (lambda _msg: None)
    threads = machine.cores if threads is None else threads
    fast = machine.tier_names[0]
    cap = machine.device(fast).capacity_bytes

    def scenario(m: Machine, policy: str | None) -> Scenario:
        return Scenario(workload, m, policy, stack, threads, allow_runtime_mismatch=allow_runtime_mismatch,
                        fit_by=fit_by)

    if threads > machine.cores:  # as replay and sweep show it: a row saying why, not a refusal
        why = threads_exceed(threads, machine.cores)
        need = memory_needed(workload, stack or load_stack("hetier"), fit_by).total_bytes
        return MachineAdvice(machine.name, fast, cap, need, None, None, [Row(machine.name, p, why=why) for p in policies],
                             threads)
    peak = max(scenario(machine, None if not memory_system_for(machine).takes_policy else "all-dram")
               .memory_needed.total_bytes, 1)

    system = memory_system_for(machine)
    if not system.takes_policy:
        why = f"machine '{machine.name}' is in {system.title}: it takes no placement policy"
        return MachineAdvice(machine.name, fast, cap, peak, None, None, [Row(machine.name, p, why=why) for p in policies],
                             threads)
    big = with_fast_capacity(machine, max(cap, peak))
    say(f"{machine.name}: all-DRAM")
    all_dram = simulate(scenario(big, "all-dram")).makespan_ns
    twin = memory_mode_twin(machine)
    if twin:
        say(f"{machine.name}: Memory Mode")
    mm = simulate(scenario(twin, None)).makespan_ns if twin else None
    adv = MachineAdvice(machine.name, fast, cap, peak, all_dram, mm, threads=threads)
    for spec in policies:
        row = Row(machine.name, spec, deploy=getattr(policy_class(spec), "deploy", None))
        adv.rows.append(row)
        try:
            row.policy = get_policy(spec, machine.tier_names).label
            say(f"{machine.name}: {row.policy}")
            r = simulate(scenario(machine, spec))
        except HetierError as e:
            row.why = str(e)
            continue
        _fill_row(row, r, fast, all_dram, mm, float(r.notes.get("migrated_bytes", 0.0)))
    if tiering:
        say(f"{machine.name}: Linux tiering and Flat Memory Mode")
        rows, adv.tiering = tiering_rows(workload, machine, scenario, all_dram, mm)
        adv.rows += rows
    adv.rows.sort(key=lambda r: (not r.ok, r.time_ns or 0.0))
    if bisect and all_dram:  # the search replays a policy ~10 times: only for the answers a reader acts on
        for row in {id(r): r for r in (recommended([adv]), fastest([adv], deployable=True)) if r}.values():
            say(f"{machine.name}: smallest {fast} for {row.policy}")
            row.min_fast_bytes = smallest_fast_tier(scenario(machine, row.policy), all_dram * (1 + WITHIN), peak)
            row.searched = True
    return adv


TIERING_COLUMNS = ("name", "start_ns", "end_ns", "promoted_bytes", "demoted_bytes")  # an entry's per-op columns


def tiering_rows(workload: Workload, machine: Machine, scenario, all_dram: float | None,
                 mm: float | None) -> tuple[list[Row], list[dict]]:
    """One row per tiering alternative of ``machine``: time, bytes the kernel migrated or the
    hardware swapped, and what it needs; a configuration that cannot run is a row saying why.
    With them, per alternative that ran, what `hetier report --advice` draws over time
    (``tiering_entry``)."""
    from hetier.simulator.tiering_alternatives import tiering_alternatives

    rows, entries = [], []
    for alt in tiering_alternatives(machine):
        how = "; ".join(f"{k}: {v}" for k, v in alt.needs.items() if v and v != "none")
        row = Row(alt.machine.name, alt.name, needs={**alt.needs, **({"note": alt.note} if alt.note else {})},
                  deploy=how or None)
        rows.append(row)
        try:
            memory_system_for(alt.machine).check_machine(alt.machine, f"machine '{alt.machine.name}'")
            r = simulate(scenario(alt.machine, alt.policy))
        except HetierError as e:
            row.why = str(e)
            continue
        moved = r.notes.get("tiering") or {}
        swap = r.notes.get("flat_memory_mode") or {}
        _fill_row(row, r, machine.tier_names[0], all_dram, mm,
                  float(moved.get("promoted_bytes", 0.0) + moved.get("demoted_bytes", 0.0)
                        + swap.get("swapped_in_bytes", 0.0) + swap.get("swapped_out_bytes", 0.0)))
        if row.ok:
            entries.append(tiering_entry(alt.machine, row.policy, r.layers))
    return rows, entries


def tiering_entry(machine: Machine, policy: str, layers: dict) -> dict:
    """A tiering run as the advice file keeps it: the machine (name, mode, tiers with kind and
    capacity), the policy as ranked, and per op its name, simulated start and end, bytes moved
    into the first tier and out of it (promoted/demoted, or swapped in/out) and, under Linux
    tiering, the first tier's resident bytes after the op: what analysis/reports/tiering.py draws."""
    from hetier.simulator.memory_systems.linux_tiering import LinuxTiering

    fast = machine.tier_names[0]
    ops = {c: list(layers[c]) for c in TIERING_COLUMNS}
    if machine.mode == LinuxTiering.mode:  # Flat Memory Mode keeps DRAM full: no resident curve
        ops["resident_bytes"] = list(layers[f"live_end_bytes_{fast}"])
    return {"machine": {"name": machine.name, "mode": machine.mode,
                        "tiers": [{"tier": n, "kind": d.kind, "capacity_gb": d.capacity_bytes / 1e9}
                                  for n, d in machine.tiers]},
            "policy": policy, "ops": ops}


def _fill_row(row: Row, r, fast: str, all_dram: float | None, mm: float | None, moved_bytes: float) -> None:
    """A row from one simulated run: its time beside all-DRAM and Memory Mode, or why it has none."""
    if not r.fits:
        row.why = r.headline()
        return
    row.time_ns = r.makespan_ns
    row.fast_peak_bytes = r.peak_bytes[fast]
    row.migrated_bytes = moved_bytes
    row.vs_all_dram = row.time_ns / all_dram if all_dram else None
    row.vs_memory_mode = row.time_ns / mm if mm else None


def smallest_fast_tier(base: Scenario, target_ns: float, peak: int) -> int | None:
    """Smallest fast-tier size (bisection between 0 and the memory needed) at which ``base``'s
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
    """The fastest advisor policy that ran, over all machines (what the placement file holds)."""
    rows = [r for a in advice for r in a.rows if r.ok and r.policy.split(":")[0] in ADVISOR_POLICIES]
    return min(rows, key=lambda r: r.time_ns, default=None)


def fastest(advice: list[MachineAdvice], deployable: bool = False) -> Row | None:
    """The fastest policy that ran over all machines, baselines included (``deployable``: only
    policies a real process can be given)."""
    rows = [r for a in advice for r in a.rows if r.ok and (r.deploy is not None or not deployable)]
    return min(rows, key=lambda r: r.time_ns, default=None)


def advice_of(row: Row, advice: list[MachineAdvice]) -> MachineAdvice:
    """The machine's advice ``row`` is ranked in (a tiering row names the machine's twin, e.g.
    "M as linux-tiering", so it is found by the row, not by its machine's name)."""
    return next(a for a in advice if any(r is row for r in a.rows))


def why_it_wins(row: Row, advice: list[MachineAdvice]) -> str:
    """One sentence on why ``row`` is recommended: its time against all-DRAM and the runner-up,
    the fast tier it needs and what it migrates."""
    adv = advice_of(row, advice)
    others = sorted((r for r in adv.rows if r.ok and r is not row), key=lambda r: r.time_ns)
    parts = [f"{row.policy} takes {row.time_ns / 1e9:,.3f} s"]
    if row.vs_all_dram is not None:
        parts.append(f"{row.vs_all_dram:.3f}x all-DRAM")
    if others:
        r = others[0]
        rel = "faster than" if row.time_ns < r.time_ns else "as fast as" if row.time_ns == r.time_ns else "slower than"
        parts.append(f"{rel} the next, {r.policy} ({r.time_ns / 1e9:,.3f} s)")
    if row.min_fast_bytes is not None:
        parts.append(f"needs {row.min_fast_bytes / 1e9:,.2f} GB of {adv.fast_tier} to stay within {WITHIN:.0%} of all-DRAM")
    if row.migrated_bytes:
        parts.append(f"migrates {row.migrated_bytes / 1e9:,.2f} GB")
    parts.append(f"deploy: {row.deploy}" if row.deploy else "simulation only (it places single tensors)")
    return "; ".join(parts)


def placement_for(workload: Workload, machine: Machine, spec: str, threads: int, scale: float = 1.0
                  ) -> tuple[dict, list[dict]]:
    """The placement file document of an advisor policy on ``machine`` (planned as the replay
    plans it: capacities over memory needed per live byte, ``scale``), and per op where the live
    bytes are at its peak (layer, tier -> bytes, bytes moved at its start)."""
    from hetier.simulator.placement import scaled_capacities
    from hetier.simulator.tensor_lifetimes import tensor_lifetimes

    pol = get_policy(spec, machine.tier_names)
    if not isinstance(pol, ScheduledPolicy):
        raise HetierError(f"policy '{spec}' has no per-tensor schedule to write")
    pol.prepare(workload, scaled_capacities(machine, scale), threads)
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
    per op where its live bytes are (tier -> bytes) and what moved in before it, and per tiering
    alternative that ran (``--tiering``) its bytes promoted and demoted, or swapped, per op."""
    return {"magic": ADVICE_MAGIC, "version": ADVICE_VERSION, "trace": trace, "threads": threads,
            "bisected": bisected, "within": WITHIN, "machines": [ranking(a) for a in advice],
            "recommended": dataclasses.asdict(best), "layers": over_time,
            "tiering": [e for a in advice for e in a.tiering]}
