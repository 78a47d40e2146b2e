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
from hetier.formats.results import RunResult, run_row
from hetier.simulator.axes import Config, config_id


@dataclass(frozen=True)
class Task:
    """One configuration of a sweep, as sent to a worker."""

    config: Config
    trace_sha256: str
    allow_truncated: bool = False
    allow_runtime_mismatch: bool = False
    fit_by: str = "resident"

    @property
    def key(self) -> str:
        return self.config.key(self.trace_sha256)

    @property
    def config_id(self) -> str:
        return config_id(self.key)


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


@functools.lru_cache(maxsize=16)
def stack_identity(name: str) -> str:
    """sha256 of a stack profile as a configuration names it (preset or file): a part made by
    another profile (another hetier on a worker, or before the profile changed) is not this sweep's."""
    from hetier.simulator.stack import load_stack

    text = json.dumps(load_stack(name).to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def base_row(task: Task, status: str, reason: str | None) -> dict:
    """The axis columns of a configuration plus its status and stack identity (the columns every row has)."""
    return {**task.config.row(task.trace_sha256, status, reason), "stack_sha256": stack_identity(task.config.stack)}


def result_row(task: Task, r: RunResult) -> dict:
    """Summary columns of one simulated run (results' ``run_row``) with the configuration's axes."""
    return {**base_row(task, "ok", None), **run_row({**r.summary(), "overrides": {}})}


def run_task(task: Task) -> Outcome:
    """Simulate one configuration (in a worker); a configuration that cannot run is a row saying why."""
    from hetier.simulator.scenario import Scenario, runtime_mismatch, simulate
    from hetier.simulator.stack import load_stack

    c = task.config
    layers: dict = {}
    if c.skip:
        row = base_row(task, "not applicable", c.skip)
    else:
        try:
            machine = c.load()
            work = _workload(c.trace, task.trace_sha256, task.allow_truncated)
            stack = load_stack(c.stack)
            mismatch = runtime_mismatch(work.meta, stack)
            if mismatch and not task.allow_runtime_mismatch:
                row = base_row(task, "not applicable", mismatch)
            else:
                r = simulate(Scenario(work, machine, c.policy_spec, stack, c.threads,
                                      allow_runtime_mismatch=task.allow_runtime_mismatch, fit_by=task.fit_by))
                row = result_row(task, r)
                layers = r.layers
        except HetierError as e:
            row = base_row(task, "error", str(e))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return Outcome(row, layers, f"{os.uname().nodename}:{os.getpid()}", rss, _workload.cache_info().misses)
