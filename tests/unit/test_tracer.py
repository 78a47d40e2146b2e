"""Real encrypted runs of small models: exact byte accounting, liveness, granularity contract."""

import numpy as np
import pytest

from hetier.analysis.check import check_trace
from hetier.formats.granularity import aggregate_events
from hetier.formats.trace import COLUMNS, EV, KIND, PRIM, TraceReader, read_trace
from hetier.models.zoo import build
from hetier.tracer.session import choose_params, trace_run
from tests.helpers import ckks_tolerance, rescaling_layers



@pytest.fixture(scope="module")
def mlp_traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("mlp")
    g = build("mlp", activation="relu", hidden=8, inputs=12, classes=3)
    p = choose_params(g, 4, None, None, 22)
    ct = trace_run(g, p, d / "ct.arrow", "ciphertext")
    tn = trace_run(g, p, d / "tn.arrow", "tensor")
    return g, p, ct, tn


def test_relu_mlp_uses_reference_parameters_and_matches_numpy(mlp_traces):
    g, p, ct, tn = mlp_traces
    assert (p.poly_modulus, p.primes) == (4096, (30, 22, 30))
    assert ct.output.shape == (4, 3)
    assert ct.max_abs_error < ckks_tolerance(p, rescaling_layers(g))
    assert np.allclose(ct.output, tn.output, atol=2 * ckks_tolerance(p))


def test_event_bytes_follow_the_ciphertext_formula(mlp_traces):
    g, p, ct, _ = mlp_traces
    ev = read_trace(ct.path).events
    enc = (ev.event == EV["write"]) & (ev.prim == PRIM["encrypt"])
    assert set(ev.nbytes[enc]) == {2 * 4096 * 2 * 8}  # fresh: 2 polys x N x 2 data primes x 8
    resc = (ev.event == EV["write"]) & (ev.prim == PRIM["rescale"])
    assert set(ev.nbytes[resc]) == {2 * 4096 * 1 * 8}  # one prime dropped
    keys = (ev.event == EV["alloc"]) & (ev.kind == KIND["key"])
    assert sorted(ev.nbytes[keys]) == sorted(p.key_bytes().values())
    # dense1: 12 inputs x 8 outputs -> 96 products, 8 of them start a sum, 88 go through a temporary
    dense1 = ev.layer == 1
    assert int(((ev.event == EV["alloc"]) & (ev.kind == KIND["temporary"]) & dense1).sum()) == 88 + 8
    assert int(((ev.event == EV["write"]) & (ev.prim == PRIM["encode"]) & dense1).sum()) == 96 + 8


def test_every_buffer_is_freed_once_and_trace_is_consistent(mlp_traces):
    _, _, ct, tn = mlp_traces
    for path in (ct.path, tn.path):
        rep = check_trace(path)
        assert rep.ok, rep.counts
    ev = read_trace(ct.path).events
    allocs = ev.buffer[ev.event == EV["alloc"]]
    frees = ev.buffer[ev.event == EV["free"]]
    assert len(np.unique(allocs)) == len(allocs)
    assert np.array_equal(np.sort(allocs), np.sort(frees))


def test_aggregated_ciphertext_trace_equals_tensor_trace(mlp_traces):
    _, _, ct, tn = mlp_traces
    with TraceReader(ct.path) as r:
        agg = aggregate_events(r.batches())
    t = read_trace(tn.path).events
    assert len(agg) == len(t) < len(read_trace(ct.path).events) / 10
    for c in COLUMNS:
        if c != "ts_ns":
            assert np.array_equal(getattr(agg, c), getattr(t, c)), c


def test_aggregation_keeps_totals_and_peak(mlp_traces):
    _, _, ct, tn = mlp_traces
    a, t = read_trace(ct.path).events, read_trace(tn.path).events
    for e in ("read", "write"):
        assert a.nbytes[a.event == EV[e]].sum() == t.nbytes[t.event == EV[e]].sum()

    def peak(ev):
        d = np.where(ev.event == EV["alloc"], ev.nbytes, np.where(ev.event == EV["free"], -ev.nbytes, 0))
        return np.cumsum(d).max()
    # tensor rows allocate a whole op's peak at once, so their peak bounds the exact one from above
    assert peak(t) >= peak(a) > 0


def test_tracing_off_runs_the_same_computation(mlp_traces):
    g, p, ct, _ = mlp_traces
    off = trace_run(g, p, None, tracing=False)
    assert off.events == 0
    assert np.allclose(off.output, ct.output, atol=2 * ckks_tolerance(p))


def test_template_constants_match_their_names():
    from hetier.tracer import recorder

    assert {name: getattr(recorder, name) for name in recorder.TEMPLATES} == recorder.TEMPLATES
