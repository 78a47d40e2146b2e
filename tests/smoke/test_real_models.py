"""Real encrypted runs of every architecture at a size that runs here, against the numpy
reference, and plan mode held to them event for event (all columns but timestamps).

The slowest tests: cryptonets about 1 minute, MobileNetV2 0.35 at 32x32 about 4, ResNet-18 at
width 0.125 and 32x32 about 1.5 on 2 cores. Each model runs for real once, at ciphertext
granularity; the tensor-granularity plan is compared with that trace aggregated (which
tests/unit/test_tracer.py shows equals a tensor-granularity recording)."""

import numpy as np
import pytest

from hetier.analysis.check import check_trace
from hetier.analysis.trace_stats import trace_stats
from hetier.formats.granularity import aggregate_events
from hetier.formats.trace import COLUMNS, TraceReader, read_trace
from hetier.models.zoo import build
from hetier.tracer.session import choose_params, plan_run, trace_run
from tests.helpers import ckks_tolerance, rescaling_layers

pytestmark = pytest.mark.slow

MODELS = {
    "cryptonets": ("cryptonets", 64, {}),
    "mobilenetv2": ("mobilenetv2", 4, dict(width=0.35, resolution=32, classes=10)),
    "resnet18": ("resnet18", 4, dict(width=0.125, resolution=32, classes=10)),
}


@pytest.fixture(scope="module", params=list(MODELS))
def real(request, tmp_path_factory):
    name, batch, kw = MODELS[request.param]
    d = tmp_path_factory.mktemp(request.param)
    g = build(name, **kw)
    p = choose_params(g, batch, None, None, 22)
    res = trace_run(g, p, d / "real.arrow", "ciphertext")
    return request.param, g, p, res, d


def _same_events(a, b):
    assert len(a) == len(b)
    for c in COLUMNS:
        if c != "ts_ns":
            assert np.array_equal(getattr(a, c), getattr(b, c)), c


def test_decrypted_output_matches_numpy(real):
    name, g, p, res, _ = real
    assert res.output.shape == (MODELS[name][1], 10)
    assert res.max_abs_error < ckks_tolerance(p, rescaling_layers(g))
    assert np.abs(res.reference).max() > 1.0  # outputs of unit scale: the bound means something
    rep = check_trace(res.path)
    assert rep.ok, rep.counts


def test_plan_matches_real_at_both_granularities(real):
    name, g, p, res, d = real
    plan_ct = plan_run(g, p, d / "plan-ct.arrow", "ciphertext")
    _same_events(read_trace(res.path).events, read_trace(plan_ct.path).events)
    plan_tn = plan_run(g, p, d / "plan-tn.arrow", "tensor")
    with TraceReader(res.path) as r:
        _same_events(aggregate_events(r.batches()), read_trace(plan_tn.path).events)
    meta = read_trace(plan_tn.path).meta
    assert meta["mode"] == "plan" and meta["durations"].startswith("modelled: default.json")


@pytest.mark.parametrize("real", ["mobilenetv2"], indirect=True)  # the reference stack's model
def test_reference_parameters_and_footprint(real):
    name, g, p, res, _ = real
    assert p.primes == (30, 22, 22, 30) and p.poly_modulus == 4096  # the reference stack's parameters
    st = trace_stats(res.path)
    # The peak is in relu6_3, the first expansion's ReLU6 (48 channels at 16 x 16). Each ReLU6
    # refreshes a ciphertext: decrypt, encode a plaintext at 3 primes, encrypt a fresh ciphertext;
    # the layer's input is freed after the layer. Live at the peak: the keys, the encrypted input
    # (3 x 32 x 32 fresh ciphertexts), conv2d_3's output (12,288 ciphertexts rescaled to 1 prime),
    # all 12,288 fresh outputs and the last output's plaintext.
    acts = 48 * 16 * 16
    peak = (sum(p.key_bytes().values()) + 3 * 32 * 32 * p.ct_bytes(3) + acts * p.ct_bytes(1)
            + acts * p.ct_bytes(3) + p.pt_bytes(3))
    assert (st.peak_live_bytes, st.peak_layer) == (peak, "relu6_3")  # 3,826,483,200 B
    assert st.resident_peak_bytes >= st.peak_live_bytes
