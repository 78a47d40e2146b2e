"""One configuration of a sweep and how a worker runs it (``sweep_runner`` says where).

Each task is one configuration; a worker loads each trace once (a per-process cache keyed by
the trace's sha256) and returns the configuration's summary row and per-layer columns, which
the driver stores as they arrive (``sweep_store``). Rows hold no wall-clock numbers, so where a
configuration ran never changes its row.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import resource
from dataclasses import dataclass

from hetier.errors import HetierError
from hetier.formats.results import RunResult, flat_summary
from hetier.simulator.axes import MEMORY_MODE, Config
from hetier.simulator.machines import Machine


@dataclass(frozen=True)
class Task:
    """One configuration of a sweep, as sent to a worker."""

    config: Config
    trace_sha256: str
    allow_truncated: bool = False

    @property
    def key(self) -> str:
        return self.config.key(self.trace_sha256)

    @property
    def config_id(self) -> str:
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]


@dataclass
class Outcome:
    """What a worker sends back: the summary row, per-layer columns, the worker's peak memory
    and how many times it has read a trace so far (once per trace, thanks to the cache)."""

    row: dict
    layers: dict
    worker: str
    peak_rss_bytes: int
    trace_loads: int = 0


@functools.lru_cache(maxsize=4)
def _workload(path: str, sha256: str, allow_truncated: bool):
    from hetier.simulator.workload import load_workload

    w = load_workload(path, allow_truncated)
    if w.trace_id["sha256"] != sha256:
        raise HetierError(f"trace '{path}' changed during the sweep (sha256 {w.trace_id['sha256'][:12]}, "
                          f"expected {sha256[:12]})")
    return w


SWEEP_STACK = "hetier"  # the stack profile a sweep replays with (replay's default profile)


@functools.lru_cache(maxsize=1)
def stack_identity() -> str:
    """sha256 of the stack profile sweeps replay with: a part made by another profile (another
    hetier on a worker, or before the profile changed) is not this sweep's."""
    from hetier.simulator.stack import StackProfile

    text = json.dumps(StackProfile(SWEEP_STACK).to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def base_row(task: Task, status: str, reason: str | None, machine: Machine | None) -> dict:
    """The axis columns of a configuration plus its status (the columns every row has)."""
    c = task.config
    row = {"config_id": task.config_id, "config_key": task.key, "trace": os.path.basename(c.trace),
           "trace_sha256": task.trace_sha256, "stack": SWEEP_STACK, "stack_sha256": stack_identity(), "machine": c.machine, "machine_preset": c.ref,
           "mode": machine.mode if machine else None, "policy": c.policy, "threads": c.threads,
           "status": status, "reason": reason}
    row.update(c.override_values())
    if machine is not None:
        row["fast_tier_gb"] = machine.tiers[0][1].capacity_bytes / 1e9
        for t, d in machine.tiers:
            row[f"capacity_gb_{t}"] = d.capacity_bytes / 1e9
        row["machine_json"] = json.dumps(machine.to_dict(), sort_keys=True)
    return row


def result_row(task: Task, r: RunResult, machine: Machine) -> dict:
    """Summary columns of one replay (times in ns and s, bytes per tier)."""
    return {**base_row(task, "ok", None, machine), **flat_summary(r.summary()), "trace_model": r.trace.get("model")}


def run_task(task: Task) -> Outcome:
    """Replay one configuration (in a worker); a configuration that cannot run is a row saying why."""
    from hetier.simulator.replay import replay

    c = task.config
    layers: dict = {}
    if c.skip:
        row = base_row(task, "not applicable", c.skip, None)
    else:
        try:
            machine = c.load()
            work = _workload(c.trace, task.trace_sha256, task.allow_truncated)
            r = replay(work, machine, None if c.policy == MEMORY_MODE else c.policy, c.threads)
        except HetierError as e:
            row = base_row(task, "error", str(e), None)
        else:
            row = result_row(task, r, machine)
            layers = r.layers
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return Outcome(row, layers, f"{os.uname().nodename}:{os.getpid()}", rss, _workload.cache_info().misses)
