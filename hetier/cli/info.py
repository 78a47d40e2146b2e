"""Summarise a trace: events, buffers by kind, peak live bytes, traffic, time by layer."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file")
    p.add_argument("--layers", type=int, default=10, help="slowest layers to list")
    p.add_argument("--json", action="store_true", help="print every number as JSON on stdout (all layers)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hetier.analysis.trace_stats import trace_stats
    from hetier.terminal import safe
    from hetier.vocabulary import gb_fine

    st = trace_stats(args.trace)
    if args.json:
        import dataclasses
        import json

        print(json.dumps({"trace": args.trace, **dataclasses.asdict(st)}, indent=2, sort_keys=True, default=str))
        return 0
    m = st.meta
    c = Console(soft_wrap=True)
    if st.truncated:
        c.print(f"[yellow]warning: {safe(st.truncated, 2000)}; numbers below cover that prefix[/yellow]")
    he = m["he"]
    c.print(f"[bold]{safe(args.trace)}[/bold]: {safe(m['model']['name'])} {safe(m['model']['config'])}, "
            f"mode {safe(m['mode'])} (durations {safe(m['durations'])}), granularity {safe(m['granularity'])}")
    c.print(f"CKKS N={he['poly_modulus']} primes {he['primes']} scale 2^{he['scale_bits']} batch {he['batch']}; "
            f"recorded {safe(m['start_time'])} on {safe(m['host']['cpu'])} ({safe(m['host']['cores'])} cores)")
    c.print(f"events {st.events:,} ({', '.join(f'{k} {v:,}' for k, v in st.by_event.items())}); "
            f"run {st.duration_ns / 1e9:.2f} s")
    c.print(f"peak live {gb_fine(st.peak_live_bytes)} at {st.peak_ts_ns / 1e9:.2f} s in layer {safe(st.peak_layer)}; "
            f"resident peak (SEAL pool + host memory) {gb_fine(st.resident_peak_bytes)}")
    t = Table(title="buffers by kind")
    for col in ("kind", "allocations", "bytes allocated"):
        t.add_column(col, justify="right")
    for k, (n, b) in sorted(st.buffers_by_kind.items()):
        t.add_row(k, f"{n:,}", gb_fine(b))
    c.print(t)
    t = Table(title="traffic by primitive")
    for col in ("primitive", "read", "written"):
        t.add_column(col, justify="right")
    for k, (r, w) in sorted(st.traffic_by_prim.items(), key=lambda kv: -sum(kv[1])):
        t.add_row(k, gb_fine(r), gb_fine(w))
    c.print(t)
    t = Table(title=f"time by layer (slowest {args.layers}; layers by kind: "
                    f"{', '.join(f'{safe(k)} {v}' for k, v in st.layers_by_kind.items())})")
    for col in ("layer", "seconds", "share"):
        t.add_column(col, justify="right")
    total = max(sum(st.layer_ns.values()), 1)
    for name, ns in sorted(st.layer_ns.items(), key=lambda kv: -kv[1])[: args.layers]:
        t.add_row(safe(name), f"{ns / 1e9:.3f}", f"{100 * ns / total:.1f}%")
    c.print(t)
    return 0
