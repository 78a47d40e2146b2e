"""Fit a stack profile's free parameters to measured runs; print residuals and leave-one-out errors.

Example: hetier fit --stack he-transformer -o fitted.toml   (the shipped HE-on-PMem study runs)
         hetier fit my-runs.csv --stack he-transformer --free compute_scale
"""

from __future__ import annotations

import argparse


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
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from hetier.atomic import check_output, write_bytes_atomic
    from hetier.simulator.stack import load_stack
    from hetier.workflow.fitting import fit_profile, parse_free

    free = parse_free(args.free)
    out = check_output(args.output, args.force) if args.output is not None else None
    stack = load_stack(args.stack, args.stack_set)
    console = Console(stderr=True, soft_wrap=True)
    status = console.status if console.is_terminal else None  # transient, and no refresh thread in logs
    fit = fit_profile(args.runs, stack, free, loo=not args.no_loo, status=status, held_out=args.hold_out_model)
    res = fit.result
    table = Table(title=f"stack {stack.name} fitted to {fit.runs_path.name}: "
                        + ", ".join(f"{k} = {v:.4g}" for k, v in res.values.items()))
    for col in ("run", "measured s", "fitted s", "error", "leave-one-out s", "LOO error", "peak GB", "predicted GB"):
        table.add_column(col, justify="right")
    for r, p, l, e, le in zip(fit.runs, res.predicted, res.loo, fit.errors, fit.loo_errors):
        peak = fit.peaks_gb[r.config]
        table.add_row(escape(r.label), f"{r.seconds:.0f}", f"{p:.0f}", f"{e:+.1%}", "-" if l is None else f"{l:.0f}",
                      "-" if le is None else f"{le:+.1%}", f"{r.peak_gb:g}", f"{peak:.1f} ({peak / r.peak_gb - 1:+.0%})")
    Console(soft_wrap=True).print(table)
    loo_text = (f"leave-one-out {fit.loo_rms_error:.1%}" if fit.loo_rms_error is not None else
                "leave-one-out not computed (" + ("--no-loo" if args.no_loo else "one configuration") + ")")
    print(f"RMS error: fit {fit.rms_error:.1%}, {loo_text} ({res.evaluations} replays of the runs)")
    if fit.held_out:
        print("held out (predicted with the fitted values, not fitted): " + "; ".join(
            f"{r.label} {e:+.1%}" for r, e in zip(fit.runs, fit.errors) if r.model in fit.held_out))
    if out:
        command = f"hetier fit {fit.runs_path.name} --stack {args.stack}" + "".join(
            f" --hold-out-model {m}" for m in sorted(fit.held_out))
        write_bytes_atomic(out, fit.profile_text(command).encode())
        console.print(f"wrote {out}")
    return 0
