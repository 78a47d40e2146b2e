"""Replay a trace on simulated machines and placement policies; print a comparison.

Example: hetier replay t.arrow --machine dram-only,optane-appdirect --policy all-dram,all-pmem,dram-first
--threads 1,24 --machine small=optane-appdirect --set small:dram.capacity_gb=16,32
"""

from __future__ import annotations

import argparse
import json

from hetier.cli.options import add_scenario_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")
    p.add_argument("--machine", action="append", required=True,
                   help="preset, .toml file or LABEL=PRESET (list one preset twice under two labels); repeat or comma-list")
    p.add_argument("--policy", action="append", help="placement policy (flat machines); repeat or comma-list")
    p.add_argument("--set", action="append", default=[], metavar="[MACHINE:]TIER.KEY=VALUE",
                   help="override a number for every machine or for one label; VALUE may be a list 16,32 "
                        "or a range 16:64:16 (one run per value)")
    p.add_argument("--threads", action="append", metavar="N[,N...]",
                   help="simulated worker threads (default: each machine's cores; more is a row saying why); "
                        "repeat or comma-list")
    add_scenario_arguments(p, axis=True)
    p.add_argument("--seed", type=int, default=0, help="seed of the random page frames of cache-like memory systems")
    p.add_argument("--allow-truncated", action="store_true", help="replay the complete prefix of a truncated trace")
    p.add_argument("--dump-config", action="store_true", help="print the resolved machines as JSON and stop")
    p.add_argument("--json", action="store_true", help="print the runs as JSON on stdout instead of a table")
    p.add_argument("-o", "--output", help="results file (Arrow)")
    p.add_argument("--force", action="store_true", help="overwrite an existing results file")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.formats.results import save_results
    from hetier.simulator.axes import axes_from_args
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.stack import load_stack
    from hetier.simulator.workload import load_workload
    from hetier.terminal import safe

    axes = axes_from_args([args.trace], args.machine, args.policy, args.threads, args.set, stacks=args.stack)
    if args.stack_set and len(axes.stacks) > 1:
        raise UsageError("--stack-set changes one profile; give one --stack with it")
    stacks = {name: load_stack(name, args.stack_set) for name in axes.stacks}
    configs = axes.configs()
    if args.dump_config:
        machines = {(c.machine, c.overrides): c.load() for c in configs}
        print(json.dumps([m.to_dict() for m in machines.values()], indent=2, sort_keys=True))
        return 0
    out = check_output(args.output, args.force) if args.output is not None else None
    console = Console(stderr=True, soft_wrap=True)
    work = load_workload(args.trace, args.allow_truncated)
    if work.truncated:
        console.print(f"[yellow]warning: trace is truncated; replaying its {len(work.ops)} complete ops[/yellow]")
    scenarios = [None if c.skip else Scenario(work, c.load(), c.policy_spec, stacks[c.stack], c.threads, args.seed,
                                              allow_runtime_mismatch=args.allow_runtime_mismatch, fit_by=args.fit_by)
                 for c in configs]
    rows = []  # (config, RunResult or None)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as prog:  # no thread in logs
        for c, sc in zip(configs, scenarios):
            if sc is None:
                rows.append((c, None))
                continue
            task = prog.add_task(f"{c.machine} {c.policy} x{c.threads}", total=len(work.ops))
            r = simulate(sc, on_op=lambda i, task=task: prog.advance(task))
            r.overrides = c.override_values()
            rows.append((c, r))
    if args.json:
        print(json.dumps(runs_as_json(rows, work.trace_id["sha256"]), indent=2, sort_keys=True))
    else:
        print_runs(rows, safe(f"{work.meta['model']['name']} ({work.trace_id['file']}), "
                              f"stack {', '.join(s.name for s in stacks.values())}", 400))
    noted = next((r.notes.get("recording_note") for _, r in rows if r is not None), None)
    if noted:
        console.print(f"[yellow]note: {safe(noted, 2000)}[/yellow]")
    if out:
        save_results(out, [r for _, r in rows if r is not None])
        console.print(f"wrote {safe(out)}")
    return 0


def runs_as_json(rows: list, trace_sha256: str) -> list[dict]:
    """One row per configuration in the one results schema (as a sweep's configs.parquet): the
    configuration's columns, then the run's (null where a figure does not apply)."""
    from hetier.formats.results import run_row

    out = []
    for c, r in rows:
        if r is None:
            out.append(c.row(trace_sha256, "not applicable", c.skip))
        else:
            out.append({**c.row(trace_sha256, "ok", None), **run_row({**r.summary(), "overrides": {}})})
    return out


def print_runs(rows: list, title: str) -> None:
    """The comparison table (analysis/reports/text.py's columns plus overrides and stack); "vs
    baseline" compares runs with the same thread count and stack only; a configuration that did not
    run says why."""
    from dataclasses import asdict

    from rich.table import Table

    from hetier.analysis.comparison import Comparison
    from hetier.analysis.reports.text import COLUMNS, cells
    from hetier.terminal import safe, table_console

    by_threads: dict[tuple[int, str], list] = {}
    for c, r in rows:
        if r is not None:
            by_threads.setdefault((c.threads, c.stack), []).append({k: v for k, v in asdict(r).items() if k != "layers"})
    compared = {t: iter(Comparison(runs, []).rows()) for t, runs in by_threads.items()}
    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col, justify="right")
    for c, r in rows:
        if r is None:
            stack = [("stack", c.stack)] if c.stack != "hetier" else []
            ov = safe(" ".join(f"{k}={v}" for k, v in (*c.overrides, *stack)) or "-", 2000)
            table.add_row(safe(c.machine), ov, safe(c.policy), str(c.threads), safe(c.skip, 2000),
                          *["-"] * (len(COLUMNS) - 5))
            continue
        table.add_row(*cells(next(compared[(c.threads, c.stack)])))
    console = table_console(240)
    console.print(table)
