"""Arrow arrays to and from numpy through their buffers, for the columns hetier's files hold:
numbers, strings and booleans, with or without nulls. pyarrow's ``pa.array`` and
``Array.to_numpy`` import pandas whenever it is installed (pyarrow's pandas shim, on the first
call), 0.2-0.3 s of CPU and ~40 MB in every process that reads a trace, writes results or runs a
sweep; these conversions never need it. Anything else (objects, ints beyond int64, mixed kinds)
goes through pyarrow as before."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def _fixed_width(t: pa.DataType) -> bool:
    return (pa.types.is_integer(t) or pa.types.is_floating(t)) and not pa.types.is_float16(t)


def from_numpy(values: np.ndarray) -> pa.Array:
    """A null-free Arrow array of a 1-D numeric numpy array (its bytes, copied only when not
    contiguous); ``pa.array`` for other dtypes."""
    v = np.ascontiguousarray(values)
    if v.ndim != 1 or v.dtype.kind not in "iuf" or v.dtype == np.float16:
        return pa.array(values)
    if not v.dtype.isnative:
        v = v.astype(v.dtype.newbyteorder("="))
    return pa.Array.from_buffers(pa.from_numpy_dtype(v.dtype), len(v), [None, pa.py_buffer(v)])


def strings(values: Sequence[str]) -> pa.Array:
    """A null-free Arrow string array (int32 offsets, as ``pa.array`` makes for short columns)."""
    got = _strings([s.encode() for s in values], None)
    return pa.array(list(values)) if got is None else got  # (an empty array is falsy: no ``or``)


def _strings(data: list[bytes], validity: pa.Buffer | None) -> pa.Array | None:
    """A string array of ``data`` (UTF-8), or None past 2 GiB of text (then pyarrow's own rules)."""
    offsets = np.zeros(len(data) + 1, np.int64)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        return None
    return pa.Array.from_buffers(pa.string(), len(data),
                                 [validity, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(data))])


_NUMBER = {int, float, np.int64, np.float64}  # (bool is not among them: its own kind, as in pyarrow)
_EXACT_IN_DOUBLE = 2 ** 53


def _validity(valid: np.ndarray) -> pa.Buffer | None:
    """Arrow's validity bitmap (LSB first), or none when every value is valid."""
    return None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))


def from_list(values: list, type: pa.DataType | None = None) -> pa.Array:
    """The Arrow array ``pa.array(values, type=type)`` makes, built from buffers where the values
    are all strings, all booleans or all numbers (ints alone: int64; floats among them: double),
    None among them a null; ``pa.array`` otherwise (ints beyond int64, mixed kinds, other types)."""
    valid = np.fromiter((v is not None for v in values), bool, len(values))
    present = [v for v in values if v is not None]
    if not present:
        return pa.nulls(len(values), type or pa.null())
    kinds = {v.__class__ for v in present}
    if kinds == {str} and type in (None, pa.string()):
        got = _strings([b"" if v is None else v.encode() for v in values], _validity(valid))
        if got is not None:
            return got
    elif kinds <= {bool, np.bool_} and type in (None, pa.bool_()):
        bits = np.zeros(len(values), bool)
        bits[valid] = present
        return pa.Array.from_buffers(pa.bool_(), len(bits), [_validity(valid),
                                                             pa.py_buffer(np.packbits(bits, bitorder="little"))])
    elif kinds <= _NUMBER:
        v = np.asarray(present)
        floats = v.dtype.kind == "f"
        ints = [x for x in present if x.__class__ in (int, np.int64)]
        exact = not ints or -_EXACT_IN_DOUBLE <= min(ints) and max(ints) <= _EXACT_IN_DOUBLE  # as doubles
        if v.dtype.kind in "if" and (type is None and (exact or not floats) or type == pa.int64() and not floats
                                     or type == pa.float64() and exact):
            dt = np.float64 if floats or type == pa.float64() else np.int64
            full = np.zeros(len(values), dt)
            full[valid] = v
            return pa.Array.from_buffers(pa.from_numpy_dtype(full.dtype), len(full),
                                         [_validity(valid), pa.py_buffer(full)])
    return pa.array(values, type=type)


def to_numpy(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numpy array of an Arrow array (a read-only view of a null-free fixed-width one, as
    ``to_numpy`` gives); ``to_numpy(zero_copy_only=False)`` for nulls and other types."""
    if isinstance(a, pa.ChunkedArray):
        parts = [to_numpy(c) for c in a.chunks]
        if len(parts) == 1:
            return parts[0]
        if parts:
            return np.concatenate(parts)
        return np.zeros(0, np.dtype(a.type.to_pandas_dtype())) if _fixed_width(a.type) else a.to_numpy()
    if a.null_count or not _fixed_width(a.type):
        return a.to_numpy(zero_copy_only=False)
    dt = np.dtype(a.type.to_pandas_dtype())
    if len(a) == 0:
        return np.zeros(0, dt)
    return np.frombuffer(a.buffers()[1], dt, count=len(a), offset=a.offset * dt.itemsize)
