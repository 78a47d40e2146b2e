"""`hetier export-model` and `hetier trace FILE.onnx` through main([...]); provenance in `hetier info`."""

import hashlib
import json
import subprocess
import sys

import pytest

from tests.helpers import run_cli as run

pytest.importorskip("onnx")


def test_export_then_trace_onnx_and_info_shows_the_source(tmp_path, capsys):
    onnx_path = tmp_path / "mlp.onnx"
    code, _, err = run(["export-model", "mlp", "--activation", "relu", "--hidden", "8", "--inputs", "12",
                        "--classes", "3", "-o", str(onnx_path)], capsys)
    assert code == 0, err
    size = onnx_path.stat().st_size
    assert f"wrote {onnx_path}: mlp" in err and "3 layers, 131 float32 weights" in err and f"{size:,} bytes" in err
    trace = tmp_path / "t.arrow"
    code, _, err = run(["trace", str(onnx_path), "--batch", "4", "--runtime-profile", "reference",
                        "-o", str(trace)], capsys)
    assert code == 0, err
    assert "max |decrypted - numpy reference|" in err
    code, out, _ = run(["info", str(trace)], capsys)
    sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    assert code == 0
    assert f"source: ONNX file mlp.onnx ({size:,} bytes, sha256 {sha[:16]}..., producer hetier 0.1.0, opset 13)" in out
    code, out, _ = run(["info", str(trace), "--json"], capsys)
    src = json.loads(out)["meta"]["model"]["source"]
    assert src == {"kind": "onnx", "file": "mlp.onnx", "bytes": size, "sha256": sha, "producer": "hetier 0.1.0",
                   "opset": 13, "left_to_client": []}
    zoo = tmp_path / "z.arrow"
    code, _, err = run(["trace", "cryptonets", "--batch", "64", "--mode", "plan", "-o", str(zoo)], capsys)
    assert code == 0, err
    code, out, _ = run(["info", str(zoo)], capsys)
    assert "source: zoo model cryptonets {'classes': 10, 'seed': 0}" in out


def test_plan_of_exported_model_equals_zoo_plan_on_the_command_line(tmp_path, capsys):
    assert run(["export-model", "resnet18", "--width", "0.125", "--resolution", "32", "-o",
                str(tmp_path / "r.onnx")], capsys)[0] == 0
    for src, out in ((str(tmp_path / "r.onnx"), "a.arrow"), ("resnet18", "b.arrow")):
        extra = [] if src.endswith(".onnx") else ["--width", "0.125", "--resolution", "32"]
        code, _, err = run(["trace", src, *extra, "--batch", "2048", "--mode", "plan", "-o", str(tmp_path / out)],
                           capsys)
        assert code == 0, err
    from hetier.formats.trace import COLUMNS, read_trace

    a, b = read_trace(tmp_path / "a.arrow").events, read_trace(tmp_path / "b.arrow").events
    assert all((getattr(a, c) == getattr(b, c)).all() for c in COLUMNS if c != "ts_ns") and len(a) == len(b)


@pytest.mark.parametrize("argv, msg", [
    (["trace", "{d}/m.onnx", "--width", "0.5", "-o", "{d}/t.arrow"],
     "--width: model options are for zoo models; an ONNX file brings its own"),
    (["trace", "cryptonets", "--input-shape", "1,28,28", "-o", "{d}/t.arrow"], "--input-shape is for an ONNX file"),
    (["trace", "{d}/missing.onnx", "-o", "{d}/t.arrow"], "cannot use '{d}/missing.onnx': No such file"),
    (["trace", "{d}/bad.onnx", "-o", "{d}/t.arrow"], "'{d}/bad.onnx' is not an ONNX model (truncated or another format"),
    (["trace", "{d}/m.onnx", "--input-shape", "2,2,2", "-o", "{d}/t.arrow"], "--input-shape 2,2,2 does not match"),
    (["export-model", "vgg", "-o", "{d}/v.onnx"], "model 'vgg' unknown (known: mlp, cryptonets"),
    (["export-model", "mlp", "-o", "{d}/m.onnx"], "exists (use --force to overwrite)"),
])
def test_bad_onnx_input_gets_one_line(tmp_path, capsys, argv, msg):
    assert run(["export-model", "mlp", "-o", str(tmp_path / "m.onnx")], capsys)[0] == 0
    (tmp_path / "bad.onnx").write_bytes((tmp_path / "m.onnx").read_bytes()[:300])
    before = (tmp_path / "m.onnx").read_bytes()
    code, _, err = run([a.format(d=tmp_path) for a in argv], capsys)
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err, err
    assert msg.format(d=tmp_path) in err
    assert not (tmp_path / "t.arrow").exists() and (tmp_path / "m.onnx").read_bytes() == before


def test_cli_does_not_import_onnx_until_a_file_is_read():
    code = ("import sys; from hetier.cli.main import build_parser; build_parser(); "
            "import hetier.models.onnx_import, hetier.models.onnx_export; print('onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_softmax_model_traced_with_the_softmax_left_to_the_client(tmp_path, capsys):
    from tests.unit.test_onnx_import import relu_mlp_softmax

    import onnx

    path = tmp_path / "cls.onnx"
    onnx.save(relu_mlp_softmax(), str(path))
    code, _, err = run(["trace", str(path), "--batch", "4", "--mode", "plan", "-o", str(tmp_path / "t.arrow")], capsys)
    assert code == 0, err
    assert "note: Softmax 'prob' left to the client (the trace returns the logits)" in err
    code, out, _ = run(["info", str(tmp_path / "t.arrow")], capsys)
    assert "opset 13); Softmax 'prob' left to the client" in out


def test_exact_zero_weight_is_refused_before_a_real_run(tmp_path, capsys):
    """SEAL refuses a product by a zero plaintext (a transparent ciphertext): one line before the
    run, not a traceback from inside it; plan mode traces the model."""
    import onnx
    from onnx import numpy_helper

    assert run(["export-model", "mlp", "--activation", "relu", "-o", str(tmp_path / "m.onnx")], capsys)[0] == 0
    m = onnx.load(str(tmp_path / "m.onnx"))
    w = next(t for t in m.graph.initializer if t.name == "dense_1.weight")
    arr = numpy_helper.to_array(w).copy()
    arr[0, :5] = 0.0
    w.CopyFrom(numpy_helper.from_array(arr, w.name))
    onnx.save(m, str(tmp_path / "pruned.onnx"))
    argv = ["trace", str(tmp_path / "pruned.onnx"), "--batch", "4", "-o", str(tmp_path / "t.arrow")]
    code, _, err = run(argv, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "layer 'dense_1' has 5 weight(s) exactly zero; a real run would multiply" in err
    assert run(argv + ["--mode", "plan"], capsys)[0] == 0


def test_a_weight_too_small_to_encode_is_refused_before_a_real_run(tmp_path, capsys):
    """A weight below half a unit at its encoding scale encodes to a zero plaintext: SEAL refused
    the product ("result ciphertext is transparent", a traceback) after minutes of the real run."""
    import onnx
    from onnx import numpy_helper

    assert run(["export-model", "mlp", "--activation", "relu", "-o", str(tmp_path / "m.onnx")], capsys)[0] == 0
    m = onnx.load(str(tmp_path / "m.onnx"))
    w = next(t for t in m.graph.initializer if t.name == "dense_1.weight")
    arr = numpy_helper.to_array(w).copy()
    arr[0, :3] = 1e-9
    w.CopyFrom(numpy_helper.from_array(arr, w.name))
    onnx.save(m, str(tmp_path / "tiny.onnx"))
    argv = ["trace", str(tmp_path / "tiny.onnx"), "--batch", "4", "-o", str(tmp_path / "t.arrow")]
    code, _, err = run(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "t.arrow").exists()
    assert "layer 'dense_1' has 3 weight(s) below 1.19e-07 in magnitude, which encode to a zero plaintext at a " \
           "scale of 2^22" in err
    assert run(argv + ["--mode", "plan"], capsys)[0] == 0


def test_info_of_a_crafted_source_does_not_fail(tmp_path, capsys):
    from tests.helpers import GOOD_ROWS, tiny_meta, write_tiny

    meta = tiny_meta()
    meta["model"]["source"] = {"kind": "onnx", "file": "[red]x.onnx", "bytes": "many", "sha256": 7,
                               "left_to_client": ["Softmax 's'"]}
    code, out, _ = run(["info", write_tiny(tmp_path / "t.arrow", GOOD_ROWS, meta)], capsys)
    assert code == 0 and "source: ONNX file [red]x.onnx (? bytes, sha256 7..., producer unnamed, opset None); " \
                          "Softmax 's'" in out
    meta["model"]["source"] = "not a table"
    code, out, _ = run(["info", write_tiny(tmp_path / "u.arrow", GOOD_ROWS, meta)], capsys)
    assert code == 0 and "source:" not in out
