"""Which input feeds which output, for every linear layer kind and for max-pool windows.

One function (``spatial_pairs``) gives a window's geometry; ``linear_geometry`` turns a layer
into the weight-stationary schedule the linear kernel runs: per output channel, its inputs, per
input the kernel taps (a weight and the (input, output) pixel pairs it connects). Pooling layers
are linear layers with constant weights. The kernel iterates it on a real or symbolic backend
and takes its counts on the analytic plan backend, so both come from here. The counts are
arithmetic and the index arrays are built on first use: plan mode never builds them, so planning
a layer on a large image costs no memory in proportion to the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterator

import numpy as np

from hetier.models.ir import Node

LINEAR_KINDS = ("conv2d", "dwconv2d", "dense", "avgpool", "gavgpool")


def tap_range(n_in: int, n_out: int, offset: int, stride: int, pad: int) -> range:
    """The output coordinates o in [0, n_out) whose input coordinate o * stride + offset - pad
    lies inside [0, n_in): the outputs one kernel offset reaches along one axis."""
    lo = max(0, -((offset - pad) // stride))  # ceil((pad - offset) / stride)
    hi = min(n_out, (n_in - 1 + pad - offset) // stride + 1)
    return range(lo, max(lo, hi))


def spatial_counts(h: int, w: int, oh: int, ow: int, k: int, stride: int, pad: int) -> list[int]:
    """For each kernel offset (ky, kx) in row-major order, how many (input, output) pixel pairs it
    connects: ``len`` of each of ``spatial_pairs``'s arrays, without building them."""
    ys = [len(tap_range(h, oh, ky, stride, pad)) for ky in range(k)]
    xs = [len(tap_range(w, ow, kx, stride, pad)) for kx in range(k)]
    return [y * x for y in ys for x in xs]


def spatial_pairs(h: int, w: int, oh: int, ow: int, k: int, stride: int, pad: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each kernel offset (ky, kx) in row-major order, the (input pixel, output pixel) index
    pairs it connects inside an h x w image, outputs in row-major order (offsets falling in the
    padding connect none)."""
    out = []
    for ky in range(k):
        ry = tap_range(h, oh, ky, stride, pad)
        for kx in range(k):
            rx = tap_range(w, ow, kx, stride, pad)
            oy, ox = np.meshgrid(np.arange(ry.start, ry.stop), np.arange(rx.start, rx.stop), indexing="ij")
            iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
            out.append(((iy * w + ix).ravel(), (oy * ow + ox).ravel()))
    return out


@dataclass
class LinearGeometry:
    """A linear layer as ``channels`` output channels of ``outputs`` pixels, each the sum over
    ``inputs`` input channels (its group's: all of them, a group of them, or only its own) of
    ``n_taps`` weighted pixel maps that connect ``tap_pairs`` pixel pairs in all."""

    channels: int
    outputs: int  # output ciphertexts per channel
    in_stride: int  # ciphertexts per input channel
    out_per_group: int  # output channels that read one group of inputs (1: depthwise; channels: every input)
    inputs: int  # input channels each output channel reads (its group's)
    n_taps: int  # kernel taps that connect any pixel
    tap_pairs: int  # (input, output) pixel pairs over those taps
    make_taps: Callable[[], list[tuple[np.ndarray, np.ndarray]]]  # (input pixels, output pixels) per valid tap
    weight: Callable[[int, int, int], float]  # (out channel, in channel, tap) -> weight
    bias: np.ndarray

    @property
    def weights(self) -> int:
        """Weights (encoded plaintexts) per output channel."""
        return self.inputs * self.n_taps

    @property
    def pairs(self) -> int:
        """Multiply-accumulates per output channel."""
        return self.inputs * self.tap_pairs

    @cached_property
    def taps(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (input pixels, output pixels) index arrays of each valid tap, built once."""
        taps = self.make_taps()
        if len(taps) != self.n_taps or sum(len(s) for s, _ in taps) != self.tap_pairs:
            raise AssertionError("a linear layer's taps disagree with its counts")
        return taps

    @cached_property
    def firsts(self) -> list[np.ndarray]:
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

    def channel(self, o: int) -> Iterator[tuple[float, list, list]]:
        """Channel ``o``'s weights in order: (weight, first-touch pairs, accumulating pairs) with
        pairs as (input ciphertext, output ciphertext) indices of the whole tensors."""
        base = (o // self.out_per_group) * self.inputs  # the first input channel of o's group
        ins = range(base, base + self.inputs)
        for n, i in enumerate(ins):
            for t, (src, dst) in enumerate(self.taps):
                s, d = src + i * self.in_stride, dst + o * self.outputs
                if n == 0:
                    f = self.firsts[t]
                    yield (self.weight(o, i, t), list(zip(s[f].tolist(), d[f].tolist())),
                           list(zip(s[~f].tolist(), d[~f].tolist())))
                else:
                    yield self.weight(o, i, t), [], list(zip(s.tolist(), d.tolist()))


def _pixel_taps(pixels: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Global average pooling's taps: tap p connects input pixel p to the channel's one output."""
    return [(np.array([p]), np.zeros(1, dtype=np.int64)) for p in range(pixels)]


def linear_geometry(node: Node, in_shape: tuple[int, ...]) -> LinearGeometry:
    """The schedule of a conv2d, dwconv2d, dense, avgpool or gavgpool layer on ``in_shape``."""
    k = node.kind
    if k == "dense":
        n_out, n_in = node.weight.shape
        W = node.weight
        bias = node.bias if node.bias is not None else np.zeros(n_out)
        return LinearGeometry(n_out, 1, 1, n_out, n_in, 1, 1, lambda: _pixel_taps(1),
                              lambda o, i, t: float(W[o, i]), bias)
    c, h, w = in_shape
    if k == "gavgpool":
        wt = 1.0 / (h * w)
        return LinearGeometry(c, 1, h * w, 1, 1, h * w, h * w, lambda: _pixel_taps(h * w),
                              lambda o, i, t: wt, np.zeros(c))
    oc, oh, ow = node.shape
    if k == "avgpool":
        kern, pad, wt = node.kernel, 0, 1.0 / node.kernel ** 2
        bias = np.zeros(c)
    else:
        kern, pad = node.weight.shape[2], node.padding
        bias = node.bias if node.bias is not None else np.zeros(oc)
    stride = node.stride
    counts = spatial_counts(h, w, oh, ow, kern, stride, pad)
    offsets = [divmod(t, kern) for t, n in enumerate(counts) if n]
    n_taps, tap_pairs = len(offsets), sum(counts)
    make_taps = lambda: [p for p in spatial_pairs(h, w, oh, ow, kern, stride, pad) if len(p[0])]  # noqa: E731
    if k == "avgpool":
        weight = lambda o, i, t: wt  # noqa: E731
    else:
        W = node.weight
        per = W.shape[1]  # input channels per group (conv2d: c / groups; dwconv2d: 1)
        weight = lambda o, i, t: float(W[o, i % per][offsets[t]])  # noqa: E731
    if k == "conv2d":  # groups = c / weight's input channels; output channels split evenly over them
        inputs = node.weight.shape[1]
        return LinearGeometry(oc, oh * ow, h * w, oc // (c // inputs), inputs, n_taps, tap_pairs, make_taps,
                              weight, bias)
    return LinearGeometry(oc, oh * ow, h * w, 1, 1, n_taps, tap_pairs, make_taps, weight, bias)


class PoolWindows:
    """A max-pool's windows: the input ciphertexts of each output, in output order. ``total`` is
    arithmetic; the windows are built on first use (plan mode needs only the total)."""

    def __init__(self, node: Node, in_shape: tuple[int, ...]):
        c, self._h, self._w = in_shape
        _, self._oh, self._ow = node.shape
        self._k, self._stride, self._pad = node.kernel, node.stride, node.padding
        self.total = c * sum(spatial_counts(self._h, self._w, self._oh, self._ow, self._k, self._stride, self._pad))

    @cached_property
    def _pixels(self) -> list[list[int]]:
        """Input pixels of each output pixel of one channel."""
        win: list[list[int]] = [[] for _ in range(self._oh * self._ow)]
        for src, dst in spatial_pairs(self._h, self._w, self._oh, self._ow, self._k, self._stride, self._pad):
            for s, d in zip(src.tolist(), dst.tolist()):
                win[d].append(s)
        return win

    def __getitem__(self, o: int) -> list[int]:
        ch, p = divmod(o, len(self._pixels))
        base = ch * self._h * self._w
        return [s + base for s in self._pixels[p]]
