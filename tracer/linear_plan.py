"""Which input feeds which output with which weight, for every linear layer kind.

A plan lists, per output channel, (first output, end output, bias, [(weight, srcs, dsts)]):
the weight-stationary order the linear kernel runs in. Pooling layers are linear layers with
constant weights 1/k^2.
"""

from __future__ import annotations

import numpy as np

from hetier.models.ir import Node


def _spatial_pairs(h: int, w: int, oh: int, ow: int, k: int, stride: int, pad: int):
    """For each kernel offset, the (input pixel, output pixel) pairs it connects."""
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    pairs = {}
    for ky in range(k):
        for kx in range(k):
            iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
            ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            pairs[ky, kx] = ((iy * w + ix)[ok], (oy * ow + ox)[ok])
    return pairs


def plan(node: Node, in_shape: tuple[int, ...]) -> list:
    k = node.kind
    if k == "dense":
        n_in = node.weight.shape[1]
        srcs = [[i] for i in range(n_in)]
        bias = node.bias if node.bias is not None else np.zeros(node.weight.shape[0])
        return [(o, o + 1, bias[o], [(float(node.weight[o, i]), srcs[i], [o]) for i in range(n_in)])
                for o in range(node.weight.shape[0])]
    if k == "gavgpool":
        c, h, w = in_shape
        wt = 1.0 / (h * w)
        return [(ch, ch + 1, 0.0, [(wt, [ch * h * w + p], [ch]) for p in range(h * w)]) for ch in range(c)]
    c, h, w = in_shape
    oc, oh, ow = node.shape
    if k == "avgpool":
        kern, weight = node.kernel, np.full((c, 1, node.kernel, node.kernel), 1.0 / node.kernel ** 2)
        bias, pad = np.zeros(c), 0
    else:
        kern, weight, pad = node.weight.shape[2], node.weight, node.padding
        bias = node.bias if node.bias is not None else np.zeros(oc)
    pairs = _spatial_pairs(h, w, oh, ow, kern, node.stride, pad)
    out = []
    for o in range(oc):
        ins = [o] if k in ("dwconv2d", "avgpool") else range(c)
        ws = []
        for i in ins:
            for (ky, kx), (src, dst) in pairs.items():
                if len(src):
                    wv = weight[o, 0 if k != "conv2d" else i, ky, kx]
                    ws.append((float(wv), (src + i * h * w).tolist(), (dst + o * oh * ow).tolist()))
        out.append((o * oh * ow, (o + 1) * oh * ow, float(bias[o]), ws))
    return out


def maxpool_windows(node: Node, in_shape: tuple[int, ...]) -> list[list[int]]:
    c, h, w = in_shape
    _, oh, ow = node.shape
    pairs = _spatial_pairs(h, w, oh, ow, node.kernel, node.stride, node.padding)
    win: list[list[int]] = [[] for _ in range(oh * ow)]
    for src, dst in pairs.values():
        for s, d in zip(src.tolist(), dst.tolist()):
            win[d].append(s)
    return [[s + ch * h * w for s in wl] for ch in range(c) for wl in win]
