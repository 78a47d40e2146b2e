"""Export a trace for other viewers: Perfetto/Chrome trace JSON, or Parquet; or results files and
sweep directories as one table (a row per run, every override a column), Parquet or CSV.

Examples: hetier export t.arrow --format perfetto [results.arrow ...] -o t.json
          hetier export t.arrow --format parquet -o t.parquet
          hetier export results.arrow [sweep-dir ...] --format csv -o runs.csv
          hetier export results.arrow --format csv --price-choice reused-dimms -o runs.csv
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file (or a results file / sweep directory for a table of runs)")
    p.add_argument("results", nargs="*", help="results files (perfetto: adds simulated timelines)")
    p.add_argument("--format", choices=("perfetto", "parquet", "csv"), required=True)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--prices", help="price file for the cost columns of a table of runs (default: "
                   "simulator/presets/prices.toml); a sweep directory's rows are re-priced with it")
    p.add_argument("--price-choice", metavar="NAME",
                   help="a named alternative of the price file for the cost columns (shipped: reused-dimms; "
                        "`hetier machines --json --price-choice NAME` shows the costs)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    from hetier.analysis.export import write_parquet, write_perfetto
    from hetier.analysis.trace_pass import TracePass
    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.terminal import plain
    from hetier.formats.identity import trace_identity

    out = check_output(args.output, args.force)
    from hetier.formats.results import is_results_file
    from hetier.formats.sweep import is_sweep_dir

    if is_sweep_dir(args.trace) or is_results_file(args.trace):
        from hetier.analysis.results_table import write_results_table

        n = write_results_table([args.trace, *args.results], out, args.format, args.prices, args.price_choice)
        print(f"wrote {out}: {n:,} runs")
        return 0
    if args.prices or args.price_choice:
        raise UsageError("--prices and --price-choice price a table of runs (results files, sweep directories); "
                         "a trace has no machine to price")
    if args.format == "csv":
        raise UsageError("csv export is for results files and sweep directories (a trace exports as parquet)")
    if args.format == "parquet":
        if args.results:
            raise UsageError("parquet export takes no results files")
        n = write_parquet(args.trace, out)
        print(f"wrote {plain(out)}: {n:,} events")
        return 0
    with TracePass(args.trace, require_events=True) as tp:  # the trace is read once
        sha = trace_identity(args.trace, tp.meta)["sha256"] if args.results else None
        n = write_perfetto(args.trace, args.results, out, sha, trace_pass=tp)
    print(f"wrote {plain(out)}: {n:,} trace events (open it in ui.perfetto.dev or chrome://tracing)")
    return 0
