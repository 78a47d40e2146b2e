"""Report on a trace and its replay results: self-contained HTML, or text in the terminal.

Example: hetier report t.arrow results.arrow -o report.html [--advice t.advice.json]
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file, or a sweep directory from hetier sweep")
    p.add_argument("results", nargs="*", help="results files from hetier replay (same trace)")
    p.add_argument("-o", "--output", help="HTML file to write (required unless --format text)")
    p.add_argument("--format", choices=("html", "text"), default="html")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("--advice", help="advice file from `hetier advise TRACE --advice FILE` (same trace): adds the "
                                    "policy ranking and where the recommended placement keeps each layer's bytes")
    p.add_argument("--baseline", help="sweep reports: the reference configuration (label without threads, or part of one)")
    p.add_argument("--plotlyjs", choices=("inline", "cdn", "directory"), default="inline",
                   help="HTML: plotly.js inside the file (works offline; the default), a CDN script tag, or "
                        "plotly.min.js written once beside the report")


def run(args: argparse.Namespace) -> int:
    from hetier.analysis.comparison import load_comparison
    from hetier.analysis.metrics import analyze
    from hetier.analysis.reports.advice import render_advice_text
    from hetier.analysis.reports.text import render_text
    from hetier.analysis.trace_pass import TracePass
    from hetier.atomic import check_output
    from hetier.terminal import safe, table_console
    from hetier.errors import UsageError
    from hetier.formats.advice import read_advice
    from hetier.formats.identity import trace_identity

    from hetier.formats.sweep import is_sweep_dir

    if is_sweep_dir(args.trace):
        from hetier.analysis.reports.sweep import report_sweep

        if args.advice:
            raise UsageError("--advice applies to the report of one trace, not of a sweep directory")
        return report_sweep(args.trace, args.output, args.format, args.force, args.baseline, args.plotlyjs)
    if args.baseline:
        raise UsageError("--baseline applies to sweep reports (hetier report SWEEP_DIR)")
    if args.format == "html" and not args.output:
        raise UsageError("an HTML report needs -o FILE (or use --format text)")
    out = check_output(args.output, args.force) if args.format == "html" else None
    with TracePass(args.trace, require_events=True) as tp:  # the trace is read once, by analyze
        comp = advice = None
        ident = trace_identity(args.trace, tp.meta) if args.results or args.advice else None
        if args.results:
            comp = load_comparison(args.results, ident["sha256"], ident["file"])
        if args.advice:
            advice = read_advice(args.advice, ident)
        an = analyze(tp, figures=args.format == "html")  # the terminal shows the headline only
    console = table_console()
    if args.format == "text":
        render_text(an, comp, console)
        if advice:
            render_advice_text(advice, console)
        return 0
    from hetier.analysis.reports.html import render_html

    n = render_html(an, comp, out, advice, args.plotlyjs)
    render_text(an, comp, console)
    console.print(f"wrote {safe(out)} ({n} figures, {out.stat().st_size / 1e6:.1f} MB)")
    return 0
