"""Plan mode on small models (exact equality with real runs), at scale, and its bad input."""

import json

import numpy as np
import pytest

from hetier.errors import UsageError
from hetier.formats.granularity import aggregate_events
from hetier.formats.trace import COLUMNS, EV, KIND, TraceReader, read_trace
from hetier.models.zoo import build
from hetier.tracer.costs import load_costs
from hetier.tracer.params import HEParams
from hetier.tracer.session import choose_params, plan_run, trace_run
from tests.helpers import ckks_tolerance, rescaling_layers


def tiny_cnn():
    """Every linear kernel MobileNetV2 uses (conv, depthwise conv, residual add, global average
    pool, dense) with ReLU6 refreshes, small enough for a unit test."""
    from hetier.models.zoo import Builder

    b = Builder("tiny-cnn", {}, (2, 6, 6), 0)
    x = b.act(b.conv(0, 3, 3, stride=1), "relu6")
    y = b.act(b.conv(x, 3, 3, depthwise=True), "relu6")
    x = b.add(x, b.conv(y, 3, 1))
    b.dense(b.gavgpool(x), 2)
    return b.finish(1)


@pytest.mark.parametrize("kw", [dict(activation="relu"), dict(activation="poly"), dict(activation="square")])
@pytest.mark.parametrize("granularity", ["ciphertext", "tensor"])
@pytest.mark.parametrize("profile", ["hetier", "reference"])
def test_plan_equals_real_mlp(tmp_path, kw, granularity, profile):
    g = build("mlp", hidden=8, inputs=12, classes=3, **kw)
    p = choose_params(g, 4, None, None, 22)
    real = read_trace(trace_run(g, p, tmp_path / "r.arrow", granularity, profile=profile).path).events
    plan = plan_run(g, p, tmp_path / "p.arrow", granularity, profile=profile)
    planned = read_trace(plan.path)
    assert planned.meta["runtime"]["profile"] == profile
    assert planned.meta["mode"] == "plan" and "modelled" in planned.meta["durations"]
    assert len(real) == len(planned.events)
    for c in COLUMNS:
        if c != "ts_ns":
            assert np.array_equal(getattr(real, c), getattr(planned.events, c)), c
    ts = planned.events.ts_ns
    assert (np.diff(ts[planned.events.event == EV["op_end"]]) > 0).all()  # modelled time advances


@pytest.mark.parametrize("profile", ["hetier", "reference"])
def test_plan_equals_real_cnn(tmp_path, profile):
    g = tiny_cnn()
    p = choose_params(g, 4, None, None, 22)
    res = trace_run(g, p, tmp_path / "r.arrow", "ciphertext", profile=profile)
    assert res.max_abs_error < ckks_tolerance(p, rescaling_layers(g))
    with TraceReader(res.path) as r:
        real_tensor = aggregate_events(r.batches())
    real = read_trace(res.path).events
    for granularity, want in (("ciphertext", real), ("tensor", real_tensor)):
        planned = read_trace(plan_run(g, p, tmp_path / f"p-{granularity}.arrow", granularity, profile=profile).path)
        assert len(want) == len(planned.events)
        for c in COLUMNS:
            if c != "ts_ns":
                assert np.array_equal(getattr(want, c), getattr(planned.events, c)), (granularity, c)


def test_reference_profile_materializes_outputs(tmp_path):
    """The reference stack's bias is an op of its own that copies the whole conv output (held at
    the capacity of its level before the rescale) into ciphertexts one level lower; hetier's
    fused kernel has no such op."""
    g = tiny_cnn()
    p = choose_params(g, 4, None, None, 22)
    ct = lambda primes: 2 * p.poly_modulus * primes * 8  # noqa: E731
    names = {}
    for profile in ("hetier", "reference"):
        t = read_trace(trace_run(g, p, tmp_path / f"{profile}.arrow", "tensor", profile=profile).path)
        names[profile] = [layer["name"] for layer in t.meta["layers"]]
    assert "conv2d_1_bias" in names["reference"] and "conv2d_1_bias" not in names["hetier"]
    ev, j, top = t.events, names["reference"].index("conv2d_1_bias"), p.data_primes
    allocs = (ev.layer == j) & (ev.event == EV["alloc"]) & (ev.kind == KIND["ciphertext"])
    reads = (ev.layer == j) & (ev.event == EV["read"]) & (ev.kind == KIND["ciphertext"])
    assert ev.count[allocs].tolist() == [3 * 6 * 6]  # the copy: 3 channels of 6x6, whole
    assert ev.nbytes[allocs].tolist() == [3 * 6 * 6 * ct(top - 1)]
    # the copy reads the rescaled conv output (top - 1 primes), add_plain reads the copy
    assert ev.nbytes[reads].sum() == 2 * 3 * 6 * 6 * ct(top - 1)
    g = build("resnet50", resolution=224)
    p = choose_params(g, 2048, None, None, 22)
    res = plan_run(g, p, tmp_path / "r50.arrow", "tensor")
    t = read_trace(res.path)
    assert len(t.events) < 5000
    from hetier.analysis.trace_stats import trace_stats

    st = trace_stats(res.path)
    # The peak is at add_2, the residual add of stage 1's second bottleneck (add_3 ties; the first
    # counts). Live then: the keys, the encrypted input (the caller holds it to the end), the
    # block's input (relu_4's output: fresh from the refresh, 3 primes), the block's last conv
    # output (conv2d_8: rescaled once, 2 primes) and the add's output (2 primes), each 256 x 56 x 56.
    keys = sum(p.key_bytes().values())  # 131,072 + 262,144 + 786,432
    block = 256 * 56 * 56  # ciphertexts per stage-1 bottleneck output
    peak = keys + 3 * 224 * 224 * p.ct_bytes(3) + block * p.ct_bytes(3) + 2 * block * p.ct_bytes(2)
    assert (st.peak_live_bytes, st.peak_layer) == (peak, "add_2")  # 397,889,634,304 B
    convs = sum(n.kind == "conv2d" for n in g.nodes)
    assert st.layers_by_kind["conv2d"] == convs == 53


def test_reference_profile_records_host_memory(tmp_path):
    """The reference stack's memory outside SEAL's pool: each bias Add builds its folded broadcast
    constant (88 B per image-value) before its adds, reads the first value of each element's (the
    packed count add_seal loops over) and frees it after; the weights' Constant is
    built for its conv; the folded constants' f32 data live from op 0 to the teardown. The hetier
    profile has none of it. Plan and real agree (test_plan_equals_real_cnn)."""
    from hetier.analysis.trace_stats import trace_stats
    from hetier.tracer.kernels import FLOAT_BYTES, HOST_BYTES_PER_VALUE

    g = tiny_cnn()
    batch = 4
    p = choose_params(g, batch, None, None, 22)
    host = {}
    for profile in ("hetier", "reference"):
        res = trace_run(g, p, tmp_path / f"{profile}.arrow", "tensor", profile=profile)
        host[profile] = (read_trace(res.path), trace_stats(res.path))
    assert KIND["host"] not in host["hetier"][0].events.kind
    t, st = host["reference"]
    ev, names = t.events, [layer["name"] for layer in t.meta["layers"]]
    is_host = ev.kind == KIND["host"]
    j = names.index("conv2d_1_bias")  # 3 channels of 6x6
    at = lambda layer, e: ev.nbytes[is_host & (ev.layer == layer) & (ev.event == EV[e])].sum()  # noqa: E731
    assert at(j, "alloc") == at(j, "free") == 3 * 6 * 6 * batch * HOST_BYTES_PER_VALUE
    assert at(j, "read") == 3 * 6 * 6 * HOST_BYTES_PER_VALUE  # add_seal reads one value per element
    conv = names.index("conv2d_1")
    assert at(conv, "alloc") == at(conv, "free") == 3 * 2 * 3 * 3 * HOST_BYTES_PER_VALUE  # 3x2x3x3 weights
    weights = sum(int(n.weight.size) for n in g.nodes if n.weight is not None)
    biased = sum(int(np.prod(n.shape)) for n in g.nodes if n.bias is not None and n.weight is not None)
    assert at(0, "alloc") == at(len(names) - 1, "free") == FLOAT_BYTES * (weights + batch * biased)
    assert at(0, "free") == 0
    assert st.buffers_by_kind["host"][1] == ev.nbytes[is_host & (ev.event == EV["alloc"])].sum()


def test_ciphertext_plan_over_the_event_bound_is_refused(tmp_path):
    g = build("mobilenetv2", width=1.4, resolution=224)
    p = choose_params(g, 2048, None, None, 22)
    with pytest.raises(UsageError, match=r"would hold [\d,]+ events, over --max-events 1,000,000"):
        plan_run(g, p, tmp_path / "x.arrow", "ciphertext", max_events=1_000_000)
    assert not (tmp_path / "x.arrow").exists()


def test_cost_file_for_other_parameters(tmp_path):
    with pytest.raises(UsageError, match=r"no costs for N=16384 primes \[30, 40, 30\].*it has: N=4096"):
        load_costs(None, HEParams(16384, (30, 40, 30), 22, 8))
    warn = load_costs(None, HEParams(4096, (30, 22, 22, 30), 22, 100)).warning
    assert "at batch 16, not 100" in warn
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"magic": "x"}))
    with pytest.raises(UsageError, match="not a hetier cost file"):
        load_costs(bad, HEParams())


def test_shipped_costs_say_where_they_come_from():
    from hetier.tracer.costs import DEFAULT_COST_FILE

    doc = json.loads(DEFAULT_COST_FILE.read_text())
    assert doc["generated_by"] == "hetier calibrate --he" and doc["machine"]["cpu"]
    c = load_costs(None, HEParams(4096, (30, 22, 22, 30), 22, 2048))
    assert c.warning is None and c.lookup("MAC", 3) > c.lookup("MAC", 2) > 0


def test_plan_durations_agree_across_granularities(tmp_path):
    g = build("mlp", activation="relu", hidden=8, inputs=12, classes=3)
    p = choose_params(g, 4, None, None, 22)
    ends = []
    for gran in ("ciphertext", "tensor"):
        ev = read_trace(plan_run(g, p, tmp_path / f"{gran}.arrow", gran).path).events
        ends.append(ev.ts_ns[ev.event == EV["op_end"]])
    assert len(ends[0]) == len(ends[1]) == 5
    assert np.abs(ends[0] - ends[1]).max() <= 2  # ns: the same costs, rounded per primitive or per op
    assert ends[0][-1] > 1e6  # keygen, 12 encryptions, ... take more than a millisecond


@pytest.mark.parametrize("profile", ["hetier", "reference"])
def test_large_ops_expanded_in_chunks_give_the_same_events(tmp_path, monkeypatch, profile):
    """An op of more than CHUNK_PRIMITIVES primitives is logged into arrays and expanded a chunk
    at a time; with a 7-primitive chunk (every op chunked, chunks cutting primitives' runs) and an
    8 MB cache (a tensor of 16 or more live ciphertexts is cold: only whole-op peaks find that),
    the trace is the same, timestamps included."""
    from dataclasses import replace

    import hetier.tracer.costs as costs_mod
    from hetier.tracer import recorder

    g = tiny_cnn()
    p = choose_params(g, 4, None, None, 22)
    warm = read_trace(plan_run(g, p, tmp_path / "warm.arrow", "ciphertext", profile=profile).path).events
    load = costs_mod.load_costs  # plan_preflight imports it from hetier.tracer.costs at each call
    monkeypatch.setattr(costs_mod, "load_costs", lambda path, params: replace(
        load(path, params), cache_bytes=8_000_000, cold_read_ns_per_byte=0.37, cold_write_ns_per_byte=0.61))
    whole = read_trace(plan_run(g, p, tmp_path / "whole.arrow", "ciphertext", profile=profile).path).events
    assert whole.ts_ns[-1] > warm.ts_ns[-1]  # the cold rule applies
    monkeypatch.setattr(recorder, "CHUNK_PRIMITIVES", 7)
    chunked = read_trace(plan_run(g, p, tmp_path / "chunked.arrow", "ciphertext", profile=profile).path).events
    assert len(whole) == len(chunked)
    for c in COLUMNS:
        assert np.array_equal(getattr(whole, c), getattr(chunked, c)), c


@pytest.mark.parametrize("granularity", ["ciphertext", "tensor"])
def test_real_runs_expand_large_ops_in_chunks(tmp_path, monkeypatch, granularity):
    """A real run's large op is logged into arrays and expanded a chunk at a time too (tensor
    granularity: its chunks aggregated as one op): the same events as unchunked (timestamps are
    the run's own), and each op's CPU time still travels with the batch that ends it."""
    from hetier.tracer import recorder

    g = tiny_cnn()
    p = choose_params(g, 4, None, None, 22)
    whole = read_trace(trace_run(g, p, tmp_path / "whole.arrow", granularity).path)
    monkeypatch.setattr(recorder, "CHUNK_PRIMITIVES", 7)
    chunked = read_trace(trace_run(g, p, tmp_path / "chunked.arrow", granularity).path)
    a, b = whole.events, chunked.events
    assert len(a) == len(b)
    for c in COLUMNS:
        if c != "ts_ns":
            assert np.array_equal(getattr(a, c), getattr(b, c)), c
    assert (np.diff(b.ts_ns[b.event >= EV["op_begin"]]) >= 0).all()
    with TraceReader(tmp_path / "chunked.arrow") as r:
        list(r.batches())
        assert len(r.op_cpu_ns) == int((b.event == EV["op_end"]).sum())
