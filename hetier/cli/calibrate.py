"""Measure this machine: HE primitive costs (--he, a cost file) or memory (--memory, presets).

Plan mode times its primitives with the cost file; traces and `hetier confirm` use the memory
presets. Examples: hetier calibrate --he -o costs.json
                   hetier calibrate --memory -o host.toml   (default: ~/.config/hetier/host-memory.toml)
"""

from __future__ import annotations

import argparse
from statistics import median

# The parameter sets the runtime picks for the shipped models (tracer/session.py choose_params)
DEFAULT_SETS = ["4096:30,22,22,30:16", "4096:30,22,22,30:2048", "4096:30,22,30:8", "8192:30,22,22,22,30:8",
                "8192:30,22,22,22,22,30:8", "8192:30,22,22,22,22,22,30:64"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--he", action="store_true", help="measure the HE primitives (writes a cost file)")
    what.add_argument("--memory", action="store_true",
                      help="measure each NUMA node's bandwidth and latency (writes machine and device presets)")
    p.add_argument("--params", action="append", metavar="N:PRIMES:BATCH",
                   help=f"parameter set, e.g. 4096:30,22,22,30:2048 (repeatable; default: {' '.join(DEFAULT_SETS)})")
    p.add_argument("--reps", type=int, default=100, help="--he: calls per timing round (5 rounds, median)")
    p.add_argument("--method", default="auto", help="--memory: likwid, numpy or auto (likwid-bench if installed)")
    p.add_argument("--repeat", type=int, default=3, help="--memory: repeats of every measurement (median, spread)")
    p.add_argument("--size-mb", type=int, default=256, help="--memory: working set of the bandwidth runs")
    p.add_argument("-o", "--output", help="cost file (JSON) for --he; machine preset (TOML) for --memory")
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

    check_options({"--size-mb": args.size_mb, "--repeat": args.repeat}, CALIBRATE_OPTIONS)
    if args.memory:
        return _run_memory(args)
    if args.output is None:
        from hetier.errors import UsageError

        raise UsageError("--he needs -o FILE (the cost file to write)")
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


def _run_memory(args: argparse.Namespace) -> int:
    import os
    import platform
    import shlex
    import sys

    from rich.console import Console
    from rich.table import Table

    from hetier.atomic import check_output, write_bytes_atomic
    from hetier.host.calibrate_memory import measure, spread
    from hetier.host.memory_preset import default_host_preset, device_toml, llc_mb, machine_toml
    from hetier.host.topology import read_topology

    out = check_output(args.output or default_host_preset(), args.force)
    topo = read_topology()
    dev_paths = {n.id: out.with_name(f"{out.stem}-node{n.id}.toml") for n in topo.nodes if n.mem_bytes > 0}
    for p in dev_paths.values():
        check_output(p, args.force)
    console = Console(stderr=True, soft_wrap=True)
    cal = measure(topo, args.method, args.repeat, args.size_mb, progress=console.print)
    command = "hetier " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "hetier calibrate --memory"
    name = f"host-{platform.node() or 'this'}"
    for nm in cal.nodes:
        write_bytes_atomic(dev_paths[nm.node], device_toml(nm, cal, f"{name}-node{nm.node}", command).encode())
    dram = next(n for n in cal.nodes if not n.memory_only)
    write_bytes_atomic(out, machine_toml(cal, name, command, len(topo.node(dram.node).cpus), llc_mb()).encode())
    t = Table(title=f"{name}: {cal.method} bandwidth, pointer-chase latency; median of {cal.repeat} (spread)")
    for c in ("node", "threads", "read GB/s", "write GB/s", "seq ns", "random ns"):
        t.add_column(c, justify="right")
    for nm in cal.nodes:
        for i, th in enumerate(sorted(nm.read)):
            lat = [f"{median(v):.1f} ({spread(v):.0%})" for v in (nm.latency_seq_ns, nm.latency_rand_ns)] if i == 0 else ["", ""]
            t.add_row(str(nm.node) + (" (memory-only)" if nm.memory_only and i == 0 else ""), str(th),
                      f"{median(nm.read[th]):.2f} ({spread(nm.read[th]):.0%})",
                      f"{median(nm.write[th]):.2f} ({spread(nm.write[th]):.0%})", *lat)
    Console(soft_wrap=True).print(t)
    console.print(f"wrote {out} (machine) and {', '.join(os.fspath(p) for p in dev_paths.values())} (devices)")
    return 0
