"""hetier/formats/arrow_arrays.py: the buffer-built arrays are pyarrow's own, and reading a trace
and writing results no longer imports pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hetier.formats.arrow_arrays import from_list, from_numpy, strings, to_numpy

NUMERIC = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64,
                           np.float32, np.float64])


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(NUMERIC, st.integers(0, 40)), st.integers(0, 5), st.integers(1, 3))
def test_from_numpy_and_to_numpy_match_pyarrow(values, start, step):
    """Any numeric array, sliced with an offset and a stride: the same Arrow array as pa.array,
    and back to the same numpy values (NaN where NaN), as to_numpy gives them."""
    v = values[start::step]
    got, want = from_numpy(v), pa.array(v)
    assert got.type == want.type and got.null_count == 0
    assert got.equals(want) or np.array_equal(to_numpy(got), v, equal_nan=True)
    sliced = want.slice(min(start, len(want)))  # an Arrow offset
    back = to_numpy(sliced)
    assert back.dtype == sliced.to_numpy(zero_copy_only=False).dtype
    assert np.array_equal(back, sliced.to_numpy(zero_copy_only=False), equal_nan=True)


def test_big_endian_numbers_are_stored_native():
    v = np.arange(5, dtype=">i8")
    assert from_numpy(v).equals(pa.array(v.astype("<i8")))


@pytest.mark.parametrize("values", [
    ["alloc", "free", "read"], [], ["", "é ✓", "op 1"], [1, 2, 3], [1, 2.5, -3], [0.5, float("nan")],
    [np.int64(4), 5], [np.float64(0.25), 1], [1, None], ["a", None], [True, False], [None, True, None],
    [None, None], [None, 2.5, 1],
])
def test_from_list_is_pa_array(values):
    got, want = from_list(values), pa.array(values)
    assert got.type == want.type and got.null_count == want.null_count
    assert got.to_pylist() == want.to_pylist() or got.type == pa.float64() and np.allclose(
        to_numpy(got), to_numpy(want), equal_nan=True)


OPTIONAL = st.one_of(
    st.lists(st.one_of(st.none(), st.integers(-2 ** 63, 2 ** 63 - 1)), max_size=20),
    st.lists(st.one_of(st.none(), st.integers(-2 ** 60, 2 ** 60), st.floats()), max_size=20),
    st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=20),
    st.lists(st.one_of(st.none(), st.booleans()), max_size=20),
)
TYPES = st.sampled_from([None, pa.int64(), pa.float64(), pa.string(), pa.bool_()])


@settings(max_examples=200, deadline=None)
@given(OPTIONAL, TYPES)
def test_from_list_with_nulls_and_a_type_is_pa_array(values, type_):
    """Numbers, strings or booleans with None among them, with or without a type asked for:
    pyarrow's array (nulls where None) or pyarrow's error."""
    try:
        want = pa.array(values, type=type_)
    except (pa.ArrowException, OverflowError, TypeError) as e:
        with pytest.raises(type(e)):
            from_list(values, type=type_)
        return
    got = from_list(values, type=type_)
    assert got.type == want.type and got.null_count == want.null_count and len(got) == len(want)
    assert got.equals(want) or got.type == pa.float64() and np.array_equal(
        to_numpy(got), to_numpy(want), equal_nan=True)


@pytest.mark.parametrize("values", [[2**70], [1, "a"], [1.5, True]])
def test_from_list_leaves_the_rest_to_pyarrow(values):
    """Integers beyond int64 and mixed lists: pyarrow's answer (or its error)."""
    try:
        want = pa.array(values)
    except (pa.ArrowException, OverflowError) as e:
        with pytest.raises(type(e)):
            from_list(values)
        return
    got = from_list(values)
    assert got.type == want.type and got.to_pylist() == want.to_pylist()


def test_strings_match_and_nulls_and_chunks_read_back():
    assert strings(["a", "bc"]).equals(pa.array(["a", "bc"]))
    assert strings([]).type == pa.string() and len(strings([])) == 0  # an empty dictionary keeps its type
    with_null = pa.array([1, None, 3])
    assert to_numpy(with_null).tolist()[::2] == [1.0, 3.0] and np.isnan(to_numpy(with_null)[1])
    chunked = pa.chunked_array([pa.array([1, 2]), pa.array([3])])
    assert to_numpy(chunked).tolist() == [1, 2, 3]
    assert to_numpy(pa.chunked_array([], pa.int64())).dtype == np.int64


def test_replaying_a_trace_imports_no_pandas(tmp_path):
    """pyarrow imports pandas (when installed) on its first pa.array or to_numpy; reading a
    trace, replaying it and writing the results does neither."""
    out, trace = tmp_path / "r.arrow", Path(__file__).parents[2] / "traces" / "mlp-relu-b8.ciphertext.arrow"
    code = ("import sys; from hetier.cli.main import entry; sys.argv = ['hetier', 'replay', "
            f"{str(trace)!r}, '--machine', 'optane-memory-mode', '-o', {str(out)!r}]\n"
            "try:\n    entry()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "from hetier.formats.results import load_results; load_results(sys.argv[-1])\n"
            "print('pandas' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "False"
    assert out.exists()


def test_a_sweep_and_its_readers_import_no_pandas(tmp_path):
    """The same for a sweep (its workers write per-configuration Parquet parts, the runner reads
    them back) and for export, info and report on its results: pyarrow's Parquet reader imports
    pandas through its dataset layer, ``pa.array`` on rows with booleans and nulls through its shim."""
    trace = Path(__file__).parents[2] / "traces" / "cryptonets-b64.tensor.arrow"
    sweep, csv, html = tmp_path / "sw", tmp_path / "runs.csv", tmp_path / "r.html"
    code = ("import sys; from hetier.cli.main import entry\n"
            "def run(*args):\n    sys.argv = ['hetier', *args]\n    try:\n        entry()\n"
            "    except SystemExit as e:\n        assert not e.code, (args, e.code)\n"
            f"run('sweep', {str(trace)!r}, '--machine', 'dram-only,optane-appdirect', '--policy', 'all-dram,dram-first',"
            f" '-o', {str(sweep)!r}, '--workers', '1')\n"
            f"run('export', {str(sweep)!r}, '--format', 'csv', '-o', {str(csv)!r})\n"
            f"run('info', {str(sweep)!r})\n"
            f"run('report', {str(sweep)!r}, '-o', {str(html)!r})\n"
            "print('pandas' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "False"
    assert csv.read_text().count("\n") == 5 and html.exists()
