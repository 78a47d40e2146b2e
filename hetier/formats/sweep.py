"""The sweep directory (written by simulator/sweep_store.py): its names, columns and reader.

    OUT/sweep.json          what was swept (axes), written first
    OUT/configs.parquet     one row per configuration: every axis a column, status, times, cost
    OUT/layers.parquet      per-layer rows of every configuration that ran (config_id column)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hetier.errors import HetierError
from hetier.formats.header import check_header
from hetier.formats.results import override_column

SWEEP_MAGIC = "hetier-sweep"
SWEEP_VERSION = 2  # 2: as results format 2 (the embedded machines changed)
MANIFEST = "sweep.json"
CONFIGS = "configs.parquet"
LAYERS = "layers.parquet"
AXIS_COLUMNS = ["config_id", "trace", "trace_sha256", "machine", "machine_preset", "mode", "policy", "stack", "threads"]
RESULT_COLUMNS = ["status", "reason", "time_s", "makespan_ns", "compute_ns", "cost_usd", "cost_note", "fast_tier_gb"]
LAYER_COLUMNS = ["config_id", "layer", "name", "kind", "start_ns", "end_ns", "compute_ns"]
# The types the readers rely on (a column of nulls, e.g. ``reason`` when every run is ok, passes)
TEXT, INTEGER, NUMBER = "text", "integer", "number"
CONFIG_TYPES = {**{c: TEXT for c in AXIS_COLUMNS}, "threads": INTEGER, "status": TEXT, "reason": TEXT,
                "time_s": NUMBER, "makespan_ns": NUMBER, "compute_ns": NUMBER, "cost_usd": NUMBER,
                "cost_note": TEXT, "fast_tier_gb": NUMBER, "config_key": TEXT, "stack_sha256": TEXT}
LAYER_TYPES = dict(zip(LAYER_COLUMNS, (TEXT, INTEGER, TEXT, TEXT, NUMBER, NUMBER, NUMBER)))
# Schema metadata of a configurations table: its overrides as ``tier.key`` (JSON list), each a
# column named ``override_column(key)``; tables written before it have the dotted names as columns.
OVERRIDES_META = b"hetier.overrides"


def _type_ok(t: pa.DataType, want: str) -> bool:
    if pa.types.is_null(t):
        return True
    if want == TEXT:
        return pa.types.is_string(t) or pa.types.is_large_string(t)
    return pa.types.is_integer(t) or (want == NUMBER and pa.types.is_floating(t))


def table_problem(schema: pa.Schema, types: dict[str, str], required: list[str]) -> str | None:
    """Why a table of ``schema`` is not the sweep table ``types`` describes (a ``required`` column
    missing, a column of another type); None if it is."""
    for name in required:
        if schema.get_field_index(name) < 0:
            return f"no column {name}"
    for name, want in types.items():
        i = schema.get_field_index(name)
        if i >= 0 and not _type_ok(schema.field(i).type, want):
            return f"column {name} holds {schema.field(i).type}, not {want}"
    return None


def with_result_columns(configs: pa.Table) -> pa.Table:
    """A configurations table with every result column, nulls where no configuration has it (a
    sweep whose configurations all failed has no times)."""
    for name in RESULT_COLUMNS:
        if name not in configs.column_names:
            kind = CONFIG_TYPES[name]
            configs = configs.append_column(name, pa.nulls(len(configs), pa.string() if kind == TEXT else pa.float64()))
    return configs


def read_parquet(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file as a table: ``pq.read_table``'s answer without its dataset layer, which
    imports pandas (0.2-0.3 s and ~40 MB in every process that reads a sweep)."""
    with pq.ParquetFile(path) as f:
        return f.read(columns=columns)


def with_overrides(table: pa.Table, keys: list[str]) -> pa.Table:
    """``table`` with its override keys (``tier.key``) recorded in the schema metadata."""
    return table.replace_schema_metadata({**(table.schema.metadata or {}),
                                          OVERRIDES_META: json.dumps(sorted(keys)).encode()})


def override_keys(table: pa.Table) -> list[str]:
    """The overrides (``tier.key``) of a configurations or results table, as ``with_overrides`` or
    ``upgraded`` recorded them."""
    raw = (table.schema.metadata or {}).get(OVERRIDES_META)
    return json.loads(raw) if raw else []


def upgraded(table: pa.Table) -> pa.Table:
    """A configurations table in today's schema: one written before override columns lost their
    dots (``dram.capacity_gb``) gets them renamed (``dram_capacity_gb``) and recorded."""
    if OVERRIDES_META in (table.schema.metadata or {}):
        return table
    dotted = [c for c in table.column_names if "." in c]
    renamed = table.rename_columns([override_column(c) if c in dotted else c for c in table.column_names])
    return with_overrides(renamed, dotted)


def read_manifest(root: Path) -> dict:
    from hetier.formats.input_file import read_input

    try:
        body = json.loads(read_input(root / MANIFEST, "sweep manifest", 1 << 24))
    except (OSError, ValueError, RecursionError, HetierError):
        raise HetierError(f"'{root}' is not a hetier sweep directory (no readable {MANIFEST})") from None
    return check_header(body, SWEEP_MAGIC, SWEEP_VERSION, root, "sweep", "directory")


def _rebuild(root: Path, what: str) -> HetierError:
    """The one-line error of a finished sweep whose results cannot be used as they are."""
    return HetierError(f"sweep '{root}' has {what}; run the same sweep again with --force to rebuild it")


def load_sweep(path: str | os.PathLike) -> tuple[dict, pa.Table, pa.Table]:
    """(manifest, configs, layers) of a finished sweep directory."""
    root = Path(path)
    manifest = read_manifest(root)
    if not (root / CONFIGS).exists():
        raise HetierError(f"sweep '{root}' is not finished (no {CONFIGS}); run the same sweep again to resume it")
    from hetier.formats.input_file import check_input_file

    try:
        configs = upgraded(read_parquet(check_input_file(root / CONFIGS, "sweep results")))
        layers = read_parquet(check_input_file(root / LAYERS, "sweep results"))
    except (pa.ArrowException, OSError) as e:
        raise _rebuild(root, f"an unreadable results file ({type(e).__name__})") from None
    for name, table, types, required in (
            (CONFIGS, configs, CONFIG_TYPES, [*AXIS_COLUMNS, "status"]),
            (LAYERS, layers, LAYER_TYPES, LAYER_COLUMNS if layers.num_rows else [])):
        problem = table_problem(table.schema, types, required)
        if problem:
            raise _rebuild(root, f"a damaged {name} ({problem})")
    configs = with_result_columns(configs)
    if any(st == "ok" and t is None for st, t in zip(configs.column("status").to_pylist(),
                                                      configs.column("time_s").to_pylist())):
        raise _rebuild(root, f"a damaged {CONFIGS} (a finished configuration without a time)")
    return manifest, configs, layers


def is_sweep_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()
