"""Export a trace for other viewers: Perfetto/Chrome trace JSON, or Parquet.

Examples: hetier export t.arrow --format perfetto [results.arrow ...] -o t.json
          hetier export t.arrow --format parquet -o t.parquet
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")
    p.add_argument("results", nargs="*", help="results files (perfetto: adds simulated timelines)")
    p.add_argument("--format", choices=("perfetto", "parquet"), required=True)
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--force", action="store_true", help="overwrite an existing output")


def run(args: argparse.Namespace) -> int:
    from hetier.analysis.export import write_parquet, write_perfetto
    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.terminal import plain
    from hetier.simulator.workload import trace_identity
    from hetier.tracer.format import TraceReader

    out = check_output(args.output, args.force)
    with TraceReader(args.trace) as r:
        meta = r.meta
    if args.format == "parquet":
        if args.results:
            raise UsageError("parquet export takes no results files")
        n = write_parquet(args.trace, out)
        print(f"wrote {plain(out)}: {n:,} events")
        return 0
    sha = trace_identity(args.trace, meta)["sha256"] if args.results else None
    n = write_perfetto(args.trace, args.results, out, sha)
    print(f"wrote {plain(out)}: {n:,} trace events (open it in ui.perfetto.dev or chrome://tracing)")
    return 0
