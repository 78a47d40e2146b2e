"""Turns the runtime's per-primitive log into trace events.

The hot path appends one tuple ``(template, level, a, b, c, d, ts_ns)`` per HE primitive; at
the end of each op the tuples are expanded with numpy into the alloc/free/read/write events
that primitive performs (its *template*, below) and written at the chosen granularity.
"""

from __future__ import annotations

import time

import numpy as np

from hetier.formats.granularity import OpAggregator
from hetier.formats.trace import EV, KIND, PRIM, EventBatch, TraceWriter
from hetier.tracer.params import HEParams

CHUNK_PRIMITIVES = 1 << 18  # an op with more primitives is logged into arrays and expanded this many at a time
A, B, C, D = 0, 1, 2, 3
# polys: 0 = by buffer kind (2 for ciphertexts, 1 for plaintexts, whole key for keys), 3 = a
# size-3 ciphertext before relinearization. dlevel: change of level written by the event.
_T = {
    "KEYGEN": [("alloc", A, "keygen"), ("write", A, "keygen")],
    "ENCODE": [("alloc", A, "encode"), ("write", A, "encode")],  # a scalar weight
    "ENCODE_VEC": [("alloc", A, "encode"), ("write", A, "encode")],  # one value per slot
    "ENCRYPT": [("alloc", C, "encrypt"), ("read", A, "encrypt"), ("read", B, "encrypt"),
                ("write", C, "encrypt")],
    "DECRYPT": [("alloc", C, "decrypt"), ("read", A, "decrypt"), ("read", B, "decrypt"),
                ("write", C, "decrypt")],
    "DECODE": [("read", A, "decode")],
    # multiply_plain(src a, plain b) -> new c: SEAL copies src into c, then multiplies in place
    "MULP_NEW": [("alloc", C, "multiply_plain"), ("read", A, "copy"), ("write", C, "copy"),
                 ("read", C, "multiply_plain"), ("read", B, "multiply_plain"),
                 ("write", C, "multiply_plain")],
    # one multiply-accumulate: temporary c = a * b, d += c, free c
    "MAC": [("alloc", C, "multiply_plain"), ("read", A, "copy"), ("write", C, "copy"),
            ("read", C, "multiply_plain"), ("read", B, "multiply_plain"),
            ("write", C, "multiply_plain"), ("read", D, "add"), ("read", C, "add"),
            ("write", D, "add"), ("free", C, "free")],
    "ADD_INPLACE": [("read", A, "add"), ("read", B, "add"), ("write", A, "add")],
    "ADD_NEW": [("alloc", C, "add"), ("read", A, "copy"), ("write", C, "copy"),
                ("read", C, "add"), ("read", B, "add"), ("write", C, "add")],
    "ADDP_NEW": [("alloc", C, "add_plain"), ("read", A, "copy"), ("write", C, "copy"),
                 ("read", C, "add_plain"), ("read", B, "add_plain"), ("write", C, "add_plain")],
    "ADDP_INPLACE": [("read", A, "add_plain"), ("read", B, "add_plain"), ("write", A, "add_plain")],
    "SQUARE_NEW": [("alloc", C, "square"), ("read", A, "square"), ("write", C, "square", 3)],
    "MUL_NEW": [("alloc", C, "multiply"), ("read", A, "multiply"), ("read", B, "multiply"),
                ("write", C, "multiply", 3)],
    "RELIN": [("read", A, "relinearize", 3), ("read", B, "relinearize"),
              ("write", A, "relinearize")],
    "RESCALE": [("read", A, "rescale"), ("write", A, "rescale", 0, -1)],
    "MODSW": [("read", A, "mod_switch"), ("write", A, "mod_switch", 0, -1)],
    "MODSW_NEW": [("alloc", C, "mod_switch"), ("read", A, "copy"), ("write", C, "copy"),
                  ("read", C, "mod_switch"), ("write", C, "mod_switch", 0, -1)],
    "FREE": [("free", A, "free")],
    # host memory (kind "host", outside SEAL's pool): a constant built (allocated and written),
    # then read by the op that uses it; freed with FREE. Every event moves the buffer's whole size.
    "CONSTANT": [("alloc", A, "constant"), ("write", A, "constant")],
    "HOST_READ": [("read", A, "add_plain")],
}
TEMPLATES = {name: i for i, name in enumerate(_T)}
(
    KEYGEN, ENCODE, ENCODE_VEC, ENCRYPT, DECRYPT, DECODE, MULP_NEW, MAC, ADD_INPLACE, ADD_NEW,
    ADDP_NEW, ADDP_INPLACE, SQUARE_NEW, MUL_NEW, RELIN, RESCALE, MODSW, MODSW_NEW, FREE, CONSTANT, HOST_READ,
) = range(len(_T))  # the template codes, in _T's order

_rows = [(t, *(r + (0, 0)[len(r) - 3:])) for t, rows in enumerate(_T.values()) for r in rows]
_ROW_TEMPLATE = np.array([r[0] for r in _rows])
_ROW_EVENT = np.array([EV[r[1]] for r in _rows], dtype=np.int8)
_ROW_SLOT = np.array([r[2] for r in _rows], dtype=np.int64)
_ROW_PRIM = np.array([PRIM[r[3]] for r in _rows], dtype=np.int8)
_ROW_POLYS = np.array([r[4] for r in _rows], dtype=np.int64)
_ROW_DLEVEL = np.array([r[5] for r in _rows], dtype=np.int64)
_N_ROWS = np.bincount(_ROW_TEMPLATE, minlength=len(_T))
_FIRST_ROW = np.concatenate([[0], np.cumsum(_N_ROWS)[:-1]])


class TensorTable:
    """Buffers come in tensors: contiguous id ranges of ``n`` equal buffers of one kind."""

    def __init__(self) -> None:
        self.base: list[int] = []
        self.n: list[int] = []
        self.kind: list[int] = []
        self.cap_bytes: list[int] = []
        self.next_id = 0
        self._cache: tuple | None = None

    def new(self, kind: str, n: int, cap_bytes: int) -> tuple[int, int]:
        """Reserve ``n`` buffer ids; returns (tensor id, first buffer id)."""
        tid, base = len(self.base), self.next_id
        self.base.append(base)
        self.n.append(n)
        self.kind.append(KIND[kind])
        self.cap_bytes.append(cap_bytes)
        self.next_id += n
        self._cache = None
        return tid, base

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._cache is None:
            self._cache = (np.array(self.base, dtype=np.int64), np.array(self.kind, dtype=np.int8),
                           np.array(self.cap_bytes, dtype=np.int64))
        return self._cache

    def tensor_of(self, buffers):
        """The tensor each buffer id belongs to (an array for an array, an int for an int)."""
        t = np.searchsorted(self.arrays()[0], buffers, side="right") - 1
        return t if isinstance(t, np.ndarray) else int(t)


class Recorder:
    """Collects the primitive log of one run and writes it as trace events.

    ``writer=None`` expands and keeps nothing (the runtime still runs with tracing hooks);
    ``Recorder.disabled()`` gives ``log is None`` so kernels skip logging altogether.
    """

    def __init__(self, params: HEParams, writer: TraceWriter | None, granularity: str = "ciphertext"):
        self.params = params
        self.writer = writer
        self.granularity = granularity
        self.tensors = TensorTable()
        self._log: list = []
        self._spilled: list[np.ndarray] = []  # this op's primitives beyond the list, as (n, 7) int64 arrays
        self.chunk = CHUNK_PRIMITIVES
        self.log = self._log_spilling
        self._t0 = time.perf_counter_ns()
        self._layer = -1
        self.events_written = 0
        self.primitives_logged = 0
        self.flush_ns = 0  # time spent expanding, aggregating and writing events
        self.key_ids: dict[str, int] = {}  # key name -> buffer id (the backend's keygen sets them)

    @classmethod
    def disabled(cls, params: HEParams) -> "Recorder":
        rec = cls(params, None)
        rec.log = None
        return rec

    def now(self) -> int:
        return time.perf_counter_ns() - self._t0

    def begin_op(self, layer: int) -> None:
        self._layer = layer
        self._op_begin = self.now()
        self._cpu_begin = (time.thread_time_ns(), time.process_time_ns())

    def end_op(self) -> None:
        """Expand this op's primitives to events and write them."""
        end = self.now()
        cpu = (time.thread_time_ns() - self._cpu_begin[0], time.process_time_ns() - self._cpu_begin[1])
        tuples = self._take_log()
        if self.writer is None or self.log is None:
            return
        self.primitives_logged += len(tuples)
        batches = self._op_batches(tuples, end, cpu)
        if self.granularity == "tensor":
            agg = OpAggregator()
            for batch in batches:
                agg.add(batch)
            batches = [agg.finish()]
        for batch in batches:
            self.writer.write(batch)
            self.events_written += len(batch)
        self.flush_ns += self.now() - end

    def _log_spilling(self, t: tuple) -> None:
        """Log one primitive; every ``chunk`` of them moves into an int64 array (56 B each, where
        a tuple of Python ints takes ~250), so a large op's log stays small until it is expanded."""
        log = self._log
        log.append(t)
        if len(log) >= self.chunk:
            self._spilled.append(np.array(log, dtype=np.int64).reshape(-1, 7))
            log.clear()

    def _take_log(self):
        """This op's logged primitives, a list or (spilled) an (n, 7) array; the log starts empty."""
        if not self._spilled:
            tuples, self._log[:] = self._log[:], []
            return tuples
        arr = np.concatenate(self._spilled + [np.array(self._log, dtype=np.int64).reshape(-1, 7)])
        self._spilled, self._log[:] = [], []
        return arr

    def _op_batches(self, tuples, end: int, cpu: tuple[int, int]):
        """This op's events as batches to write in order: one, or for an op of more than ``chunk``
        primitives one per chunk (op_begin in the first, op_end in the last), so no more than a
        chunk's events (~200 B each) are ever expanded at once."""
        if len(tuples) <= self.chunk:
            return [self._op_events(tuples, end, cpu)]
        return self._op_chunks(np.asarray(tuples, dtype=np.int64).reshape(-1, 7), end, cpu)

    def _op_chunks(self, arr: np.ndarray, end: int, cpu: tuple[int, int]):
        """The batches of an op of more than ``chunk`` primitives (``arr``: its log), timed as recorded."""
        for lo in range(0, len(arr), self.chunk):
            ev = self.expand(arr[lo:lo + self.chunk], self._layer, self._op_begin, end)
            last = lo + self.chunk >= len(arr)
            if last:  # the op's CPU time travels with the batch that holds its end
                self.writer.op_cpu(*cpu)
            yield ev.take(np.arange(0 if lo == 0 else 1, len(ev) if last else len(ev) - 1))

    def _op_events(self, tuples: list, end: int, cpu: tuple[int, int]) -> EventBatch:
        """This op's events, timed as recorded; its CPU time goes beside its wall time."""
        self.writer.op_cpu(*cpu)
        return self.expand(tuples, self._layer, self._op_begin, end)

    def expand(self, tuples: list, layer: int, t_begin: int, t_end: int, owner: bool = False):
        """Events of one op: op_begin, each primitive's template rows, op_end (``owner``: also
        the index of the primitive each body event comes from)."""
        if len(tuples):
            arr = np.array(tuples, dtype=np.int64)
        else:
            arr = np.zeros((0, 7), dtype=np.int64)
        arr[:, 6] -= self._t0
        tmpl = arr[:, 0]
        reps = _N_ROWS[tmpl]
        row_of = np.repeat(arr, reps, axis=0)
        starts = np.repeat(np.cumsum(reps) - reps, reps)
        ridx = _FIRST_ROW[np.repeat(tmpl, reps)] + (np.arange(len(row_of)) - starts)
        event = _ROW_EVENT[ridx]
        slot = _ROW_SLOT[ridx]
        buf = row_of[np.arange(len(row_of)), 2 + slot]
        level = row_of[:, 1] + _ROW_DLEVEL[ridx]
        _, kinds, caps = self.tensors.arrays()
        tensor = self.tensors.tensor_of(buf)
        kind = kinds[tensor]
        polys = _ROW_POLYS[ridx]
        polys = np.where(polys > 0, polys, np.where(kind == KIND["plaintext"], 1, 2))
        nbytes = polys * self.params.poly_modulus * level * 8
        is_key = kind == KIND["key"]
        nbytes = np.where(is_key | (kind == KIND["host"]), caps[tensor], nbytes)
        level = np.where(is_key, len(self.params.primes), level)
        is_af = (event == EV["alloc"]) | (event == EV["free"])
        nbytes = np.where(is_af, caps[tensor], nbytes)
        n = len(row_of) + 2
        out = EventBatch(
            ts_ns=np.concatenate([[t_begin], row_of[:, 6], [t_end]]),
            event=np.concatenate([[EV["op_begin"]], event, [EV["op_end"]]]).astype(np.int8),
            buffer=np.concatenate([[-1], buf, [-1]]),
            tensor=np.concatenate([[-1], tensor, [-1]]),
            nbytes=np.concatenate([[0], nbytes, [0]]),
            count=np.ones(n, dtype=np.int64),
            kind=np.concatenate([[KIND["none"]], kind, [KIND["none"]]]).astype(np.int8),
            level=np.concatenate([[-1], level, [-1]]).astype(np.int8),
            layer=np.full(n, layer, dtype=np.int32),
            prim=np.concatenate([[PRIM["none"]], _ROW_PRIM[ridx], [PRIM["none"]]]).astype(np.int8),
        )
        out.count[[0, -1]] = 0
        if owner:
            return out, np.repeat(np.arange(len(arr)), reps)
        return out
