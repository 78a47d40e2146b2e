"""Check a trace's consistency; exit 1 on any violation.

Looks for everything that would make another verb fail or lie: values out of range (codes,
sizes, ids, timestamps), access to unknown or freed buffers, double frees, buffers live at the
end, unbalanced op rows, time going backwards, sums that would overflow, corruption and
truncation; each with the first events that show it.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hetier.analysis.check import check_trace
    from hetier.terminal import safe

    rep = check_trace(args.trace)
    console = Console(soft_wrap=True)
    if rep.ok:
        console.print(f"{safe(args.trace)}: consistent ({rep.events:,} events)")
        return 0
    for problem in (rep.corrupt, rep.truncated):
        if problem:
            console.print(f"[red]{safe(problem, 2000)}[/red]")
    for what, n in rep.counts.items():
        console.print(f"[red]{what}[/red]: {n:,} (e.g. {safe('; '.join(rep.examples[what]), 2000)})")
    return 1
