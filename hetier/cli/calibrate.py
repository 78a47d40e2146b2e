"""Measure this machine: HE primitive costs (--he, a cost file) or memory (--memory, presets).

Plan mode times its primitives with the cost file; traces and `hetier confirm` use the memory
presets. Examples: hetier calibrate --he -o costs.json
                   hetier calibrate --memory -o host.toml   (default: ~/.config/hetier/host-memory.toml)
"""

from __future__ import annotations

import argparse
from statistics import median

from hetier.workflow.calibration import DEFAULT_SECONDS, DEFAULT_SETS


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--he", action="store_true", help="measure the HE primitives (writes a cost file)")
    what.add_argument("--memory", action="store_true",
                      help="measure each NUMA node's bandwidth and latency (writes machine and device presets)")
    p.add_argument("--params", action="append", metavar="N:PRIMES:BATCH",
                   help=f"parameter set, e.g. 4096:30,22,22,30:2048 (repeatable; default: {' '.join(DEFAULT_SETS)})")
    p.add_argument("--reps", type=int, default=100, help="--he: calls per timing round (all templates take turns)")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                   help=f"--he: wall seconds of rounds per parameter set, 5 rounds at least; a template's cost is "
                        f"the mean of its rounds (default {DEFAULT_SECONDS:g}: a core's speed swings in spells of "
                        f"seconds on shared machines)")
    p.add_argument("--method", default="auto", help="--memory: likwid, numpy or auto (likwid-bench if installed)")
    p.add_argument("--repeat", type=int, default=3, help="--memory: repeats of every measurement (median, spread)")
    p.add_argument("--size-mb", type=int, default=256, help="--memory: working set of the bandwidth runs")
    p.add_argument("-o", "--output", help="cost file (JSON) for --he; machine preset (TOML) for --memory")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hetier.terminal import safe
    from hetier.validation import CALIBRATE_OPTIONS, check_options
    from hetier.workflow.calibration import calibrate_he

    check_options({"--size-mb": args.size_mb, "--repeat": args.repeat}, CALIBRATE_OPTIONS)
    if args.memory:
        return _run_memory(args)
    if args.output is None:
        from hetier.errors import UsageError

        raise UsageError("--he needs -o FILE (the cost file to write)")
    console = Console(stderr=True, soft_wrap=True)
    doc = calibrate_he(args.output, args.params or (), args.reps, args.force,
                       progress=lambda s: console.print(f"measuring {safe(s)}"), seconds=args.seconds)
    e = doc["entries"][0]
    console.print(f"wrote {safe(args.output)}: {len(doc['entries'])} parameter sets on {safe(doc['machine']['cpu'])}; e.g. at "
                  f"N={e['poly_modulus']} top level a multiply-accumulate costs {e['ns']['MAC'][str(len(e['primes']) - 1)] / 1e3:.1f} us, "
                  f"an encryption {e['ns']['ENCRYPT'][str(len(e['primes']) - 1)] / 1e3:.0f} us")
    return 0


def _run_memory(args: argparse.Namespace) -> int:
    import os
    import shlex
    import sys

    from rich.console import Console
    from rich.table import Table

    from hetier.host.calibrate_memory import spread
    from hetier.workflow.calibration import calibrate_memory

    console = Console(stderr=True, soft_wrap=True)
    command = "hetier " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "hetier calibrate --memory"
    got = calibrate_memory(args.output, args.method, args.repeat, args.size_mb, args.force, progress=console.print,
                           command=command)
    cal = got.calibration
    t = Table(title=f"{got.name}: {cal.method} bandwidth, pointer-chase latency; median of {cal.repeat} (spread)")
    for c in ("node", "threads", "read GB/s", "write GB/s", "seq ns", "random ns"):
        t.add_column(c, justify="right")
    for nm in cal.nodes:
        for i, th in enumerate(sorted(nm.read)):
            lat = [f"{median(v):.1f} ({spread(v):.0%})" for v in (nm.latency_seq_ns, nm.latency_rand_ns)] if i == 0 else ["", ""]
            t.add_row(str(nm.node) + (" (memory-only)" if nm.memory_only and i == 0 else ""), str(th),
                      f"{median(nm.read[th]):.2f} ({spread(nm.read[th]):.0%})",
                      f"{median(nm.write[th]):.2f} ({spread(nm.write[th]):.0%})", *lat)
    Console(soft_wrap=True).print(t)
    console.print(f"wrote {got.machine_path} (machine) and {', '.join(os.fspath(p) for p in got.device_paths.values())} "
                  "(devices)")
    return 0
