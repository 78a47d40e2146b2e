"""Summarise a trace (events, buffers by kind, peak live bytes, traffic, time by layer), or the
runs of a results file (hetier replay -o) or a sweep directory: one row per run."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="trace file, results file or sweep directory")
    p.add_argument("--layers", type=int, default=10, help="slowest layers to list")
    p.add_argument("--json", action="store_true", help="print every number as JSON on stdout (all layers)")


def describe_source(model: dict) -> str | None:
    """One line on where the traced model came from (``model.source``; traces before it: None)."""
    src = model.get("source")
    if not isinstance(src, dict):
        return None
    if src.get("kind") == "onnx":
        sha = str(src.get("sha256", ""))
        size = src.get("bytes")
        size = f"{size:,}" if isinstance(size, int) else "?"
        line = (f"ONNX file {src.get('file')} ({size} bytes, sha256 {sha[:16]}{'...' if sha else ''}, "
                f"producer {src.get('producer') or 'unnamed'}, opset {src.get('opset')})")
        left = src.get("left_to_client") or []
        return line + (f"; {'; '.join(map(str, left))}" if left else "")
    return f"{src.get('kind')} model {src.get('name')} {src.get('options')}"


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hetier.analysis.trace_stats import trace_stats
    from hetier.terminal import safe
    from hetier.vocabulary import gb_fine

    from hetier.formats.results import is_results_file
    from hetier.formats.sweep import is_sweep_dir
    from hetier.errors import UsageError

    if args.layers < 0:
        raise UsageError(f"--layers {args.layers} must be a number of layers, at least 0")

    if is_sweep_dir(args.trace) or is_results_file(args.trace):
        return runs_summary(args.trace, args.json)
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
    source = describe_source(m["model"])
    if source:
        c.print(f"source: {safe(source, 2000)}")
    c.print(f"CKKS N={he['poly_modulus']} primes {he['primes']} scale 2^{he['scale_bits']} batch {he['batch']}; "
            f"recorded {safe(m['start_time'])} on {safe(m['host']['cpu'])} ({safe(m['host']['cores'])} cores)")
    c.print(f"events {st.events:,} ({', '.join(f'{k} {v:,}' for k, v in st.by_event.items())}); "
            f"run {st.duration_ns / 1e9:.2f} s")
    c.print(f"peak live {gb_fine(st.peak_live_bytes)} at {st.peak_ts_ns / 1e9:.2f} s in layer {safe(st.peak_layer)}; "
            f"resident peak (SEAL pool + host memory) {gb_fine(st.resident_peak_bytes)}")
    c.print("memory needed = the resident peak + the stack's runtime bytes (process_bytes): the figure replay, sweep "
            "and advise judge fit by (--fit-by live judges the live peak)")
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


def runs_summary(path: str, as_json: bool) -> int:
    """The runs of a results file or sweep directory, one row each (the columns of `hetier export
    --format csv`), and how many ended in each status."""
    import json

    from rich.console import Console
    from rich.table import Table

    from hetier.analysis.results_table import results_table
    from hetier.analysis.sweep import overrides_text
    from hetier.formats.sweep import override_keys
    from hetier.terminal import safe, table_console

    table = results_table([path])
    rows = table.to_pylist()
    if as_json:
        print(json.dumps(rows, indent=2, sort_keys=True, default=str))
        return 0
    status: dict[str, int] = {}
    for r in rows:
        status[r["status"]] = status.get(r["status"], 0) + 1
    keys = override_keys(table)  # tier.key, each in the column override_column(key)
    Console(soft_wrap=True).print(f"[bold]{safe(path)}[/bold]: {len(rows)} run(s) of "
                                  f"{', '.join(sorted({safe(r['trace']) for r in rows}))}; "
                                  + ", ".join(f"{k} {v}" for k, v in sorted(status.items())))
    t = Table(title="runs")
    for col in ("machine", "overrides", "policy", "stack", "threads", "status", "time", "memory cost"):
        t.add_column(col, justify="right")
    for r in rows:
        ov = overrides_text(r, keys) or "-"
        time = f"{r['time_s']:.3f} s" if r.get("time_s") is not None else safe(r.get("reason") or "-", 200)
        cost = f"{r['cost_usd']:,.0f} USD" if r.get("cost_usd") is not None else "-"
        t.add_row(safe(r["machine"]), safe(ov), safe(r["policy"]), safe(r.get("stack") or "hetier"), str(r["threads"]),
                  safe(r["status"]), time, cost)
    table_console().print(t)
    return 0
