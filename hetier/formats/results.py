"""Replay results: one summary per configuration plus per-layer rows, saved as Arrow.

A results file holds several runs (machine x policy) of one trace. Its metadata embeds each
run's fully resolved machine, the policy, the thread count and the trace identity, so a results
file can be checked against the trace it came from. Same inputs give byte-identical files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields

import pyarrow as pa

from hetier.version import __version__
from hetier.atomic import AtomicOutput
from hetier.errors import HetierError, UsageError
from hetier.formats.arrow_arrays import from_list, to_numpy
from hetier.formats.header import NotOfKind, check_header
from hetier.validation import RESULTS_META, validate
from hetier.vocabulary import DOES_NOT_FIT, does_not_fit, seconds

RESULTS_MAGIC = "hetier-results"
# 2: devices without granule or random-access fields; machines and devices carry [source]
# 3: per-op live bytes per tier (live_peak_bytes_TIER, live_end_bytes_TIER), for the Perfetto counters
RESULTS_VERSION = 3
LAYER_COLUMNS = ("run", "layer", "name", "kind", "start_ns", "end_ns", "compute_ns")
# per-op columns of each tier, NAME_TIER: memory stall, traffic, and the placement's live bytes once
# the op has allocated (its peak) and after its frees
TIER_COLUMNS = ("stall_ns", "read_bytes", "write_bytes", "live_peak_bytes", "live_end_bytes")
# per-op bytes moved into and out of the first tier by the kernel (Linux tiering) or the hardware
# (Flat Memory Mode); written only when a run has them, 0 for the file's other runs
MOVE_COLUMNS = ("promoted_bytes", "demoted_bytes")
# per op, how it ran: the threads of its parallel part, and its serial part (the executor's work,
# e.g. HE-Transformer's teardown of the tensors the op was last to use, which its op timers leave
# out): that part's wall time and, of the op's reads, the bytes the teardown reads; each written only
# when a run has it (0 for the file's other runs; older results files have none)
EXECUTOR_COLUMNS = ("busy_threads", "serial_ns", "teardown_read_bytes")


def override_column(key: str) -> str:
    """The results column of an override ``tier.key``: ``dram.capacity_gb`` -> ``dram_capacity_gb``
    (one schema for configs.parquet, results tables and ``--json``; names without dots, which SQL
    engines and data frames take unquoted). Labels keep the ``tier.key`` that ``--set`` takes."""
    return key.replace(".", "_")


@dataclass
class RunResult:
    """One machine x policy replay of one trace."""

    machine: dict
    policy: str
    threads: int
    trace: dict
    fits: bool
    missing_bytes: dict[str, int]
    peak_bytes: dict[str, int]
    makespan_ns: float | None
    compute_ns: float | None  # None: the run does not fit
    stall_ns: dict[str, float]
    read_bytes: dict[str, float]
    write_bytes: dict[str, float]
    mm_hit_ratio: float | None = None
    mm_writeback_bytes: float | None = None
    notes: dict = field(default_factory=dict)
    stack: dict = field(default_factory=dict)  # the resolved stack profile (simulator/stack.py)
    overrides: dict = field(default_factory=dict)  # tier.key -> value this run was given (column: override_column)
    scenario: dict = field(default_factory=dict)  # what was simulated (simulator/scenario.py Scenario.describe)
    memory_needed: dict = field(default_factory=dict)  # the figure that decided fit and its breakdown
    layers: dict = field(default_factory=dict, repr=False)  # column -> list, one entry per op

    @property
    def label(self) -> str:
        return f"{self.machine['name']}/{self.policy}"

    def headline(self) -> str:
        if not self.fits:
            return run_status(self.summary())[1]
        return seconds(self.makespan_ns)

    def summary(self) -> dict:
        """The run without its per-layer columns, as results files store it."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "layers"}


def run_status(run: dict) -> tuple[str, str | None]:
    """(status, reason) of a run summary: "ok", or "does not fit" with what it needs."""
    if run["fits"]:
        return "ok", None
    whole = (run.get("notes") or {}).get("exceeds_machine")
    return DOES_NOT_FIT, f"{DOES_NOT_FIT}: {whole}" if whole else does_not_fit(run["missing_bytes"])


def run_row(run: dict) -> dict:
    """One flat row of a run summary: the configuration (trace, machine, policy, stack, threads,
    capacities, overrides), then ``flat_summary``; what sweeps and table exports both hold."""
    m = run["machine"]
    return {"trace": run["trace"]["file"], "trace_sha256": run["trace"]["sha256"], "machine": m["name"],
            "mode": m["mode"], "policy": run["policy"], "stack": (run.get("stack") or {}).get("name", "hetier"),
            "runtime_profile": (run.get("scenario") or {}).get("runtime_profile"),
            "threads": run["threads"], "fast_tier_gb": m["tiers"][0]["capacity_gb"],
            **{f"capacity_gb_{t['tier']}": t["capacity_gb"] for t in m["tiers"]},
            **{override_column(k): v for k, v in run.get("overrides", {}).items()},
            **flat_summary(run), "trace_model": run["trace"].get("model"),
            "machine_json": json.dumps(m, sort_keys=True)}


def flat_summary(run: dict) -> dict:
    """A run summary (``RunResult.summary()`` or as loaded) as flat columns: status, times, and
    each per-tier number as ``NAME_TIER`` (what sweeps and table exports hold)."""
    t = run["makespan_ns"]
    status, reason = run_status(run)
    ran = t is not None  # a run that does not fit has no time, compute or stall: null, not 0
    row = {"status": status, "reason": reason, "time_s": t / 1e9 if ran else None, "makespan_ns": t,
           "compute_ns": run["compute_ns"] if ran else None}
    for name in ("stall_ns", "peak_bytes", "read_bytes", "write_bytes", "missing_bytes"):
        for tier, v in run[name].items():
            row[f"{name}_{tier}"] = None if name == "stall_ns" and not ran else float(v)
    need = run.get("memory_needed") or {}
    row["memory_needed_bytes"] = need.get("total_bytes")
    row["live_peak_bytes"] = need.get("live_peak_bytes")
    row["mm_hit_ratio"] = run.get("mm_hit_ratio")  # optional in the results schema
    row["mm_writeback_bytes"] = run.get("mm_writeback_bytes")
    return row


def save_results(path: str | os.PathLike, runs: list[RunResult]) -> None:
    """Write runs to an Arrow IPC file via a temporary file and rename."""
    cols: dict[str, list] = {c: [] for c in LAYER_COLUMNS}
    tiers = sorted({t for r in runs for t in r.stall_ns})
    for t in tiers:
        for c in TIER_COLUMNS:
            cols[f"{c}_{t}"] = []
    moves = [c for c in MOVE_COLUMNS + EXECUTOR_COLUMNS if any(c in r.layers for r in runs)]
    for c in moves:
        cols[c] = []
    for i, r in enumerate(runs):
        n = len(r.layers.get("layer", []))
        cols["run"] += [i] * n
        for c in LAYER_COLUMNS[1:]:
            cols[c] += list(r.layers.get(c, []))
        for t in tiers:  # a tier another run's machine lacks: zeros (live bytes stay integers)
            for c in TIER_COLUMNS:
                cols[f"{c}_{t}"] += list(r.layers.get(f"{c}_{t}", [0 if c.startswith("live_") else 0.0] * n))
        for c in moves:
            cols[c] += list(r.layers.get(c, [0.0] * n))
    summaries = [r.summary() for r in runs]
    meta = {"magic": RESULTS_MAGIC, "version": RESULTS_VERSION, "hetier": __version__, "runs": summaries}
    table = pa.table({k: from_list(v) for k, v in cols.items()})
    table = table.replace_schema_metadata({b"hetier": json.dumps(meta, sort_keys=True).encode()})
    with AtomicOutput(path) as out:
        with pa.ipc.new_file(out.file, table.schema) as w:
            w.write_table(table)


def is_results_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a hetier results file (not a trace, not a sweep directory); one whose
    header says results but that is damaged or invalid raises its reader's error."""
    if not os.path.isfile(path):
        return False
    try:
        load_results(path)
    except NotOfKind:
        return False
    return True


def load_results(path: str | os.PathLike) -> tuple[list[dict], pa.Table]:
    """Run summaries and per-layer rows of a results file."""
    from hetier.formats.input_file import check_input_file

    if os.path.exists(path):
        check_input_file(path, "results")  # a FIFO or a device is refused before it is mapped
    try:
        with pa.memory_map(str(path)) as src:
            table = pa.ipc.open_file(src).read_all()
    except FileNotFoundError:
        raise HetierError(f"results '{path}' not found") from None
    except (pa.ArrowException, OSError):
        raise NotOfKind(f"'{path}' is not a hetier results file") from None
    try:  # a file corrupted inside: column names that are not text, buffers shorter than their columns
        table.validate(full=True)
        _ = table.column_names  # decoding the names checks them
    except (ValueError, pa.ArrowException) as e:
        raise HetierError(f"results '{path}' are corrupt ({str(e)[:80]})") from None
    try:
        meta = json.loads((table.schema.metadata or {}).get(b"hetier", b"{}"))
    except (ValueError, RecursionError):
        raise NotOfKind(f"'{path}' is not a hetier results file (unreadable metadata)") from None
    check_header(meta, RESULTS_MAGIC, RESULTS_VERSION, path, "results")
    validate(meta, RESULTS_META, f"results '{path}'")
    for i, run in enumerate(meta["runs"]):  # a run with a time has its compute time
        if run["makespan_ns"] is not None and run["compute_ns"] is None:
            raise UsageError(f"results '{path}': runs[{i}] has a makespan_ns but no compute_ns")
    missing = [c for c in LAYER_COLUMNS if c not in table.column_names]
    if missing:
        raise HetierError(f"results '{path}' lack column(s) {', '.join(missing)}")
    for f in table.schema:
        text = f.name in ("name", "kind")
        if pa.types.is_null(f.type):  # no rows (no run fits)
            continue
        if not (pa.types.is_string(f.type) if text else (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))):
            raise HetierError(f"results '{path}': column {f.name} has type {f.type}")
    run = to_numpy(table.column("run"))
    if table.column("run").null_count and len(run) or not (pa.types.is_integer(table.schema.field("run").type)
                                                           or pa.types.is_null(table.schema.field("run").type)):
        raise HetierError(f"results '{path}': column run must hold run numbers")
    if len(run) and (run.min() < 0 or run.max() >= len(meta["runs"])):
        raise HetierError(f"results '{path}' have rows of runs it does not describe")
    tiers = {t["tier"] for k in set(run.tolist()) for t in meta["runs"][k]["machine"]["tiers"]}
    missing = [f"{c}_{t}" for t in sorted(tiers) for c in TIER_COLUMNS if f"{c}_{t}" not in table.column_names]
    if missing:  # each tier of a run with rows has its per-op columns
        raise HetierError(f"results '{path}' lack column(s) {', '.join(missing)}")
    return meta["runs"], table
