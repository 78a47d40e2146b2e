"""Exports for viewers people already use: Perfetto / Chrome trace JSON, and Parquet."""

from __future__ import annotations

import json
import os

from hetier.analysis.buffer_metrics import BufferTable, Lifetimes, TensorSpans
from hetier.analysis.event_metrics import OpTimes
from hetier.analysis.live_curves import LiveByKind
from hetier.analysis.trace_pass import TracePass, no_events, run_pass
from hetier.atomic import AtomicOutput, write_bytes_atomic
from hetier.formats.trace import TraceReader
from hetier.vocabulary import ordered_tiers, policy_label


def _us(ns) -> float:
    return round(float(ns) / 1e3, 3)


def perfetto_events(trace: str, runs: list[tuple[dict, dict | None]] | None = None,
                    max_counter_points: int = 20000, trace_pass: TracePass | None = None) -> list[dict]:
    """Chrome trace events: recorded ops as slices, tensor lifetimes as async slices, live bytes
    per kind as counters; per results run (its summary and per-op columns, None if it has none),
    its simulated ops and live bytes per tier. The trace is read once, through ``trace_pass`` if
    one is open already."""
    ops, by_kind = OpTimes(slices=True), LiveByKind()
    tensors = TensorSpans(Lifetimes(BufferTable(), ops))
    tp = run_pass(trace_pass or trace, [ops, tensors, by_kind])
    process = "planned run (modelled time)" if tp.meta.get("mode") == "plan" else "recorded run"
    out: list[dict] = [{"ph": "M", "pid": 1, "name": "process_name", "args": {"name": process}},
                       {"ph": "M", "pid": 1, "tid": 1, "name": "thread_name", "args": {"name": "ops"}}]
    names = tp.layer_names
    kinds = [l["kind"] for l in tp.meta["layers"]]
    for layer, t0, t1 in ops.result.slices:
        out.append({"ph": "X", "pid": 1, "tid": 1, "name": names[layer], "cat": kinds[layer],
                    "ts": _us(t0), "dur": _us(t1 - t0)})
    for s in tensors.result:
        name = f"{s.kind} t{s.tensor} ({names[s.layer]})"
        out.append({"ph": "b", "pid": 1, "tid": 2, "cat": "buffer", "id": s.tensor, "name": name, "ts": _us(s.start_ns),
                    "args": {"lifetime": "op share (tensor rows keep no per-ciphertext times)" if s.derived
                             else "recorded"}})
        out.append({"ph": "e", "pid": 1, "tid": 2, "cat": "buffer", "id": s.tensor, "name": name, "ts": _us(s.end_ns)})
    live_ts, live_by_kind = by_kind.result
    step = max(1, len(live_ts) // max_counter_points)
    for i in range(0, len(live_ts), step):
        out.append({"ph": "C", "pid": 1, "name": "live bytes by kind (B)", "ts": _us(live_ts[i]),
                    "args": {k: float(v[i]) for k, v in live_by_kind.items()}})
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


def write_perfetto(trace: str, results: list[str], out: str | os.PathLike, trace_sha256: str | None = None,
                   trace_pass: TracePass | None = None) -> int:
    """Write Chrome trace-event JSON that Perfetto UI and chrome://tracing open; returns event count.
    Simulated runs come from the results files alone (nothing is replayed again)."""
    from hetier.analysis.comparison import load_comparison

    comp = load_comparison(results, trace_sha256, os.path.basename(trace))  # refuses another trace's results
    rows = {id(run): cols for run, cols in comp.run_layers()}  # runs that fit
    events = perfetto_events(trace, [(run, rows.get(id(run))) for run in comp.runs], trace_pass=trace_pass)
    doc = {"traceEvents": events, "displayTimeUnit": "ms", "otherData": {"generator": "hetier export"}}
    write_bytes_atomic(out, json.dumps(doc).encode())
    return len(events)


def write_parquet(trace: str, out: str | os.PathLike) -> int:
    """The trace's events as Parquet (zstd), streamed batch by batch (one read); returns rows
    written. A trace without a complete event is refused and nothing is written."""
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
        if not rows:
            raise no_events(reader, trace)  # the output is discarded
    return rows
