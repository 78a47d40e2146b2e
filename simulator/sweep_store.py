"""A sweep's output directory: one Parquet part per finished configuration (so a killed sweep
resumes where it stopped), then the dataset sorted by configuration.

    OUT/sweep.json          what was swept (axes), written first
    OUT/parts/ID.layers.parquet, OUT/parts/ID.row.parquet   as each configuration completes
    OUT/configs.parquet     one row per configuration: every axis a column, status, times, cost
    OUT/layers.parquet      per-layer rows of every configuration that ran (config_id column)

Each row part carries its identity (configuration id and key, trace sha256, stack profile sha256,
the resolved machine); resume re-runs a part that is not this sweep's, truncated or unreadable.
The final files depend only on the configurations and their results (rows sorted by
configuration, no wall-clock numbers), so a pool, a Dask cluster and a resumed run give the same
bytes. Cost columns are computed at the end from each row's resolved machine and the price file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hetier.errors import HetierError, UsageError
from hetier.version import __version__
from hetier.formats.arrow_arrays import from_list
from hetier.formats.results import override_column
from hetier.formats.sweep import (AXIS_COLUMNS, CONFIGS, LAYER_COLUMNS, LAYERS, MANIFEST, RESULT_COLUMNS,
                                  CONFIG_TYPES, SWEEP_MAGIC, SWEEP_VERSION, read_manifest, read_parquet,
                                  table_problem, with_overrides)
from hetier.simulator.prices import DEFAULT_PRICES, machine_cost
from hetier.simulator.machines import machine_from_dict
from hetier.simulator.sweep import Outcome, Task, stack_identity
from hetier.simulator.sweep_payload import layers_table



def _write_parquet(table: pa.Table, path: Path) -> None:
    from hetier.atomic import AtomicOutput

    with AtomicOutput(path) as dest:
        pq.write_table(table, dest.file, compression="zstd")


def _columns(rows: list[dict], first: list[str]) -> dict[str, list]:
    """Column lists in a fixed order: ``first``, then every other key sorted; gaps are None."""
    keys = set().union(*rows) if rows else set()
    order = [k for k in first if k in keys] + sorted(keys - set(first))
    return {k: [r.get(k) for r in rows] for k in order}


def sort_key(task: Task) -> tuple:
    """Configuration order of the dataset: trace, machine, overrides (numbers as numbers), policy, stack,
    threads."""
    c = task.config
    ov = tuple((k, 0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (k, 1, 0.0, str(v))
               for k, v in sorted(c.override_values().items()))
    return (task.trace_sha256, c.machine, c.ref, ov, c.policy, c.stack, c.threads)


class SweepStore:
    """The parts and final files of one sweep directory."""

    def __init__(self, root: Path):
        self.root = root
        self.parts = root / "parts"

    @classmethod
    def open(cls, path: str | os.PathLike, force: bool = False) -> "SweepStore":
        """An existing sweep directory resumes (``force`` starts it over); anything else there is
        refused, and so is a symbolic link anywhere in it (nothing is written through a link).
        Temporary files of a killed run (``NAME.XXXX.partial``) are removed."""
        root = Path(path)
        if root.is_symlink():
            raise UsageError(f"output '{root}' is a symbolic link (give the directory it points to)")
        if root.exists() and not root.is_dir():
            raise UsageError(f"output '{root}' is a file; a sweep writes a directory")
        if root.is_dir() and any(root.iterdir()):
            if not (root / MANIFEST).exists():
                raise UsageError(f"output '{root}' exists and is not a sweep directory")
            read_manifest(root)
            _refuse_links(root)
            if force:
                if (root / "parts").is_dir():
                    shutil.rmtree(root / "parts")
                for name in (CONFIGS, LAYERS):
                    (root / name).unlink(missing_ok=True)
            _remove_orphans(root)
        try:
            (root / "parts").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create sweep directory '{root}': {e.strerror}") from None
        return cls(root)

    def write_manifest(self, axes: dict) -> None:
        body = {"magic": SWEEP_MAGIC, "version": SWEEP_VERSION, "hetier": __version__, "axes": axes}
        from hetier.atomic import write_bytes_atomic

        write_bytes_atomic(self.root / MANIFEST, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())

    def done(self, tasks: list[Task]) -> tuple[set[str], list[str]]:
        """Configuration ids of ``tasks`` whose parts are there and verified (readable, of this
        configuration, trace and machine), less those that ended in an error (a rerun tries them
        again, e.g. with --allow-truncated); and a note for each part that was set aside."""
        errors = {p.name.split(".")[0] for p in self.parts.glob("*.error")}
        machines: dict = {}
        done, notes = set(), []
        for t in tasks:
            cid = t.config_id
            if cid in errors or not (self.parts / f"{cid}.row.parquet").exists():
                continue
            problem = self._verify(t, machines)
            if problem is None:
                done.add(cid)
            else:
                notes.append(f"configuration {cid}: {problem}; it runs again")
                for name in (f"{cid}.row.parquet", f"{cid}.layers.parquet"):
                    (self.parts / name).unlink(missing_ok=True)
        return done, notes

    def _verify(self, task: Task, machines: dict) -> str | None:
        """Why the parts of ``task`` cannot be trusted (None: they can)."""
        from hetier.formats.input_file import check_input_file

        cid = task.config_id
        try:
            table = read_parquet(check_input_file(self.parts / f"{cid}.row.parquet", "sweep part"))
            problem = table_problem(table.schema, CONFIG_TYPES, ["config_id", "status"])
            if problem:
                return f"row part damaged ({problem})"
            row = table.to_pylist()
            layers = read_parquet(check_input_file(self.parts / f"{cid}.layers.parquet", "sweep part"),
                                   columns=["config_id"]) if row and row[0].get("status") == "ok" else None
        except (pa.ArrowException, OSError, HetierError) as e:
            return f"part unreadable ({type(e).__name__})"
        if len(row) != 1:
            return "row part holds other than one row"
        row = row[0]
        for k, want in (("config_id", cid), ("config_key", task.key), ("trace_sha256", task.trace_sha256),
                        ("stack_sha256", stack_identity(task.config.stack))):
            if row.get(k) != want:
                return "part is of another " + {"trace_sha256": "trace", "stack_sha256": "stack profile"}.get(k, "configuration")
        if layers is not None and set(layers.column("config_id").to_pylist()) - {cid}:
            return "layers part is of another configuration"
        if row.get("machine_json"):
            c = task.config
            ref = (c.ref, c.overrides, c.machine)
            if ref not in machines:
                try:
                    machines[ref] = json.dumps(c.load().to_dict(), sort_keys=True)
                except HetierError:
                    machines[ref] = None
            if row["machine_json"] != machines[ref]:
                return "part was made with another machine (its preset changed)"
        return None

    def save(self, out: Outcome) -> None:
        """Store one configuration's layers, then its row (the row marks it done)."""
        from hetier.atomic import write_bytes_atomic

        cid = out.row["config_id"]
        _write_parquet(layers_table(cid, out.layers), self.parts / f"{cid}.layers.parquet")
        marker = self.parts / f"{cid}.error"
        if out.row["status"] == "error":
            write_bytes_atomic(marker, b"")  # never through a link placed at its name
        _write_parquet(pa.table({k: from_list([v]) for k, v in out.row.items()}), self.parts / f"{cid}.row.parquet")
        if out.row["status"] != "error":
            marker.unlink(missing_ok=True)

    def finalize(self, tasks: list[Task], override_keys: list[str], prices: str = str(DEFAULT_PRICES),
                 price_choice: str | None = None) -> pa.Table:
        """Write configs.parquet and layers.parquet for ``tasks`` (all must be done); returns the configs,
        whose schema metadata lists every override (``hetier.formats.sweep.override_keys``)."""
        ordered = sorted(tasks, key=sort_key)
        rows = []
        for t in ordered:
            row = read_parquet(self.parts / f"{t.config_id}.row.parquet").to_pylist()[0]
            row = {override_column(k): v for k, v in row.items()}  # parts of an older sweep: tier.key
            rows.append(with_cost(row, prices, price_choice))
        # the axes' overrides and those of the references the sweep added (pmem.capacity_gb=0)
        override_keys = sorted({*override_keys, *(k for t in tasks for k, _ in t.config.overrides)})
        columns = [override_column(k) for k in override_keys]
        cols = _columns(rows, AXIS_COLUMNS + columns + RESULT_COLUMNS)
        arrays = {}
        for k, v in cols.items():
            if k in columns:
                numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v if x is not None)
                v = [None if x is None else (float(x) if numeric else str(x)) for x in v]
            arrays[k] = from_list(v, type=pa.int64() if k == "threads" else None)
        configs = with_overrides(pa.table(arrays), override_keys)
        _write_parquet(configs, self.root / CONFIGS)
        layer_tables = [read_parquet(self.parts / f"{t.config_id}.layers.parquet") for t in ordered]
        layers = pa.concat_tables(layer_tables, promote_options="default") if layer_tables else pa.table({})
        names = set(layers.column_names)
        order = [c for c in LAYER_COLUMNS if c in names] + sorted(names - set(LAYER_COLUMNS))
        _write_parquet(layers.select(order), self.root / LAYERS)
        return configs


def _refuse_links(root: Path) -> None:
    """A sweep directory is written in place: a symbolic link in it (parts/, a part, a result)
    could send a write elsewhere, so it is refused."""
    for p in [root / "parts", *(root / n for n in (MANIFEST, CONFIGS, LAYERS))]:
        if p.is_symlink():
            raise UsageError(f"sweep directory '{root}': '{p.name}' is a symbolic link; a sweep writes in place")
    if (root / "parts").is_dir():
        for p in (root / "parts").iterdir():
            if p.is_symlink():
                raise UsageError(f"sweep directory '{root}': 'parts/{p.name}' is a symbolic link; "
                                 "a sweep writes in place")


_ORPHAN = re.compile(r"[^/]+\.[A-Za-z0-9_]{6,}\.partial")  # AtomicOutput's NAME.XXXXXXXX.partial


def _remove_orphans(root: Path) -> None:
    """Remove the temporary files a killed sweep left (nothing else: only regular files whose
    name is a temporary's)."""
    for folder in (root, root / "parts"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if _ORPHAN.fullmatch(p.name) and p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)


def with_cost(row: dict, prices: str, choice: str | None = None) -> dict:
    """The row plus its machine's memory cost under ``prices`` and its ``choice`` (None for rows
    without a machine)."""
    if not row.get("machine_json"):
        return {**row, "cost_usd": None, "cost_note": None}
    cost = machine_cost(machine_from_dict(json.loads(row["machine_json"])), prices, choice)
    return {**row, "cost_usd": cost.total_usd, "cost_note": cost.note}
