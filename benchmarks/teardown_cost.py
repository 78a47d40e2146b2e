"""What destroying an unpacked constant tensor costs on this machine, beside the fitted value.

The `he-transformer` stack's serial part is the executor thread's teardown of host objects
(`teardown_ns_per_host_byte`, fitted by `hetier fit`). This compiles benchmarks/teardown_cost.cpp
(HE-Transformer's HEType layout: 56 B plus a 32 B heap chunk per value), builds, fills (on 1 and on
all cores, as constant_seal's OpenMP loop would) and destroys such a tensor, and prints the
measured ns per value and per byte next to the shipped profile's fitted ns per byte. Needs a C++
compiler (g++); prints one line and exits 1 without one.

    python benchmarks/teardown_cost.py [--values 20000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from hetier.simulator.stack import load_stack

SOURCE = Path(__file__).with_name("teardown_cost.cpp")


def run_once(binary: str, values: int, threads: int) -> dict[str, float]:
    out = subprocess.run([binary, str(values), str(threads)], check=True, capture_output=True, text=True).stdout
    words = out.split()
    return {k: float(v) for k, v in zip(words[::2], words[1::2])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--values", type=int, default=20_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        print("teardown_cost: no C++ compiler (g++) on PATH", file=sys.stderr)
        return 1
    fitted = load_stack("he-transformer").teardown_ns_per_host_byte
    with tempfile.TemporaryDirectory() as d:
        binary = str(Path(d) / "teardown_cost")
        subprocess.run([cxx, "-O2", "-pthread", "-o", binary, str(SOURCE)], check=True)
        print(f"{args.values} values, median of {args.repeats} runs (alternating fill threads)")
        results: dict[int, list[dict[str, float]]] = {1: [], os.cpu_count() or 1: []}
        for _ in range(args.repeats):
            for t in results:
                results[t].append(run_once(binary, args.values, t))
        for t, rs in results.items():
            med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            print(f"fill on {t} thread(s): build {med['build_ns_per_value']:.1f} ns/value, "
                  f"teardown {med['teardown_ns_per_value']:.1f} ns/value = {med['teardown_ns_per_byte']:.3f} ns/byte; "
                  f"first touch {med['first_touch_ns_per_page']:.0f} ns/page")
        print(f"he-transformer profile: teardown_ns_per_host_byte = {fitted:.3f} (fitted on the study's runs, "
              "2x Xeon 8260L)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
