"""The zoo's weight calibration (a numpy pass over a seeded batch) frees each activation after its
last reader, and a model whose pass would not fit this host is refused in one line: resnet18 at
4096 x 4096 needed tens of GB and ended in "out of memory" (or the kernel's out-of-memory killer)."""

import tracemalloc

import pytest

from hetier.errors import UsageError
from hetier.models import zoo
from hetier.models.reference import run_peak_bytes
from tests.helpers import run_cli


@pytest.mark.parametrize("name, opts", [("resnet", {"depth": 18, "resolution": 128}),
                                        ("mobilenetv2", {"width": 0.5, "resolution": 96})])
def test_the_estimate_is_the_calibrations_peak(name, opts, monkeypatch):
    """run_peak_bytes, evaluated on the graph finish() calibrates, within 15% of the Python
    allocations' peak while the model is built (weights included)."""
    seen = {}
    monkeypatch.setattr(zoo, "run_peak_bytes", lambda g, b: seen.setdefault("need", run_peak_bytes(g, b)))
    tracemalloc.start()
    try:
        zoo.build(name, **opts)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.85 < peak / seen["need"] < 1.15, (peak, seen["need"])


def test_activations_are_freed_after_their_last_reader():
    """Keeping every activation (as before) held resnet-50 at 224 in 1.1 GB; freed, 0.4 GB."""
    tracemalloc.start()
    try:
        zoo.build("resnet", depth=18, resolution=256)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 400e6, peak  # keeping every activation: 461 MB; freed: 338 MB


def test_a_model_too_large_to_calibrate_is_refused_in_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(zoo, "available_memory_bytes", lambda: 1 << 30)
    with pytest.raises(UsageError, match=r"resnet18 at 4096x4096: scaling its seeded weights on a 4-image "
                                         r"calibration batch needs about \d+\.\d GB, more than the 1\.1 GB available"):
        zoo.build("resnet", depth=18, resolution=4096)
    code, _, err = run_cli(["trace", "resnet18", "--resolution", "4096", "--mode", "plan", "--batch", "8",
                            "-o", str(tmp_path / "t.arrow")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "use a smaller --resolution" in err, err
    assert not (tmp_path / "t.arrow").exists()


def test_the_real_run_guard_counts_the_numpy_reference(monkeypatch):
    """The reference runs after the encrypted run, while SEAL's pool still holds its peak: a large
    batch of a wide model needs the two together."""
    from hetier.tracer import memory_guard
    from hetier.tracer.executor import runtime_graph
    from hetier.tracer.session import choose_params

    g = zoo.build("mobilenetv2", width=0.35, resolution=96)
    p = choose_params(g, 64, None, None, 22)
    monkeypatch.setattr(memory_guard, "planned_peak_bytes", lambda *a, **k: 0)
    need = memory_guard.check_real_run_fits(g, p, available=1 << 50)
    reference = run_peak_bytes(runtime_graph(g, "hetier"), 64)
    assert need == reference + memory_guard.RUNTIME_BYTES and reference > 100e6


def test_weights_too_large_for_the_host_are_refused_before_they_are_drawn(monkeypatch):
    """mlp --hidden 1048576 --inputs 1048576 (8.8 TB of float64 weights) ended in a bare
    'out of memory'; now the message names the weights, before any is allocated."""
    monkeypatch.setattr(zoo, "available_memory_bytes", lambda: 1 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(UsageError, match=r"mlp: its seeded weights need about 3\.2 GB \(a layer of 20000 x 20000 "
                                             r"among them\), more than the 1\.1 GB available here"):
            zoo.build("mlp", hidden=20000, inputs=20000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6, peak
