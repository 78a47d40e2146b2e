"""Cheapest-within and Pareto answers on a hand-written configurations table."""

import pyarrow as pa

from hetier.analysis.sweep import cheapest_within, pareto


def _row(machine, policy, threads, time_s, cost, status="ok", gb=None):
    return {"trace": "t", "machine": machine, "policy": policy, "threads": threads, "status": status,
            "time_s": time_s, "cost_usd": cost, "dram_capacity_gb": gb}


ROWS = [
    _row("dram-only", "all-dram", 1, 10.0, 1000.0),
    _row("ad", "dram-first", 1, 10.9, 600.0, gb=16.0),  # 9% slower, cheapest within 10%
    _row("ad", "dram-first", 1, 12.0, 400.0, gb=8.0),  # 20% slower
    _row("ad", "all-dram", 1, None, 400.0, "does not fit", gb=8.0),
    _row("dram-only", "all-dram", 8, 2.0, 1000.0),  # another thread count: its own group
    _row("ad", "dram-first", 8, 2.3, 600.0, gb=16.0),  # 15% slower than the 8-thread reference
]


def test_cheapest_within_is_per_thread_count():
    picks = cheapest_within(pa.Table.from_pylist(ROWS), 0.10, override_keys=["dram.capacity_gb"])
    assert [(p.threads, p.label, p.reference) for p in picks] == [
        (1, "ad dram-first dram.capacity_gb=16 x1", "dram-only all-dram x1"),
        (8, "dram-only all-dram x8", "dram-only all-dram x8")]
    assert round(picks[0].slowdown, 6) == 1.09


def test_pareto_front():
    front = pareto([r for r in ROWS if r["threads"] == 1])
    assert [(r["cost_usd"], r["time_s"]) for r in front] == [(400.0, 12.0), (600.0, 10.9), (1000.0, 10.0)]
