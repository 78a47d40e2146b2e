"""One traced encrypted inference: build the model, pick parameters, run, write the trace."""

from __future__ import annotations

import datetime as _dt
import os
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hetier.errors import HetierError, UsageError
from hetier.formats.trace import GRANULARITIES, TraceWriter
from hetier.models.ir import Graph
from hetier.models.reference import run_reference
from hetier.tracer.executor import layer_names, run_graph, runtime_graph
from hetier.tracer.host import host_info, versions
from hetier.tracer.params import HEParams, suggest_params
from hetier.tracer.recorder import Recorder
from hetier.tracer.runtime import SealBackend


@dataclass
class TraceResult:
    """What a traced run produced, besides the trace file."""

    path: str | None
    events: int
    seconds: float
    max_abs_error: float
    output_scale: float
    params: HEParams
    primitives: int = 0
    recorder_seconds: float = 0.0  # expanding, aggregating and writing events (part of ``seconds``)
    output: np.ndarray = field(repr=False, default=None)
    reference: np.ndarray = field(repr=False, default=None)


def choose_params(graph: Graph, batch: int, poly_modulus: int | None, primes: list[int] | None,
                  scale_bits: int) -> HEParams:
    """The user's parameters, or the reference stack's (N=4096, [30,22,22,30]) when the model's
    depth fits them, else the smallest standard N that holds its depth."""
    depth = graph.depth()
    if primes is None:
        primes = [30] + [scale_bits] * max(depth, 1) + [30]
        if poly_modulus is None:
            poly_modulus = 4096 if sum(primes) <= 109 else 8192 if sum(primes) <= 218 else 16384
    params = HEParams(4096 if poly_modulus is None else poly_modulus, tuple(primes), scale_bits, batch)
    if params.levels < depth:
        raise UsageError(
            f"model {graph.name} needs {depth} levels between refreshes; primes {list(params.primes)} "
            f"give {params.levels} (try {suggest_params(depth, scale_bits)})")
    return params


def sample_input(graph: Graph, batch: int, seed: int) -> np.ndarray:
    """Seeded synthetic images in [0, 1) (no data set is downloaded)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, (batch, *graph.input_shape))


def model_source(graph: Graph, source: dict | None = None) -> dict:
    """Where the traced model came from (the trace's ``model.source``): ``source`` as the caller
    gives it (an ONNX file's name, size, sha256, producer and opset), else a zoo model's name and
    options, else a graph built in Python."""
    if source is not None:
        return source
    from hetier.models.zoo import MODELS

    kind = "zoo" if graph.name in MODELS else "python"
    return {"kind": kind, "name": graph.name, "options": graph.config}


def trace_meta(graph: Graph, params: HEParams, granularity: str, options: dict, mode: str = "real",
               durations: str = "measured", host_memory: dict | None = None, source: dict | None = None) -> dict:
    host = host_info()
    if host_memory is not None:
        host["memory_preset"] = host_memory  # the calibrated preset of this host (hetier calibrate --memory)
    extra = {"op_cpu_time": "per-op [thread, process] CPU ns in record-batch metadata 'op_cpu_ns'"} \
        if mode == "real" else {}
    return {**extra,
        "he": params.to_meta(),
        "model": {"name": graph.name, "config": graph.config, "depth": graph.depth(),
                  "source": model_source(graph, source)},
        "mode": mode,
        "durations": durations,
        "granularity": granularity,
        "host": host,
        "versions": versions(),
        "start_time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "runtime": options,
        "layers": layer_names(graph),
    }


def trace_run(graph: Graph, params: HEParams, out: str | os.PathLike | None, granularity: str = "ciphertext",
              seed: int = 0, bias_copy: bool = True, tracing: bool = True,
              on_layer: Callable[[int, str], None] | None = None, profile: str = "hetier",
              host_memory: dict | None = None, source: dict | None = None) -> TraceResult:
    """Run ``graph`` encrypted on a seeded batch; write the trace to ``out`` (None: no file).
    ``profile``: how the runtime allocates (hetier.formats.trace.RUNTIME_PROFILES); ``host_memory``: this
    host's calibrated memory preset as the trace embeds it (hetier.host.host_preset.host_preset_meta);
    ``source``: the model's provenance (model_source)."""
    import time

    if granularity not in GRANULARITIES:
        raise UsageError(f"granularity '{granularity}' unknown (known: {', '.join(GRANULARITIES)})")
    import tenseal.sealapi  # noqa: F401  (imported here so that no op is charged for it)

    x = sample_input(graph, params.batch, seed)
    graph = runtime_graph(graph, profile)
    options = {"profile": profile, "bias_copy": bias_copy, "input_seed": seed,
               "input": "uniform[0,1) seeded synthetic"}
    writer = TraceWriter(out, trace_meta(graph, params, granularity, options, host_memory=host_memory, source=source)) \
        if out is not None else None
    rec = Recorder(params, writer, granularity) if tracing else Recorder.disabled(params)
    t0 = time.perf_counter()
    try:
        y = run_graph(graph, SealBackend(params, rec), x, bias_copy, profile, on_layer)
    except BaseException as e:
        _stopped(writer, e, "real")
        raise
    seconds = time.perf_counter() - t0
    try:  # before the trace takes its name: a run whose reference fails leaves no output behind
        ref = run_reference(graph, x)
    except Exception as e:
        if writer is not None:
            writer.discard()
        raise HetierError(f"the numpy reference of {graph.name} failed ({type(e).__name__}: {str(e)[:200]}); "
                          "no trace written") from e
    path = str(writer.close()) if writer is not None else None
    err = float(np.max(np.abs(y - ref)))
    return TraceResult(path, rec.events_written, seconds, err, float(np.max(np.abs(ref))), params,
                       rec.primitives_logged, rec.flush_ns / 1e9, y, ref)


def _stopped(writer: TraceWriter | None, exc: BaseException, mode: str) -> None:
    """A run failed: a write error (disk full) removes the partial trace and says so in one line;
    anything else (interrupt, out of memory, a bug) keeps the readable prefix and names it."""
    if writer is None:
        return
    if isinstance(exc, OSError):
        writer.discard()
        raise HetierError(f"cannot write '{writer.path}': {exc.strerror or exc} (partial trace removed)") from None
    if isinstance(exc, HetierError):  # a refusal with its own message: nothing worth keeping
        writer.discard()
        return
    partial = writer.abandon()
    if isinstance(exc, MemoryError):
        hint = "try --mode plan" if mode == "real" else "planning holds each layer's geometry in memory: a smaller model"
        raise HetierError(f"out of memory during the {mode} run; the trace so far is in '{partial}' ({hint})") from None
    print(f"hetier trace: run stopped; the trace so far is in '{partial}'", file=sys.stderr, flush=True)


def plan_preflight(graph: Graph, params: HEParams, granularity: str, cost_file: str | None, bias_copy: bool,
                   max_events: int | None, profile: str = "hetier"):
    """Check a plan before it starts: granularity, cost file, event bound. Returns the cost model."""
    from hetier.tracer.costs import load_costs
    from hetier.tracer.planner import count_ciphertext_events

    if granularity not in GRANULARITIES:
        raise UsageError(f"granularity '{granularity}' unknown (known: {', '.join(GRANULARITIES)})")
    costs = load_costs(cost_file, params)
    if granularity == "ciphertext" and max_events is not None:
        n = count_ciphertext_events(runtime_graph(graph, profile), params, bias_copy, profile)
        if n > max_events:
            raise UsageError(f"the ciphertext-granularity plan of {graph.name} would hold {n:,} events, over "
                             f"--max-events {max_events:,}; use --granularity tensor or raise the bound")
    return costs


def plan_run(graph: Graph, params: HEParams, out: str | os.PathLike | None, granularity: str = "tensor",
             cost_file: str | None = None, bias_copy: bool = True, max_events: int | None = None,
             on_layer: Callable[[int, str], None] | None = None, profile: str = "hetier",
             source: dict | None = None) -> TraceResult:
    """Plan ``graph``: the events of a real run with no encryption, durations from a cost model
    (``source``: the model's provenance, as in trace_run)."""
    import time

    from hetier.tracer.plan_timing import ModelledRecorder
    from hetier.tracer.planner import plan_tensor_trace
    from hetier.tracer.symbolic import SymbolicBackend

    costs = plan_preflight(graph, params, granularity, cost_file, bias_copy, max_events, profile)
    graph = runtime_graph(graph, profile)
    table = costs.table(len(params.primes))
    label = costs.label()
    durations = f"modelled: {label['cost_file']} measured on {label['cost_machine']} ({label['cost_generated']})"
    options = {"profile": profile, "bias_copy": bias_copy, "cost_model": label}
    writer = TraceWriter(out, trace_meta(graph, params, granularity, options, "plan", durations, source=source)) \
        if out is not None else None
    t0 = time.perf_counter()
    try:
        if granularity == "tensor":
            events = plan_tensor_trace(graph, params, Recorder(params, writer, granularity), costs, bias_copy,
                                       on_layer, profile)
        else:
            rec = ModelledRecorder(params, writer, granularity, costs, table)
            run_graph(graph, SymbolicBackend(params, rec), None, bias_copy, profile, on_layer)
            events = rec.events_written
    except BaseException as e:
        _stopped(writer, e, "plan")
        raise
    path = str(writer.close()) if writer is not None else None
    return TraceResult(path, events, time.perf_counter() - t0, float("nan"), float("nan"), params)
