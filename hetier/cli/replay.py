"""Replay a trace on simulated machines and placement policies; print a comparison.

Example: hetier replay t.arrow --machine dram-only,optane-appdirect --policy all-dram,all-pmem,dram-first
"""

from __future__ import annotations

import argparse
import json


def _split(values: list[str] | None) -> list[str]:
    return [v for item in (values or []) for v in item.split(",") if v]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")
    p.add_argument("--machine", action="append", required=True, help="preset or .toml; repeat or comma-list")
    p.add_argument("--policy", action="append", help="placement policy (flat machines); repeat or comma-list")
    p.add_argument("--set", action="append", default=[], metavar="TIER.KEY=VALUE", help="override a number: TIER.KEY=VALUE, or MACHINE:TIER.KEY=VALUE for one machine")
    p.add_argument("--threads", type=int, default=None,
                   help="simulated worker threads (default: each machine's cores; more is refused)")
    p.add_argument("--stack", default="hetier",
                   help="stack profile: preset (hetier, he-transformer) or .toml; how the software schedules "
                        "and pays for the trace's primitives")
    p.add_argument("--stack-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a stack profile value, e.g. compute_scale=1.5")
    p.add_argument("--allow-truncated", action="store_true", help="replay the complete prefix of a truncated trace")
    p.add_argument("--dump-config", action="store_true", help="print the resolved machines as JSON and stop")
    p.add_argument("-o", "--output", help="results file (Arrow)")
    p.add_argument("--force", action="store_true", help="overwrite an existing results file")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.simulator.machines import load_machine
    from hetier.simulator.policies import get_policy
    from hetier.simulator.replay import replay
    from hetier.simulator.results import save_results
    from hetier.simulator.workload import load_workload

    from hetier.simulator.stack import load_stack

    if args.threads is not None and args.threads < 1:
        raise UsageError(f"threads {args.threads} must be at least 1")
    machines = [load_machine(m, args.set) for m in _split(args.machine)]
    stack = load_stack(args.stack, args.stack_set)
    for m in machines:
        if args.threads is not None and args.threads > m.cores:
            raise UsageError(f"threads {args.threads} exceed machine '{m.name}''s {m.cores} cores")
    if args.dump_config:
        print(json.dumps([m.to_dict() for m in machines], indent=2, sort_keys=True))
        return 0
    policies = _split(args.policy) or ["all-dram"]
    for m in machines:
        if m.mode == "flat":
            for p in policies:
                get_policy(p, m.tier_names)  # validate names before the long part
    out = check_output(args.output, args.force) if args.output else None
    console = Console(stderr=True, soft_wrap=True)
    work = load_workload(args.trace, args.allow_truncated)
    if work.truncated:
        console.print(f"[yellow]warning: trace is truncated; replaying its {len(work.ops)} complete ops[/yellow]")
    # Memory Mode takes no policy; a single-tier machine has only one placement
    configs = [(m, None) if m.mode == "memory" else (m, p if len(m.tiers) > 1 else "all-dram")
               for m in machines for p in policies]
    configs = list(dict.fromkeys((m, p) for m, p in configs))
    runs = []
    with Progress(console=console, transient=True) as prog:
        for m, p in configs:
            task = prog.add_task(f"{m.name} {p or 'memory-mode'}", total=len(work.ops))
            runs.append(replay(work, m, p, args.threads, on_op=lambda i, task=task: prog.advance(task), stack=stack))
    from dataclasses import asdict

    from hetier.analysis.comparison import Comparison
    from hetier.analysis.reports.text import comparison_table

    comp = Comparison([{k: v for k, v in asdict(r).items() if k != "layers"} for r in runs], [])
    table = comparison_table(comp, f"{work.meta['model']['name']} ({work.trace_id['file']}), stack {stack.name}")
    out_console = Console(soft_wrap=True)
    if not out_console.is_terminal:
        out_console.width = 200
    out_console.print(table)
    if out:
        save_results(out, runs)
        console.print(f"wrote {out}")
    return 0
