"""Recommend a placement: rank whole-workload policies on a machine against all-DRAM and Memory Mode.

Example: hetier advise mnv2.arrow --machine ref-app-direct --threads 48 -o mnv2.placement.json --advice mnv2.advice.json
Replays the advisor's policies (optimal, hot-cold, lifetime, migrate) and whole-tier baselines,
finds for each the smallest fast tier within 5% of all-DRAM, and writes the best placement as a
file that `hetier replay --policy placement:FILE` replays; --advice also writes the ranking and
the placement per layer for `hetier report TRACE --advice FILE`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from hetier.cli.options import add_stack_arguments, stack_of


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")
    p.add_argument("--machine", action="append", required=True, help="flat machine preset or .toml; repeat or comma-list")
    p.add_argument("--policy", action="append", help="policies to rank (default: advisor policies and baselines)")
    p.add_argument("--threads", type=int, default=1, help="simulated worker threads")
    p.add_argument("--dram-gb", type=float, help="fast-tier (first tier) capacity in GB, for every machine")
    p.add_argument("--no-bisect", action="store_true", help="skip the smallest-fast-tier search")
    p.add_argument("--tiering", action="store_true",
                   help="also rank Linux tiering (default and tuned) and Flat Memory Mode on the same devices")
    add_stack_arguments(p)
    p.add_argument("--layers", action="store_true", help="also print, per layer, where the recommended placement keeps the live bytes")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output on stdout")
    p.add_argument("--allow-truncated", action="store_true", help="advise on the complete prefix of a truncated trace")
    p.add_argument("-o", "--output", help="placement file to write (default: TRACE.placement.json)")
    p.add_argument("--advice", help="also write the ranking and the recommended placement per layer as an advice "
                                    "file for `hetier report TRACE --advice FILE`")
    p.add_argument("--force", action="store_true", help="overwrite an existing placement (and advice) file")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hetier.analysis.reports.advice import (layer_columns, layer_rows, rich_table, ranking_columns, ranking_rows,
                                                ranking_title)
    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.simulator.advise import (ADVISOR_POLICIES, BASELINES, advice_document, advise_machine, placement_for,
                                         recommended)
    from hetier.simulator.machines import load_machine
    from hetier.formats.placement import write_document, write_placement
    from hetier.simulator.workload import load_workload
    from hetier.terminal import table_console
    from hetier.vocabulary import seconds

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
    advice_out = check_output(args.advice, args.force) if args.advice else None
    stack = stack_of(args)
    work = load_workload(args.trace, args.allow_truncated)
    advice = [advise_machine(work, m, policies, args.threads, not args.no_bisect, stack, args.allow_runtime_mismatch,
                             args.tiering)
              for m in machines.values()]
    rows = [r for a in advice for r in a.rows]
    if len(rows) == 1 and not rows[0].ok:
        raise UsageError(rows[0].why)
    best = recommended(advice)
    console = table_console()
    if args.format == "json":
        print(json.dumps([asdict(a) for a in advice], indent=1, sort_keys=True))
    else:
        for a in map(asdict, advice):
            console.print(rich_table(ranking_title(work.meta["model"]["name"], a, args.threads), ranking_columns(a),
                                     ranking_rows(a, not args.no_bisect)))
    if best is None:
        raise UsageError("no advisor policy ran on any machine given, so there is no placement to recommend")
    doc, over_time = placement_for(work, machines[best.machine], best.policy, args.threads)
    if args.layers and args.format == "text":
        console.print(rich_table(f"{best.policy} on {best.machine}: live bytes at each layer's peak, by tier",
                                 layer_columns(over_time), layer_rows(over_time)))
    write_placement(out, doc)
    wrote = str(out)
    if advice_out:
        adv = advice_document(work.trace_id, advice, best, args.threads, not args.no_bisect, over_time)
        write_document(advice_out, adv)
        wrote += f" and {advice_out}"
    Console(stderr=True).print(f"recommended: {best.policy} on {best.machine} ({seconds(best.time_ns)}); wrote {wrote}")
    return 0
