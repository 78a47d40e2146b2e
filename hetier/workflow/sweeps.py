"""A sweep's configurations from its axes, checked before anything runs or is written: what the
`hetier sweep` command and the Python API's ``hetier.sweep`` both plan with (one implementation)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from math import prod

from hetier.errors import HetierError, UsageError


@dataclass
class SweepPlan:
    """The axes, the tasks (one per configuration, the added all-DRAM references included), each
    trace's sha256 and the price file of a sweep."""

    axes: object
    tasks: list
    sha: dict[str, str]
    prices: str
    price_choice: str | None = None

    def manifest(self) -> dict:
        a = self.axes
        return {"traces": sorted({os.path.basename(t) + " " + s for t, s in self.sha.items()}),
                "machines": [[m.label, m.ref] for m in a.machines], "policies": a.policies, "stacks": a.stacks,
                "threads": a.threads, "overrides": [[o.target, o.key, list(o.texts)] for o in a.overrides]}


def plan_sweep(traces: list[str], machines: list[str], policies: list[str], threads: list[str], sets: list[str],
               varies: list[str], stacks: list[str], prices: str | None = None, allow_truncated: bool = False,
               allow_runtime_mismatch: bool = False, fit_by: str = "resident", reference: bool = True,
               price_choice: str | None = None) -> SweepPlan:
    """Axes to tasks: sizes, stacks, prices and traces checked; for each listed machine with more
    than one tier, its all-DRAM reference sized to the memory needed (unless ``reference`` is off)."""
    from hetier.formats.identity import file_sha256
    from hetier.simulator.axes import axes_from_args, dram_only_references
    from hetier.simulator.prices import DEFAULT_PRICES, load_prices
    from hetier.simulator.stack import load_stack
    from hetier.simulator.sweep import Task

    paths = [os.path.abspath(t) for t in traces]  # workers may run elsewhere
    if not paths:
        raise UsageError("no trace given (positional TRACE or traces = [...] in --file)")
    axes = axes_from_args(paths, machines, policies, threads, sets, varies, stacks)
    check_size(axes)
    for name in axes.stacks:
        load_stack(name)  # a bad profile fails before the long part
    price_file = str(prices or DEFAULT_PRICES)
    load_prices(price_file, price_choice)
    sha = {}
    for t in dict.fromkeys(paths):
        try:
            sha[t] = file_sha256(t)
        except OSError as e:
            raise UsageError(f"trace '{t}': {e.strerror}") from None
    configs = axes.configs()
    if reference:
        configs += dram_only_references(axes, memory_needed_by_trace(axes, allow_truncated, fit_by))
    tasks = [Task(c, sha[c.trace], allow_truncated, allow_runtime_mismatch, fit_by) for c in configs]
    tasks = list({t.config_id: t for t in tasks}.values())  # one trace given twice runs once
    return SweepPlan(axes, tasks, sha, price_file, price_choice)


def check_size(axes) -> None:
    """Refuse a sweep of more than MAX_SWEEP_CONFIGS configurations before any is listed (two
    10,000-value ranges used to fill memory listing 10^8 of them)."""
    from hetier.validation import MAX_SWEEP_CONFIGS

    per_trace = sum(prod(len(o.texts) for o in axes.overrides if o.target in (None, m.label)) for m in axes.machines)
    n = len(set(axes.traces)) * per_trace * len(axes.policies) * len(axes.stacks) * max(1, len(axes.threads))
    if n > MAX_SWEEP_CONFIGS:
        raise UsageError(f"the sweep has up to {n:,} configurations; at most {MAX_SWEEP_CONFIGS:,} (narrow a --vary range "
                         "or split the sweep)")


def memory_needed_by_trace(axes, allow_truncated: bool, fit_by: str) -> dict[tuple[str, str], int]:
    """Memory needed per (trace, stack): what the added all-DRAM references are sized to. A trace
    that cannot be read gets no reference (its configurations are error rows saying why)."""
    from hetier.simulator.memory_needed import memory_needed
    from hetier.simulator.stack import load_stack
    from hetier.simulator.workload import load_workload

    out = {}
    for trace in axes.traces:
        try:
            w = load_workload(trace, allow_truncated)
        except HetierError:
            continue
        for stack in axes.stacks:
            out[(trace, stack)] = memory_needed(w, load_stack(stack), fit_by).total_bytes
    return out
