"""Architectures against published sizes; the numpy reference against a naive convolution."""

import numpy as np
import pytest

from hetier.errors import UsageError
from hetier.models.ir import Node
from hetier.models.reference import run_node
from hetier.models.zoo import build


def _macs_params(g):
    macs = sum(n.macs() for n in g.nodes if n.weight is not None)
    params = sum(n.weight.size + n.bias.size for n in g.nodes if n.weight is not None)
    return macs, params


# Published: MobileNetV2 1.0@224 300M MACs / 3.4M params (Sandler et al. 2018, table 4);
# ResNet-50 ~4.1 G multiply-adds / 25.6M params, ResNet-18 1.8 G / 11.7M (He et al. 2016; torchvision).
@pytest.mark.parametrize("name, kw, macs, params", [
    ("mobilenetv2", dict(width=1.0, resolution=224), 300e6, 3.4e6),
    ("resnet50", dict(resolution=224), 4.1e9, 25.6e6),
    ("resnet18", dict(resolution=224), 1.8e9, 11.7e6),
])
def test_architectures_match_published_sizes(name, kw, macs, params):
    m, p = _macs_params(build(name, **kw))
    assert abs(m / macs - 1) < 0.03
    assert abs(p / params - 1) < 0.03


def test_shapes_and_depth():
    g = build("mobilenetv2", width=0.35, resolution=96, classes=10)
    assert g.nodes[1].shape == (16, 48, 48)  # stem: 32*0.35 rounded to 16 channels, stride 2
    assert g.nodes[-1].shape == (10,)
    assert g.depth() == 2
    assert build("cryptonets").depth() == 5
    assert [n.shape for n in build("cryptonets").nodes] == [(1, 28, 28), (5, 13, 13), (5, 13, 13), (845,),
                                                           (100,), (100,), (10,)]
    assert build("resnet", depth=18, resolution=32).depth() == 2
    assert sum(n.kind == "add" for n in build("resnet50", resolution=64).nodes) == 16


def test_unknown_models_and_options_are_usage_errors():
    with pytest.raises(UsageError, match="model 'vgg' unknown"):
        build("vgg")
    with pytest.raises(UsageError, match="width 0.6 unknown"):
        build("mobilenetv2", width=0.6)
    with pytest.raises(UsageError, match=r"model 'cryptonets' does not take --width \(its options: --classes\)"):
        build("cryptonets", width=1.0)
    with pytest.raises(UsageError, match=r"does not take --depth \(its options: --resolution, --classes, --width\)"):
        build("resnet50", depth=18)


def test_weights_are_seeded():
    a, b = build("cryptonets", seed=3), build("cryptonets", seed=3)
    assert np.array_equal(a.nodes[1].weight, b.nodes[1].weight)
    assert not np.array_equal(a.nodes[1].weight, build("cryptonets", seed=4).nodes[1].weight)


def test_reference_conv_matches_naive_loops():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 7))
    w = rng.normal(size=(4, 3, 3, 3))
    b = rng.normal(size=4)
    node = Node("c", "conv2d", [0], (4, 4, 4), weight=w, bias=b, stride=2, padding=1)
    y = run_node(node, [x])
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for o in range(4):
        for i in range(4):
            for j in range(4):
                want = (xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * w[o]).sum(axis=(1, 2, 3)) + b[o]
                assert np.allclose(y[:, o, i, j], want)
    dw = Node("d", "dwconv2d", [0], (3, 7, 7), weight=rng.normal(size=(3, 1, 3, 3)), bias=np.zeros(3), padding=1)
    y = run_node(dw, [x])
    xp1 = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert np.allclose(y[:, 2, 3, 3], (xp1[:, 2, 3:6, 3:6] * dw.weight[2, 0]).sum(axis=(1, 2)))
