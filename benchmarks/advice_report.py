"""The text report of a large advice file: its per-op table drawn by rich (a Table of renderable
cells, as before) and by hetier.text_table (one pass), side by side on the same rows, then the
whole `hetier report TRACE --advice FILE --format text` as a user runs it.

Makes one advice file with `hetier advise` on the committed MLP sample trace and repeats its
per-op rows with varied names and sizes to 1,000 ... 200,000 rows (the most an advice file may
hold, hetier.validation.MAX_ADVICE_LAYERS) and to 300,000 (refused in one line). rich is timed
only up to --rich-max rows (it takes ~10 ms a row); its cost per row is given beside ours.
Prints CPU seconds (this process for the tables, the child for the command) and wall seconds.

    python benchmarks/advice_report.py [--sizes 1000,10000,200000,300000] [--rich-max 2000]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
TRACE = ROOT / "traces" / "mlp-relu-b8.ciphertext.arrow"
HETIER = [sys.executable, "-c", "import sys; from hetier.cli.main import main; sys.exit(main(sys.argv[1:]))"]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _advice(d: Path, sizes: list[int]) -> dict[int, Path]:
    subprocess.run([*HETIER, "advise", str(TRACE), "--machine", "optane-appdirect", "--no-bisect",
                    "--policy", "hot-cold", "--advice", str(d / "base.json"), "-o", str(d / "p.json")],
                   check=True, capture_output=True)
    base = json.loads((d / "base.json").read_text())
    seed = base["layers"]
    out = {}
    for n in sizes:
        doc = dict(base, layers=[dict(seed[i % len(seed)], op=i, layer=f"{seed[i % len(seed)]['layer']}_{i}",
                                      moved_bytes=(i * 4096) % 10 ** 9) for i in range(n)])
        out[n] = d / f"advice-{n}.json"
        out[n].write_text(json.dumps(doc))
    return out


def _render(layers: list[dict], rich: bool) -> float:
    """CPU seconds to build and print the per-op table into memory."""
    from rich.console import Console

    from hetier.analysis.reports.advice import layer_columns, layer_rows, print_layer_table, rich_table

    console = Console(file=io.StringIO(), width=200, soft_wrap=True)  # as hetier.terminal.table_console off a terminal
    t0 = _cpu()
    if rich:
        console.print(rich_table("t", layer_columns(layers), layer_rows(layers)))
    else:
        print_layer_table(console, "t", layers)
    return _cpu() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,200000,300000")
    ap.add_argument("--rich-max", type=int, default=2000, help="largest table drawn by rich (~10 ms a row)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        files = _advice(Path(tmp), sizes)
        print(f"{'rows':>8} {'rich table s':>12} {'text table s':>12} {'rich/text':>9} "
              f"{'report cpu s':>12} {'report wall s':>13}  exit, last line of stderr")
        for n in sizes:
            layers = json.loads(files[n].read_text())["layers"]
            ours = _render(layers, rich=False)
            theirs = _render(layers, rich=True) if n <= args.rich_max else None
            c0, w0 = _child_cpu(), time.perf_counter()
            p = subprocess.run([*HETIER, "report", str(TRACE), "--advice", str(files[n]), "--format", "text"],
                               capture_output=True, text=True)
            cpu, wall = _child_cpu() - c0, time.perf_counter() - w0
            last = (p.stderr.strip().splitlines() or [""])[-1][:100]
            ratio = f"{theirs / ours:9.1f}" if theirs is not None else f"{'-':>9}"
            rich_s = f"{theirs:12.2f}" if theirs is not None else f"{'(not run)':>12}"
            print(f"{n:8,} {rich_s} {ours:12.2f} {ratio} {cpu:12.2f} {wall:13.2f}  {p.returncode} {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
