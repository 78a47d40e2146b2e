"""Report on a trace and its replay results: self-contained HTML, or text in the terminal.

Example: hetier report t.arrow results.arrow -o report.html
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")
    p.add_argument("results", nargs="*", help="results files from hetier replay (same trace)")
    p.add_argument("-o", "--output", help="HTML file to write (required unless --format text)")
    p.add_argument("--format", choices=("html", "text"), default="html")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from hetier.analysis.comparison import load_comparison
    from hetier.analysis.metrics import analyze
    from hetier.analysis.reports.text import render_text
    from hetier.atomic import check_output
    from hetier.terminal import safe
    from hetier.errors import UsageError
    from hetier.simulator.workload import trace_identity
    from hetier.tracer.format import TraceReader

    if args.format == "html" and not args.output:
        raise UsageError("an HTML report needs -o FILE (or use --format text)")
    out = check_output(args.output, args.force) if args.format == "html" else None
    with TraceReader(args.trace) as r:
        meta = r.meta
    comp = None
    if args.results:
        ident = trace_identity(args.trace, meta)
        comp = load_comparison(args.results, ident["sha256"], ident["file"])
    an = analyze(args.trace)
    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console.width = 200
    if args.format == "text":
        render_text(an, comp, console)
        return 0
    from hetier.analysis.reports.html import render_html

    n = render_html(an, comp, out)
    render_text(an, comp, console)
    console.print(f"wrote {safe(out)} ({n} figures, {out.stat().st_size / 1e6:.1f} MB)")
    return 0
