"""hetier's Python API: trace, load, simulate, advise, sweep and read results from a notebook.

Every function here is a thin wrapper over the library the ``hetier`` verbs use, so a number
from Python is the number the command line prints for the same inputs. Import it as
``import hetier`` (``hetier/__init__.py`` re-exports these names lazily: importing the package
loads neither TenSEAL, SimPy, plotly nor Dask).

Stability: the names in ``__all__``, their parameters and the column names of the tables they
return follow semantic versioning from hetier 0.1: a minor release may add names, keyword
parameters and columns; only a major release removes or renames one. Everything else in the
package (``hetier.simulator...``, ``hetier.analysis...``) is internal and may change in any release.

Tables are ``pyarrow.Table``; ``table.to_pandas()`` gives a DataFrame where pandas is installed.
Column names carry their unit: ``time_s``, ``makespan_ns``, ``peak_bytes_<tier>``, ``cost_usd``,
``fast_tier_gb``, ``seconds`` (measured), ``peak_gb`` (measured).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from hetier.workflow.calibration import DEFAULT_SECONDS

if TYPE_CHECKING:  # the types only: importing this module stays light
    import pyarrow as pa
    from plotly.graph_objects import Figure

    from hetier.analysis.sweep import Pick
    from hetier.analysis.trace_stats import TraceStats
    from hetier.formats.results import RunResult
    from hetier.formats.trace import TraceReader
    from hetier.simulator.advise import MachineAdvice, Row
    from hetier.simulator.machine import Machine
    from hetier.simulator.scenario import Scenario
    from hetier.simulator.stack import StackProfile
    from hetier.simulator.workload import Workload
    from hetier.tracer.session import TraceResult
    from hetier.workflow.calibration import MemoryCalibration
    from hetier.workflow.fitting import FitOutcome
    from hetier.workflow.model_export import ExportedModel

PathLike = str | os.PathLike

__all__ = [
    # traces
    "model_names", "trace", "open_trace", "info", "load_trace", "export_model",
    # what to simulate
    "machine_names", "machine", "stack_names", "stack", "Scenario", "scenario", "simulate",
    # answers
    "advise", "Advice", "sweep", "cheapest_within",
    # results as tables
    "save_results", "runs_table", "open_results", "open_sweep", "measured_runs",
    # figures
    "report_figures", "sweep_figures",
    # this machine: measure it, check predictions against it, fit a stack to measurements
    "calibrate", "calibrate_memory", "confirm", "fit",
    # errors
    "HetierError", "UsageError",
]

_LAZY = {  # public names that are classes or functions of the library as they are
    "Scenario": ("hetier.simulator.scenario", "Scenario"),
    "simulate": ("hetier.simulator.scenario", "simulate"),
    "save_results": ("hetier.formats.results", "save_results"),
    "HetierError": ("hetier.errors", "HetierError"),
    "UsageError": ("hetier.errors", "UsageError"),
}


def __getattr__(name: str) -> Any:
    """Load ``Scenario``, ``simulate``, ... on first use (PEP 562), so that importing stays light."""
    if name in _LAZY:
        from importlib import import_module

        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'hetier.api' has no attribute '{name}'")


# ---------------------------------------------------------------------------------------- traces

def model_names() -> list[str]:
    """The model names ``trace`` builds (``hetier trace MODEL``)."""
    from hetier.models.zoo import MODELS

    return list(MODELS)


def trace(model: str, output: PathLike, *, batch: int = 64, mode: str = "real", granularity: str | None = None,
          poly_modulus: int | None = None, primes: Sequence[int] | None = None, scale_bits: int = 22, seed: int = 0,
          runtime_profile: str = "hetier", cost_file: PathLike | None = None, host_preset: PathLike | None = None,
          bias_copy: bool = True, memory_check: bool = True, force: bool = False,
          on_layer: Callable[[int, str], None] | None = None, **model_options: Any) -> TraceResult:
    """Run ``model`` encrypted (``mode="real"``) or plan it (``mode="plan"``: the same events, no
    encryption, durations from ``cost_file``) and write its trace to ``output``; as ``hetier trace``.

    ``model_options`` are the model's own (``width``, ``resolution``, ``classes``, ``depth``,
    ``hidden``, ``inputs``, ``activation``). Refuses to overwrite ``output`` unless ``force``.
    ``on_layer(index, name)`` is called as each layer starts (a progress bar's hook). Returns the
    run's summary (``path``, ``events``, ``seconds``, ``max_abs_error``, ``params``).
    """
    from hetier.atomic import check_output
    from hetier.errors import UsageError
    from hetier.formats.trace import RUNTIME_PROFILES
    from hetier.models.zoo import build
    from hetier.tracer.session import choose_params, plan_run, trace_run
    from hetier.validation import TRACE_OPTIONS, check_options

    if mode not in ("real", "plan"):
        raise UsageError(f"mode '{mode}' unknown (known: real, plan)")
    granularity = granularity or ("tensor" if mode == "plan" else "ciphertext")
    if granularity not in ("ciphertext", "tensor"):
        raise UsageError(f"granularity '{granularity}' unknown (known: ciphertext, tensor)")
    if runtime_profile not in RUNTIME_PROFILES:
        raise UsageError(f"runtime profile '{runtime_profile}' unknown (known: {', '.join(RUNTIME_PROFILES)})")
    if cost_file is not None and mode != "plan":
        raise UsageError("cost_file is for mode='plan' (a real run measures its durations)")
    check_options({f"--{k.replace('_', '-')}": v for k, v in
                   {**model_options, "seed": seed, "batch": batch, "poly_modulus": poly_modulus,
                    "scale_bits": scale_bits}.items()}, TRACE_OPTIONS)
    out = check_output(output, force)
    graph = build(model, seed=seed, **model_options)
    params = choose_params(graph, batch, poly_modulus, list(primes) if primes else None, scale_bits)
    if mode == "plan":
        return plan_run(graph, params, out, granularity, str(cost_file) if cost_file else None, bias_copy,
                        on_layer=on_layer, profile=runtime_profile)
    if memory_check:
        from hetier.tracer.memory_guard import check_real_run_fits

        check_real_run_fits(graph, params, bias_copy, profile=runtime_profile)
    from hetier.host.host_preset import find_host_preset, host_preset_meta

    host_memory = None
    found = find_host_preset(host_preset)
    if found is not None:
        try:
            host_memory = host_preset_meta(found)
        except UsageError:
            if host_preset is not None:
                raise  # the default preset of another host is skipped, as `hetier trace` does (with a note)
    return trace_run(graph, params, out, granularity, seed=seed, bias_copy=bias_copy, on_layer=on_layer,
                     profile=runtime_profile, host_memory=host_memory)


def open_trace(path: PathLike) -> TraceReader:
    """The streaming reader of a trace file (use as a context manager): ``.meta``,
    ``.batches()`` (numpy columns), ``.layer_names``, ``.truncated``."""
    from hetier.formats.trace import TraceReader

    return TraceReader(path)


def info(path: PathLike) -> TraceStats:
    """A trace's headline numbers (what ``hetier info`` prints): events, peak live bytes and the
    layer at the peak, resident peak under SEAL's pool, time by layer."""
    from hetier.analysis.trace_stats import trace_stats

    return trace_stats(path)


def load_trace(path: PathLike, allow_truncated: bool = False) -> Workload:
    """A trace as the simulator sees it (one op per layer with its traffic), for ``Scenario``."""
    from hetier.simulator.workload import load_workload

    return load_workload(str(path), allow_truncated)


def export_model(model: str, output: PathLike, *, seed: int = 0, force: bool = False,
                 **model_options: Any) -> ExportedModel:
    """Write zoo ``model`` with its seeded weights as an ONNX file, as ``hetier export-model``;
    model options are keywords (``width``, ``resolution``, ``classes``, ...). ``trace(output, ...)``
    of the file gives the zoo model's trace. Returns ``path``, ``model``, ``config``, ``layers``,
    ``weights`` (float32 weights and biases) and ``nbytes``."""
    from hetier.workflow.model_export import export_model as export

    return export(model, output, seed, force, **model_options)


# ------------------------------------------------------------------------------ what to simulate

def _toml_text(v: Any) -> str:
    """An override value as the TOML text ``--set`` takes (numbers, strings, lists)."""
    import json

    return json.dumps(v) if isinstance(v, (str, list, tuple, bool)) else repr(v)


def machine_names() -> list[str]:
    """The machine presets ``machine`` loads by name (``hetier machines``)."""
    from hetier.simulator.machines import machine_presets

    return list(machine_presets())


def machine(name_or_path: PathLike, **overrides: Any) -> Machine:
    """A machine preset by name or a machine TOML file, with overrides given as ``tier__key=value``
    (``dram__capacity_gb=16``; ``machine__cores=8`` for the machine's own keys) or
    ``**{"dram.capacity_gb": 16}``; as ``--machine NAME --set dram.capacity_gb=16``."""
    from hetier.simulator.machines import load_machine

    items = [f"{k.replace('__', '.', 1)}={_toml_text(v)}" for k, v in overrides.items()]
    return load_machine(str(name_or_path), items)


def stack_names() -> list[str]:
    """The stack profile presets ``stack`` loads by name."""
    from hetier.simulator.devices import presets_of

    return list(presets_of("stacks"))


def stack(name_or_path: PathLike = "hetier", **overrides: Any) -> StackProfile:
    """A stack profile preset by name or a profile TOML file, with overrides
    (``compute_scale=1.5``); as ``--stack NAME --stack-set compute_scale=1.5``. A fitted profile
    says how it was fitted in ``.fit`` (``rms_error``, ``loo_rms_error``, the runs)."""
    from hetier.simulator.stack import load_stack

    return load_stack(str(name_or_path), [f"{k}={_toml_text(v)}" for k, v in overrides.items()])


def scenario(trace: PathLike | Workload, machine: PathLike | Machine, policy: str | None = None, *,
             stack: PathLike | StackProfile = "hetier", threads: int | None = None, seed: int = 0,
             allow_runtime_mismatch: bool = False) -> Scenario:
    """A ``Scenario`` from paths and names (or loaded objects): the trace, the machine, the
    placement policy (None: the memory system's default), stack, threads (None: the machine's
    cores) and seed. ``simulate(scenario)`` predicts it."""
    from hetier.simulator.machine import Machine
    from hetier.simulator.machines import load_machine
    from hetier.simulator.scenario import Scenario
    from hetier.simulator.stack import StackProfile, load_stack
    from hetier.simulator.workload import Workload

    w = trace if isinstance(trace, Workload) else load_trace(trace)
    m = machine if isinstance(machine, Machine) else load_machine(str(machine))
    s = stack if isinstance(stack, StackProfile) else load_stack(str(stack))
    return Scenario(w, m, policy, s, threads, seed, allow_runtime_mismatch=allow_runtime_mismatch)


# --------------------------------------------------------------------------------------- answers

@dataclass
class Advice:
    """What ``advise`` found: the ranking per machine and the recommended advisor policy."""

    machines: list[MachineAdvice]
    recommended: Row | None
    threads: int
    within: float  # "close to all-DRAM": the bisection's tolerance
    trace: dict = field(default_factory=dict)

    def table(self) -> pa.Table:
        """One row per machine x policy: ``time_s``, ``vs_all_dram``, ``vs_memory_mode``,
        ``fast_peak_bytes``, ``migrated_bytes``, ``min_fast_bytes`` (smallest fast tier within
        ``within`` of all-DRAM), ``all_dram_time_s``, ``memory_mode_time_s``, ``why`` (no time)."""
        import pyarrow as pa

        rows = []
        for a in self.machines:
            for r in a.rows:
                rows.append({"machine": r.machine, "policy": r.policy, "fast_tier": a.fast_tier,
                             "time_s": None if r.time_ns is None else r.time_ns / 1e9, "vs_all_dram": r.vs_all_dram,
                             "vs_memory_mode": r.vs_memory_mode, "fast_peak_bytes": r.fast_peak_bytes,
                             "migrated_bytes": r.migrated_bytes, "min_fast_bytes": r.min_fast_bytes,
                             "fast_tier_bytes": a.fast_bytes, "memory_needed_bytes": a.memory_needed_bytes,
                             "threads": a.threads, "deploy": r.deploy,
                             "all_dram_time_s": None if a.all_dram_ns is None else a.all_dram_ns / 1e9,
                             "memory_mode_time_s": None if a.memory_mode_ns is None else a.memory_mode_ns / 1e9,
                             "why": r.why or None})
        return pa.Table.from_pylist(rows)


def advise(trace: PathLike | Workload, machine: PathLike | Machine | Iterable[PathLike | Machine], *,
           policies: Sequence[str] | None = None, threads: int | None = None, dram_gb: float | None = None,
           bisect: bool = True, stack: PathLike | StackProfile = "hetier",
           allow_runtime_mismatch: bool = False) -> Advice:
    """Rank placement policies on one or more flat machines against all-DRAM and Memory Mode, and
    find each policy's smallest fast tier within 5% of all-DRAM (``bisect``); as ``hetier advise``.
    ``dram_gb`` resizes every machine's fast tier."""
    from hetier.errors import UsageError
    from hetier.simulator.advise import ADVISOR_POLICIES, BASELINES, WITHIN, advise_machine, recommended
    from hetier.simulator.advise import with_fast_capacity
    from hetier.simulator.machine import Machine
    from hetier.simulator.machines import load_machine
    from hetier.simulator.stack import StackProfile, load_stack
    from hetier.simulator.workload import Workload

    if threads is not None and threads < 1:
        raise UsageError(f"threads {threads} must be at least 1")
    w = trace if isinstance(trace, Workload) else load_trace(trace)
    items = [machine] if isinstance(machine, (str, os.PathLike, Machine)) else list(machine)
    ms = []
    if dram_gb is not None and not dram_gb >= 0:
        raise UsageError(f"dram_gb {dram_gb} must be a size in GB, at least 0")
    for m in items:
        m = m if isinstance(m, Machine) else load_machine(str(m))
        ms.append(m if dram_gb is None else with_fast_capacity(m, int(dram_gb * 1e9)))
    s = stack if isinstance(stack, StackProfile) else load_stack(str(stack))
    pols = list(policies or (*ADVISOR_POLICIES, *BASELINES))
    found = [advise_machine(w, m, pols, threads, bisect, s, allow_runtime_mismatch) for m in ms]
    return Advice(found, recommended(found), threads if threads is not None else found[0].threads, WITHIN, w.trace_id)


def sweep(traces: PathLike | Sequence[PathLike], output: PathLike, *, machines: Sequence[str],
          policies: Sequence[str] = (), threads: Sequence[int | str] = (), overrides: Sequence[str] = (),
          vary: Sequence[str] = (), stacks: Sequence[str] = (), workers: int = 1, prices: PathLike | None = None,
          allow_truncated: bool = False, allow_runtime_mismatch: bool = False, force: bool = False,
          fit_by: str = "resident", reference: bool = True, price_choice: str | None = None) -> pa.Table:
    """Run traces x machines x policies x stacks x threads x overrides into the sweep directory
    ``output`` (an existing one resumes; ``force`` starts it over) and return its configurations
    table (``open_sweep``); as ``hetier sweep``. ``machines``, ``overrides`` (``--set``) and ``vary``
    take the command's texts (``"small=optane-appdirect"``, ``"dram.capacity_gb=16,32"``,
    ``"optane-appdirect:dram.capacity_gb=16:64:16"``); ``workers`` > 1 runs a local process pool;
    ``reference`` adds each hybrid machine's all-DRAM reference sized to the memory needed;
    ``price_choice`` names an alternative of the price file (``"reused-dimms"``)."""
    from hetier.errors import UsageError
    from hetier.simulator.sweep_runner import Runner, run_sweep
    from hetier.simulator.sweep_store import SweepStore
    from hetier.workflow.sweeps import plan_sweep

    paths = [str(traces)] if isinstance(traces, (str, os.PathLike)) else [str(t) for t in traces]
    if workers < 1:
        raise UsageError(f"workers {workers} must be at least 1")
    plan = plan_sweep(paths, list(machines), list(policies), [str(t) for t in threads], list(overrides), list(vary),
                      list(stacks), str(prices) if prices else None, allow_truncated, allow_runtime_mismatch, fit_by,
                      reference, price_choice)
    store = SweepStore.open(str(output), force)
    store.write_manifest(plan.manifest())
    done, _notes = store.done(plan.tasks)
    run_sweep([t for t in plan.tasks if t.config_id not in done], Runner(workers=workers), store.save)
    return store.finalize(plan.tasks, plan.axes.override_keys(), plan.prices, plan.price_choice)


def cheapest_within(configs: pa.Table | PathLike, within: float = 0.10, baseline: str | None = None) -> list[Pick]:
    """Per trace, stack and thread count: the cheapest finished configuration at most ``within``
    slower than the reference (the fastest all-DRAM run, or ``baseline``); ``configs`` is a sweep's
    table or directory. Each ``Pick`` has ``label``, ``time_s``, ``cost_usd``, ``reference``,
    ``reference_time_s``, ``slowdown``."""
    from hetier.analysis.sweep import cheapest_within as picks
    from hetier.formats.sweep import override_keys, upgraded

    if isinstance(configs, (str, os.PathLike)):
        configs = open_sweep(configs)
    configs = upgraded(configs)  # a table read from an older sweep's configs.parquet: dotted columns
    return picks(configs, within, baseline, override_keys(configs))


# -------------------------------------------------------------------------------------- tables

def runs_table(runs: Iterable[RunResult]) -> pa.Table:
    """Simulated runs (``simulate``'s results) as one row each, with the columns of ``open_results``
    but ``source`` and the memory cost (overrides as columns ``tier_key``, listed in the metadata)."""
    import pyarrow as pa

    from hetier.formats.results import run_row
    from hetier.formats.sweep import with_overrides

    runs = list(runs)
    keys = sorted({k for r in runs for k in r.overrides})
    return with_overrides(pa.Table.from_pylist([run_row(r.summary()) for r in runs]), keys)


def open_results(path: PathLike) -> pa.Table:
    """A results file (``hetier replay -o``) as one row per run: trace, machine, policy, threads,
    status, ``time_s``, per-tier ``stall_ns_*``, ``peak_bytes_*``, ``read_bytes_*``, ``cost_usd``, ...
    (the table ``hetier export --format csv`` writes)."""
    from hetier.analysis.results_table import results_table
    from hetier.formats.results import load_results

    load_results(path)  # a sweep directory or another file is refused here, by name
    return results_table([str(path)])


def open_sweep(path: PathLike) -> pa.Table:
    """A finished sweep directory's configurations: one row per configuration, every axis a
    column (an override ``tier.key`` as the column ``tier_key``), ``status``, ``reason``, ``time_s``, ``cost_usd``,
    ``fast_tier_gb``, per-tier numbers."""
    from hetier.formats.sweep import load_sweep

    return load_sweep(path)[1]


def measured_runs(path: PathLike | None = None) -> pa.Table:
    """Measured runs (``hetier fit``'s input; default: the HE-on-PMem study's published runs that
    the shipped ``he-transformer`` profile was fitted to), one row each: model, width,
    resolution, batch, machine, policy, threads, ``peak_gb``, ``seconds``."""
    import pyarrow as pa

    from hetier.formats.measured import load_measured
    from hetier.simulator.fit import reference_runs_path

    runs = load_measured(Path(path) if path else reference_runs_path())
    return pa.Table.from_pylist([{"model": r.model, **{k: float(v) for k, v in r.options}, "batch": r.batch,
                                  "poly_modulus": r.poly_modulus, "primes": ",".join(map(str, r.primes)),
                                  "machine": r.machine, "policy": r.policy, "threads": r.threads,
                                  "peak_gb": r.peak_gb, "seconds": r.seconds, "label": r.label} for r in runs])


# -------------------------------------------------------------------------------------- figures

def report_figures(trace: PathLike, results: Sequence[PathLike] = (), advice: PathLike | None = None
                   ) -> dict[str, Figure]:
    """The figures of ``hetier report TRACE [RESULTS...] [--advice FILE]`` as plotly Figures by
    title (a notebook shows each inline), without writing HTML."""
    from hetier.analysis.comparison import load_comparison
    from hetier.analysis.metrics import analyze
    from hetier.analysis.reports.advice import advice_figures
    from hetier.analysis.reports.html import figures
    from hetier.analysis.trace_pass import TracePass
    from hetier.formats.advice import read_advice
    from hetier.formats.identity import trace_identity

    with TracePass(str(trace), require_events=True) as tp:
        ident = trace_identity(str(trace), tp.meta) if results or advice else None
        comp = load_comparison([str(r) for r in results], ident["sha256"], ident["file"]) if results else None
        doc = read_advice(str(advice), ident) if advice else None
        an = analyze(tp)
    figs = figures(an, comp) + (advice_figures(doc) if doc else [])
    return {title: fig for title, fig, _ in figs}


def sweep_figures(path: PathLike, baseline: str | None = None, within: float = 0.10) -> dict[str, Figure]:
    """The figures of ``hetier report SWEEP_DIR`` (Pareto fronts, time against each varied
    number, per-layer slowdown) as plotly Figures by title."""
    from hetier.analysis.reports.sweep import build_report, figures

    return {title: fig for title, fig, _ in figures(build_report(str(path), baseline, within))}


# ------------------------------------------------------------------------------- this machine

def calibrate(output: PathLike, params: Sequence[str] = (), *, reps: int = 100, force: bool = False,
              progress: Callable[[str], None] | None = None, seconds: float = DEFAULT_SECONDS) -> dict:
    """Time this machine's HE primitives per level for each parameter set (``"N:PRIMES:BATCH"``,
    e.g. ``"4096:30,22,30:4"``; default: the sets the shipped models use) and write the cost file
    ``output``, as ``hetier calibrate --he`` (timing rounds for ``seconds`` per set, each template's
    cost the mean of its rounds); plan mode (``trace(..., mode="plan", cost_file=...)``)
    and ``confirm(..., cost_file=...)`` price primitives with it. Returns the file's document
    (``machine``, ``entries``: per set, ``ns`` per template and level, ``memory``)."""
    from hetier.workflow.calibration import calibrate_he

    return calibrate_he(output, list(params), reps, force, progress, seconds)


def calibrate_memory(output: PathLike | None = None, *, method: str = "auto", repeat: int = 3, size_mb: int = 256,
                     force: bool = False, progress: Callable[[str], None] | None = None) -> MemoryCalibration:
    """Measure each NUMA node's bandwidth and latency and write this host's machine preset
    (default ``~/.config/hetier/host-memory.toml``) and a device preset per node, as ``hetier
    calibrate --memory``; ``machine(result.machine_path)`` loads it and ``confirm`` needs it."""
    from hetier.workflow.calibration import calibrate_memory as measure

    return measure(output, method, repeat, size_mb, force, progress, command="hetier.calibrate_memory()")


def confirm(trace: PathLike, machine: PathLike, policy: str = "all-dram", *, repeat: int = 1,
            placement: PathLike | None = None, cost_file: PathLike | None = None, cost_reps: int = 100,
            cost_seconds: float = DEFAULT_SECONDS,
            stack: PathLike | StackProfile = "hetier", output: PathLike | None = None, append: bool = False,
            force: bool = False, fit_by: str = "resident", allow_runtime_mismatch: bool = False,
            progress: Callable[[str], None] | None = None) -> pa.Table:
    """Re-run a real trace's model here under ``policy``'s NUMA binding (numactl) ``repeat``
    times, measure each run and set it beside the simulator's prediction for ``machine`` (this
    host's preset from ``calibrate_memory``), as ``hetier confirm``. With ``cost_file`` (this
    host's ``calibrate`` costs; measured now if the file does not exist) the prediction is priced
    with them, and the re-run times the cost file's reference primitive between ops: ``run_speed``
    (how much slower the core ran than while calibrating) and ``predicted_seconds_run_speed``.
    One row per run: ``seconds``, ``cpu_seconds``, ``predicted_seconds``, ``seconds_error``,
    ``cpu_seconds_error``, ``peak_gb``, ``predicted_peak_gb``, ``events_match``, ...; ``output``
    (.csv, what ``fit`` reads, or .json) keeps them."""
    import pyarrow as pa

    from hetier.simulator.stack import StackProfile, load_stack
    from hetier.workflow.confirm import confirm_records

    s = stack if isinstance(stack, StackProfile) else load_stack(str(stack))
    records, _ = confirm_records(str(trace), str(machine), policy, repeat, output=output, append=append,
                                 force=force, cost_reps=cost_reps, cost_seconds=cost_seconds,
                                 placement_path=str(placement) if placement else None,
                                 progress=progress, stack=s, allow_runtime_mismatch=allow_runtime_mismatch,
                                 fit_by=fit_by, cost_file=str(cost_file) if cost_file else None)
    return pa.Table.from_pylist([{k: (None if v == "" else v) for k, v in r.items()} for r in records])


def fit(runs: PathLike | None = None, *, stack: PathLike | StackProfile = "he-transformer",
        free: Sequence[str] = ("compute_scale", "teardown_ns_per_host_byte"), loo: bool = True,
        output: PathLike | None = None, force: bool = False, hold_out_models: Sequence[str] = ()) -> FitOutcome:
    """Fit ``free`` parameters of ``stack`` (a name, a file, or ``stack(name, **overrides)`` as
    the starting values) to measured runs (a CSV as ``confirm`` writes; default: the HE-on-PMem
    study's published runs), as ``hetier fit``; runs of ``hold_out_models`` are predicted, not
    fitted (``--hold-out-model``); ``output`` writes the fitted profile. Returns
    ``fitted`` (the StackProfile), ``result.values``, ``rms_error``, ``loo_rms_error`` and
    ``table()`` (per run: measured, fitted and leave-one-out seconds and errors)."""
    from hetier.atomic import check_output, write_bytes_atomic
    from hetier.simulator.stack import StackProfile, load_stack
    from hetier.workflow.fitting import fit_profile, parse_free

    names = parse_free(list(free))
    out = check_output(output, force) if output else None
    s = stack if isinstance(stack, StackProfile) else load_stack(str(stack))
    got = fit_profile(runs, s, names, loo, held_out=tuple(hold_out_models))
    if out:
        write_bytes_atomic(out, got.profile_text(f"hetier.fit({got.runs_path.name!r}, stack={s.name!r})").encode())
    return got
