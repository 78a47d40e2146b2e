"""One replay: workload x machine x policy x threads -> RunResult."""

from __future__ import annotations

from typing import Callable

import numpy as np

from hetier.errors import UsageError
from hetier.formats.results import RunResult
from hetier.simulator.engine import Recording, plan_ops, run
from hetier.simulator.machines import Machine
from hetier.simulator.policies import get_policy
from hetier.simulator.recording import recording_for
from hetier.simulator.stack import StackProfile
from hetier.simulator.workload import Workload


def replay(workload: Workload, machine: Machine, policy: str | None = None, threads: int | None = None,
           recording: Recording | None = None, on_op: Callable[[int], None] | None = None,
           stack: StackProfile = StackProfile("hetier"), seed: int = 0) -> RunResult:
    """Replay ``workload`` on ``machine`` with ``threads`` workers (default: the machine's cores; at
    most that many); a placement that does not fit is a result, not an error."""
    threads = machine.cores if threads is None else threads
    if recording is None:
        recording = recording_for(workload)  # the trace's host preset and CPU times, else the old assumption
    if threads < 1:
        raise UsageError(f"threads {threads} must be at least 1")
    if threads > machine.cores:
        raise UsageError(f"threads {threads} exceed machine '{machine.name}''s {machine.cores} cores "
                         "(a thread per core is the most the simulator models)")
    if machine.mode == "memory":
        if policy not in (None, "memory-mode"):
            raise UsageError(f"machine '{machine.name}' is in Memory Mode: it takes no placement policy (got '{policy}')")
        pol, label = None, "memory-mode"
    else:
        pol = get_policy(policy or "all-dram", machine.tier_names)
        label = pol.label
    plans, pl, stats = plan_ops(workload, machine, pol, threads, recording, stack, seed)
    tiers = machine.tier_names
    read = {t: float(sum(p.read[t] for p in plans)) for t in tiers}
    write = {t: float(sum(p.write[t] for p in plans)) for t in tiers}
    notes = {"compute_clamped_ops": stats["compute_clamped_ops"], **recording.notes(),
             "durations": workload.meta.get("durations"), "truncated_trace": workload.truncated, "seed": seed,
             "migrated_bytes": pl.migrated_bytes}
    mm_hit = mm_wb = None
    if machine.mode == "memory":
        total = stats["hit_bytes"] + stats["miss_bytes"]
        mm_hit = stats["hit_bytes"] / total if total else 1.0
        mm_wb = stats["writeback_bytes"]
    common = dict(machine=machine.to_dict(), stack=stack.to_dict(), policy=label, threads=threads, trace=workload.trace_id,
                  fits=pl.fits, missing_bytes={t: int(max(v, 0)) for t, v in pl.missing.items()},
                  peak_bytes=dict(pl.peak), read_bytes=read, write_bytes=write, mm_hit_ratio=mm_hit,
                  mm_writeback_bytes=mm_wb, notes=notes)
    if not pl.fits:
        return RunResult(makespan_ns=None, compute_ns=0.0, stall_ns={t: 0.0 for t in tiers}, **common)
    rs = run(plans, machine, threads, on_op)
    ops = workload.ops
    layers = {"layer": [o.layer for o in ops], "name": [o.name for o in ops], "kind": [o.kind for o in ops],
              "start_ns": rs.start_ns.tolist(), "end_ns": rs.end_ns.tolist(), "compute_ns": rs.compute_ns.tolist()}
    for t in tiers:
        layers[f"stall_ns_{t}"] = rs.stall_ns[t].tolist()
        layers[f"read_bytes_{t}"] = [p.read[t] for p in plans]
        layers[f"write_bytes_{t}"] = [p.write[t] for p in plans]
        layers[f"live_peak_bytes_{t}"] = pl.live_peak[t]
        layers[f"live_end_bytes_{t}"] = pl.live_end[t]
    if machine.mode == "memory":  # what the study's PEBS counters count: loads served by Optane
        layers["pmem_load_bytes"] = stats["pmem_load_bytes"]
        layers["pmem_demand_load_bytes"] = stats["pmem_demand_load_bytes"]
    return RunResult(makespan_ns=rs.makespan_ns, compute_ns=float(rs.compute_ns.sum()),
                     stall_ns={t: float(np.sum(rs.stall_ns[t])) for t in tiers}, layers=layers, **common)
