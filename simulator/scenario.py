"""A prediction as one object: ``Scenario`` (what to simulate) and ``simulate`` (how, for every verb).

A scenario names a workload (a loaded trace), a machine (whose mode picks the memory system), a
placement policy for memory systems that take one, a stack profile, a thread count, a seed for
random page frames and the recording host. It is checked when it is built: a stack made for
another runtime profile than the trace's is refused in one line naming both, unless
``allow_runtime_mismatch`` says so (results then note it). ``simulate`` runs the memory stage
(placement, per-op traffic), then the time stage (the stack's schedule, one SimPy run); a fit
redoes only the time stage for each trial of its free parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hetier.errors import UsageError
from hetier.formats.results import RunResult
from hetier.formats.trace import runtime_profile_of
from hetier.simulator.demands import OpDemand, op_demands, schedule
from hetier.simulator.engine import RunStats, run, run_in_order
from hetier.simulator.machine import Machine
from hetier.simulator.memory_needed import FIT_BY, MemoryNeeded, memory_needed
from hetier.simulator.memory_systems import MemorySystem, memory_system_for
from hetier.simulator.placement import Placement
from hetier.simulator.policies import get_policy
from hetier.simulator.recording_host import RecordingHost, recording_host_of
from hetier.simulator.stack import StackProfile, load_stack
from hetier.simulator.workload import Workload


@dataclass(frozen=True, eq=False)
class Scenario:
    """One prediction: workload x machine (memory system) x policy x stack x threads x seed."""

    workload: Workload
    machine: Machine
    policy: str | None = None  # a placement policy spec; None: the memory system's default
    stack: StackProfile | None = None  # None: the hetier preset (simulator/presets/stacks/hetier.toml)
    threads: int | None = None  # None: the machine's cores
    seed: int = 0  # page frames of cache-like memory systems
    recording: RecordingHost | None = None  # the recording host; None: as the trace says
    allow_runtime_mismatch: bool = False
    fit_by: str = "resident"  # what decides fit: memory needed ("resident") or the live peak ("live")

    def __post_init__(self):
        if self.stack is None:
            object.__setattr__(self, "stack", load_stack("hetier"))
        threads = self.machine.cores if self.threads is None else self.threads
        if threads < 1:
            raise UsageError(f"threads {threads} must be at least 1")
        if threads > self.machine.cores:
            raise UsageError(f"threads {threads} exceed machine '{self.machine.name}''s {self.machine.cores} cores "
                             "(a thread per core is the most the simulator models)")
        object.__setattr__(self, "threads", threads)
        mismatch = runtime_mismatch(self.workload.meta, self.stack)
        if mismatch and not self.allow_runtime_mismatch:
            raise UsageError(f"{mismatch} (--allow-runtime-mismatch replays it anyway, noted in the results)")
        if self.fit_by not in FIT_BY:
            raise UsageError(f"fit by '{self.fit_by}' unknown (known: {', '.join(FIT_BY)})")
        if self.recording is None:
            object.__setattr__(self, "recording", recording_host_of(self.workload))
        memory_system_for(self.machine).check_policy(self.machine, self.policy)  # fails here, at construction

    @property
    def memory_needed(self) -> MemoryNeeded:
        return memory_needed(self.workload, self.stack, self.fit_by)

    def memory_system(self) -> MemorySystem:
        """A fresh memory system for one run of this scenario."""
        return memory_system_for(self.machine)(self.machine, self.policy, self.seed, self.stack, self.threads)

    def describe(self) -> dict:
        """What results embed, so that any number can be reproduced from its results file."""
        return {"trace": self.workload.trace_id, "machine": self.machine.name, "memory_system": self.machine.mode,
                "policy": self.policy, "stack": self.stack.name, "threads": self.threads, "seed": self.seed,
                "recording_host": self.recording.notes(), "runtime_profile": runtime_profile_of(self.workload.meta),
                "allow_runtime_mismatch": self.allow_runtime_mismatch, "fit_by": self.fit_by}


def scenario_of_run(run: dict, workload: Workload) -> Scenario:
    """The scenario a results file's run summary embeds, over ``workload`` (its trace, checked by
    hash): simulating it gives the run's numbers again."""
    from hetier.simulator.machines import machine_from_dict
    from hetier.simulator.stack import stack_from_results

    sc = run.get("scenario") or {}
    if not sc:
        raise UsageError("this run predates embedded scenarios (results written before hetier 0.1's Scenario)")
    if run["trace"]["sha256"] != workload.trace_id["sha256"]:
        raise UsageError(f"the run is of trace {run['trace']['file']} ({run['trace']['sha256'][:12]}), not of "
                         f"{workload.trace_id['file']} ({workload.trace_id['sha256'][:12]})")
    return Scenario(workload, machine_from_dict(run["machine"]), sc["policy"], stack_from_results(run["stack"]),
                    sc["threads"], sc["seed"], allow_runtime_mismatch=sc["allow_runtime_mismatch"],
                    fit_by=sc.get("fit_by", "resident"))


def runtime_mismatch(meta: dict, stack: StackProfile) -> str | None:
    """The sentence for a stack made for another runtime profile than the trace's, else None."""
    trace_profile = runtime_profile_of(meta)
    if trace_profile == stack.runtime_profile:
        return None
    return (f"stack '{stack.name}' replays traces of runtime profile '{stack.runtime_profile}', but this trace "
            f"was recorded with runtime profile '{trace_profile}'")


@dataclass
class MemoryStage:
    """What the memory system made of a scenario: per-op demands (unscheduled), the placement
    and the system's statistics; it does not depend on the stack's time parameters."""

    demands: list[OpDemand]
    placement: Placement
    system: MemorySystem
    clamped_ops: int

    @property
    def statistics(self) -> dict:
        return self.system.statistics()


def memory_stage(s: Scenario) -> MemoryStage:
    system = s.memory_system()
    pl = system.place(s.workload, s.threads, s.memory_needed.scale)
    demands, clamped = op_demands(s.workload, system, s.recording, s.stack)
    return MemoryStage(demands, pl, system, clamped)


def time_stage(s: Scenario, mem: MemoryStage, stack: StackProfile | None = None, closed_form: bool = False,
               on_op: Callable[[int], None] | None = None) -> RunStats:
    """Schedule the demands with ``stack`` (default: the scenario's) and run them; ``closed_form``
    uses the in-order closed form where the schedule allows (what fits repeat many times)."""
    st = stack or s.stack
    sched = schedule(mem.demands, s.workload, st, s.threads)
    if closed_form and (st.schedule == "sequential" or s.threads == 1):
        return run_in_order(sched, s.machine)
    return run(sched, s.machine, s.threads, on_op)


def exceeds_machine(s: Scenario) -> RunResult | None:
    """The result of a scenario whose memory needed exceeds all its machine can hold, found before
    any placement or replay (a does-not-fit row in well under a second), else None."""
    need, system = s.memory_needed, memory_system_for(s.machine)
    short = need.total_bytes - system.capacity_bytes(s.machine)
    if short <= 0:
        return None
    tiers, w = s.machine.tier_names, s.workload
    zero = {t: 0.0 for t in tiers}
    label = get_policy(s.policy or "all-dram", tiers).label if system.takes_policy else system.run_label
    return RunResult(machine=s.machine.to_dict(), stack=s.stack.to_dict(), policy=label,
                     threads=s.threads, trace=w.trace_id, fits=False,
                     missing_bytes={t: (int(short) if t == tiers[-1] else 0) for t in tiers},
                     peak_bytes={t: 0 for t in tiers}, makespan_ns=None, compute_ns=None, stall_ns=dict(zero),
                     read_bytes=dict(zero), write_bytes=dict(zero),
                     notes={"exceeds_machine": f"{need.sentence()} exceeds the {system.capacity_bytes(s.machine) / 1e9:,.2f} "
                                               f"GB machine '{s.machine.name}' can hold", "seed": s.seed},
                     scenario=s.describe(), memory_needed=need.to_dict())


def simulate(s: Scenario, on_op: Callable[[int], None] | None = None) -> RunResult:
    """Predict one scenario; a placement that does not fit is a result, not an error."""
    early = exceeds_machine(s)
    if early is not None:
        return early
    mem = memory_stage(s)
    pl, tiers, w = mem.placement, s.machine.tier_names, s.workload
    read = {t: float(sum(p.read[t] for p in mem.demands)) for t in tiers}
    write = {t: float(sum(p.write[t] for p in mem.demands)) for t in tiers}
    notes = {"compute_clamped_ops": mem.clamped_ops, **s.recording.notes(), "durations": w.meta.get("durations"),
             "truncated_trace": w.truncated, "seed": s.seed, "migrated_bytes": pl.migrated_bytes}
    mismatch = runtime_mismatch(w.meta, s.stack)
    if mismatch:
        notes["runtime_mismatch"] = mismatch
    stats = mem.statistics
    notes.update({k: v for k, v in stats.items() if k not in ("mm_hit_ratio", "mm_writeback_bytes")})  # e.g. tiering counts
    common = dict(machine=s.machine.to_dict(), stack=s.stack.to_dict(), policy=mem.system.label, threads=s.threads,
                  trace=w.trace_id, fits=pl.fits, missing_bytes={t: int(max(v, 0)) for t, v in pl.missing.items()},
                  peak_bytes=dict(pl.peak), read_bytes=read, write_bytes=write,
                  mm_hit_ratio=stats.get("mm_hit_ratio"), mm_writeback_bytes=stats.get("mm_writeback_bytes"), notes=notes,
                  scenario=s.describe(), memory_needed=s.memory_needed.to_dict())
    if not pl.fits:
        return RunResult(makespan_ns=None, compute_ns=None, stall_ns={t: 0.0 for t in tiers}, **common)
    rs = time_stage(s, mem, on_op=on_op)
    ops = w.ops
    layers = {"layer": [o.layer for o in ops], "name": [o.name for o in ops], "kind": [o.kind for o in ops],
              "start_ns": rs.start_ns.tolist(), "end_ns": rs.end_ns.tolist(), "compute_ns": rs.compute_ns.tolist()}
    for t in tiers:
        layers[f"stall_ns_{t}"] = rs.stall_ns[t].tolist()
        layers[f"read_bytes_{t}"] = [p.read[t] for p in mem.demands]
        layers[f"write_bytes_{t}"] = [p.write[t] for p in mem.demands]
        layers[f"live_peak_bytes_{t}"] = pl.live_peak[t]
        layers[f"live_end_bytes_{t}"] = pl.live_end[t]
    layers["busy_threads"] = rs.threads.tolist()  # of each op's parallel part (its serial part: one)
    if rs.serial_ns is not None and rs.serial_ns.any():  # the executor's part outside the op timers
        layers["serial_ns"] = rs.serial_ns.tolist()
    if any(p.teardown_bytes for p in mem.demands):  # of the op's reads (read_bytes_TIER), the teardown's
        layers["teardown_read_bytes"] = [p.teardown_bytes for p in mem.demands]
    layers.update(mem.system.layer_columns())  # e.g. bytes a kernel or a DRAM cache moved at each op
    return RunResult(makespan_ns=rs.makespan_ns, compute_ns=float(rs.compute_ns.sum()),
                     stall_ns={t: float(np.sum(rs.stall_ns[t])) for t in tiers}, layers=layers, **common)
