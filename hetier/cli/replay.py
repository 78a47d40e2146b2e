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
    p.add_argument("--threads", type=int, default=1, help="simulated worker threads")
    p.add_argument("--allow-truncated", action="store_true", help="replay the complete prefix of a truncated trace")
    p.add_argument("--dump-config", action="store_true", help="print the resolved machines as JSON and stop")
    p.add_argument("-o", "--output", help="results file (Arrow)")
    p.add_argument("--force", action="store_true", help="overwrite an existing results file")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.simulator.machines import load_machine
    from hetier.simulator.policies import get_policy
    from hetier.simulator.replay import replay
    from hetier.simulator.results import save_results
    from hetier.simulator.workload import load_workload
    from hetier.terminal import safe
    from hetier.validation import check_threads

    check_threads(args.threads)
    names = _split(args.machine)
    if not names:
        raise UsageError("no machine given (--machine NAME or FILE.toml)")
    machines = [load_machine(m, args.set) for m in names]
    if args.dump_config:
        print(json.dumps([m.to_dict() for m in machines], indent=2, sort_keys=True))
        return 0
    policies = _split(args.policy) or ["all-dram"]
    for m in machines:  # validate names before the long part (Memory Mode and one tier ignore the policy)
        for p in policies:
            get_policy(p, m.tier_names if m.mode == "flat" and len(m.tiers) > 1 else ["dram", "pmem"])
    out = check_output(args.output, args.force) if args.output is not None else None
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
            task = prog.add_task(safe(f"{m.name} {p or 'memory-mode'}"), total=len(work.ops))
            runs.append(replay(work, m, p, args.threads, on_op=lambda i, task=task: prog.advance(task)))
    table = Table(title=safe(f"{work.meta['model']['name']} ({work.trace_id['file']}), {args.threads} thread(s)", 400))
    for col in ("machine", "policy", "time", "vs first", "compute", "memory stall by tier", "peak by tier", "MM hit"):
        table.add_column(col, justify="right")
    base = next((r.makespan_ns for r in runs if r.makespan_ns), None)
    for r in runs:
        stall = ", ".join(f"{t} {v / 1e9:.2f} s" for t, v in r.stall_ns.items())
        peak = ", ".join(f"{t} {v / 1e9:.2f} GB" for t, v in r.peak_bytes.items())
        rel = f"{r.makespan_ns / base:.2f}x" if r.makespan_ns and base else "-"
        hit = f"{100 * r.mm_hit_ratio:.1f}%" if r.mm_hit_ratio is not None else "-"
        table.add_row(safe(r.machine["name"]), safe(r.policy), safe(r.headline()), rel, f"{r.compute_ns / 1e9:.2f} s",
                      safe(stall, 2000), safe(peak, 2000), hit)
    out_console = Console(soft_wrap=True)
    if not out_console.is_terminal:
        out_console.width = 200
    out_console.print(table)
    if out:
        save_results(out, runs)
        console.print(f"wrote {safe(out)}")
    return 0
