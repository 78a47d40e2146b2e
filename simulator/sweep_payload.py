"""What a sweep worker sends back, as plain data: one Arrow IPC stream (the per-layer columns,
with the summary row and the worker's numbers as JSON in the schema metadata), and the driver's
validation of it against the configuration it asked for.

A worker on a Dask cluster is a remote machine: the driver takes from it bytes, never objects,
and refuses a payload whose identity (configuration id and key, trace sha256, axis columns) is
not the task's, whose columns are not the sweep's, or whose numbers are not finite.
"""

from __future__ import annotations

import json
import math
import re

import pyarrow as pa

from hetier.errors import HetierError
from hetier.formats.arrow_arrays import from_list, to_numpy
from hetier.formats.results import override_column
from hetier.simulator.sweep import Outcome, Task, base_row

PAYLOAD_MAGIC = b"hetier-sweep-part-1"
MAX_PAYLOAD_BYTES = 1 << 30  # 1 GiB: far above a million layers' columns
MAX_LAYER_ROWS = 1 << 20
MAX_ROW_COLUMNS = 2000
MAX_STRING = 100_000  # a row's longest text: machine_json
STATUSES = ("ok", "error", "not applicable", "does not fit")
_COLUMN = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
_TEXT_LAYER_COLUMNS = ("config_id", "name", "kind")


def layer_type(column: str) -> pa.DataType:
    """The Arrow type of a per-layer column of a sweep (text, the layer index, or a float)."""
    if column in _TEXT_LAYER_COLUMNS:
        return pa.string()
    return pa.int64() if column == "layer" else pa.float64()


def layers_table(config_id: str, layers: dict) -> pa.Table:
    """A configuration's per-layer columns with their sweep types, keyed by ``config_id``."""
    cols = {"config_id": [config_id] * len(layers.get("layer", [])), **layers}
    return pa.table({k: from_list(list(v), type=layer_type(k)) for k, v in cols.items()})


def encode_outcome(out: Outcome) -> bytes:
    """The outcome as an Arrow IPC stream (what a worker returns)."""
    table = layers_table(out.row["config_id"], out.layers)
    meta = {"row": out.row, "worker": out.worker, "peak_rss_bytes": out.peak_rss_bytes, "trace_loads": out.trace_loads}
    table = table.replace_schema_metadata({b"hetier": json.dumps(meta, sort_keys=True).encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return PAYLOAD_MAGIC + sink.getvalue().to_pybytes()


def _bad(task: Task, what: str) -> HetierError:
    return HetierError(f"a worker's result for configuration {task.config_id} was refused: {what}")


def _check_scalar(task: Task, key: str, v) -> None:
    if v is None or isinstance(v, bool):
        return
    if isinstance(v, int):
        if abs(v) > 2 ** 63 - 1:
            raise _bad(task, f"column {key} is out of range")
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _bad(task, f"column {key} is not a finite number")
        return
    if isinstance(v, str):
        if len(v) > MAX_STRING:
            raise _bad(task, f"column {key} is longer than {MAX_STRING} characters")
        return
    raise _bad(task, f"column {key} holds a {type(v).__name__}, not a number or text")


def decode_outcome(task: Task, payload: object) -> Outcome:
    """The outcome a worker sent for ``task``, checked; a HetierError says what was wrong."""
    if not isinstance(payload, (bytes, bytearray)):
        raise _bad(task, f"expected bytes, got a {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES or not bytes(payload[:len(PAYLOAD_MAGIC)]) == PAYLOAD_MAGIC:
        raise _bad(task, "not a hetier sweep result")
    try:
        table = pa.ipc.open_stream(pa.py_buffer(bytes(payload[len(PAYLOAD_MAGIC):]))).read_all()
        meta = json.loads((table.schema.metadata or {})[b"hetier"])
    except (pa.ArrowException, KeyError, ValueError, UnicodeDecodeError) as e:
        raise _bad(task, f"unreadable ({type(e).__name__})") from None
    if not isinstance(meta, dict) or set(meta) != {"row", "worker", "peak_rss_bytes", "trace_loads"}:
        raise _bad(task, "its description is not a sweep result's")
    row = meta["row"]
    if not isinstance(row, dict) or not 0 < len(row) <= MAX_ROW_COLUMNS:
        raise _bad(task, "its summary row is not a table of columns")
    for k, v in row.items():
        if not _COLUMN.fullmatch(k):
            raise _bad(task, f"column name {k[:60]!r} is not a sweep column")
        _check_scalar(task, k, v)
    expected = base_row(task, row.get("status"), row.get("reason"))
    for k in ("config_id", "config_key", "trace", "trace_sha256", "stack", "stack_sha256", "machine", "machine_preset",
              "policy", "threads",
              *map(override_column, task.config.override_values())):
        if row.get(k) != expected[k] or type(row.get(k)) is not type(expected[k]):
            raise _bad(task, f"column {k} is {str(row.get(k))[:60]!r}, not this configuration's {str(expected[k])[:60]!r}")
    if row["status"] not in STATUSES:
        raise _bad(task, f"status {str(row['status'])[:40]!r} is not one of {', '.join(STATUSES)}")
    if not isinstance(meta["worker"], str) or len(meta["worker"]) > 300:
        raise _bad(task, "its worker name is not a short text")
    for k in ("peak_rss_bytes", "trace_loads"):
        if isinstance(meta[k], bool) or not isinstance(meta[k], int) or not 0 <= meta[k] < 2 ** 62:
            raise _bad(task, f"{k} is not a count")
    if table.num_rows > MAX_LAYER_ROWS:
        raise _bad(task, f"more than {MAX_LAYER_ROWS} layer rows")
    for name, col in zip(table.column_names, table.columns):
        if not _COLUMN.fullmatch(name) or col.type != layer_type(name):
            raise _bad(task, f"layer column {name[:60]!r} is not a sweep layer column of type {layer_type(name)}")
        if col.null_count:
            raise _bad(task, f"layer column {name} has empty values")
    if table.num_rows and (table.column_names[0] != "config_id"
                           or set(table.column("config_id").to_pylist()) != {task.config_id}):
        raise _bad(task, "its layer rows belong to another configuration")
    for name in table.column_names:
        if layer_type(name) == pa.float64():
            values = to_numpy(table.column(name))
            if values.size and not bool(((values == values) & (abs(values) != float("inf"))).all()):
                raise _bad(task, f"layer column {name} holds a value that is not a finite number")
    layers = {k: v for k, v in table.to_pydict().items() if k != "config_id"}
    return Outcome(row, layers, meta["worker"], meta["peak_rss_bytes"], meta["trace_loads"])


def run_task_payload(task: Task) -> bytes:
    """Replay one configuration in a worker and return its outcome as bytes (what crosses the wire)."""
    from hetier.simulator.sweep import run_task

    return encode_outcome(run_task(task))
