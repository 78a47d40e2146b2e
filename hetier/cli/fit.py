"""Fit a stack profile's free parameters to measured runs; print residuals and leave-one-out errors.

Example: hetier fit --stack he-transformer -o fitted.toml   (the shipped HE-on-PMem study runs)
         hetier fit my-runs.csv --stack he-transformer --free compute_scale
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="?", help="measured-runs CSV (default: the HE-on-PMem study's published runs)")
    p.add_argument("--stack", default="he-transformer", help="stack profile to fit: preset or .toml")
    p.add_argument("--stack-set", action="append", default=[], metavar="KEY=VALUE", help="starting value override")
    p.add_argument("--free", default="compute_scale,teardown_ns_per_host_byte",
                   help="comma-list of the parameters to fit (at most 4)")
    p.add_argument("--hold-out-model", action="append", default=[], metavar="MODEL",
                   help="fit without this model's runs, then predict them with the fitted values (repeatable)")
    p.add_argument("--no-loo", action="store_true", help="skip the leave-one-out fits")
    p.add_argument("-o", "--output", help="write the fitted profile (TOML)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from hetier.analysis.trace_stats import trace_stats
    from hetier.atomic import check_output, write_bytes_atomic
    from hetier.errors import UsageError
    from hetier.workflow.planned import cases_of, check_runs
    from hetier.formats.measured import load_measured
    from hetier.simulator.fit import fit, reference_runs_path, rms
    from hetier.simulator.stack import FREE_PARAMETERS, load_stack, profile_toml

    free = [k.strip() for k in args.free.split(",") if k.strip()]
    twice = sorted({k for k in free if free.count(k) > 1})
    if twice:
        raise UsageError(f"--free names {', '.join(twice)} twice")
    if len(free) > 4:
        raise UsageError(f"{len(free)} free parameters; at most 4 (each needs a physical meaning)")
    unknown = [k for k in free if k not in FREE_PARAMETERS]
    if unknown:
        raise UsageError(f"cannot fit {', '.join(unknown)} (free parameters: {', '.join(FREE_PARAMETERS)})")
    out = check_output(args.output, args.force) if args.output else None
    runs_path = Path(args.runs) if args.runs else reference_runs_path()
    runs = load_measured(runs_path)
    stack = load_stack(args.stack, args.stack_set)
    check_runs(runs)
    held = set(args.hold_out_model)
    unknown_models = sorted(held - {r.model for r in runs})
    if unknown_models:
        raise UsageError(f"--hold-out-model {unknown_models[0][:40]}: no run of that model in {runs_path.name}")
    if held and all(r.model in held for r in runs):
        raise UsageError("--hold-out-model holds out every run: nothing left to fit")
    console = Console(stderr=True, soft_wrap=True)
    with tempfile.TemporaryDirectory() as d:
        status = console.status if console.is_terminal else (lambda _msg: nullcontext())  # no thread in logs
        with status(f"planning {len({r.config for r in runs})} configuration(s) with runtime profile "
                    f"{stack.runtime_profile} ..."):  # transient: an error stays one line
            cases, traces = cases_of(runs, stack, Path(d))
        peaks = {cfg: trace_stats(path).resident_peak_bytes / 1e9 for cfg, path in traces.items()}
        fitted_idx = [i for i, r in enumerate(runs) if r.model not in held]
        with status(f"fitting {', '.join(free)} of stack {stack.name} to {len(fitted_idx)} run(s) ..."):
            res = fit([cases[i] for i in fitted_idx], stack, free, loo=not args.no_loo)
            if held:  # the held-out runs, predicted with the fitted values (their LOO is that prediction)
                res = with_held_out(res, cases, fitted_idx, stack)
    measured = [r.seconds for r in runs]
    _check_result(res, stack, measured)
    table = Table(title=f"stack {stack.name} fitted to {runs_path.name}: "
                        + ", ".join(f"{k} = {v:.4g}" for k, v in res.values.items()))
    for col in ("run", "measured s", "fitted s", "error", "leave-one-out s", "LOO error", "peak GB", "predicted GB"):
        table.add_column(col, justify="right")
    loo_err = res.errors(measured, "loo")
    for r, p, l, e, le in zip(runs, res.predicted, res.loo, res.errors(measured), loo_err):
        peak = peaks[r.config]
        table.add_row(escape(r.label), f"{r.seconds:.0f}", f"{p:.0f}", f"{e:+.1%}", "-" if l is None else f"{l:.0f}",
                      "-" if le is None else f"{le:+.1%}", f"{r.peak_gb:g}", f"{peak:.1f} ({peak / r.peak_gb - 1:+.0%})")
    Console(soft_wrap=True).print(table)
    computed = [e for r, e in zip(runs, loo_err) if e is not None and r.model not in held]
    fit_err = [e for r, e in zip(runs, res.errors(measured)) if r.model not in held]
    loo_text = (f"leave-one-out {rms(computed):.1%}" if computed else
                "leave-one-out not computed (" + ("--no-loo" if args.no_loo else "one configuration") + ")")
    print(f"RMS error: fit {rms(fit_err):.1%}, {loo_text} ({res.evaluations} replays of the runs)")
    if held:
        print("held out (predicted with the fitted values, not fitted): " + "; ".join(
            f"{r.label} {e:+.1%}" for r, e in zip(runs, res.errors(measured)) if r.model in held))
    if out:
        fitted = stack.with_values(**res.values)
        info = {"runs": str(runs_path.name), "free": free, "rms_error": rms(fit_err)}
        if computed:
            info["loo_rms_error"] = rms(computed)
        if held:
            info["held_out_models"] = sorted(held)
            info["held_out_errors"] = [round(e, 4) for i, e in enumerate(res.errors(measured)) if runs[i].model in held]
        text = profile_toml(fitted, info, f"hetier fit {runs_path.name} --stack {args.stack}"
                            + "".join(f" --hold-out-model {m}" for m in sorted(held)))
        _check_readable(text, out)
        write_bytes_atomic(out, text.encode())
        console.print(f"wrote {out}")
    return 0


def with_held_out(res, cases, fitted_idx: list[int], stack):
    """``res`` (a fit of ``cases[fitted_idx]``) extended to every case: the others predicted with
    the fitted values, their prediction standing as their leave-one-out value too."""
    from hetier.simulator.fit import FitResult, Predictor

    others = [i for i in range(len(cases)) if i not in fitted_idx]
    held = dict(zip(others, Predictor([cases[i] for i in others], stack).seconds(res.values)))
    fitted = dict(zip(fitted_idx, zip(res.predicted, res.loo)))
    predicted = [fitted[i][0] if i in fitted else held[i] for i in range(len(cases))]
    loo = [fitted[i][1] if i in fitted else held[i] for i in range(len(cases))]
    return FitResult(res.values, predicted, loo, res.evaluations)


def _check_result(res, stack, measured: list[float]) -> None:
    """Refuse a fit whose values or predictions are not finite or leave the profile's ranges (a
    'fit' at the edge of the range explains nothing): no statistic of it is printed."""
    import math

    from hetier.errors import HetierError
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


def _check_readable(text: str, out) -> None:
    """The profile fit -o writes must load again as a stack profile (else nothing is written)."""
    import tomllib

    from hetier.errors import HetierError
    from hetier.simulator.stack import stack_from_dict

    try:
        stack_from_dict(tomllib.loads(text), str(out))
    except (tomllib.TOMLDecodeError, HetierError) as e:
        raise HetierError(f"the fitted profile would not load again ({str(e)[:200]}); nothing written") from None
