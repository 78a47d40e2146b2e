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
    p.add_argument("--threads", action="append", metavar="N[,N...]", help="simulated worker threads (default 1); repeat or comma-list")
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
    from hetier.simulator.results import save_results
    from hetier.simulator.workload import load_workload

    axes = axes_from_args([args.trace], args.machine, args.policy, args.threads, args.set)
    configs = axes.configs()
    if args.dump_config:
        machines = {(c.machine, c.overrides): c.load() for c in configs}
        print(json.dumps([m.to_dict() for m in machines.values()], indent=2, sort_keys=True))
        return 0
    out = check_output(args.output, args.force) if args.output else None
    console = Console(stderr=True, soft_wrap=True)
    work = load_workload(args.trace, args.allow_truncated)
    if work.truncated:
        console.print(f"[yellow]warning: trace is truncated; replaying its {len(work.ops)} complete ops[/yellow]")
    rows = []  # (config, RunResult or None)
    with Progress(console=console, transient=True) as prog:
        for c in configs:
            if c.skip:
                rows.append((c, None))
                continue
            task = prog.add_task(f"{c.machine} {c.policy} x{c.threads}", total=len(work.ops))
            r = replay(work, c.load(), None if c.policy == "memory-mode" else c.policy, c.threads,
                       on_op=lambda i, task=task: prog.advance(task))
            r.overrides = c.override_values()
            rows.append((c, r))
    if args.json:
        print(json.dumps(runs_as_json(rows), indent=2, sort_keys=True))
    else:
        print_runs(rows, f"{work.meta['model']['name']} ({work.trace_id['file']})")
    if out:
        save_results(out, [r for _, r in rows if r is not None])
        console.print(f"wrote {out}")
    return 0


def runs_as_json(rows: list) -> list[dict]:
    """One dict per configuration: the run summary, or the reason it did not run."""
    out = []
    for c, r in rows:
        if r is None:
            out.append({"machine_name": c.machine, "policy": c.policy, "threads": c.threads,
                        "overrides": c.override_values(), "status": "skipped", "reason": c.skip})
            continue
        d = r.summary()
        d["machine_name"] = c.machine
        d["status"] = "ok" if r.fits else "does not fit"
        d["reason"] = None if r.fits else r.headline()
        out.append(d)
    return out


def print_runs(rows: list, title: str) -> None:
    """The comparison table; "vs first" compares runs with the same thread count only."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("machine", "overrides", "policy", "threads", "time", "vs first", "compute",
                "memory stall by tier", "peak by tier", "MM hit"):
        table.add_column(col, justify="right")
    base: dict[int, float] = {}
    for c, r in rows:
        ov = " ".join(f"{k}={v}" for k, v in c.overrides) or "-"
        if r is None:
            table.add_row(c.machine, ov, c.policy, str(c.threads), c.skip, "-", "-", "-", "-", "-")
            continue
        if r.makespan_ns:
            base.setdefault(c.threads, r.makespan_ns)
        stall = ", ".join(f"{t} {v / 1e9:.2f} s" for t, v in r.stall_ns.items())
        peak = ", ".join(f"{t} {v / 1e9:.2f} GB" for t, v in r.peak_bytes.items())
        rel = f"{r.makespan_ns / base[c.threads]:.2f}x" if r.makespan_ns else "-"
        hit = f"{100 * r.mm_hit_ratio:.1f}%" if r.mm_hit_ratio is not None else "-"
        table.add_row(c.machine, ov, r.policy, str(c.threads), r.headline(), rel, f"{r.compute_ns / 1e9:.2f} s",
                      stall, peak, hit)
    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console.width = 240
    console.print(table)
