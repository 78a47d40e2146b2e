"""Arrow arrays to and from numpy through their buffers, for the columns hetier's files hold:
null-free numbers and strings. pyarrow's ``pa.array`` and ``Array.to_numpy`` import pandas
whenever it is installed (pyarrow's pandas shim, on the first call), 0.2-0.3 s of CPU in every
command that reads a trace or writes results; these conversions never need it. Anything else
(nulls, booleans, objects) goes through pyarrow as before."""

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
    data = [s.encode() for s in values]
    offsets = np.zeros(len(data) + 1, np.int64)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:  # over 2 GiB of text: pyarrow's own rules
        return pa.array(list(values))
    return pa.Array.from_buffers(pa.string(), len(data),
                                 [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(data))])


def from_list(values: list) -> pa.Array:
    """The Arrow array ``pa.array(values)`` makes, built from buffers where the values are all
    strings or all numbers (ints alone: int64; floats among them: double); ``pa.array`` otherwise."""
    if not values:
        return pa.nulls(0)
    kinds = {type(v) for v in values}
    if kinds == {str}:
        return strings(values)
    if kinds <= {int, float, np.int64, np.float64}:  # bool is its own type here: pyarrow's bool
        v = np.asarray(values)
        if v.dtype.kind in "if":  # python ints beyond int64 make an object array: pyarrow decides
            return from_numpy(v)
    return pa.array(values)


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
