"""Plan-mode kernels: each real kernel in ``kernels.py`` as a loop structure of primitives.

Every function creates its tensors in the same order and sizes as its real twin (so ids match)
and returns the op's ``Loop`` of ``Item``s with the counts the real loops would run.
"""

from __future__ import annotations

import numpy as np

from hetier.models.ir import Node
from hetier.tracer.kernels import reference_rescales
from hetier.tracer.linear_plan import maxpool_windows
from hetier.tracer.plan import Item, Loop
from hetier.tracer.recorder import (ADD_NEW, ADDP_INPLACE, ADDP_NEW, DECODE, DECRYPT, ENCODE, ENCODE_VEC,
                                    ENCRYPT, FREE, MAC, MODSW, MODSW_NEW, MUL_NEW, MULP_NEW, RELIN, RESCALE,
                                    SQUARE_NEW)
from hetier.tracer.runtime import HTensor


def _valid_taps(h: int, w: int, oh: int, ow: int, k: int, stride: int, pad: int) -> list[int]:
    """Output pixels each kernel offset reaches (offsets reaching none are skipped)."""
    oy, ox = np.arange(oh), np.arange(ow)
    out = []
    for ky in range(k):
        ny = int(((oy * stride + ky - pad >= 0) & (oy * stride + ky - pad < h)).sum())
        for kx in range(k):
            nx = int(((ox * stride + kx - pad >= 0) & (ox * stride + kx - pad < w)).sum())
            if ny * nx:
                out.append(ny * nx)
    return out


def linear_counts(node: Node, in_shape) -> tuple[int, int, int, int]:
    """(channels, outputs per channel, weights per channel, pairs per channel) of a linear layer."""
    k = node.kind
    if k == "dense":
        n_in = node.weight.shape[1]
        return node.weight.shape[0], 1, n_in, n_in
    if k == "gavgpool":
        c, h, w = in_shape
        return c, 1, h * w, h * w
    c, h, w = in_shape
    oc, oh, ow = node.shape
    kern = node.kernel if k == "avgpool" else node.weight.shape[2]
    pad = 0 if k == "avgpool" else node.padding
    taps = _valid_taps(h, w, oh, ow, kern, node.stride, pad)
    ins = 1 if k in ("dwconv2d", "avgpool") else c
    return oc, oh * ow, ins * len(taps), ins * sum(taps)


def linear(be, x: HTensor, node: Node, bias_copy: bool, fused_bias: bool = True) -> tuple[HTensor, Loop]:
    L = x.level
    ch, per_out, per_w, per_pairs = linear_counts(node, x.shape)
    if not fused_bias:  # the reference stack: accumulate the whole output, then rescale it in place
        acc = be.new_tensor("ciphertext", node.shape, L, x.scale)
        tmp = be.new_temporaries(ch * per_pairs, L)
        pt = be.new_plaintexts(ch * per_w, L)
        body = [Loop(per_w, [Item(ENCODE, L, pt), Item(FREE, L, pt)]),
                Loop(per_out, [Item(MULP_NEW, L, x.base, pt, acc.base)]),
                Loop(per_pairs - per_out, [Item(MAC, L, x.base, pt, tmp, acc.base)])]
        if not reference_rescales(L):
            acc.scale = x.scale * be.last_prime[L]
            return acc, Loop(ch, body)
        acc.level = L - 1
        return acc, Loop(1, [Loop(ch, body), Loop(acc.size, [Item(RESCALE, L, acc.base)])])
    acc = be.new_tensor("temporary" if bias_copy else "ciphertext", node.shape, L, x.scale)
    out = be.new_tensor("ciphertext", node.shape, L - 1, x.scale) if bias_copy else acc
    tmp = be.new_temporaries(ch * per_pairs, L)
    pt = be.new_plaintexts(ch * per_w + ch, L)
    weights = Loop(per_w, [Item(ENCODE, L, pt), Item(FREE, L, pt)])
    body = [weights, Loop(per_out, [Item(MULP_NEW, L, x.base, pt, acc.base)]),
            Loop(per_pairs - per_out, [Item(MAC, L, x.base, pt, tmp, acc.base)]),
            Item(ENCODE, L - 1, pt)]
    if bias_copy:
        body.append(Loop(per_out, [Item(RESCALE, L, acc.base), Item(ADDP_NEW, L - 1, acc.base, pt, out.base),
                                   Item(FREE, L - 1, acc.base)]))
    else:
        body.append(Loop(per_out, [Item(RESCALE, L, acc.base), Item(ADDP_INPLACE, L - 1, acc.base, pt)]))
    body.append(Item(FREE, L - 1, pt))
    out.level = L - 1
    return out, Loop(ch, body)


def bias_add(be, x: HTensor, node: Node) -> tuple[HTensor, Loop]:
    L, ch = x.level, len(node.bias)
    out = be.new_tensor("ciphertext", x.shape, L, x.scale)
    pt = be.new_plaintexts(ch, L)
    return out, Loop(ch, [Item(ENCODE, L, pt), Loop(x.size // ch, [Item(ADDP_NEW, L, x.base, pt, out.base)]),
                          Item(FREE, L, pt)])


def refresh(be, x: HTensor, node: Node | None = None) -> tuple[HTensor, Loop]:
    L, top = x.level, be.top
    if node is not None and node.kind == "maxpool":
        shape, n_dec = node.shape, sum(len(w) for w in maxpool_windows(node, x.shape))
    else:
        shape, n_dec = x.shape, x.size
    out = be.new_tensor("ciphertext", shape, top, be.scale)
    dec = be.new_plaintexts(n_dec, L)
    enc = be.new_plaintexts(out.size, top)
    sk, pk = be.rec.key_ids["secret"], be.rec.key_ids["public"]
    return out, Loop(1, [Loop(n_dec, [Item(DECRYPT, L, x.base, sk, dec), Item(DECODE, L, dec), Item(FREE, L, dec)]),
                         Loop(out.size, [Item(ENCODE_VEC, top, enc), Item(ENCRYPT, top, enc, pk, out.base),
                                         Item(FREE, top, enc)])])


def square(be, x: HTensor) -> tuple[HTensor, Loop]:
    L = x.level
    out = be.new_tensor("ciphertext", x.shape, L, x.scale, polys=3)
    rk = be.rec.key_ids["relin"]
    out.level, out.scale = L - 1, x.scale * x.scale / be.last_prime[L]
    return out, Loop(x.size, [Item(SQUARE_NEW, L, x.base, -1, out.base), Item(RELIN, L, out.base, rk),
                              Item(RESCALE, L, out.base)])


def poly(be, x: HTensor) -> tuple[HTensor, Loop]:
    L = x.level
    u = be.new_tensor("temporary", x.shape, L, x.scale)
    xm = be.new_tensor("temporary", x.shape, L - 1, x.scale)
    out = be.new_tensor("ciphertext", x.shape, L - 1, x.scale, polys=3)
    pt = be.new_plaintexts(3, L)
    rk = be.rec.key_ids["relin"]
    per = [Item(MULP_NEW, L, x.base, pt, u.base), Item(RESCALE, L, u.base), Item(ADDP_INPLACE, L - 1, u.base, pt),
           Item(MODSW_NEW, L, x.base, -1, xm.base), Item(MUL_NEW, L - 1, u.base, xm.base, out.base),
           Item(RELIN, L - 1, out.base, rk), Item(RESCALE, L - 1, out.base), Item(ADDP_INPLACE, L - 2, out.base, pt),
           Item(FREE, L - 1, u.base), Item(FREE, L - 1, xm.base)]
    body = [Item(ENCODE, L, pt), Item(ENCODE, L - 1, pt), Item(ENCODE, L - 2, pt), Loop(x.size, per)]
    body += [Item(FREE, L - k, pt) for k in range(3)]
    out.level = L - 2
    return out, Loop(1, body)


def mod_switch(be, x: HTensor, level: int, in_place: bool) -> tuple[HTensor, Loop]:
    if x.level == level:
        return x, Loop(0)
    y = x if in_place else be.new_tensor("temporary", x.shape, x.level - 1, x.scale)
    per = []
    L = x.level
    if not in_place:
        per.append(Item(MODSW_NEW, L, x.base, -1, y.base))
        L -= 1
    while L > level:
        per.append(Item(MODSW, L, y.base))
        L -= 1
    y.level = level
    return y, Loop(x.size, per)


def add(be, a: HTensor, b: HTensor) -> tuple[HTensor, Loop]:
    out = be.new_tensor("ciphertext", a.shape, a.level, a.scale)
    return out, Loop(a.size, [Item(ADD_NEW, a.level, a.base, b.base, out.base)])


def free(be, x: HTensor) -> Loop:
    return Loop(x.size, [Item(FREE, x.level, x.base)])


def encrypt_input(be, shape) -> tuple[HTensor, Loop]:
    top = be.top
    t = be.new_tensor("ciphertext", shape, top, be.scale)
    pt = be.new_plaintexts(t.size, top)
    pk = be.rec.key_ids["public"]
    return t, Loop(t.size, [Item(ENCODE_VEC, top, pt), Item(ENCRYPT, top, pt, pk, t.base), Item(FREE, top, pt)])


def decrypt_all(be, x: HTensor) -> Loop:
    dec = be.new_plaintexts(x.size, x.level)
    sk = be.rec.key_ids["secret"]
    return Loop(x.size, [Item(DECRYPT, x.level, x.base, sk, dec), Item(DECODE, x.level, dec), Item(FREE, x.level, dec)])
