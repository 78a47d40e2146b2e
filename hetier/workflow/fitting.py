"""`hetier fit` and `hetier.fit`: plan each measured configuration, fit a stack profile's free
parameters to the measured times, check the fit is usable, and write the fitted profile.

The command prints the outcome as a table; the Python API returns it. Both run this code.
"""

from __future__ import annotations

import math
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager

from hetier.errors import HetierError, UsageError
from hetier.formats.measured import MeasuredRun
from hetier.simulator.fit import FitResult
from hetier.simulator.stack import StackProfile

MAX_FREE = 4  # each free parameter needs a physical meaning


@dataclass
class FitOutcome:
    """A fit of ``stack``'s ``free`` parameters to ``runs`` (read from ``runs_path``): the
    solver's result, each configuration's planned resident peak (GB), and the statistics."""

    runs_path: Path
    runs: list[MeasuredRun]
    stack: StackProfile
    free: list[str]
    result: FitResult
    peaks_gb: dict  # run.config -> the planned trace's resident peak (GB)
    loo: bool
    held_out: frozenset = frozenset()  # models whose runs were predicted with the fitted values, not fitted

    @property
    def measured(self) -> list[float]:
        return [r.seconds for r in self.runs]

    @property
    def errors(self) -> list[float | None]:
        return self.result.errors(self.measured)

    @property
    def loo_errors(self) -> list[float | None]:
        return self.result.errors(self.measured, "loo")

    @property
    def rms_error(self) -> float:
        """RMS of the fitted runs' errors (held-out runs aside)."""
        from hetier.simulator.fit import rms

        return rms([e for r, e in zip(self.runs, self.errors) if r.model not in self.held_out])

    @property
    def loo_rms_error(self) -> float | None:
        """RMS of the fitted runs' leave-one-out errors; None when none was computed (no LOO, one
        configuration)."""
        from hetier.simulator.fit import rms

        computed = [e for r, e in zip(self.runs, self.loo_errors) if e is not None and r.model not in self.held_out]
        return rms(computed) if computed else None

    @property
    def fitted(self) -> StackProfile:
        """The stack profile with the fitted values."""
        return self.stack.with_values(**self.result.values)

    def table(self):
        """One row per measured run (a ``pyarrow.Table``): ``run``, ``measured_s``, ``fitted_s``,
        ``error``, ``loo_s`` and ``loo_error`` (null where not computed), ``peak_gb`` (measured),
        ``predicted_peak_gb`` (the planned trace's resident peak)."""
        import pyarrow as pa

        res = self.result
        return pa.Table.from_pylist([
            {"run": r.label, "measured_s": r.seconds, "fitted_s": p, "error": e, "loo_s": l, "loo_error": le,
             "peak_gb": r.peak_gb, "predicted_peak_gb": self.peaks_gb[r.config]}
            for r, p, e, l, le in zip(self.runs, res.predicted, self.errors, res.loo, self.loo_errors)])

    def profile_text(self, command: str) -> str:
        """The fitted profile as TOML (what ``fit -o`` writes), saying how it was fitted and by
        which command; refused if it would not load again."""
        from hetier.simulator.stack import profile_toml

        info = {"runs": str(self.runs_path.name), "free": self.free, "rms_error": self.rms_error}
        if self.loo_rms_error is not None:
            info["loo_rms_error"] = self.loo_rms_error
        if self.held_out:
            info["held_out_models"] = sorted(self.held_out)
            info["held_out_errors"] = [round(e, 4) for r, e in zip(self.runs, self.errors) if r.model in self.held_out]
        text = profile_toml(self.fitted, info, command)
        _check_readable(text)
        return text


def parse_free(free: str | list[str] | tuple[str, ...]) -> list[str]:
    """The free parameters (a comma-list or a sequence), refused if repeated, too many or unknown."""
    from hetier.simulator.stack import FREE_PARAMETERS

    names = [k.strip() for k in (free.split(",") if isinstance(free, str) else free) if k.strip()]
    twice = sorted({k for k in names if names.count(k) > 1})
    if twice:
        raise UsageError(f"--free names {', '.join(twice)} twice")
    if len(names) > MAX_FREE:
        raise UsageError(f"{len(names)} free parameters; at most {MAX_FREE} (each needs a physical meaning)")
    unknown = [k for k in names if k not in FREE_PARAMETERS]
    if unknown:
        raise UsageError(f"cannot fit {', '.join(unknown)} (free parameters: {', '.join(FREE_PARAMETERS)})")
    return names


def fit_profile(runs_path: str | Path | None, stack: StackProfile, free: list[str], loo: bool = True,
                status: Callable[[str], ContextManager] | None = None,
                held_out: list[str] | tuple[str, ...] = ()) -> FitOutcome:
    """Plan each distinct configuration of the measured runs (default: the HE-on-PMem study's
    published runs) with ``stack``'s runtime profile, fit ``free`` to the measured seconds (with
    leave-one-out fits if ``loo``) and refuse a fit that is not usable. Runs of the ``held_out``
    models are not fitted: they are predicted with the fitted values (their leave-one-out value is
    that prediction). ``status(message)`` wraps each long step (a spinner's hook)."""
    from hetier.analysis.trace_stats import trace_stats
    from hetier.formats.measured import load_measured
    from hetier.simulator.fit import fit, reference_runs_path
    from hetier.workflow.planned import cases_of, check_runs

    status = status or (lambda _msg: nullcontext())
    path = Path(runs_path) if runs_path else reference_runs_path()
    runs = load_measured(path)
    check_runs(runs)
    held = frozenset(held_out)
    unknown = sorted(held - {r.model for r in runs})
    if unknown:
        raise UsageError(f"--hold-out-model {unknown[0][:40]}: no run of that model in {path.name}")
    if held and all(r.model in held for r in runs):
        raise UsageError("--hold-out-model holds out every run: nothing left to fit")
    with tempfile.TemporaryDirectory() as d:
        with status(f"planning {len({r.config for r in runs})} configuration(s) with runtime profile "
                    f"{stack.runtime_profile} ..."):
            cases, traces = cases_of(runs, stack, Path(d))
        peaks = {cfg: trace_stats(p).resident_peak_bytes / 1e9 for cfg, p in traces.items()}
        fitted = [i for i, r in enumerate(runs) if r.model not in held]
        with status(f"fitting {', '.join(free)} of stack {stack.name} to {len(fitted)} run(s) ..."):
            res = fit([cases[i] for i in fitted], stack, free, loo=loo)
            if held:
                res = with_held_out(res, cases, fitted, stack)
    _check_result(res, stack, [r.seconds for r in runs])
    return FitOutcome(path, runs, stack, free, res, peaks, loo, held)


def with_held_out(res: FitResult, cases: list, fitted: list[int], stack: StackProfile) -> FitResult:
    """``res`` (a fit of ``cases[fitted]``) extended to every case: the others predicted with the
    fitted values, their prediction standing as their leave-one-out value too."""
    from hetier.simulator.fit import Predictor

    others = [i for i in range(len(cases)) if i not in fitted]
    held = dict(zip(others, Predictor([cases[i] for i in others], stack).seconds(res.values)))
    done = dict(zip(fitted, zip(res.predicted, res.loo)))
    predicted = [done[i][0] if i in done else held[i] for i in range(len(cases))]
    loo = [done[i][1] if i in done else held[i] for i in range(len(cases))]
    return FitResult(res.values, predicted, loo, res.evaluations)


def _check_result(res: FitResult, stack: StackProfile, measured: list[float]) -> None:
    """Refuse a fit whose values or predictions are not finite or leave the profile's ranges (a
    'fit' at the edge of the range explains nothing): no statistic of it is printed."""
    from hetier.simulator.stack import stack_from_dict

    bad = [f"{k} = {v!r}" for k, v in res.values.items() if not math.isfinite(v)]
    bad += [f"prediction {p!r} s" for p in res.predicted if p is None or not math.isfinite(p) or p <= 0]
    if not bad:
        try:
            stack_from_dict(stack.with_values(**res.values).to_dict(), "fitted profile")  # the declarations' rules
        except HetierError as e:
            bad.append(str(e).removeprefix("fitted profile: "))
    errors = res.errors(measured)
    if not bad and not all(e is not None and math.isfinite(e) for e in errors):
        bad.append("an error that is not a finite number")
    if bad:
        raise HetierError(f"the fit did not converge to a usable profile ({'; '.join(bad)[:300]}); "
                          "check the runs or start elsewhere with --stack-set")


def _check_readable(text: str) -> None:
    """The profile fit writes must load again as a stack profile (else nothing is written)."""
    import tomllib

    from hetier.simulator.stack import stack_from_dict

    try:
        stack_from_dict(tomllib.loads(text), "fitted profile")
    except (tomllib.TOMLDecodeError, HetierError) as e:
        raise HetierError(f"the fitted profile would not load again ({str(e)[:200]}); nothing written") from None
