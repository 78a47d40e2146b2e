"""Real-mode guard: runs that cannot fit are refused before they start; running out of memory
mid-run ends in one line and leaves the readable prefix."""

import os

import numpy as np

from hetier.formats.trace import TraceReader
from tests.helpers import GOOD_ROWS, rows_to_batch, run_cli


def test_a_run_larger_than_memory_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("hetier.tracer.memory_guard.available_memory_bytes", lambda: 1 << 30)
    code, _, err = run_cli(["trace", "cryptonets", "--batch", "64", "-o", str(tmp_path / "c.arrow")], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    # planned resident peak (SEAL's pool as it grows, formats/seal_pool.py), the reference (a few MB) and 0.5 GB of runtime
    assert "needs about 2.8 GB (planned peak and its numpy reference), more than the 1.1 GB available here; use --mode plan" in err
    assert os.listdir(tmp_path) == []


def test_out_of_memory_mid_run_is_one_line_and_keeps_the_prefix(tmp_path, capsys, monkeypatch):
    def dies(graph, be, *args, **kw):
        rec = be.rec
        rec.writer.write(rows_to_batch(GOOD_ROWS))
        rec.writer.flush()
        raise MemoryError("std::bad_alloc")

    monkeypatch.setattr("hetier.tracer.session.run_graph", dies)
    code, _, err = run_cli(["trace", "mlp", "--batch", "8", "-o", str(tmp_path / "m.arrow")], capsys)
    assert code == 1 and len([l for l in err.splitlines() if l.strip()]) == 1 and "Traceback" not in err
    assert "out of memory during the real run; the trace so far is in" in err and "(try --mode plan)" in err
    (partial,) = os.listdir(tmp_path)
    assert partial.startswith("m.arrow.") and partial.endswith(".partial") and partial in err
    with TraceReader(tmp_path / partial) as r:
        assert sum(len(b) for b in r.batches()) == len(GOOD_ROWS) and r.truncated


def test_disk_full_during_a_trace_removes_the_partial(tmp_path, capsys, monkeypatch):
    import errno

    def full(self, b, *meta):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("hetier.formats.trace.TraceWriter._write_batch", full)
    out = tmp_path / "c.arrow"
    out.write_bytes(b"old trace")
    code, _, err = run_cli(["trace", "cryptonets", "--mode", "plan", "-o", str(out), "--force"], capsys)
    assert code == 1 and "Traceback" not in err
    assert [l for l in err.splitlines() if l.strip()] == [f"hetier trace: cannot write '{out}': No space left on device"]
    assert os.listdir(tmp_path) == ["c.arrow"] and out.read_bytes() == b"old trace"


def test_a_failing_reference_check_leaves_the_existing_output_untouched(tmp_path, capsys, monkeypatch):
    """The trace took its name before the numpy reference ran: a reference that failed ended in a
    traceback with the user's file already replaced (found by the ONNX fuzz run, negative pads)."""
    def fails(graph, x):
        raise IndexError("index 9 is out of bounds")

    monkeypatch.setattr("hetier.tracer.session.run_reference", fails)
    out = tmp_path / "m.arrow"
    out.write_bytes(b"the user's trace")
    code, _, err = run_cli(["trace", "mlp", "--batch", "8", "-o", str(out), "--force"], capsys)
    assert code == 1 and "Traceback" not in err
    assert [l for l in err.splitlines() if l.strip()] == [
        "hetier trace: the numpy reference of mlp failed (IndexError: index 9 is out of bounds); no trace written"]
    assert os.listdir(tmp_path) == ["m.arrow"] and out.read_bytes() == b"the user's trace"


def test_a_value_seal_cannot_encode_is_one_line_and_leaves_no_file(tmp_path, capsys):
    onnx = __import__("pytest").importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((2, 4), 1e30, dtype=np.float32), "w")
    g = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, tmp_path / "huge.onnx")
    code, _, err = run_cli(["trace", str(tmp_path / "huge.onnx"), "--batch", "8", "-o", str(tmp_path / "h.arrow")],
                           capsys)
    assert code == 2 and "Traceback" not in err and len([l for l in err.splitlines() if l.strip()]) == 1
    assert "SEAL cannot encode the value 1e+30 at level" in err and "too large for these parameters" in err
    assert os.listdir(tmp_path) == ["huge.onnx"]
