"""The architectures, built from parameters with seeded weights (nothing is downloaded).

Weights are He-normal, batch-norm statistics random, both seeded; batch-norm is folded into the
convolution. A data-dependent pass (as in LSUV initialisation) then scales each weighted layer
so that its outputs have unit standard deviation on a seeded calibration batch: random weights
would otherwise let CKKS values outgrow the plaintext headroom of the first prime.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from hetier.available_memory import available_memory_bytes
from hetier.errors import UsageError
from hetier.models.ir import Graph, Node
from hetier.models.reference import FLOAT_BYTES, run_node, run_peak_bytes

MOBILENET_WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
RESNET_DEPTHS = (18, 50)
CALIB_BATCH = 4  # images in the seeded calibration batch
WEIGHTS_CHECKED_FROM = 256 << 20  # bytes of weights below which the host's memory is not read
CALIB_MARGIN = 1.2  # run_peak_bytes came within 0.92-1.10 of tracemalloc's peak of finish() on seven zoo models


class Builder:
    """Appends layers to a graph and draws their seeded weights."""

    def __init__(self, name: str, config: dict, input_shape: tuple[int, ...], seed: int):
        self.g = Graph(name, config)
        self.rng = np.random.default_rng(seed)
        self.g.add(Node("input", "input", [], tuple(input_shape)))
        self._count: dict[str, int] = {}
        self._weight_bytes = 0

    def _name(self, kind: str) -> str:
        self._count[kind] = self._count.get(kind, 0) + 1
        return f"{kind}_{self._count[kind]}"

    def shape(self, x: int) -> tuple[int, ...]:
        return self.g.nodes[x].shape

    def _add(self, kind: str, inputs: list[int], shape: tuple[int, ...], **kw) -> int:
        return self.g.add(Node(self._name(kind), kind, inputs, tuple(int(s) for s in shape), **kw))

    def _weights(self, std: float, shape: tuple[int, ...]) -> np.ndarray:
        """He-normal weights of ``shape``, once the model's weights so far and these (float64, and a
        folded or scaled copy of a layer's at a time) are known to fit the memory available."""
        self._weight_bytes += math.prod(shape) * FLOAT_BYTES
        if self._weight_bytes > WEIGHTS_CHECKED_FROM:
            avail = available_memory_bytes()
            if avail is not None and self._weight_bytes * CALIB_MARGIN > avail:
                raise UsageError(f"{self.g.name}: its seeded weights need about {self._weight_bytes / 1e9:,.1f} GB "
                                 f"(a layer of {' x '.join(map(str, shape))} among them), more than the "
                                 f"{avail / 1e9:.1f} GB available here; use smaller layers")
        return self.rng.normal(0, std, shape)

    def _fold_bn(self, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        oc = w.shape[0]
        gamma = self.rng.uniform(0.5, 1.5, oc)
        beta = self.rng.normal(0, 0.1, oc)
        mean = self.rng.normal(0, 0.1, oc)
        var = self.rng.uniform(0.5, 1.5, oc)
        s = gamma / np.sqrt(var + 1e-5)
        return w * s.reshape(-1, *([1] * (w.ndim - 1))), (b - mean) * s + beta

    def conv(self, x: int, oc: int, k: int, stride: int = 1, pad: int | None = None,
             bn: bool = True, depthwise: bool = False) -> int:
        c, h, w = self.shape(x)
        pad = k // 2 if pad is None else pad
        oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        if oh < 1 or ow < 1:
            raise UsageError(f"input resolution too small: {h}x{w} reaches a {k}x{k} stride-{stride} layer")
        fan_in = k * k * (1 if depthwise else c)
        shape_w = (c, 1, k, k) if depthwise else (oc, c, k, k)
        weight = self._weights(math.sqrt(2.0 / fan_in), shape_w)
        bias = np.zeros(shape_w[0])
        if bn:
            weight, bias = self._fold_bn(weight, bias)
        kind = "dwconv2d" if depthwise else "conv2d"
        return self._add(kind, [x], (shape_w[0], oh, ow), weight=weight, bias=bias, stride=stride, padding=pad)

    def dense(self, x: int, out: int) -> int:
        n = int(np.prod(self.shape(x)))
        weight = self._weights(math.sqrt(1.0 / n), (out, n))
        return self._add("dense", [x], (out,), weight=weight, bias=self.rng.normal(0, 0.05, out))

    def act(self, x: int, kind: str, **kw) -> int:
        return self._add(kind, [x], self.shape(x), **kw)

    def add(self, a: int, b: int) -> int:
        if self.shape(a) != self.shape(b):
            raise ValueError(f"add of shapes {self.shape(a)} and {self.shape(b)}")
        return self._add("add", [a, b], self.shape(a))

    def flatten(self, x: int) -> int:
        return self._add("flatten", [x], (int(np.prod(self.shape(x))),))

    def gavgpool(self, x: int) -> int:
        c, h, w = self.shape(x)
        return self._add("gavgpool", [x], (c,), kernel=h * w)

    def pool(self, x: int, kind: str, k: int, stride: int, pad: int = 0) -> int:
        c, h, w = self.shape(x)
        oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        return self._add(kind, [x], (c, oh, ow), kernel=k, stride=stride, padding=pad)

    def finish(self, calib_seed: int) -> Graph:
        """Scale weighted layers to unit output std on a seeded calibration batch (each output freed
        after its last reader); refuse in one line a model whose pass would not fit this host."""
        need = run_peak_bytes(self.g, CALIB_BATCH)
        avail = available_memory_bytes()
        if avail is not None and need * CALIB_MARGIN > avail:
            c, h, w = self.g.input_shape if len(self.g.input_shape) == 3 else (0, 0, 0)
            at = f" at {h}x{w}" if h else ""
            raise UsageError(f"{self.g.name}{at}: scaling its seeded weights on a {CALIB_BATCH}-image calibration "
                             f"batch needs about {need / 1e9:.1f} GB, more than the {avail / 1e9:.1f} GB available "
                             "here; use a smaller --resolution or --width")
        rng = np.random.default_rng(calib_seed)
        outs: list[np.ndarray | None] = [rng.uniform(0, 1, (CALIB_BATCH, *self.g.input_shape))]
        last = self.g.last_use()
        for j, node in enumerate(self.g.nodes[1:], start=1):
            y = run_node(node, [outs[i] for i in node.inputs])
            if node.weight is not None:
                s = 1.0 / max(float(y.std()), 1e-6)
                node.weight = node.weight * s
                node.bias = node.bias * s
                y = y * s
            outs.append(y)
            for i in node.inputs:
                if last[i] == j:
                    outs[i] = None
        return self.g


def mlp(inputs: int = 64, hidden: int = 32, classes: int = 10, activation: str = "square",
        seed: int = 0) -> Graph:
    """Dense -> activation -> dense on a flat input (8x8 digits-sized by default)."""
    if activation not in ("square", "relu", "poly"):
        raise UsageError(f"mlp activation '{activation}' unknown (known: square, relu, poly)")
    b = Builder("mlp", dict(inputs=inputs, hidden=hidden, classes=classes, activation=activation,
                            seed=seed), (inputs,), seed)
    x = b.dense(0, hidden)
    x = b.act(x, activation, coeffs=(0.1, 0.5, 0.25)) if activation == "poly" else b.act(x, activation)
    b.dense(x, classes)
    return b.finish(seed + 1)


def cryptonets(classes: int = 10, seed: int = 0) -> Graph:
    """CryptoNets (Gilad-Bachrach et al., ICML 2016) on 28x28 input, padded by 1 as in the paper."""
    b = Builder("cryptonets", dict(classes=classes, seed=seed), (1, 28, 28), seed)
    x = b.conv(0, 5, 5, stride=2, pad=1, bn=False)
    x = b.act(x, "square")
    x = b.flatten(x)
    x = b.dense(x, 100)
    x = b.act(x, "square")
    b.dense(x, classes)
    return b.finish(seed + 1)


def _divisible(v: float, d: int = 8) -> int:
    """Channel rounding of the reference MobileNetV2 (never down by more than 10%)."""
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


def mobilenetv2(width: float = 1.0, resolution: int = 224, classes: int = 1000, seed: int = 0) -> Graph:
    """MobileNetV2 (Sandler et al., CVPR 2018) with the reference width multipliers."""
    if width not in MOBILENET_WIDTHS:
        raise UsageError(f"mobilenetv2 width {width} unknown (known: {', '.join(map(str, MOBILENET_WIDTHS))})")
    if resolution < 32:
        raise UsageError(f"mobilenetv2 resolution {resolution} too small (at least 32)")
    b = Builder("mobilenetv2", dict(width=width, resolution=resolution, classes=classes, seed=seed),
                (3, resolution, resolution), seed)
    c_in = _divisible(32 * width)
    x = b.act(b.conv(0, c_in, 3, stride=2), "relu6")
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)]:
        c_out = _divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            y = x
            if t != 1:
                y = b.act(b.conv(y, c_in * t, 1), "relu6")
            y = b.act(b.conv(y, c_in * t, 3, stride=stride, depthwise=True), "relu6")
            y = b.conv(y, c_out, 1)
            x = b.add(x, y) if stride == 1 and c_in == c_out else y
            c_in = c_out
    x = b.act(b.conv(x, _divisible(1280 * max(1.0, width)), 1), "relu6")
    b.dense(b.gavgpool(x), classes)
    return b.finish(seed + 1)


def resnet(depth: int = 50, resolution: int = 224, classes: int = 1000, width: float = 1.0, seed: int = 0) -> Graph:
    """ResNet-18/50 (He et al., CVPR 2016), ImageNet layout, at any input resolution; ``width``
    scales every layer's channels (1.0 is the published network; small widths run for real here)."""
    if not 0 < width <= 4:
        raise UsageError(f"resnet width {width} must be in (0, 4]")
    if depth not in RESNET_DEPTHS:
        raise UsageError(f"resnet depth {depth} unknown (known: 18, 50)")
    if resolution < 32:
        raise UsageError(f"resnet resolution {resolution} too small (at least 32)")
    b = Builder(f"resnet{depth}", dict(depth=depth, resolution=resolution, classes=classes, width=width, seed=seed),
                (3, resolution, resolution), seed)
    ch = lambda c: max(1, int(round(c * width)))  # noqa: E731
    x = b.act(b.conv(0, ch(64), 7, stride=2, pad=3), "relu")
    x = b.pool(x, "maxpool", 3, 2, 1)
    bottleneck = depth == 50
    blocks = [3, 4, 6, 3] if bottleneck else [2, 2, 2, 2]
    c_in = ch(64)
    for stage, n in enumerate(blocks):
        mid = ch(64 * 2 ** stage)
        c_out = mid * 4 if bottleneck else mid
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            if bottleneck:
                y = b.act(b.conv(x, mid, 1), "relu")
                y = b.act(b.conv(y, mid, 3, stride=stride), "relu")
                y = b.conv(y, c_out, 1)
            else:
                y = b.act(b.conv(x, mid, 3, stride=stride), "relu")
                y = b.conv(y, c_out, 3)
            short = b.conv(x, c_out, 1, stride=stride, pad=0) if stride != 1 or c_in != c_out else x
            x = b.act(b.add(short, y), "relu")
            c_in = c_out
    b.dense(b.gavgpool(x), classes)
    return b.finish(seed + 1)


MODELS = {
    "mlp": mlp,
    "cryptonets": cryptonets,
    "mobilenetv2": mobilenetv2,
    "resnet": resnet,
    "resnet18": partial(resnet, depth=18),
    "resnet50": partial(resnet, depth=50),
}


def build(name: str, **options) -> Graph:
    """Build a model by name with its options (unknown names and options are errors)."""
    if name not in MODELS:
        raise UsageError(f"model '{name}' unknown (known: {', '.join(MODELS)})")
    import inspect

    fixed = getattr(MODELS[name], "keywords", {})  # resnet18/50 fix the depth
    takes = [p for p in inspect.signature(MODELS[name]).parameters if p != "seed" and p not in fixed]
    wrong = [k for k in options if k != "seed" and k not in takes]
    if wrong:
        flags = lambda names: ", ".join("--" + n.replace("_", "-") for n in names)  # noqa: E731
        raise UsageError(f"model '{name}' does not take {flags(wrong)} (its options: {flags(takes) or 'none'})")
    try:
        return MODELS[name](**options)
    except TypeError as e:
        raise UsageError(f"model '{name}': {e}") from None
