"""Recommend a placement: rank whole-workload policies on a machine against all-DRAM and Memory Mode.

Example: hetier advise mnv2.arrow --machine ref-app-direct --threads 48 -o mnv2.placement.json
Replays the advisor's policies (optimal, hot-cold, lifetime, migrate) and whole-tier baselines,
finds for each the smallest fast tier within 5% of all-DRAM, and writes the best placement as a
file that `hetier replay --policy placement:FILE` replays.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")
    p.add_argument("--machine", action="append", required=True, help="flat machine preset or .toml; repeat or comma-list")
    p.add_argument("--policy", action="append", help="policies to rank (default: advisor policies and baselines)")
    p.add_argument("--threads", type=int, default=1, help="simulated worker threads")
    p.add_argument("--dram-gb", type=float, help="fast-tier (first tier) capacity in GB, for every machine")
    p.add_argument("--no-bisect", action="store_true", help="skip the smallest-fast-tier search")
    p.add_argument("--layers", action="store_true", help="also print, per layer, where the recommended placement keeps the live bytes")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output on stdout")
    p.add_argument("--allow-truncated", action="store_true", help="advise on the complete prefix of a truncated trace")
    p.add_argument("-o", "--output", help="placement file to write (default: TRACE.placement.json)")
    p.add_argument("--force", action="store_true", help="overwrite an existing placement file")


def _gb(b) -> str:
    return "-" if b is None else f"{b / 1e9:.2f} GB"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.simulator.advise import ADVISOR_POLICIES, BASELINES, advise_machine, placement_for, recommended
    from hetier.simulator.machines import load_machine
    from hetier.simulator.placement_file import write_placement
    from hetier.simulator.workload import load_workload

    if args.threads < 1:
        raise UsageError(f"threads {args.threads} must be at least 1")
    if args.dram_gb is not None and not args.dram_gb >= 0:
        raise UsageError(f"--dram-gb {args.dram_gb} must be a size in GB, at least 0")
    names = [m for item in args.machine for m in item.split(",") if m]
    policies = [p for item in (args.policy or []) for p in item.split(",") if p] or [*ADVISOR_POLICIES, *BASELINES]
    machines = {}
    for n in names:
        m = load_machine(n)
        if args.dram_gb is not None:
            m = load_machine(n, [f"{m.tier_names[0]}.capacity_gb={args.dram_gb}"])
        machines[m.name] = m
    out = check_output(args.output or f"{args.trace}.placement.json", args.force)
    work = load_workload(args.trace, args.allow_truncated)
    advice = [advise_machine(work, m, policies, args.threads, not args.no_bisect) for m in machines.values()]
    rows = [r for a in advice for r in a.rows]
    if len(rows) == 1 and not rows[0].ok:
        raise UsageError(rows[0].why)
    best = recommended(advice)
    if args.format == "json":
        print(json.dumps([asdict(a) for a in advice], indent=1, sort_keys=True))
    else:
        console = Console(soft_wrap=True)
        if not console.is_terminal:
            console.width = 200
        for a in advice:
            t = Table(title=f"{work.meta['model']['name']} on {a.machine} ({a.fast_tier} {_gb(a.fast_bytes)}, "
                            f"peak live {_gb(a.peak_live_bytes)}), {args.threads} thread(s): all-DRAM "
                            f"{_secs(a.all_dram_ns)}, Memory Mode {_secs(a.memory_mode_ns)}")
            for col in ("rank", "policy", "time", "vs all-DRAM", "vs Memory Mode", f"{a.fast_tier} peak",
                        "migrated", f"{a.fast_tier} for <=5% of all-DRAM"):
                t.add_column(col, justify="right")
            for i, r in enumerate(a.rows, 1):
                if not r.ok:
                    t.add_row("-", r.policy, r.why, "", "", "", "", "")
                    continue
                t.add_row(str(i), r.policy, _secs(r.time_ns), _ratio(r.vs_all_dram), _ratio(r.vs_memory_mode),
                          _gb(r.fast_peak_bytes), _gb(r.migrated_bytes),
                          "-" if args.no_bisect else _gb(r.min_fast_bytes) if r.min_fast_bytes is not None else "not reached")
            console.print(t)
    if best is None:
        raise UsageError("no advisor policy ran on any machine given, so there is no placement to recommend")
    doc, over_time = placement_for(work, machines[best.machine], best.policy, args.threads)
    if args.layers and args.format == "text":
        t = Table(title=f"{best.policy} on {best.machine}: live bytes at each layer's peak, by tier")
        for col in ("op", "layer", *doc_tiers(over_time), "moved in before it"):
            t.add_column(col, justify="right")
        for row in over_time:
            t.add_row(str(row["op"]), row["layer"], *(_gb(b) for b in row["bytes"].values()), _gb(row["moved_bytes"]))
        console.print(t)
    write_placement(out, doc)
    Console(stderr=True).print(f"recommended: {best.policy} on {best.machine} ({_secs(best.time_ns)}); wrote {out}")
    return 0


def doc_tiers(over_time: list[dict]) -> list[str]:
    return list(over_time[0]["bytes"]) if over_time else []


def _secs(ns) -> str:
    return "-" if ns is None else f"{ns / 1e9:.3f} s"


def _ratio(x) -> str:
    return "-" if x is None else f"{x:.3f}x"
