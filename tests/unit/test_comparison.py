"""The comparison's vocabulary: best configuration and margin, threads warning, "-" for values
that do not exist, the slow tier named by its device kind."""

from hetier.analysis.comparison import Comparison
from hetier.analysis.reports.text import cells
from hetier.analysis.comparison import fast_tier_capacities


def _machine(name, slow=None, mode="flat", dram_gb=2.0):
    tiers = [{"tier": "dram", "kind": "dram", "capacity_gb": dram_gb}]
    if slow:
        tiers.append({"tier": slow, "kind": slow, "capacity_gb": 256.0})
    return {"name": name, "mode": mode, "tiers": tiers}


def _run(machine, policy, makespan_s, threads=1, missing=None):
    tiers = [t["tier"] for t in machine["tiers"]][::-1]  # slow tier first: the output must reorder
    fits = makespan_s is not None
    return {"machine": machine, "policy": policy, "threads": threads, "fits": fits,
            "makespan_ns": makespan_s * 1e9 if fits else None, "compute_ns": 5e9 if fits else 0.0,
            "stall_ns": {t: 1e9 for t in tiers}, "missing_bytes": missing or {t: 0 for t in tiers},
            "peak_bytes": {t: 1e9 for t in tiers}, "read_bytes": {t: 1.0 for t in tiers},
            "write_bytes": {t: 1.0 for t in tiers}, "mm_hit_ratio": None}


RUNS = [_run(_machine("dram-only"), "all-dram", 10.0),
        _run(_machine("ddr5-cxl", "cxl"), "all-pmem", 12.5),
        _run(_machine("ddr5-cxl", "cxl"), "dram-first", 8.0, threads=4),
        _run(_machine("optane-appdirect", "pmem", dram_gb=1.0), "all-dram", None, missing={"pmem": 0, "dram": 3e9})]


def test_headlines_name_best_margin_and_threads():
    lines = Comparison(RUNS, []).headlines()
    assert lines[0] == "Best: ddr5-cxl / dram-first, 8.000 s predicted, 25.0% ahead of dram-only / all-dram"
    assert lines[1] == "Against dram-only / all-dram: ddr5-cxl / dram-first 0.80x; ddr5-cxl / all-cxl 1.25x"
    assert lines[2] == "optane-appdirect / all-dram does not fit: needs 3.00 GB more dram"
    assert lines[3].startswith("Runs differ in threads (1: dram-only / all-dram, ddr5-cxl / all-cxl, "
                               "optane-appdirect / all-dram; 4: ddr5-cxl / dram-first)")


def test_rows_order_tiers_and_mark_missing_values():
    rows = Comparison(RUNS, []).rows()
    assert rows[1]["policy"] == "all-cxl"  # never "all-pmem" on a CXL machine
    assert list(rows[1]["stall_s"]) == ["dram", "cxl"] and list(rows[1]["peak_gb"]) == ["dram", "cxl"]
    c = cells(rows[3])
    assert c[4] == "does not fit: needs 3.00 GB more dram"
    assert c[5:8] == ["-", "-", "-"]  # no vs-baseline, compute or stall for a run that does not fit


def test_fast_tier_capacities_once_per_machine():
    assert fast_tier_capacities(RUNS) == [("optane-appdirect: dram 1.00 GB", 1e9), ("ddr5-cxl: dram 2.00 GB", 2e9),
                                          ("dram-only: dram 2.00 GB", 2e9)]
