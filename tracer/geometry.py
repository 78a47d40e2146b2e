"""Which input feeds which output, for every linear layer kind and for max-pool windows.

One function (``spatial_pairs``) gives a window's geometry; ``linear_geometry`` turns a layer
into the weight-stationary schedule the linear kernel runs: per output channel, its inputs, per
input the kernel taps (a weight and the (input, output) pixel pairs it connects). Pooling layers
are linear layers with constant weights. The kernel iterates it on a real or symbolic backend
and takes its counts on the analytic plan backend, so both come from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from hetier.models.ir import Node

LINEAR_KINDS = ("conv2d", "dwconv2d", "dense", "avgpool", "gavgpool")


def spatial_pairs(h: int, w: int, oh: int, ow: int, k: int, stride: int, pad: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each kernel offset (ky, kx) in row-major order, the (input pixel, output pixel) index
    pairs it connects inside an h x w image (offsets falling in the padding connect none)."""
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    out = []
    for ky in range(k):
        for kx in range(k):
            iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
            ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            out.append(((iy * w + ix)[ok], (oy * ow + ox)[ok]))
    return out


@dataclass
class LinearGeometry:
    """A linear layer as ``channels`` output channels of ``outputs`` pixels, each the sum over
    ``inputs`` input channels (its group's: all of them, a group of them, or only its own) of
    ``taps`` weighted pixel maps."""

    channels: int
    outputs: int  # output ciphertexts per channel
    in_stride: int  # ciphertexts per input channel
    out_per_group: int  # output channels that read one group of inputs (1: depthwise; channels: every input)
    inputs: int  # input channels each output channel reads (its group's)
    taps: list[tuple[np.ndarray, np.ndarray]]  # (input pixels, output pixels) per valid tap
    weight: Callable[[int, int, int], float]  # (out channel, in channel, tap) -> weight
    bias: np.ndarray

    @property
    def weights(self) -> int:
        """Weights (encoded plaintexts) per output channel."""
        return self.inputs * len(self.taps)

    @property
    def pairs(self) -> int:
        """Multiply-accumulates per output channel."""
        return self.inputs * sum(len(s) for s, _ in self.taps)

    def first_touches(self) -> list[np.ndarray]:
        """Per tap of a channel's first input, which of its pairs write an output no earlier tap
        wrote (the product becomes the output; later pairs accumulate into it)."""
        seen = np.zeros(self.outputs, dtype=bool)
        out = []
        for _, dst in self.taps:
            new = ~seen[dst]
            seen[dst] = True
            out.append(new)
        if not seen.all():
            raise ValueError("a linear layer has outputs no input reaches")
        return out

    def channel(self, o: int, first: list[np.ndarray]) -> Iterator[tuple[float, list, list]]:
        """Channel ``o``'s weights in order: (weight, first-touch pairs, accumulating pairs) with
        pairs as (input ciphertext, output ciphertext) indices of the whole tensors."""
        base = (o // self.out_per_group) * self.inputs  # the first input channel of o's group
        ins = range(base, base + self.inputs)
        for n, i in enumerate(ins):
            for t, (src, dst) in enumerate(self.taps):
                s, d = src + i * self.in_stride, dst + o * self.outputs
                if n == 0:
                    f = first[t]
                    yield (self.weight(o, i, t), list(zip(s[f].tolist(), d[f].tolist())),
                           list(zip(s[~f].tolist(), d[~f].tolist())))
                else:
                    yield self.weight(o, i, t), [], list(zip(s.tolist(), d.tolist()))


def linear_geometry(node: Node, in_shape: tuple[int, ...]) -> LinearGeometry:
    """The schedule of a conv2d, dwconv2d, dense, avgpool or gavgpool layer on ``in_shape``."""
    k = node.kind
    if k == "dense":
        n_out, n_in = node.weight.shape
        W = node.weight
        bias = node.bias if node.bias is not None else np.zeros(n_out)
        return LinearGeometry(n_out, 1, 1, n_out, n_in, [(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))],
                              lambda o, i, t: float(W[o, i]), bias)
    c, h, w = in_shape
    if k == "gavgpool":
        taps = [(np.array([p]), np.zeros(1, dtype=np.int64)) for p in range(h * w)]
        wt = 1.0 / (h * w)
        return LinearGeometry(c, 1, h * w, 1, 1, taps, lambda o, i, t: wt, np.zeros(c))
    oc, oh, ow = node.shape
    if k == "avgpool":
        kern, pad, wt = node.kernel, 0, 1.0 / node.kernel ** 2
        bias = np.zeros(c)
    else:
        kern, pad = node.weight.shape[2], node.padding
        bias = node.bias if node.bias is not None else np.zeros(oc)
    pairs = spatial_pairs(h, w, oh, ow, kern, node.stride, pad)
    offsets = [divmod(t, kern) for t, (src, _) in enumerate(pairs) if len(src)]
    taps = [p for p in pairs if len(p[0])]
    if k == "avgpool":
        weight = lambda o, i, t: wt  # noqa: E731
    else:
        W = node.weight
        per = W.shape[1]  # input channels per group (conv2d: c / groups; dwconv2d: 1)
        weight = lambda o, i, t: float(W[o, i % per][offsets[t]])  # noqa: E731
    if k == "conv2d":  # groups = c / weight's input channels; output channels split evenly over them
        inputs = node.weight.shape[1]
        return LinearGeometry(oc, oh * ow, h * w, oc // (c // inputs), inputs, taps, weight, bias)
    return LinearGeometry(oc, oh * ow, h * w, 1, 1, taps, weight, bias)


def maxpool_windows(node: Node, in_shape: tuple[int, ...]) -> list[list[int]]:
    """Input ciphertexts of each output of a max-pool, in output order."""
    c, h, w = in_shape
    _, oh, ow = node.shape
    win: list[list[int]] = [[] for _ in range(oh * ow)]
    for src, dst in spatial_pairs(h, w, oh, ow, node.kernel, node.stride, node.padding):
        for s, d in zip(src.tolist(), dst.tolist()):
            win[d].append(s)
    return [[s + ch * h * w for s in wl] for ch in range(c) for wl in win]
