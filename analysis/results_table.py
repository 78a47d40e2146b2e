"""Results as one flat table (a row per run: machine, policy, threads, every override, status,
times, per-tier numbers, memory cost), from replay results files and sweep directories, for
Parquet or CSV export to DuckDB, Polars or a spreadsheet."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from hetier.errors import UsageError
from hetier.formats.arrow_arrays import from_list

FIRST = ["source", "trace", "trace_sha256", "machine", "policy", "threads"]


def _results_rows(path: str, keys: set[str], prices: str, choice: str | None) -> list[dict]:
    """A results file's runs as rows, each priced as a sweep prices its rows (``with_cost``)."""
    from hetier.formats.results import load_results, run_row
    from hetier.simulator.sweep_store import with_cost

    runs, _ = load_results(path)
    rows = []
    for run in runs:
        keys.update(run.get("overrides") or {})
        rows.append(with_cost({"source": os.path.basename(path), **run_row(run)}, prices, choice))
    return rows


def results_table(paths: list[str], prices: str | None = None, choice: str | None = None) -> pa.Table:
    """One row per run of every results file or sweep directory in ``paths``; columns are the union
    (an override a run was not given is null). Overrides are columns named ``override_column(key)``,
    right after the axes; the schema metadata lists their keys (``hetier.formats.sweep.override_keys``).
    Results files' runs are priced with ``prices`` (default: the shipped price file) and its
    ``choice``; a sweep directory's rows keep the costs they were swept with unless either is given."""
    from hetier.formats.results import override_column
    from hetier.formats.sweep import is_sweep_dir, load_sweep, override_keys, with_overrides
    from hetier.simulator.prices import DEFAULT_PRICES, load_prices
    from hetier.simulator.sweep_store import with_cost

    reprice = prices is not None or choice is not None
    prices = str(prices or DEFAULT_PRICES)
    if reprice:
        load_prices(prices, choice)  # a bad file or an unknown choice is refused before any row
    rows: list[dict] = []
    given: set[str] = set()
    for p in paths:
        if is_sweep_dir(p):
            _, configs, _ = load_sweep(p)
            given.update(override_keys(configs))
            rows += [{"source": Path(p).name, **(with_cost(r, prices, choice) if reprice else r)}
                     for r in configs.to_pylist()]
        else:
            rows += _results_rows(p, given, prices, choice)
    keys = set().union(*rows) if rows else set()
    overrides = sorted({override_column(k) for k in given} & keys)
    order = [k for k in FIRST if k in keys] + overrides + sorted(keys - set(FIRST) - set(overrides))
    cols = {}
    for k in order:
        v = [r.get(k) for r in rows]
        if any(isinstance(x, str) for x in v) and any(isinstance(x, (int, float)) for x in v):
            v = [None if x is None else str(x) for x in v]  # an override given as text in one run, a number in another
        cols[k] = from_list(v)
    return with_overrides(pa.table(cols), sorted(given))


def write_results_table(paths: list[str], out: str | os.PathLike, fmt: str, prices: str | None = None,
                        choice: str | None = None) -> int:
    """Write the table (priced as ``results_table`` says) as Parquet (zstd) or CSV via a temporary
    file and rename; returns rows."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from hetier.atomic import AtomicOutput

    if fmt not in ("parquet", "csv"):
        raise UsageError(f"results export writes parquet or csv (got '{fmt}')")
    table = results_table(paths, prices, choice)
    with AtomicOutput(out) as dest:
        if fmt == "parquet":
            pq.write_table(table, dest.file, compression="zstd")
        else:
            pcsv.write_csv(table.select([c for c in table.column_names if c != "machine_json"]), dest.file)
    return table.num_rows
