"""Exports for viewers people already use: Perfetto / Chrome trace JSON, and Parquet."""

from __future__ import annotations

import json
import os

import numpy as np

from hetier.analysis.reports.vocabulary import ordered_tiers, policy_label
from hetier.atomic import AtomicOutput, write_bytes_atomic
from hetier.formats.trace import EV, KINDS, TraceReader


def _us(ns) -> float:
    return round(float(ns) / 1e3, 3)


def perfetto_events(trace: str, runs: list[tuple[dict, dict | None]] | None = None,
                    max_counter_points: int = 20000) -> list[dict]:
    """Chrome trace events: recorded ops as slices, tensor lifetimes as async slices, live bytes
    per kind as counters; per results run (its summary and per-op columns, None if it has none),
    its simulated ops and live bytes per tier."""
    from hetier.analysis.metrics import analyze

    out: list[dict] = []
    first: dict[int, tuple[int, int, int]] = {}  # tensor -> (alloc ts, kind, layer)
    last_free: dict[int, int] = {}
    with TraceReader(trace) as r:
        process = "planned run (modelled time)" if r.meta.get("mode") == "plan" else "recorded run"
        out += [{"ph": "M", "pid": 1, "name": "process_name", "args": {"name": process}},
                {"ph": "M", "pid": 1, "tid": 1, "name": "thread_name", "args": {"name": "ops"}}]
        names = r.layer_names
        kinds = [l["kind"] for l in r.meta["layers"]]
        begin = {}
        for b in r.batches():
            for i in np.flatnonzero(b.event == EV["op_begin"]):
                begin[int(b.layer[i])] = int(b.ts_ns[i])
            for i in np.flatnonzero(b.event == EV["op_end"]):
                layer = int(b.layer[i])
                t0 = begin.pop(layer, int(b.ts_ns[i]))
                out.append({"ph": "X", "pid": 1, "tid": 1, "name": names[layer], "cat": kinds[layer],
                            "ts": _us(t0), "dur": _us(int(b.ts_ns[i]) - t0)})
            for i in np.flatnonzero(b.event == EV["alloc"]):
                first.setdefault(int(b.tensor[i]), (int(b.ts_ns[i]), int(b.kind[i]), int(b.layer[i])))
            fr = np.flatnonzero(b.event == EV["free"])
            for t, ts in zip(b.tensor[fr].tolist(), b.ts_ns[fr].tolist()):
                last_free[t] = ts
    end_ts = max(last_free.values(), default=0)
    an = analyze(trace)
    derived = an.derived_lifetime_ns if an.meta.get("granularity") == "tensor" else {}  # buffer == tensor
    for t, (ts, k, layer) in sorted(first.items()):
        name = f"{KINDS[k]} t{t} ({names[layer]})"
        end = ts + round(derived[t]) if t in derived else last_free.get(t, end_ts)
        out.append({"ph": "b", "pid": 1, "tid": 2, "cat": "buffer", "id": t, "name": name, "ts": _us(ts),
                    "args": {"lifetime": "op share (tensor rows keep no per-ciphertext times)" if t in derived
                             else "recorded"}})
        out.append({"ph": "e", "pid": 1, "tid": 2, "cat": "buffer", "id": t, "name": name, "ts": _us(end)})
    step = max(1, len(an.live_ts) // max_counter_points)
    for i in range(0, len(an.live_ts), step):
        out.append({"ph": "C", "pid": 1, "name": "live bytes by kind (B)", "ts": _us(an.live_ts[i]),
                    "args": {k: float(v[i]) for k, v in an.live_by_kind.items()}})
    for j, (run, rows) in enumerate(runs or []):
        out.extend(_simulated(run, rows, pid=2 + j))
    return out


def _simulated(run: dict, rows: dict[str, list] | None, pid: int) -> list[dict]:
    """One replay run: its simulated op slices, and the live bytes per tier its placement
    recorded (results columns live_peak_bytes_TIER once an op has allocated, at its start;
    live_end_bytes_TIER after its frees, at its end)."""
    label = f"simulated: {run['machine']['name']} / {policy_label(run['policy'], run['machine'])}"
    out = [{"ph": "M", "pid": pid, "name": "process_name", "args": {"name": label}}]
    if run["makespan_ns"] is None or not rows:
        return out
    tiers = ordered_tiers([t["tier"] for t in run["machine"]["tiers"]])
    for i, (s, e) in enumerate(zip(rows["start_ns"], rows["end_ns"])):
        out.append({"ph": "X", "pid": pid, "tid": 1, "name": rows["name"][i], "cat": rows["kind"][i],
                    "ts": _us(s), "dur": _us(e - s)})
        for ts, at in ((s, "live_peak_bytes"), (e, "live_end_bytes")):
            out.append({"ph": "C", "pid": pid, "name": "live bytes per tier (B)", "ts": _us(ts),
                        "args": {t: float(rows[f"{at}_{t}"][i]) for t in tiers}})
    return out


def write_perfetto(trace: str, results: list[str], out: str | os.PathLike, trace_sha256: str | None = None) -> int:
    """Write Chrome trace-event JSON that Perfetto UI and chrome://tracing open; returns event count.
    Simulated runs come from the results files alone (nothing is replayed again)."""
    from hetier.analysis.comparison import load_comparison

    comp = load_comparison(results, trace_sha256, os.path.basename(trace))  # refuses another trace's results
    rows = {id(run): cols for run, cols in comp.run_layers()}  # runs that fit
    events = perfetto_events(trace, [(run, rows.get(id(run))) for run in comp.runs])
    doc = {"traceEvents": events, "displayTimeUnit": "ms", "otherData": {"generator": "hetier export"}}
    write_bytes_atomic(out, json.dumps(doc).encode())
    return len(events)


def write_parquet(trace: str, out: str | os.PathLike) -> int:
    """The trace's events as Parquet (zstd), streamed batch by batch; returns rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    with TraceReader(trace) as reader, AtomicOutput(out) as dest:
        sch = reader.schema
        schema = pa.schema([fld if not pa.types.is_dictionary(fld.type) else pa.field(fld.name, pa.string())
                            for fld in sch], metadata=sch.metadata)
        with pq.ParquetWriter(dest.file, schema, compression="zstd") as w:
            for b in reader.record_batches():  # a truncated trace: its complete batches
                cols = [c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c for c in b.columns]
                w.write_batch(pa.record_batch(cols, schema=schema))
                rows += b.num_rows
    return rows
