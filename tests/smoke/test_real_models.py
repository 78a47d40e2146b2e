"""The two real runs the foundation promises: cryptonets at batch 64 and MobileNetV2 0.35 at
32x32, encrypted end to end on this machine, against the numpy reference.

These are the slowest tests (about 1 and 4 minutes on 2 cores)."""

import numpy as np
import pytest

from hetier.analysis.check import check_trace
from hetier.analysis.trace_stats import trace_stats
from hetier.models.zoo import build
from hetier.tracer.session import choose_params, trace_run
from tests.helpers import ckks_tolerance, rescaling_layers

pytestmark = pytest.mark.slow


def _run(tmp_path, name, batch, granularity, **kw):
    g = build(name, **kw)
    p = choose_params(g, batch, None, None, 22)
    res = trace_run(g, p, tmp_path / f"{name}.arrow", granularity)
    return g, p, res


def test_cryptonets_batch_64(tmp_path):
    g, p, res = _run(tmp_path, "cryptonets", 64, "tensor")
    assert res.output.shape == (64, 10)
    assert res.max_abs_error < ckks_tolerance(p, rescaling_layers(g))
    # not trivially small outputs: the error bound means something
    assert np.abs(res.reference).max() > 1.0
    assert check_trace(res.path).ok


def test_mobilenetv2_035_at_32(tmp_path):
    g, p, res = _run(tmp_path, "mobilenetv2", 4, "ciphertext", width=0.35, resolution=32, classes=10)
    assert p.primes == (30, 22, 22, 30) and p.poly_modulus == 4096  # the reference stack's parameters
    assert res.output.shape == (4, 10)
    assert res.max_abs_error < ckks_tolerance(p, rescaling_layers(g))
    assert np.abs(res.reference).max() > 1.0
    rep = check_trace(res.path)
    assert rep.ok, rep.counts
    st = trace_stats(res.path)
    # the largest activation is 48 channels at 16x16 = 12,288 fresh ciphertexts of 196,608 B;
    # the peak must hold at least that tensor and stay well inside this machine's memory
    assert 12288 * 196608 < st.peak_live_bytes < 12e9
    assert st.resident_peak_bytes >= st.peak_live_bytes
