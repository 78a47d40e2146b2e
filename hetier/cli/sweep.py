"""Sweep traces x machines x policies x stacks x threads x parameters on a process pool or a Dask cluster.

Results go to a directory (Parquet, one row per configuration, per-layer rows beside it) as
configurations finish; the same command again resumes. Example:
hetier sweep t.arrow --machine dram-only,optane-appdirect --policy all-dram,dram-first
--threads 1,24 --vary optane-appdirect:dram.capacity_gb=16:192:16 -o sweep/
"""

from __future__ import annotations

import argparse
import json

from hetier.cli.options import add_scenario_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("traces", nargs="*", help="trace files (or give them in --file)")
    p.add_argument("--file", help="TOML sweep file: traces, machines, policies, threads, [set] / [vary]")
    p.add_argument("--machine", action="append", help="preset, .toml file or LABEL=PRESET; repeat or comma-list")
    p.add_argument("--policy", action="append", help="placement policies (flat machines); repeat or comma-list")
    p.add_argument("--threads", action="append", metavar="N[,N...]", help="simulated worker threads; repeat or comma-list")
    add_scenario_arguments(p, axis=True)
    p.add_argument("--set", action="append", default=[], metavar="[MACHINE:]TIER.KEY=VALUE", help="override (a list or range varies it)")
    p.add_argument("--vary", action="append", default=[], metavar="[MACHINE:]TIER.KEY=A:B:STEP|V1,V2",
                   help="vary a number over a range or list")
    p.add_argument("-o", "--output", required=True, help="sweep directory (an existing one resumes)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: CPU count; 1 runs in this process)")
    p.add_argument("--scheduler", metavar="tls://HOST:8786",
                   help="run on an existing Dask cluster you trust: a Dask scheduler runs code and Dask's protocol "
                        "deserializes what it sends, so a remote cluster is safe only over mutual TLS "
                        "(tls:// with --tls-ca/--tls-cert/--tls-key); plain tcp:// is accepted on loopback only "
                        "unless --insecure (docs/sweeps.md)")
    p.add_argument("--tls-ca", metavar="PEM", help="CA certificate the scheduler's certificate must come from")
    p.add_argument("--tls-cert", metavar="PEM", help="this client's certificate (from the same CA)")
    p.add_argument("--tls-key", metavar="PEM", help="this client's private key")
    p.add_argument("--insecure", action="store_true",
                   help="allow plain tcp:// to another machine (only on a network where everyone who can reach "
                        "the scheduler may run code on this machine)")
    p.add_argument("--task-timeout", type=float, default=3600.0, metavar="SECONDS",
                   help="stop if no configuration finishes on the cluster for this long (default 3600)")
    p.add_argument("--prices", help="price file (default: simulator/presets/prices.toml)")
    p.add_argument("--price-choice", metavar="NAME",
                   help="a named alternative of the price file (shipped: reused-dimms, CXL expanders filled with "
                        "DIMMs you already own; `hetier machines --json --price-choice NAME` shows the costs)")
    p.add_argument("--within", type=float, default=0.10, help="tolerance for the cheapest-configuration answer (0.10 = 10%%)")
    p.add_argument("--allow-truncated", action="store_true", help="replay the complete prefix of truncated traces")
    p.add_argument("--no-reference", action="store_true",
                   help="do not add, per hybrid machine, the all-DRAM reference: its first tier alone, sized to the "
                        "memory needed (flagged reference_added in configs.parquet)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--force", action="store_true", help="start an existing sweep directory over")


def run(args: argparse.Namespace) -> int:
    from hetier.errors import UsageError
    from hetier.simulator.axes import read_sweep_file
    from hetier.simulator.dask_cluster import connect, parse_scheduler
    from hetier.simulator.sweep_store import SweepStore
    from hetier.workflow.sweeps import plan_sweep

    if not 0 <= args.within <= 100:  # NaN fails too
        raise UsageError(f"--within {args.within:g} must be a slowdown tolerance between 0 and 100 (0.10 = 10%)")
    if not 1 <= args.task_timeout <= 7 * 86400:  # NaN fails too
        raise UsageError(f"--task-timeout {args.task_timeout:g} must be between 1 and 604800 seconds")
    if args.scheduler is None:
        given = [o for o in ("tls_ca", "tls_cert", "tls_key", "insecure") if getattr(args, o)]
        if given:
            raise UsageError(f"--{given[0].replace('_', '-')} needs --scheduler")
        scheduler = None
    else:  # before anything is read or written
        scheduler = parse_scheduler(args.scheduler, args.tls_ca, args.tls_cert, args.tls_key, args.insecure)
    if args.stack_set:
        raise UsageError("--stack-set changes one profile; a sweep names profiles (write the changed one to a .toml)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"workers {args.workers} must be at least 1")
    f = read_sweep_file(args.file) if args.file else {"traces": [], "machines": [], "policies": [], "stacks": [],
                                                       "threads": [], "sets": []}
    plan = plan_sweep(f["traces"] + list(args.traces), f["machines"] + (args.machine or []),
                      f["policies"] + (args.policy or []), f["threads"] + (args.threads or []), f["sets"] + args.set,
                      args.vary, f["stacks"] + (args.stack or []), args.prices, args.allow_truncated,
                      args.allow_runtime_mismatch, args.fit_by, not args.no_reference, args.price_choice)
    cluster = connect(scheduler) if scheduler is not None else None  # before the directory is made
    try:
        store = SweepStore.open(args.output, args.force)
        return _run(args, store, plan, cluster)
    finally:
        if cluster is not None:
            cluster.close(timeout=10)


def _run(args, store, plan, cluster) -> int:
    """The sweep itself, once its inputs are checked and its cluster (if any) answers."""
    import os

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from hetier.analysis.sweep import cheapest_within
    from hetier.formats.sweep import override_keys
    from hetier.simulator.sweep_runner import Runner, run_sweep

    axes, tasks, prices = plan.axes, plan.tasks, plan.prices
    store.write_manifest(plan.manifest())
    done, notes = store.done(tasks)
    todo = [t for t in tasks if t.config_id not in done]
    runner = Runner(workers=args.workers or os.cpu_count() or 1, cluster=cluster, task_timeout_s=args.task_timeout)
    console = Console(stderr=True, soft_wrap=True)
    for note in notes[:20]:
        console.print(f"note: {note}", markup=False)
    if len(notes) > 20:
        console.print(f"note: {len(notes) - 20} more parts set aside", markup=False)
    where = args.scheduler or (f"{runner.workers} local processes" if runner.workers > 1 else "this process")
    console.print(f"sweep: {len(tasks)} configurations, {len(tasks) - len(todo)} already done, {len(todo)} to run on {where}")
    columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as prog:
        bar = prog.add_task("sweep", total=len(todo))
        run_sweep(todo, runner, lambda out: (store.save(out), prog.advance(bar)))
    configs = store.finalize(tasks, axes.override_keys(), prices, plan.price_choice)
    picks = cheapest_within(configs, args.within, override_keys=override_keys(configs))
    status = {}
    for s in configs.column("status").to_pylist():
        status[s] = status.get(s, 0) + 1
    summary = {"output": str(store.root), "configurations": len(tasks), "ran": len(todo), "resumed": len(tasks) - len(todo),
               "by_status": status, "within": args.within, "price_choice": plan.price_choice,
               "cheapest_within": [{**p.__dict__, "slowdown": p.slowdown} for p in picks],
               "peak_rss_bytes_by_worker": runner.peak_rss, "trace_loads_by_worker": runner.trace_loads}
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    out = Console(soft_wrap=True)
    out.print(f"{len(tasks)} configurations ({', '.join(f'{k} {v}' for k, v in sorted(status.items()))}); "
              f"wrote {store.root}/configs.parquet and layers.parquet")
    for p in picks:
        cost = f"{p.cost_usd:,.0f} USD" if p.cost_usd is not None else "cost unknown"
        ref_cost = f"{p.reference_cost_usd:,.0f} USD" if p.reference_cost_usd is not None else "cost unknown"
        out.print(f"{p.trace} x{p.threads}: cheapest within {100 * args.within:g}% of all-DRAM: {p.label} "
                  f"({p.capacities}, memory {cost}), {p.time_s:.3f} s, {p.slowdown:.2f}x the all-DRAM reference "
                  f"{p.reference} ({p.reference_capacities}, memory {ref_cost})"
                  + (" (prices include an estimate: see cost_note)" if p.estimate else ""))
    if runner.peak_rss:
        out.print("peak memory per worker: " + ", ".join(f"{v / 2 ** 20:.0f} MiB" for _, v in sorted(runner.peak_rss.items())))
    return 0
