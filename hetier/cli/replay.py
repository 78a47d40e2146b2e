"""Replay a trace on simulated machines and placement policies; print a comparison.

Example: hetier replay t.arrow --machine dram-only,optane-appdirect --policy all-dram,all-pmem,dram-first
--threads 1,24 --machine small=optane-appdirect --set small:dram.capacity_gb=16,32
"""

from __future__ import annotations

import argparse
import json


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
    p.add_argument("--stack", default="hetier",
                   help="stack profile: preset (hetier, he-transformer) or .toml; how the software schedules "
                        "and pays for the trace's primitives")
    p.add_argument("--stack-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a stack profile value, e.g. compute_scale=1.5")
    p.add_argument("--allow-truncated", action="store_true", help="replay the complete prefix of a truncated trace")
    p.add_argument("--dump-config", action="store_true", help="print the resolved machines as JSON and stop")
    p.add_argument("--json", action="store_true", help="print the runs as JSON on stdout instead of a table")
    p.add_argument("-o", "--output", help="results file (Arrow)")
    p.add_argument("--force", action="store_true", help="overwrite an existing results file")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from hetier.atomic import check_output
    from hetier.simulator.axes import axes_from_args
    from hetier.simulator.replay import replay
    from hetier.formats.results import save_results
    from hetier.simulator.workload import load_workload
    from hetier.terminal import safe

    from hetier.simulator.stack import load_stack

    stack = load_stack(args.stack, args.stack_set)
    axes = axes_from_args([args.trace], args.machine, args.policy, args.threads, args.set)
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
    traced = str((work.meta.get("runtime") or {}).get("profile", "hetier"))
    if traced != stack.runtime_profile:  # the stack's numbers were made for another allocation behaviour
        console.print(f"[yellow]note: stack {safe(stack.name, 200)} is made for traces of runtime profile "
                      f"{stack.runtime_profile}; this trace was made with {safe(traced, 100)} (trace again with "
                      f"--runtime-profile {stack.runtime_profile})[/yellow]")
    rows = []  # (config, RunResult or None)
    with Progress(console=console, transient=True) as prog:
        for c in configs:
            if c.skip:
                rows.append((c, None))
                continue
            task = prog.add_task(f"{c.machine} {c.policy} x{c.threads}", total=len(work.ops))
            r = replay(work, c.load(), None if c.policy == "memory-mode" else c.policy, c.threads,
                       on_op=lambda i, task=task: prog.advance(task), stack=stack)
            r.overrides = c.override_values()
            rows.append((c, r))
    if args.json:
        print(json.dumps(runs_as_json(rows), indent=2, sort_keys=True))
    else:
        print_runs(rows, safe(f"{work.meta['model']['name']} ({work.trace_id['file']}), stack {stack.name}", 400))
    noted = next((r.notes.get("recording_note") for _, r in rows if r is not None), None)
    if noted:
        console.print(f"[yellow]note: {safe(noted, 2000)}[/yellow]")
    if out:
        save_results(out, [r for _, r in rows if r is not None])
        console.print(f"wrote {safe(out)}")
    return 0


def runs_as_json(rows: list) -> list[dict]:
    """One dict per configuration: the run summary, or the reason it did not run."""
    from hetier.vocabulary import DOES_NOT_FIT

    out = []
    for c, r in rows:
        if r is None:
            out.append({"machine_name": c.machine, "policy": c.policy, "threads": c.threads,
                        "overrides": c.override_values(), "status": "skipped", "reason": c.skip})
            continue
        d = r.summary()
        d["machine_name"] = c.machine
        d["status"] = "ok" if r.fits else DOES_NOT_FIT
        d["reason"] = None if r.fits else r.headline()
        out.append(d)
    return out


def print_runs(rows: list, title: str) -> None:
    """The comparison table (analysis/reports/text.py's columns plus overrides); "vs baseline"
    compares runs with the same thread count only; a configuration that did not run says why."""
    from dataclasses import asdict

    from rich.table import Table

    from hetier.analysis.comparison import Comparison
    from hetier.analysis.reports.text import COLUMNS, cells
    from hetier.terminal import safe, table_console

    by_threads: dict[int, list] = {}
    for c, r in rows:
        if r is not None:
            by_threads.setdefault(c.threads, []).append({k: v for k, v in asdict(r).items() if k != "layers"})
    compared = {t: iter(Comparison(runs, []).rows()) for t, runs in by_threads.items()}
    table = Table(title=title)
    for col in (COLUMNS[0], "overrides", *COLUMNS[1:]):
        table.add_column(col, justify="right")
    for c, r in rows:
        ov = safe(" ".join(f"{k}={v}" for k, v in c.overrides) or "-", 2000)
        if r is None:
            table.add_row(safe(c.machine), ov, safe(c.policy), str(c.threads), safe(c.skip, 2000),
                          *["-"] * (len(COLUMNS) - 4))
            continue
        first, *rest = cells(next(compared[c.threads]))
        table.add_row(safe(c.machine), ov, *rest)
    console = table_console(240)
    console.print(table)
