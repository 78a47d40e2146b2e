"""The zoo through ONNX: every zoo model exported and re-imported traces event for event like the
zoo model (every column but the timestamps), so the importer and the zoo agree."""

import numpy as np
import pytest

pytest.importorskip("onnx")

from hetier.formats.trace import COLUMNS, read_trace  # noqa: E402
from hetier.models.onnx_export import to_onnx, write_onnx  # noqa: E402
from hetier.models.onnx_import import from_proto, load_onnx  # noqa: E402
from hetier.models.zoo import build  # noqa: E402
from hetier.tracer.session import choose_params, plan_run, trace_run  # noqa: E402
from tests.helpers import ckks_tolerance, rescaling_layers  # noqa: E402

ZOO_SMALL = [  # all six zoo models, at sizes that plan in about a second
    ("mlp", dict(activation="poly")),
    ("cryptonets", {}),
    ("mobilenetv2", dict(width=0.35, resolution=32, classes=10)),
    ("resnet", dict(depth=18, width=0.125, resolution=32, classes=10)),
    ("resnet18", dict(width=0.25, resolution=32, classes=10)),
    ("resnet50", dict(width=0.125, resolution=32, classes=10)),
]


def same_events(a, b) -> None:
    assert len(a.events) == len(b.events)
    for c in COLUMNS:
        if c != "ts_ns":
            assert np.array_equal(getattr(a.events, c), getattr(b.events, c)), c
    assert a.meta["layers"] == b.meta["layers"]  # names, kinds, shapes and inputs of every layer


@pytest.mark.parametrize("name, kw", ZOO_SMALL, ids=[n for n, _ in ZOO_SMALL])
def test_zoo_model_through_onnx_plans_identically(tmp_path, name, kw):
    zoo = build(name, **kw)
    path = tmp_path / f"{name}.onnx"
    write_onnx(zoo, path)
    imported = load_onnx(path)
    assert imported.source["producer"].startswith("hetier") and imported.source["left_to_client"] == []
    for z, i in zip(zoo.nodes, imported.graph.nodes):  # float32 weights: equal to 2^-24 relative
        if z.weight is not None:
            assert np.allclose(i.weight, z.weight, rtol=2 ** -23, atol=0) and i.weight.dtype == np.float32
    p = choose_params(zoo, 2048, None, None, 22)
    a = read_trace(plan_run(zoo, p, tmp_path / "zoo.arrow").path)
    b = read_trace(plan_run(imported.graph, p, tmp_path / "onnx.arrow", source=imported.source).path)
    same_events(a, b)
    assert a.meta["model"]["source"] == {"kind": "zoo", "name": zoo.name, "options": zoo.config}
    assert b.meta["model"]["source"]["sha256"] == imported.source["sha256"]


@pytest.mark.parametrize("kw", [dict(activation="relu"), dict(activation="square"), dict(activation="poly")])
@pytest.mark.parametrize("profile", ["hetier", "reference"])
def test_small_zoo_model_through_onnx_runs_identically(tmp_path, kw, profile):
    """Real mode (ciphertext granularity): the same events, and decrypted outputs that differ only
    by CKKS noise and the float32 rounding of the weights."""
    zoo = build("mlp", hidden=8, inputs=12, classes=3, **kw)
    g, notes = from_proto(to_onnx(zoo), "mlp")
    p = choose_params(zoo, 4, None, None, 22)
    ra = trace_run(zoo, p, tmp_path / "zoo.arrow", "ciphertext", profile=profile)
    rb = trace_run(g, p, tmp_path / "onnx.arrow", "ciphertext", profile=profile)
    same_events(read_trace(ra.path), read_trace(rb.path))
    assert np.max(np.abs(ra.output - rb.output)) < 2 * ckks_tolerance(p, rescaling_layers(zoo))
