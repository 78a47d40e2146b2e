"""Measure this machine's HE primitive costs (per N and level) and write a cost file.

Plan mode times its primitives with it. Example: hetier calibrate --he -o costs.json
"""

from __future__ import annotations

import argparse

# The parameter sets the runtime picks for the shipped models (tracer/session.py choose_params)
DEFAULT_SETS = ["4096:30,22,22,30:16", "4096:30,22,22,30:2048", "4096:30,22,30:8", "8192:30,22,22,22,30:8",
                "8192:30,22,22,22,22,30:8", "8192:30,22,22,22,22,22,30:64"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--he", action="store_true", required=True, help="measure the HE primitives")
    p.add_argument("--params", action="append", metavar="N:PRIMES:BATCH",
                   help=f"parameter set, e.g. 4096:30,22,22,30:2048 (repeatable; default: {' '.join(DEFAULT_SETS)})")
    p.add_argument("--reps", type=int, default=100, help="calls per timing round (5 rounds, median)")
    p.add_argument("-o", "--output", required=True, help="cost file (JSON)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def _parse(spec: str):
    from hetier.errors import UsageError
    from hetier.tracer.params import HEParams

    try:
        n, primes, batch = spec.split(":")
        return HEParams(int(n), tuple(int(x) for x in primes.split(",")), 22, int(batch))
    except ValueError:
        raise UsageError(f"parameter set '{spec}' must look like N:PRIMES:BATCH, e.g. 4096:30,22,22,30:2048") from None


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hetier.atomic import check_output
    from hetier.tracer.costs import calibrate
    from hetier.terminal import safe
    from hetier.validation import CALIBRATE_OPTIONS, check_options

    check_options({"--reps": args.reps}, CALIBRATE_OPTIONS)
    out = check_output(args.output, args.force)
    sets = [_parse(s) for s in (args.params or DEFAULT_SETS)]
    console = Console(stderr=True, soft_wrap=True)
    doc = calibrate(sets, out, args.reps, progress=lambda s: console.print(f"measuring {safe(s)}"))
    e = doc["entries"][0]
    console.print(f"wrote {safe(out)}: {len(doc['entries'])} parameter sets on {safe(doc['machine']['cpu'])}; e.g. at "
                  f"N={e['poly_modulus']} top level a multiply-accumulate costs {e['ns']['MAC'][str(len(e['primes']) - 1)] / 1e3:.1f} us, "
                  f"an encryption {e['ns']['ENCRYPT'][str(len(e['primes']) - 1)] / 1e3:.0f} us")
    return 0
