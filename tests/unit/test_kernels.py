"""One kernel description drives the real, symbolic and plan backends; the geometry it uses."""

import itertools

import numpy as np
import pytest

from hetier.models.ir import Node
from hetier.models.zoo import build
from hetier.tracer import kernels
from hetier.formats.trace import COLUMNS, TraceReader, read_trace
from hetier.tracer.geometry import PoolWindows, linear_geometry, spatial_counts, spatial_pairs
from hetier.formats.granularity import aggregate_events
from hetier.tracer.planner import plan_ops
from hetier.tracer.recorder import Recorder
from hetier.tracer.session import choose_params, plan_run, trace_run
from tests.helpers import ckks_tolerance, rescaling_layers


def _same(want, got, what):
    assert len(want) == len(got), what
    for c in COLUMNS:
        if c != "ts_ns":
            assert np.array_equal(getattr(want, c), getattr(got, c)), (what, c)


def relu_through_sums(be, node, ins, run):
    """A made-up ReLU that first doubles its input into a new tensor with a temporary per
    element, then refreshes the double and halves it: a newcomer's edit of one kernel."""
    x = ins[0]
    twice = be.new_tensor("ciphertext", x.shape, x.level, x.scale)
    tmp = be.new_temporaries(x.size, x.level)
    for i in be.loop(x.size):
        be.add_new(x.level, x.base + i, x.base + i, t := tmp())
        be.add_new(x.level, t, x.base + i, twice.base + i)
        be.free(x.level, t)
    y = kernels.refresh(be, twice, lambda v: np.maximum(v, 0.0) / 3, run.batch)
    kernels.free(be, twice)
    return y


def test_one_kernel_edit_reaches_every_backend(tmp_path, monkeypatch):
    """Change one kernel in one place: the real run, the symbolic plan and the counted plan all
    follow it, event for event (ciphertext) and row for row (tensor)."""
    g = build("mlp", activation="relu", hidden=8, inputs=12, classes=3)
    p = choose_params(g, 4, None, None, 22)
    plain = read_trace(trace_run(g, p, tmp_path / "plain.arrow", "ciphertext").path).events
    monkeypatch.setitem(kernels.KERNELS, "relu", relu_through_sums)
    res = trace_run(g, p, tmp_path / "r.arrow", "ciphertext")
    real = read_trace(res.path).events
    with TraceReader(res.path) as r:
        real_tensor = aggregate_events(r.batches())
    assert res.max_abs_error < ckks_tolerance(p, rescaling_layers(g))  # 3x / 3: the same ReLU
    for gran, want in (("ciphertext", real), ("tensor", real_tensor)):
        _same(want, read_trace(plan_run(g, p, tmp_path / f"p-{gran}.arrow", gran).path).events, gran)
    # the edit is visible: per element of the one ReLU's 8 inputs, two ADD_NEW (6 events each:
    # alloc, the copy's read and write, the add's two reads and write) and the temporary's free,
    # then the double's 8 frees
    assert len(real) - len(plain) == 8 * (6 + 6 + 1) + 8


def test_a_spread_loop_that_would_reorder_allocations_is_refused(monkeypatch):
    """A spread loop is counted after its enclosing loop; if both allocate the same tensor that
    move would change its peak, so the plan backend refuses the kernel."""
    def bad(be, node, ins, run):
        x = ins[0]
        pt = be.new_plaintexts(2 * x.size, x.level)
        for i in be.loop(x.size):
            be.encode(x.level, p := pt(), 1.0, be.scale)
            for _ in be.spread(1):
                be.encode(x.level, q := pt(), 1.0, be.scale)
                be.free(x.level, q)
            be.free(x.level, p)
        return kernels.refresh(be, x, lambda v: v, run.batch)

    monkeypatch.setitem(kernels.KERNELS, "relu", bad)
    g = build("mlp", activation="relu", hidden=4, inputs=4, classes=2)
    p = choose_params(g, 2, None, None, 22)
    with pytest.raises(RuntimeError, match="spread loop allocates tensor"):
        list(plan_ops(g, p, Recorder(p, None)))


@pytest.mark.parametrize("kind,c,h,k,stride,pad", [
    ("conv2d", 2, 5, 3, 1, 1), ("conv2d", 3, 6, 3, 2, 1), ("conv2d", 2, 4, 1, 1, 0),
    ("dwconv2d", 3, 5, 3, 1, 1), ("dwconv2d", 2, 7, 3, 2, 1), ("avgpool", 2, 4, 2, 2, 0)])
def test_linear_geometry_is_the_convolution(kind, c, h, k, stride, pad):
    """Every (output, input, offset) term of the convolution appears exactly once, with its
    weight; every output's first term is a product, the rest accumulate."""
    rng = np.random.default_rng(0)
    oc = c if kind != "conv2d" else 3
    oh = (h + 2 * pad - k) // stride + 1
    weight = rng.normal(size=(oc, 1 if kind != "conv2d" else c, k, k))
    node = Node("n", kind, [0], (oc, oh, oh), weight=None if kind == "avgpool" else weight, bias=np.zeros(oc),
                stride=stride, padding=pad, kernel=k)
    want = {}
    for o, oy, ox, ky, kx in itertools.product(range(oc), range(oh), range(oh), range(k), range(k)):
        iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
        if 0 <= iy < h and 0 <= ix < h:
            for i in ([o] if kind != "conv2d" else range(c)):
                w = 1 / k ** 2 if kind == "avgpool" else weight[o, 0 if kind != "conv2d" else i, ky, kx]
                want[(o * oh * oh + oy * oh + ox, i * h * h + iy * h + ix)] = w
    geo = linear_geometry(node, (c, h, h))
    got, firsts = {}, []
    for o in range(geo.channels):
        for w, fs, rest in geo.channel(o):
            for s, d in fs + rest:
                assert (d, s) not in got
                got[(d, s)] = w
            firsts += [d for _, d in fs]
    assert got.keys() == want.keys() and all(np.isclose(got[key], want[key]) for key in want)
    assert sorted(firsts) == list(range(oc * oh * oh))  # each output made once, by its first term
    assert geo.channels * geo.pairs == len(want)


@pytest.mark.parametrize("profile", ["hetier", "reference"])
def test_pooling_plans_equal_real_runs(tmp_path, profile):
    """Max-pool windows of uneven size (padding) are a spread loop, average pooling a linear
    layer with constant weights: both plans equal the real run, event for event and row for row."""
    from hetier.models.zoo import Builder

    b = Builder("tiny-pool", {}, (2, 6, 6), 0)
    x = b.pool(b.act(b.conv(0, 3, 3, stride=1), "relu"), "maxpool", 3, 2, 1)
    b.dense(b.gavgpool(b.pool(b.conv(x, 2, 1), "avgpool", 2, 1)), 2)
    g = b.finish(1)
    p = choose_params(g, 4, None, None, 22)
    res = trace_run(g, p, tmp_path / "r.arrow", "ciphertext", profile=profile)
    assert res.max_abs_error < ckks_tolerance(p, rescaling_layers(g))
    with TraceReader(res.path) as r:
        real_tensor = aggregate_events(r.batches())
    for gran, want in (("ciphertext", read_trace(res.path).events), ("tensor", real_tensor)):
        _same(want, read_trace(plan_run(g, p, tmp_path / f"p-{gran}.arrow", gran, profile=profile).path).events, gran)


def _window_pairs(h, w, oh, ow, k, stride, pad):
    """spatial_pairs by its definition: every output pixel against every kernel offset."""
    out = []
    for ky, kx in itertools.product(range(k), range(k)):
        src, dst = [], []
        for oy, ox in itertools.product(range(oh), range(ow)):
            iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
            if 0 <= iy < h and 0 <= ix < w:
                src.append(iy * w + ix)
                dst.append(oy * ow + ox)
        out.append((src, dst))
    return out


@pytest.mark.parametrize("h,w,k,stride,pad", [
    (5, 5, 3, 1, 1), (6, 4, 3, 2, 1), (4, 4, 1, 1, 0), (7, 7, 3, 3, 0), (3, 3, 3, 1, 2),
    (2, 5, 3, 4, 2), (1, 1, 3, 1, 1), (8, 3, 5, 2, 4), (4, 6, 2, 5, 1)])
def test_spatial_pairs_and_counts_are_the_windows(h, w, k, stride, pad):
    """The arithmetic ranges give the same pairs, in the same order, as checking every output
    pixel (paddings wider than the kernel and strides longer than it included), and the counts
    plan mode uses are their lengths."""
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    want = _window_pairs(h, w, oh, ow, k, stride, pad)
    got = spatial_pairs(h, w, oh, ow, k, stride, pad)
    assert [(s.tolist(), d.tolist()) for s, d in got] == want
    assert spatial_counts(h, w, oh, ow, k, stride, pad) == [len(s) for s, _ in want]


@pytest.mark.parametrize("c,h,k,stride,pad", [(2, 5, 3, 2, 1), (3, 4, 2, 2, 0), (1, 6, 3, 1, 1)])
def test_pool_windows_are_the_windows(c, h, k, stride, pad):
    """A max-pool's windows, channel by channel, and their total without building them."""
    oh = (h + 2 * pad - k) // stride + 1
    node = Node("p", "maxpool", [0], (c, oh, oh), stride=stride, padding=pad, kernel=k)
    win = [[] for _ in range(oh * oh)]
    for src, dst in _window_pairs(h, h, oh, oh, k, stride, pad):
        for s, d in zip(src, dst):
            win[d].append(s)
    want = [[s + ch * h * h for s in wl] for ch in range(c) for wl in win]
    assert PoolWindows(node, (c, h, h)).total == sum(map(len, want))
    pw = PoolWindows(node, (c, h, h))
    assert [pw[o] for o in range(len(want))] == want


def test_planning_a_large_image_builds_no_index_arrays():
    """Plan mode takes a layer's counts, never its index arrays: planning a convolution, a
    max-pool and a global average pool over a 2048 x 2048 image stays under 32 MB of Python
    allocations (building the arrays took about 2.4 GB: one 4-million-entry array pair per
    convolution tap, one array pair per pixel for the average)."""
    import tracemalloc

    from hetier.models.zoo import Builder

    b = Builder("big-image", {}, (1, 2048, 2048), 0)
    x = b.pool(b.act(b.conv(0, 2, 3, stride=1), "relu"), "maxpool", 3, 1, 1)
    b.dense(b.gavgpool(x), 2)
    g = b.finish(1)
    p = choose_params(g, 4, None, None, 22)
    tracemalloc.start()
    try:
        ops = list(plan_ops(g, p, Recorder(p, None)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ops and peak < 32 << 20, peak
