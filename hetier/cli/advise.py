"""Recommend a placement: rank whole-workload policies on a machine against all-DRAM and Memory Mode.

Example: hetier advise mnv2.arrow --machine ref-app-direct --threads 48 -o mnv2.placement.json --advice mnv2.advice.json
Replays the advisor's policies (ilp, hot-cold, lifetime, migrate) and whole-tier baselines,
finds for each the smallest fast tier within 5% of all-DRAM, and writes the best placement as a
file that `hetier replay --policy placement:FILE` replays; --advice also writes the ranking and
the placement per layer for `hetier report TRACE --advice FILE`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

from hetier.cli.options import add_scenario_arguments, stack_of


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")
    p.add_argument("--machine", action="append", required=True,
                   help="machine preset or .toml (tiers under a placement policy); repeat or comma-list")
    p.add_argument("--policy", action="append",
                   help="policies to rank (default: advisor policies and baselines); any name hetier prints, e.g. all-cxl")
    p.add_argument("--threads", type=int, help="simulated worker threads (default: each machine's cores; more: a row saying why, as replay and sweep)")
    p.add_argument("--set", action="append", default=[], metavar="[MACHINE:]TIER.KEY=VALUE",
                   help="override a machine number, for every machine or one (as replay and sweep take it)")
    p.add_argument("--dram-gb", type=float, help="fast-tier (first tier) capacity in GB for every machine: an alias of "
                                                 "--set TIER.capacity_gb=GB with the machine's first tier")
    p.add_argument("--no-bisect", action="store_true", help="skip the smallest-fast-tier search")
    p.add_argument("--tiering", action="store_true",
                   help="also rank Linux tiering (default and tuned) and Flat Memory Mode on the same devices")
    add_scenario_arguments(p)
    p.add_argument("--layers", action="store_true", help="also print, per layer, where the recommended placement keeps the live bytes")
    p.add_argument("--json", action="store_true", help="print the ranking as JSON on stdout instead of tables")
    p.add_argument("--allow-truncated", action="store_true", help="advise on the complete prefix of a truncated trace")
    p.add_argument("-o", "--output", help="placement file to write (default: TRACE.placement.json)")
    p.add_argument("--advice", help="also write the ranking and the recommended placement per layer as an advice "
                                    "file for `hetier report TRACE --advice FILE`")
    p.add_argument("--force", action="store_true", help="overwrite an existing placement (and advice) file")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from hetier.analysis.reports.advice import (print_layer_table, rich_table, ranking_columns, ranking_rows,
                                                ranking_title)
    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.formats.placement import write_document, write_placement
    from hetier.simulator.advise import (ADVISOR_POLICIES, BASELINES, advice_document, advice_of, advise_machine,
                                         fastest, placement_for, ranking, recommended, why_it_wins)
    from hetier.simulator.axes import parse_machines
    from hetier.simulator.machines import load_machine
    from hetier.simulator.memory_needed import memory_needed
    from hetier.simulator.workload import load_workload
    from hetier.terminal import safe, table_console
    from hetier.vocabulary import seconds

    if args.threads is not None and args.threads < 1:
        raise UsageError(f"threads {args.threads} must be at least 1")
    if args.dram_gb is not None and not args.dram_gb > 0:  # 0 would remove the fast tier (capacity_gb=0)
        raise UsageError(f"--dram-gb {args.dram_gb} must be a size in GB above 0 (to advise without a fast tier, "
                         "give a machine without one)")
    policies = [p for item in (args.policy or []) for p in item.split(",") if p] or [*ADVISOR_POLICIES, *BASELINES]
    entries = parse_machines(args.machine)
    labels = [e.label for e in entries]
    machines = {}
    for entry in entries:
        first = load_machine(entry.ref).tier_names[0]
        sets = [*_sets_for(entry.label, labels, args.set),
                *([f"{first}.capacity_gb={args.dram_gb}"] if args.dram_gb is not None else [])]
        machines[entry.label] = dataclasses.replace(load_machine(entry.ref, sets), name=entry.label)
    out = check_output(f"{args.trace}.placement.json" if args.output is None else args.output, args.force)
    advice_out = check_output(args.advice, args.force) if args.advice is not None else None
    if advice_out is not None and os.path.realpath(advice_out) == os.path.realpath(out):
        raise UsageError(f"--advice {args.advice} is the placement output too; give the two files different names")
    stack = stack_of(args)
    work = load_workload(args.trace, args.allow_truncated)
    err = Console(stderr=True)
    with Progress(TextColumn("advise"), SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as prog:  # no refresh thread in logs
        task = prog.add_task("", total=None)
        advice = [advise_machine(work, m, policies, args.threads, not args.no_bisect, stack, args.allow_runtime_mismatch,
                                 progress=lambda msg: prog.update(task, description=safe(msg)), fit_by=args.fit_by,
                                 tiering=args.tiering)
                  for m in machines.values()]
    rows = [r for a in advice for r in a.rows]
    if rows and not any(r.ok for r in rows):  # nothing to rank: one line saying why, before any table
        whys = list(dict.fromkeys(r.why for r in rows))
        raise UsageError(whys[0] if len(whys) == 1 else
                         f"no policy ran on any machine given ({'; '.join(whys[:3])[:500]})")
    console = Console(stderr=True, soft_wrap=True)
    for a in advice:
        console.print(f"advise: {safe(a.machine)} with {a.threads} simulated thread(s)"
                      f"{'' if args.threads else ' (its cores)'}, stack {safe(stack.name)}")
    best = recommended(advice)
    if args.json:
        print(json.dumps([ranking(a) for a in advice], indent=1, sort_keys=True))
    else:
        out_console = table_console()
        for a in map(ranking, advice):
            out_console.print(rich_table(ranking_title(work.meta["model"]["name"], a, a["threads"]), ranking_columns(a),
                                         ranking_rows(a, not args.no_bisect)))
    overall, deployable = fastest(advice), fastest(advice, deployable=True)
    if overall is None:
        raise UsageError("no policy ran on any machine given, so there is nothing to recommend")
    wrote = []
    over_time: list[dict] = []
    if best is None:  # only whole-process policies ran: nothing per tensor to write
        best = overall
        console.print(f"no advisor policy ran: the recommendation, {best.policy}, is a whole-process policy "
                      "(no placement file written)")
    else:
        threads = advice_of(best, advice).threads
        scale = memory_needed(work, stack, args.fit_by).scale
        doc, over_time = placement_for(work, machines[best.machine], best.policy, threads, scale)
        write_placement(out, doc)
        wrote.append(str(out))
    if args.layers and not args.json and over_time:
        print_layer_table(table_console(), f"{best.policy} on {best.machine}", over_time)
    if advice_out:
        threads = advice_of(best, advice).threads
        write_document(advice_out, advice_document(work.trace_id, advice, best, threads, not args.no_bisect, over_time))
        wrote.append(str(advice_out))
    console.print(f"recommended: {overall.policy} on {overall.machine} ({seconds(overall.time_ns)}), the fastest: "
                  f"{safe(why_it_wins(overall, advice), 2000)}")
    if best is not overall:
        console.print(f"per-tensor placement (the file): {best.policy} on {best.machine}, the fastest advisor policy: "
                      f"{safe(why_it_wins(best, advice), 2000)}")
    if deployable is not None and deployable is not overall:
        console.print(f"best deployable: {deployable.policy} on {deployable.machine}: "
                      f"{safe(why_it_wins(deployable, advice), 2000)}")
    if wrote:
        console.print(f"wrote {safe(' and '.join(wrote))}")
    return 0


def _sets_for(label: str, labels: list[str], sets: list[str]) -> list[str]:
    """The --set items for one listed machine: global ones and those prefixed with its label."""
    from hetier.errors import UsageError

    out = []
    for item in sets:
        head, colon, rest = item.partition(":")
        if colon and "=" not in head:
            if head not in labels:
                raise UsageError(f"override '{item}' names machine '{head}', which is not listed (listed: {', '.join(labels)})")
            if head == label:
                out.append(rest)
        else:
            out.append(item)
    return out
