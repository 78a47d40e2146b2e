"""Three ways to run HE inference on DRAM + CXL: application placement, Linux tiering (TPP) and
Flat Memory Mode, side by side: predicted time and bytes moved for each, and how long a Linux-
tiering replay takes to simulate.

Plans MobileNetV2 1.0 @ 96 and ResNet-50 @ 224 at batch 2048 with the reference runtime profile
(tensor granularity), then replays each on the DDR5 + CXL-A server (xeon-ddr5-cxl-a and its
linux-tiering / flat-memory-mode twins) with DRAM at 1/4 of the memory the trace needs (what
decides fit: simulator/memory_needed.py) and CXL holding all of it. Flat Memory Mode needs 1:1
DRAM:CXL, so at 1/4 it cannot hold the footprint; its row at 1/2 (DRAM = CXL = half of it) shows
what it would do on a machine that fits.

    python benchmarks/tiering.py [--threads 32] [--doc docs/tiering.md]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

MODELS = {
    "MobileNetV2 1.0 @ 96": ["mobilenetv2", "--width", "1.0", "--resolution", "96"],
    "ResNet-50 @ 224": ["resnet50", "--resolution", "224"],
}
COMMON = ["--batch", "2048", "--mode", "plan", "--runtime-profile", "reference", "--granularity", "tensor"]
APP_POLICIES = ["ilp", "hot-cold", "lifetime", "migrate", "dram-first", "all-pmem"]
FMM_BLOCK = 65536  # simulation block for Flat Memory Mode (as ref-memory-mode): keeps 100 GB caches tractable


def moved_bytes(r) -> float:
    """Bytes the placement, the kernel or the hardware moved between the tiers (each byte once per move)."""
    t, f = r.notes.get("tiering") or {}, r.notes.get("flat_memory_mode") or {}
    return float(r.notes.get("migrated_bytes", 0.0) + t.get("promoted_bytes", 0.0) + t.get("demoted_bytes", 0.0)
                 + f.get("swapped_in_bytes", 0.0) + f.get("swapped_out_bytes", 0.0))


def rows_for(w, threads: int, stack) -> tuple[list[list[str]], dict]:
    from hetier.simulator.machines import load_machine
    from hetier.simulator.memory_needed import memory_needed
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.tiering_alternatives import tuned_rate_limit_mbps

    needed = memory_needed(w, stack)
    peak = needed.total_bytes  # the footprint that decides fit (live peak, SEAL's pool and host copies, runtime)
    q = peak / 4 / 1e9
    sizes = [f"dram.capacity_gb={q:.3f}", f"cxl.capacity_gb={peak / 1e9 + 1:.3f}"]
    flat = load_machine("xeon-ddr5-cxl-a", sizes)
    big = load_machine("xeon-ddr5-cxl-a", [f"dram.capacity_gb={peak / 1e9 + 1:.3f}"])
    lt = load_machine("xeon-ddr5-cxl-a-tiering", sizes)
    rate = tuned_rate_limit_mbps(lt)
    fmm_q = dataclasses.replace(load_machine("xeon6-ddr5-cxl-a-fmm", [f"dram.capacity_gb={q:.3f}",
                                                                       f"cxl.capacity_gb={q:.3f}"]),
                                cache_block_bytes=FMM_BLOCK)
    h = peak / 2 / 1e9 + 0.001
    fmm_h = dataclasses.replace(load_machine("xeon6-ddr5-cxl-a-fmm", [f"dram.capacity_gb={h:.3f}",
                                                                       f"cxl.capacity_gb={h:.3f}"]),
                                cache_block_bytes=FMM_BLOCK)
    runs = [("all-DRAM (DRAM as large as needed)", "application", big, "all-dram"),
            *[(p if p != "all-pmem" else "all-CXL", "application", flat, p) for p in APP_POLICIES],
            ("Linux tiering, kernel defaults", "kernel", lt, None),
            (f"Linux tiering, rate limit {rate} MB/s", "kernel", lt,
             f"linux-tiering:numa_balancing_promote_rate_limit_MBps={rate}"),
            ("Linux tiering, THP always", "kernel", lt, "linux-tiering:transparent_hugepage=always"),
            ("Flat Memory Mode, 1:1 at 1/4 (CXL = DRAM)", "hardware", fmm_q, None),
            ("Flat Memory Mode, 1:1 at 1/2 (DRAM = CXL = half)", "hardware", fmm_h, None)]
    rows, ref, timing = [], None, {}
    for label, who, m, pol in runs:
        t0 = time.perf_counter()
        r = simulate(Scenario(w, m, pol, stack, threads))
        wall = time.perf_counter() - t0
        timing[label] = wall
        if not r.fits:
            rows.append([label, who, r.headline(), "-", "-", "-", f"{wall:.1f}"])
            continue
        ref = ref or r.makespan_ns
        cxl = r.read_bytes["cxl"] + r.write_bytes["cxl"]
        rows.append([label, who, f"{r.makespan_ns / 1e9:,.1f} s", f"{r.makespan_ns / ref:.3f}x",
                     f"{moved_bytes(r) / 1e9:,.1f} GB", f"{cxl / 1e9:,.1f} GB", f"{wall:.1f}"])
    return rows, {"needed": needed, "dram": q, "timing": timing}


def table(rows: list[list[str]]) -> str:
    head = ["configuration", "who places", "predicted time", "vs all-DRAM", "moved between tiers", "CXL traffic",
            "simulated in (s)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=32, help="simulated threads (the machine's 32 cores)")
    ap.add_argument("--doc", help="also write this markdown file (docs/tiering.md) from the output")
    args = ap.parse_args()
    from hetier.cli.main import main as hetier
    from hetier.simulator.stack import load_stack
    from hetier.simulator.workload import load_workload

    stack = load_stack("he-transformer")  # the reference runtime profile's stack
    sections = []
    with tempfile.TemporaryDirectory() as d:
        for title, argv in MODELS.items():
            path = str(Path(d) / f"{argv[0]}.arrow")
            assert hetier(["trace", *argv, *COMMON, "-o", path]) == 0
            w = load_workload(path)
            rows, info = rows_for(w, args.threads, stack)
            lt = info["timing"]["Linux tiering, kernel defaults"]
            needed = info["needed"].sentence()
            text = (f"### {title}, batch 2048\n\n{needed[0].upper()}{needed[1:]}; DRAM {info['dram']:,.1f} GB.\n\n"
                    f"{table(rows)}\n\nLinux-tiering replay simulated in {lt:.1f} s on this host "
                    f"({args.threads} simulated threads).\n")
            print(text, flush=True)
            sections.append(text)
    if args.doc:
        from hetier.atomic import write_bytes_atomic

        doc = Path(__file__).with_name("tiering_doc.md").read_text().replace("{{TABLES}}", "\n".join(sections))
        write_bytes_atomic(Path(args.doc), doc.encode())
        print(f"wrote {args.doc}")


if __name__ == "__main__":
    main()
