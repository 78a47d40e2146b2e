"""Fit a stack profile's free parameters to measured runs, with leave-one-out errors.

The residual of a run is log(predicted / measured time); scipy's least_squares minimises their
sum of squares over the free parameters (in log space, so they stay positive). Each case is a
``Scenario``; its memory stage (placement, the memory system's traffic) does not depend on the
free parameters, so it is computed once and every trial only redoes the time stage. Leave-one-out holds out one
configuration (all its runs) at a time, fits the rest (from the full fit's values and from the
profile's own, keeping the better) and predicts it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from hetier.errors import HetierError, UsageError
from hetier.formats.measured import MeasuredRun
from hetier.simulator.machine import Machine
from hetier.simulator.recording_host import RecordingHost
from hetier.simulator.scenario import Scenario, memory_stage, time_stage
from hetier.simulator.stack import FREE_PARAMETERS, StackProfile
from hetier.simulator.workload import Workload


@dataclass
class Case:
    """A measured run with the workload and machine that replay it."""

    run: MeasuredRun
    workload: Workload
    machine: Machine


@dataclass
class FitResult:
    """Fitted values, each run's prediction with them, and leave-one-out predictions."""

    values: dict[str, float]
    predicted: list[float]
    loo: list[float | None] = field(default_factory=list)  # None: no other configuration to fit on
    evaluations: int = 0

    def errors(self, measured: list[float], which: str = "fit") -> list[float | None]:
        preds = self.predicted if which == "fit" else self.loo
        return [None if p is None else p / m - 1 for p, m in zip(preds, measured)]


class Predictor:
    """Predicted seconds of every case for any values of the free parameters."""

    def __init__(self, cases: list[Case], stack: StackProfile, recording: RecordingHost | None = None):
        self.cases = cases
        self.stack = stack
        self.scenarios, self.memory = [], []
        for c in cases:
            if c.run.threads > c.machine.cores:
                raise UsageError(f"{c.run.label}: {c.run.threads} threads exceed the machine's {c.machine.cores} cores")
            sc = Scenario(c.workload, c.machine, c.run.policy, stack, c.run.threads, recording=recording)
            mem = memory_stage(sc)
            if not mem.placement.fits:
                raise UsageError(f"{c.run.label}: the workload does not fit machine '{c.machine.name}'")
            self.scenarios.append(sc)
            self.memory.append(mem)

    def seconds(self, values: dict[str, float], which: list[int] | None = None) -> list[float]:
        st = self.stack.with_values(**values)
        return [time_stage(self.scenarios[i], self.memory[i], st, closed_form=True).makespan_ns / 1e9
                for i in (which if which is not None else range(len(self.cases)))]


def _solve(pred: Predictor, free: list[str], x0: dict[str, float], which: list[int]) -> tuple[dict[str, float], int, float]:
    measured = np.array([pred.cases[i].run.seconds for i in which])
    start = np.log([max(x0[k], 1e-9) for k in free])

    def residuals(x):
        vals = dict(zip(free, np.exp(x)))
        return np.log(np.array(pred.seconds(vals, which)) / measured)

    res = least_squares(residuals, start, x_scale=1.0, diff_step=1e-3, xtol=1e-4, ftol=1e-6, max_nfev=60)
    if not res.success or not np.all(np.isfinite(res.fun)):
        raise HetierError(f"the fit did not converge ({res.message}); try other starting values with --stack-set")
    return dict(zip(free, (float(v) for v in np.exp(res.x)))), int(res.nfev), float(res.cost)


def fit(cases: list[Case], stack: StackProfile, free: list[str], loo: bool = True) -> FitResult:
    """Fit ``free`` parameters of ``stack`` to the cases' measured times."""
    unknown = [k for k in free if k not in FREE_PARAMETERS]
    if unknown:
        raise UsageError(f"cannot fit {', '.join(unknown)} (free parameters: {', '.join(FREE_PARAMETERS)})")
    if not free:
        raise UsageError("nothing to fit: name at least one free parameter")
    if len(cases) < len(free):
        raise UsageError(f"{len(cases)} measured run(s) cannot determine {len(free)} free parameters")
    x0 = {k: getattr(stack, k) or 1.0 for k in free}
    pred = Predictor(cases, stack)
    everyone = list(range(len(cases)))
    values, nfev, _ = _solve(pred, free, x0, everyone)
    result = FitResult(values, pred.seconds(values), evaluations=nfev)
    configs = list(dict.fromkeys(c.run.config for c in cases))
    result.loo = [None] * len(cases)
    if loo and len(configs) > 1:
        for cfg in configs:
            held = [i for i, c in enumerate(cases) if c.run.config == cfg]
            rest = [i for i in everyone if i not in held]
            if len(rest) < len(free):
                continue
            # from the full fit's values and from the profile's own: a time that takes the longer of
            # two parts (the executor's teardown: its CPU work or its reads) is flat in a parameter
            # while the other part is longer, where a local solver stops; keep the better solution
            tries = [_solve(pred, free, values, rest)]
            if values != x0:
                try:
                    tries.append(_solve(pred, free, x0, rest))
                except HetierError:
                    pass  # that start did not converge: the first solution stands
            v = min(tries, key=lambda t: t[2])[0]
            result.evaluations += sum(t[1] for t in tries)
            for i, s in zip(held, pred.seconds(v, held)):
                result.loo[i] = s
    return result


def rms(errors: list[float | None]) -> float:
    vals = [e for e in errors if e is not None]
    return math.sqrt(sum(e * e for e in vals) / len(vals)) if vals else float("nan")


def reference_runs_path() -> Path:
    """The published runs of the HE-on-PMem study shipped with hetier (with their source)."""
    return Path(__file__).parent / "data" / "he-pmem-tc2021-runs.csv"
