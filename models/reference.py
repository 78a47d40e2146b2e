"""Plaintext numpy executor of the IR: the reference that encrypted outputs are checked against."""

from __future__ import annotations

import numpy as np

from hetier.models.ir import Graph, Node


def _pad(x: np.ndarray, p: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x


def _windows(x: np.ndarray, k: int, stride: int, oh: int, ow: int) -> np.ndarray:
    """(B, C, k, k, OH, OW) view of the k x k windows of a padded (B, C, H, W) array."""
    b, c = x.shape[:2]
    out = np.empty((b, c, k, k, oh, ow), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i, j] = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return out


def run_node(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    """One node on a batch (B, *shape) of float64 activations."""
    k = node.kind
    x = xs[0] if xs else None
    if k == "conv2d" or k == "dwconv2d":
        kh = node.weight.shape[2]
        oh, ow = node.shape[1:]
        win = _windows(_pad(x, node.padding), kh, node.stride, oh, ow)
        if k == "conv2d":  # grouped: g = input channels / weight's, each group its own output channels
            per = node.weight.shape[1]
            g = win.shape[1] // per
            b, _, kh_, kw_, oh_, ow_ = win.shape
            y = np.einsum("bgcijhw,gocij->bgohw", win.reshape(b, g, per, kh_, kw_, oh_, ow_),
                          node.weight.reshape(g, -1, per, kh_, kw_), optimize=True).reshape(b, -1, oh_, ow_)
        else:
            y = np.einsum("bcijhw,cij->bchw", win, node.weight[:, 0], optimize=True)
        return y if node.bias is None else y + node.bias[None, :, None, None]
    if k == "dense":
        y = x @ node.weight.T
        return y if node.bias is None else y + node.bias
    if k == "bias":
        return x + node.bias.reshape(-1, *([1] * (x.ndim - 2)))
    if k == "avgpool":
        oh, ow = node.shape[1:]
        return _windows(x, node.kernel, node.stride, oh, ow).mean(axis=(2, 3))
    if k == "gavgpool":
        return x.mean(axis=(2, 3))
    if k == "maxpool":
        oh, ow = node.shape[1:]
        xp = np.pad(x, ((0, 0), (0, 0), (node.padding,) * 2, (node.padding,) * 2), constant_values=-np.inf)
        return _windows(xp, node.kernel, node.stride, oh, ow).max(axis=(2, 3))
    if k == "add":
        return xs[0] + xs[1]
    if k == "flatten":
        return x.reshape(x.shape[0], -1)
    if k == "relu":
        return np.maximum(x, 0.0)
    if k == "relu6":
        return np.clip(x, 0.0, 6.0)
    if k == "square":
        return x * x
    if k == "poly":
        c0, c1, c2 = node.coeffs
        return c0 + c1 * x + c2 * x * x
    raise ValueError(f"reference executor: unknown kind {k}")


FLOAT_BYTES = 8  # activations are float64
WINDOW_COPIES = 2  # a window array, and einsum's contiguous copy of it (measured: see run_peak_bytes)


def node_temporary_bytes(node: Node, in_shape: tuple[int, ...], batch: int) -> int:
    """Bytes ``run_node`` holds besides its input and output: a padded copy of the input and the
    k x k window array (and, for convolutions, einsum's copy of it) of a windowed layer."""
    if node.kind not in ("conv2d", "dwconv2d", "avgpool", "maxpool") or len(in_shape) != 3:
        return 0
    c, h, w = in_shape
    k = node.weight.shape[2] if node.kind in ("conv2d", "dwconv2d") else node.kernel
    oh, ow = node.shape[1:]
    pad = node.padding or 0
    padded = batch * c * (h + 2 * pad) * (w + 2 * pad) * FLOAT_BYTES if pad else 0
    windows = batch * c * k * k * oh * ow * FLOAT_BYTES
    return padded + windows * (WINDOW_COPIES if node.kind in ("conv2d", "dwconv2d") else 1)


def run_peak_bytes(graph: Graph, batch: int) -> int:
    """Estimated peak bytes of running ``graph`` in numpy on ``batch`` inputs, each node's output
    freed after its last reader (as ``run_reference`` and the zoo's calibration do): the weights,
    the live outputs, and the running node's output, temporaries and scaled weights."""
    last = graph.last_use()
    size = [batch * int(np.prod(n.shape)) * FLOAT_BYTES for n in graph.nodes]
    weights = [(n.weight.nbytes if n.weight is not None else 0) + (n.bias.nbytes if n.bias is not None else 0)
               for n in graph.nodes]
    live = size[0] + sum(weights)  # the weights, plus a scaled copy of the running node's
    peak = live
    for j, node in enumerate(graph.nodes[1:], start=1):
        in_shape = graph.nodes[node.inputs[0]].shape if node.inputs else ()
        held = 2 if node.bias is not None else 1  # y and y + bias (the zoo's y * s and y.std() likewise)
        peak = max(peak, live + held * size[j] + weights[j] + node_temporary_bytes(node, in_shape, batch))
        live += size[j]
        live -= sum(size[i] for i in set(node.inputs) if last[i] == j)
    return peak


def run_reference(graph: Graph, x: np.ndarray, keep: bool = False) -> np.ndarray | list[np.ndarray]:
    """Run ``graph`` on ``x`` (B, *input_shape); ``keep`` returns every node's output."""
    outs: list[np.ndarray | None] = [x.astype(np.float64)]
    last = graph.last_use()
    for j, node in enumerate(graph.nodes[1:], start=1):
        outs.append(run_node(node, [outs[i] for i in node.inputs]))
        if not keep:
            for i in node.inputs:
                if last[i] == j:
                    outs[i] = None
    return outs if keep else outs[-1]
