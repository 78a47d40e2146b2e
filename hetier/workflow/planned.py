"""Measured runs to replayable cases: plan each configuration once (tracer), load it (simulator).

Data still flows one way, through trace files: each distinct configuration is planned into a
trace in ``workdir`` with the runtime profile the stack replays, then read back as a workload.
"""

from __future__ import annotations

from pathlib import Path

from hetier.simulator.fit import Case
from hetier.simulator.machines import load_machine
from hetier.formats.measured import MeasuredRun
from hetier.simulator.stack import StackProfile
from hetier.simulator.workload import load_workload


def plan_config(run: MeasuredRun, runtime_profile: str, path: Path) -> str:
    """Plan ``run``'s model at its HE parameters (tensor granularity); returns the trace path."""
    from hetier.models.zoo import build
    from hetier.tracer.session import choose_params, plan_run

    graph = build(run.model, **{k: (int(v) if k == "resolution" else v) for k, v in run.options})
    params = choose_params(graph, run.batch, run.poly_modulus, list(run.primes), 22)
    return plan_run(graph, params, path, "tensor", profile=runtime_profile).path


def check_runs(runs: list[MeasuredRun]) -> None:
    """Refuse, before any planning, runs naming an unknown model or machine or more threads than
    the machine has cores."""
    from hetier.errors import UsageError
    from hetier.models.zoo import MODELS

    for r in runs:
        if r.model not in MODELS:
            raise UsageError(f"model '{r.model}' unknown (known: {', '.join(MODELS)})")
        m = load_machine(r.machine)
        if r.threads > m.cores:
            raise UsageError(f"{r.label}: {r.threads} threads exceed the machine's {m.cores} cores")


def cases_of(runs: list[MeasuredRun], stack: StackProfile, workdir: Path) -> tuple[list[Case], dict]:
    """One case per run (traces shared by runs of one configuration); also each config's trace path."""
    traces: dict[tuple, str] = {}
    workloads = {}
    machines = {}
    cases = []
    for r in runs:
        if r.config not in traces:
            traces[r.config] = plan_config(r, stack.runtime_profile, workdir / f"config-{len(traces)}.arrow")
            workloads[r.config] = load_workload(traces[r.config])
        if r.machine not in machines:
            machines[r.machine] = load_machine(r.machine)
        cases.append(Case(r, workloads[r.config], machines[r.machine]))
    return cases, traces
