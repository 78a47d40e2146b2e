"""The hetier trace: Arrow IPC stream (zstd) of memory events, its schema, writer and reader.

This module imports only numpy and pyarrow so that the simulator and analysis can read traces
without TenSEAL. docs/trace-format.md is the prose version of what is defined here.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa

from hetier.atomic import AtomicOutput
from hetier.errors import HetierError
from hetier.formats.arrow_arrays import from_numpy, strings, to_numpy
from hetier.formats.input_file import check_input_file, open_input
from hetier.validation import TRACE_META, validate

MAGIC = "hetier-trace"
FORMAT_VERSION = 2  # 2 added the "host" buffer kind and the "constant" primitive (appended: version 1 codes keep their meaning)
READABLE_VERSIONS = (1, 2)
META_KEY = b"hetier"
OP_CPU_KEY = b"op_cpu_ns"  # record-batch metadata: [[thread, process] CPU ns] of the ops it ends
EOS_MARKER = b"\xff\xff\xff\xff\x00\x00\x00\x00"

EVENTS = ("alloc", "free", "read", "write", "op_begin", "op_end")
# host: memory the runtime allocates outside SEAL's pool (malloc/new; freed memory goes back to the heap)
KINDS = ("ciphertext", "temporary", "plaintext", "key", "none", "host")
# how the runtime allocates (`hetier trace --runtime-profile`): hetier's own kernels, or the reference
# stack's (HE-Transformer on SEAL 3.4); recorded as meta["runtime"]["profile"]
RUNTIME_PROFILES = ("hetier", "reference")
PRIMS = (
    "none", "keygen", "encode", "encrypt", "decrypt", "decode", "copy", "multiply_plain", "multiply",
    "add", "add_plain", "square", "relinearize", "rescale", "mod_switch", "free", "constant",
)
GRANULARITIES = ("ciphertext", "tensor")
MODES = ("real", "plan")

# Version 1 knew a prefix of each code list; its files carry those dictionaries.
_V1_CODES = {"kind": KINDS[:5], "prim": PRIMS[:16]}

EV = {name: i for i, name in enumerate(EVENTS)}
KIND = {name: i for i, name in enumerate(KINDS)}
PRIM = {name: i for i, name in enumerate(PRIMS)}

CHECKSUM = "crc32"  # meta["checksum"]: every batch carries the crc32 of its columns (custom metadata)
BATCH_CRC_KEY = b"crc32"
META_CRC_KEY = b"hetier_crc32"  # crc32 of the metadata JSON, next to it in the schema metadata
MAX_ROW_BYTES = 1 << 46  # one row's bytes (64 TiB): sums over a batch stay far from int64 overflow
MAX_ROW_COUNT = 1 << 32  # ciphertext-level events one row stands for
MAX_ID = 1 << 62  # buffer, tensor ids and timestamps

COLUMNS = ("ts_ns", "event", "buffer", "tensor", "nbytes", "count", "kind", "level", "layer", "prim")
_DICT8 = pa.dictionary(pa.int8(), pa.string())


def schema(meta: dict) -> pa.Schema:
    """The Arrow schema of a trace, with ``meta`` (JSON) as schema metadata."""
    return pa.schema(
        [
            pa.field("ts_ns", pa.int64()),  # ns since the run started (events' order is the row order)
            pa.field("event", _DICT8),  # alloc, free, read, write, op_begin, op_end
            pa.field("buffer", pa.int64()),  # buffer id (-1 on op rows); == tensor at tensor granularity
            pa.field("tensor", pa.int64()),  # tensor the buffer belongs to (-1 on op rows)
            pa.field("nbytes", pa.int64()),  # bytes of the event, summed over `count`
            pa.field("count", pa.int64()),  # ciphertext-level events this row stands for
            pa.field("kind", _DICT8),  # buffer kind: ciphertext, temporary, plaintext, key, host (none on op rows)
            pa.field("level", pa.int8()),  # coefficient primes of the data at the event (-1 on op rows)
            pa.field("layer", pa.dictionary(pa.int32(), pa.string())),  # layer (op) that made the event
            pa.field("prim", _DICT8),  # HE primitive that made the event
        ],
        metadata=_schema_metadata(meta),
    )


def _schema_metadata(meta: dict) -> dict[bytes, bytes]:
    raw = json.dumps(meta, sort_keys=True).encode()
    out = {META_KEY: raw}
    if meta.get("checksum") == CHECKSUM:
        out[META_CRC_KEY] = str(zlib.crc32(raw)).encode()
    return out


class TraceError(HetierError):
    """A trace file that cannot be read as asked (missing, foreign, wrong version, truncated)."""


@dataclass
class EventBatch:
    """Columns of events as numpy arrays of integer codes (see EVENTS, KINDS, PRIMS, meta layers)."""

    ts_ns: np.ndarray
    event: np.ndarray
    buffer: np.ndarray
    tensor: np.ndarray
    nbytes: np.ndarray
    count: np.ndarray
    kind: np.ndarray
    level: np.ndarray
    layer: np.ndarray
    prim: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_ns)

    @staticmethod
    def concat(parts: list["EventBatch"]) -> "EventBatch":
        if not parts:
            return empty_batch()
        return EventBatch(*(np.concatenate([getattr(p, c) for p in parts]) for c in COLUMNS))

    def take(self, idx: np.ndarray) -> "EventBatch":
        return EventBatch(*(getattr(self, c)[idx] for c in COLUMNS))

    def rows(self, start: int, stop: int) -> "EventBatch":
        """Rows ``start`` to ``stop`` (exclusive) as views of this batch's columns, no copy."""
        return EventBatch(*(getattr(self, c)[start:stop] for c in COLUMNS))

    def live_delta(self) -> np.ndarray:
        """Bytes each row adds to live memory: an alloc its bytes, a free minus its bytes, others 0."""
        return np.where(self.event == EV["alloc"], self.nbytes, np.where(self.event == EV["free"], -self.nbytes, 0))

    def live_after(self, start: int) -> np.ndarray:
        """Live bytes after each row, from ``start`` live bytes before the batch (the one live curve
        that info's peak, the live curves and the real run's memory guard all read)."""
        return start + np.cumsum(self.live_delta())


_DTYPES = dict(ts_ns=np.int64, event=np.int8, buffer=np.int64, tensor=np.int64, nbytes=np.int64,
               count=np.int64, kind=np.int8, level=np.int8, layer=np.int32, prim=np.int8)


def empty_batch() -> EventBatch:
    return EventBatch(*(np.zeros(0, dtype=_DTYPES[c]) for c in COLUMNS))


def split_large_rows(b: EventBatch) -> EventBatch:
    """Rows over MAX_ROW_BYTES or MAX_ROW_COUNT (a planned tensor read standing for petabytes) as
    several rows of the same time, op and tensor whose counts and bytes add up to the row's (each
    piece whole ciphertexts of the row's size): the writer never writes a row its reader refuses,
    and every sum over the trace is unchanged."""
    if not len(b) or not ((b.nbytes > MAX_ROW_BYTES) | (b.count > MAX_ROW_COUNT)).any():
        return b
    count = np.maximum(b.count, 1)
    unit = b.nbytes // count
    whole = b.nbytes == unit * count  # rows of whole ciphertexts: split by count, bytes follow
    parts = np.maximum(-(-b.nbytes // (MAX_ROW_BYTES // 2)), -(-b.count // (MAX_ROW_COUNT // 2)))
    parts = np.where(whole, np.clip(parts, 1, count), np.maximum(parts, 1))
    idx = np.repeat(np.arange(len(b)), parts)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(parts) - parts, parts)  # piece number within its row
    n = parts[idx]
    out = b.take(idx)
    c = b.count[idx]
    out.count = c // n + (k < c % n)
    v = b.nbytes[idx]
    out.nbytes = np.where(whole[idx], out.count * unit[idx], v // n + (k < v % n))
    return out


class TraceWriter:
    """Writes events incrementally to a new ``NAME.XXXXXXXX.partial`` next to ``path`` (created
    exclusively, one writer per output) and renames it to ``path`` on ``close``.

    A run that dies leaves the ``.partial`` file (``tmp``): a readable prefix that readers report
    as truncated.
    """

    def __init__(self, path: str | os.PathLike, meta: dict, batch_rows: int = 1 << 16):
        meta = dict(meta)
        meta.setdefault("magic", MAGIC)
        meta.setdefault("format_version", FORMAT_VERSION)
        meta.setdefault("checksum", CHECKSUM)
        self.path = Path(path)
        self.meta = meta
        self.schema = schema(meta)  # the Arrow schema written
        self._dicts = {
            "event": strings(EVENTS), "kind": strings(KINDS), "prim": strings(PRIMS),
            "layer": strings([l["name"] for l in meta["layers"]]),
        }
        self._out = AtomicOutput(self.path)
        self.tmp = self._out.tmp
        self._file = self._out.file
        self._writer = pa.ipc.new_stream(
            self._file, self.schema, options=pa.ipc.IpcWriteOptions(compression="zstd"))
        self._pending: list[EventBatch] = []
        self._pending_rows = 0
        self._op_cpu: list[list[int]] = []
        self.batch_rows = batch_rows
        self.rows_written = 0

    def op_cpu(self, thread_ns: int, process_ns: int) -> None:
        """CPU time of the op whose events are written next; it travels as metadata of the record
        batch that holds the op's end (older readers ignore it)."""
        self._op_cpu.append([int(thread_ns), int(process_ns)])

    def write(self, batch: EventBatch) -> None:
        if len(batch) == 0:
            return
        self._pending.append(split_large_rows(batch))
        self._pending_rows += len(batch)
        if self._pending_rows >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        """Write pending events as record batches of at most ``batch_rows`` rows."""
        if not self._pending:
            return
        b = EventBatch.concat(self._pending)
        self._pending, self._pending_rows = [], 0
        starts = range(0, len(b), self.batch_rows)
        for lo in starts:
            last = lo == starts[-1] and self._op_cpu
            meta = {OP_CPU_KEY: json.dumps(self._op_cpu).encode()} if last else None
            self._write_batch(b.take(np.arange(lo, min(lo + self.batch_rows, len(b)))), meta)
        self._op_cpu = []
        self._file.flush()

    def _write_batch(self, b: EventBatch, custom_metadata: dict | None = None) -> None:
        arrays = []
        for c in COLUMNS:
            col = getattr(b, c).astype(_DTYPES[c], copy=False)
            if c in self._dicts:
                arrays.append(pa.DictionaryArray.from_arrays(from_numpy(col), self._dicts[c], safe=False))
            else:
                arrays.append(from_numpy(col))
        crc = batch_crc(getattr(b, c).astype(_DTYPES[c], copy=False) for c in COLUMNS)
        meta = {**(custom_metadata or {}), BATCH_CRC_KEY: str(crc).encode()}
        self._writer.write_batch(pa.record_batch(arrays, schema=self.schema), custom_metadata=meta)
        self.rows_written += len(b)

    def close(self) -> Path:
        """Finish the stream (end-of-stream marker) and move it to its final name."""
        try:
            self.flush()
            self._writer.close()
        except BaseException as e:
            self._out.discard()
            if isinstance(e, OSError):
                raise HetierError(f"cannot write '{self.path}': {e.strerror or e}") from None
            raise
        return self._out.commit()

    def discard(self) -> None:
        """Stop writing and remove the partial file (after a write error such as a full disk)."""
        self._out.discard()

    def abandon(self) -> Path:
        """Stop writing after a failure: keep what was written as ``.partial`` (no end marker)."""
        try:
            self.flush()
        except OSError:
            pass  # disk full: the batches already written stay readable
        return self._out.keep_partial()


def batch_crc(columns) -> int:
    """crc32 of a batch's columns (numpy arrays in COLUMNS order, as _DTYPES)."""
    crc = 0
    for col in columns:
        crc = zlib.crc32(memoryview(np.ascontiguousarray(col)).cast("B"), crc)
    return crc


def row_problems(b: EventBatch, n_layers: int) -> list[tuple[str, np.ndarray]]:
    """Rows that break the format's ranges, as (what, mask): codes out of range, negative or huge
    sizes, ids and timestamps. Readers refuse the first; ``hetier check`` reports them all."""
    return [
        ("event code out of range", (b.event < 0) | (b.event >= len(EVENTS))),
        ("kind code out of range", (b.kind < 0) | (b.kind >= len(KINDS))),
        ("primitive code out of range", (b.prim < 0) | (b.prim >= len(PRIMS))),
        ("layer out of range", (b.layer < 0) | (b.layer >= n_layers)),
        ("negative size or count", (b.nbytes < 0) | (b.count < 0)),
        (f"bytes over {MAX_ROW_BYTES} or count over {MAX_ROW_COUNT} in one row",
         (b.nbytes > MAX_ROW_BYTES) | (b.count > MAX_ROW_COUNT)),
        ("buffer or tensor id out of range", (b.buffer < -1) | (b.tensor < -1) | (b.buffer > MAX_ID) | (b.tensor > MAX_ID)),
        ("memory event without a buffer", (b.event < EV["op_begin"]) & ((b.buffer < 0) | (b.tensor < 0))),
        ("timestamp out of range", (b.ts_ns < 0) | (b.ts_ns > MAX_ID)),
        ("level out of range", (b.level < -1) | (b.level > 64)),
    ]


def _decode_meta(sch: pa.Schema, path: Path) -> dict:
    raw = (sch.metadata or {}).get(META_KEY)
    if raw is None:
        raise TraceError(f"'{path}' is not a hetier trace (no hetier metadata)")
    crc = (sch.metadata or {}).get(META_CRC_KEY)
    if crc is not None and crc != str(zlib.crc32(raw)).encode():
        raise TraceError(f"trace '{path}' is corrupt: its metadata checksum does not match")
    try:
        meta = json.loads(raw)
    except (ValueError, RecursionError):
        raise TraceError(f"'{path}' is not a hetier trace (unreadable metadata)") from None
    if not isinstance(meta, dict) or meta.get("magic") != MAGIC:
        raise TraceError(f"'{path}' is not a hetier trace")
    v = meta.get("format_version")
    lo, hi = READABLE_VERSIONS
    if not isinstance(v, int) or not lo <= v <= hi:
        raise TraceError(f"'{path}' has trace format {v}; this hetier reads {lo}-{hi}")
    try:
        validate(meta, TRACE_META, f"trace '{path}' metadata")
    except HetierError as e:
        raise TraceError(str(e)) from None
    if meta.get("checksum") not in (None, CHECKSUM):
        raise TraceError(f"trace '{path}' has checksum {meta['checksum']!r}; this hetier knows {CHECKSUM}")
    expected = schema(meta)
    try:
        names = sch.names
    except UnicodeDecodeError:
        raise TraceError(f"'{path}' is not a hetier trace (column names are not UTF-8)") from None
    if names != expected.names:
        raise TraceError(f"'{path}' is not a hetier trace (columns {', '.join(sch.names)[:200]}; "
                         f"expected {', '.join(expected.names)})")
    for f, got in zip(expected, sch):
        if got.type != f.type:
            raise TraceError(f"'{path}' is not a hetier trace (column {f.name} is {got.type}, expected {f.type})")
    return meta


def _op_cpu(raw: bytes, path: Path, batch: int) -> list[list[int]]:
    try:
        pairs = json.loads(raw)
        if all(len(p) == 2 and all(isinstance(v, int) and v >= 0 for v in p) for p in pairs):
            return pairs
    except (ValueError, TypeError, RecursionError):
        pass
    raise TraceError(f"'{path}': batch {batch} has unreadable per-op CPU times (op_cpu_ns)")


_TRUNCATION = re.compile(r"Expected to (be able to )?read")


class TraceReader:
    """Streams a trace's batches; knows whether the file ended cleanly.

    After iterating, ``truncated`` says whether the stream lacked its end marker or ended inside
    a batch, ``events_read`` how many complete events came before that, and ``op_cpu_ns`` the
    per-op [thread, process] CPU times of the batches read (empty for traces without them). A
    batch whose checksum, dictionaries or values break the format raises a TraceError that says
    "corrupt" (``strict=False``: values out of range are left to the caller, as ``hetier check`` does).
    """

    def __init__(self, path: str | os.PathLike, strict: bool = True):
        self.path = Path(path)
        self.strict = strict
        if not self.path.exists():
            raise TraceError(f"trace '{self.path}' not found")
        if self.path.is_dir():
            raise TraceError(f"trace '{self.path}' is a directory")
        check_input_file(self.path, "trace")  # a FIFO or a device is refused before it is read
        size = self.size = self.path.stat().st_size
        if size == 0:
            if self.path.name.endswith(".partial"):
                raise TraceError(f"'{self.path}' is empty: its run stopped before the first batch (no complete batch)")
            raise TraceError(f"'{self.path}' is empty (not a hetier trace)")
        with open(self.path, "rb") as f:
            f.seek(max(0, size - 8))
            self._has_eos = f.read(8) == EOS_MARKER
        self._file = open(self.path, "rb")
        try:
            self._reader = pa.ipc.open_stream(self._file)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
            self._file.close()
            raise TraceError(f"'{self.path}' is not a hetier trace (not an Arrow stream)") from None
        try:
            self.meta = _decode_meta(self._reader.schema, self.path)
        except BaseException:
            self._file.close()
            raise
        if self.meta.get("checksum") == CHECKSUM and META_CRC_KEY not in (self._reader.schema.metadata or {}):
            self._file.close()
            raise TraceError(f"trace '{self.path}' is corrupt: its metadata checksum is missing")
        self.schema = self._reader.schema
        self.layer_names = [l["name"] for l in self.meta["layers"]]
        codes = _V1_CODES if self.meta["format_version"] == 1 else {"kind": KINDS, "prim": PRIMS}
        self._dicts = {"event": strings(EVENTS), "kind": strings(codes["kind"]), "prim": strings(codes["prim"]),
                       "layer": strings(self.layer_names)}
        self._checked_dicts: dict[str, pa.Array] = {}
        self.checksummed = self.meta.get("checksum") == CHECKSUM
        self.truncated = not self._has_eos
        self.batches_read = 0
        self.events_read = 0
        self.op_cpu_ns: list[list[int]] = []

    def __enter__(self) -> "TraceReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def _corrupt(self, what: str) -> TraceError:
        return TraceError(f"trace '{self.path}' is corrupt: {what} in batch {self.batches_read + 1} "
                          f"(after {self.events_read} good events)")

    def _next(self):
        """The next record batch and its custom metadata; None at the end (or a truncation)."""
        try:
            return self._reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            pos = self._file.tell()
            if pos < self.size:
                raise TraceError(f"trace '{self.path}' is corrupt: {self.size - pos} bytes after its "
                                 f"end-of-stream marker") from None
            return None
        except (pa.ArrowException, OSError, MemoryError) as e:
            if not self._has_eos and _TRUNCATION.search(str(e)):
                self.truncated = True
                return None
            raise self._corrupt(f"unreadable batch ({str(e)[:80]})") from None

    def _columns(self, rb: pa.RecordBatch) -> dict[str, np.ndarray]:
        cols = {}
        for c in COLUMNS:
            a = rb.column(c)
            if a.null_count:
                raise self._corrupt(f"null values in column {c}")
            if pa.types.is_dictionary(a.type):
                seen = self._checked_dicts.get(c)
                if seen is None or not (a.dictionary is seen or a.dictionary.equals(seen)):
                    if not a.dictionary.equals(self._dicts[c]):
                        raise self._corrupt(f"unexpected {c} dictionary")
                    self._checked_dicts[c] = a.dictionary
                a = a.indices
            cols[c] = to_numpy(a).astype(_DTYPES[c], copy=False)
        return cols

    def batches(self) -> Iterator[EventBatch]:
        """Yield complete batches as integer-coded numpy columns; stop at a truncation."""
        for _, b in self._verified():
            yield b

    def record_batches(self) -> Iterator[pa.RecordBatch]:
        """The same batches as Arrow record batches (for exports), checked the same way."""
        for rb, _ in self._verified():
            yield rb

    def _verified(self) -> Iterator[tuple[pa.RecordBatch, EventBatch]]:
        while True:
            got = self._next()
            if got is None:
                return
            rb, custom = got
            try:
                rb.validate()  # buffer sizes against lengths: a batch corrupted inside is refused, not read past
                cols = self._columns(rb)
            except (KeyError, ValueError, pa.ArrowException) as e:  # ValueError: numpy over a short buffer
                raise self._corrupt(f"unreadable columns ({str(e)[:80]})") from None
            if self.checksummed:
                crc = (custom or {}).get(BATCH_CRC_KEY)
                if crc is None:
                    raise self._corrupt("no checksum")
                if crc != str(batch_crc(cols[c] for c in COLUMNS)).encode():
                    raise self._corrupt("checksum mismatch")
            b = EventBatch(**cols)
            if self.strict:
                for what, mask in row_problems(b, len(self.layer_names)):
                    if mask.any():
                        i = int(np.argmax(mask))
                        raise TraceError(f"trace '{self.path}' is invalid: {what} at event {self.events_read + i} "
                                         f"(run hetier check for all problems)")
            if custom is not None and OP_CPU_KEY in custom:
                self.op_cpu_ns.extend(_op_cpu(custom[OP_CPU_KEY], self.path, self.batches_read))
            self.batches_read += 1
            self.events_read += rb.num_rows
            yield rb, b

    def truncation_message(self) -> str:
        if self.batches_read == 0:
            return f"trace '{self.path}' is truncated before its first batch (no complete batch)"
        return (f"trace '{self.path}' is truncated after batch {self.batches_read} "
                f"({self.events_read} complete events)")


@dataclass
class Trace:
    """A whole trace in memory: ``meta`` (dict), ``events`` (EventBatch), ``truncated`` flag."""

    meta: dict
    events: EventBatch
    truncated: bool = False
    path: Path | None = None
    layer_names: list[str] = field(default_factory=list)


def read_trace(path: str | os.PathLike, allow_truncated: bool = False) -> Trace:
    """Read a whole trace; a truncated one is an error unless ``allow_truncated``."""
    with TraceReader(path) as r:
        parts = list(r.batches())
        if r.truncated and not allow_truncated:
            raise TraceError(r.truncation_message())
        return Trace(r.meta, EventBatch.concat(parts), r.truncated, r.path, r.layer_names)


def read_table(path: str | os.PathLike, decode: bool = True) -> pa.Table:
    """The whole trace as a pyarrow Table for ad-hoc queries; ``decode`` turns the dictionary
    columns (event, kind, layer, prim) into plain strings."""
    with open_input(path, "trace") as f:
        t = pa.ipc.open_stream(f).read_all()
    if decode:
        for i, f in enumerate(t.schema):
            if pa.types.is_dictionary(f.type):
                t = t.set_column(i, f.name, t.column(i).cast(pa.string()))
    return t


def runtime_profile_of(meta: dict) -> str:
    """The runtime profile a trace was recorded with (traces older than the option: hetier's)."""
    runtime = meta.get("runtime")
    return str(runtime.get("profile", "hetier")) if isinstance(runtime, dict) else "hetier"
