"""Encrypted layer kernels. Each allocates, computes and logs the way HE-Transformer on SEAL does.

Linear layers are weight-stationary: each scalar weight is encoded once (at the scale of the
prime the rescale will drop, so scales stay exact), used for all its multiply-accumulates, then
freed. A multiply-accumulate copies the input into a temporary, multiplies it in place and adds
it into the output's sum; each output is rescaled once (lazy rescale). Non-linear layers decrypt,
apply and re-encrypt at the top level.
"""

from __future__ import annotations

from time import perf_counter_ns as now
from typing import Callable

import numpy as np

from hetier.errors import UsageError
from hetier.tracer.recorder import (ADD_NEW, ADDP_INPLACE, ADDP_NEW, DECODE, DECRYPT, ENCODE,
                                    ENCODE_VEC, ENCRYPT, FREE, MAC, MODSW, MODSW_NEW, MUL_NEW, MULP_NEW, RELIN,
                                    RESCALE, SQUARE_NEW)
from hetier.tracer.runtime import HTensor, SealBackend


def _need_level(x: HTensor, levels: int, what: str) -> None:
    if x.level - levels < 1:
        raise UsageError(f"{what}: ciphertext at {x.level} primes cannot lose {levels} more "
                         "(too little depth; more primes are needed)")


def linear(be: SealBackend, x: HTensor, out_shape: tuple[int, ...], plan: list, bias_copy: bool,
           fused_bias: bool = True) -> HTensor:
    """A linear layer from its plan: per output channel (lo, hi, bias, [(w, srcs, dsts), ...]).

    ``fused_bias`` (hetier's runtime): each channel is rescaled and biased before the next one
    starts. Otherwise (the reference stack): the whole output is accumulated, then rescaled in
    place (capacity kept); its bias is a layer of its own (``bias_add``)."""
    if fused_bias or reference_rescales(x.level):
        _need_level(x, 1, "linear layer")
    elif x.scale > 1.5 * be.scale:
        raise UsageError("linear layer: the reference profile keeps an unrescaled product at "
                         f"{x.level} primes; a second multiplication before a refresh overflows the modulus")
    ev, enc, log, ctx = be.evaluator, be.encoder, be.rec.log, be.ctx
    Ciphertext = be.seal.Ciphertext
    L = x.level
    pid, q = be.parms_id[L], be.last_prime[L]
    n_pairs = sum(len(s) for _, _, _, ws in plan for _, s, _ in ws)
    n_weights = sum(len(ws) for _, _, _, ws in plan)
    acc = be.new_tensor("temporary" if fused_bias and bias_copy else "ciphertext", out_shape, L, x.scale)
    out = be.new_tensor("ciphertext", out_shape, L - 1, x.scale) if fused_bias and bias_copy else acc
    tmp_id = be.new_temporaries(n_pairs, L)
    pt_id = be.new_plaintexts(n_weights + (len(plan) if fused_bias else 0), L)
    xcts, acts, xb, ab, ob = x.cts, acc.cts, x.base, acc.base, out.base
    tmp, pt, ptb = be.ciphertext(), be.plaintext(), be.plaintext()
    for lo, hi, bias, weights in plan:
        for w, srcs, dsts in weights:
            if log is not None:
                log((ENCODE, L, pt_id, -1, -1, -1, now()))
            enc.encode(w, pid, q, pt)
            for s, d in zip(srcs, dsts):
                a = acts[d]
                if a is None:
                    a = acts[d] = Ciphertext(ctx)
                    if log is not None:
                        log((MULP_NEW, L, xb + s, pt_id, ab + d, -1, now()))
                    ev.multiply_plain(xcts[s], pt, a)
                else:
                    if log is not None:
                        log((MAC, L, xb + s, pt_id, tmp_id, ab + d, now()))
                        tmp_id += 1
                    ev.multiply_plain(xcts[s], pt, tmp)
                    ev.add_inplace(a, tmp)
            if log is not None:
                log((FREE, L, pt_id, -1, -1, -1, now()))
            pt_id += 1
        if not fused_bias:
            continue
        # rescale each output of this channel once, then add its bias
        if log is not None:
            log((ENCODE, L - 1, pt_id, -1, -1, -1, now()))
        enc.encode(float(bias), be.parms_id[L - 1], x.scale, ptb)
        for d in range(lo, hi):
            a = acts[d]
            if log is not None:
                log((RESCALE, L, ab + d, -1, -1, -1, now()))
            ev.rescale_to_next_inplace(a)
            if bias_copy:
                c = out.cts[d] = Ciphertext(ctx)
                if log is not None:
                    log((ADDP_NEW, L - 1, ab + d, pt_id, ob + d, -1, now()))
                ev.add_plain(a, ptb, c)
                if log is not None:
                    log((FREE, L - 1, ab + d, -1, -1, -1, now()))
                acts[d] = None
            else:
                if log is not None:
                    log((ADDP_INPLACE, L - 1, ab + d, pt_id, -1, -1, now()))
                ev.add_plain_inplace(a, ptb)
        if log is not None:
            log((FREE, L - 1, pt_id, -1, -1, -1, now()))
        pt_id += 1
    if not fused_bias:
        if not reference_rescales(L):  # kept at L primes with the product's scale
            out.scale = x.scale * q
            return out
        for d, a in enumerate(acts):
            if log is not None:
                log((RESCALE, L, ab + d, -1, -1, -1, now()))
            ev.rescale_to_next_inplace(a)
    out.level = L - 1
    return out


def reference_rescales(level: int) -> bool:
    """HE-Transformer rescales a layer's output only while the chain index stays above zero: from
    ``level`` data primes to ``level - 1`` when that leaves at least two (rescale_seal.cpp)."""
    return level - 1 >= 2


def bias_add(be: SealBackend, x: HTensor, bias: np.ndarray) -> HTensor:
    """The reference stack's bias Add: a copy of every ciphertext at its level plus its channel's
    bias (encoded once per channel)."""
    log, ev, L = be.rec.log, be.evaluator, x.level
    out = be.new_tensor("ciphertext", x.shape, L, x.scale)
    per = x.size // len(bias)
    pt_id = be.new_plaintexts(len(bias), L)
    pt = be.plaintext()
    for ch, b in enumerate(bias.tolist()):
        if log is not None:
            log((ENCODE, L, pt_id, -1, -1, -1, now()))
        be.encoder.encode(float(b), be.parms_id[L], x.scale, pt)
        for d in range(ch * per, (ch + 1) * per):
            c = out.cts[d] = be.ciphertext()
            if log is not None:
                log((ADDP_NEW, L, x.base + d, pt_id, out.base + d, -1, now()))
            ev.add_plain(x.cts[d], pt, c)
        if log is not None:
            log((FREE, L, pt_id, -1, -1, -1, now()))
        pt_id += 1
    return out


def refresh(be: SealBackend, x: HTensor, fn: Callable[[np.ndarray], np.ndarray], batch: int,
            windows: list[list[int]] | None = None, out_shape: tuple[int, ...] | None = None) -> HTensor:
    """Decrypt -> apply -> encrypt at the top level (ReLU, ReLU6; max-pool over ``windows``)."""
    log, L, top = be.rec.log, x.level, be.top
    shape = out_shape or x.shape
    out = be.new_tensor("ciphertext", shape, top, be.scale)
    n_out = out.size
    windows = windows if windows is not None else [[i] for i in range(n_out)]
    dec_id = be.new_plaintexts(sum(len(w) for w in windows), L)
    enc_id = be.new_plaintexts(n_out, top)
    sk, pk = be.rec.key_ids.get("secret", -1), be.rec.key_ids.get("public", -1)
    pt, Ciphertext = be.plaintext(), be.seal.Ciphertext
    for o, window in enumerate(windows):
        vals = []
        for i in window:
            if log is not None:
                log((DECRYPT, L, x.base + i, sk, dec_id, -1, now()))
            be.decryptor.decrypt(x.cts[i], pt)
            if log is not None:
                log((DECODE, L, dec_id, -1, -1, -1, now()))
            vals.append(be.decode_vector(pt, batch))
            if log is not None:
                log((FREE, L, dec_id, -1, -1, -1, now()))
            dec_id += 1
        v = fn(np.max(vals, axis=0) if len(vals) > 1 else vals[0])
        if log is not None:
            log((ENCODE_VEC, top, enc_id, -1, -1, -1, now()))
        be.encode_vector(v, top, be.scale, pt)
        c = out.cts[o] = Ciphertext(be.ctx)
        if log is not None:
            log((ENCRYPT, top, enc_id, pk, out.base + o, -1, now()))
        be.encryptor.encrypt(pt, c)
        if log is not None:
            log((FREE, top, enc_id, -1, -1, -1, now()))
        enc_id += 1
    return out


def square(be: SealBackend, x: HTensor) -> HTensor:
    """x * x, relinearized and rescaled (one level)."""
    _need_level(x, 1, "square")
    log, ev, L = be.rec.log, be.evaluator, x.level
    out = be.new_tensor("ciphertext", x.shape, L, x.scale, polys=3)
    rk = be.rec.key_ids.get("relin", -1)
    for i, a in enumerate(x.cts):
        c = out.cts[i] = be.ciphertext()
        if log is not None:
            log((SQUARE_NEW, L, x.base + i, -1, out.base + i, -1, now()))
        ev.square(a, c)
        if log is not None:
            log((RELIN, L, out.base + i, rk, -1, -1, now()))
        ev.relinearize_inplace(c, be.relin_keys)
        if log is not None:
            log((RESCALE, L, out.base + i, -1, -1, -1, now()))
        ev.rescale_to_next_inplace(c)
    out.level, out.scale = L - 1, x.scale * x.scale / be.last_prime[L]
    return out


def poly(be: SealBackend, x: HTensor, coeffs: tuple[float, float, float]) -> HTensor:
    """c0 + c1 x + c2 x^2 as x * (c2 x + c1) + c0 (two levels)."""
    _need_level(x, 2, "poly activation")
    c0, c1, c2 = coeffs
    log, ev, enc, L = be.rec.log, be.evaluator, be.encoder, x.level
    q = be.last_prime[L]
    u = be.new_tensor("temporary", x.shape, L, x.scale)
    xm = be.new_tensor("temporary", x.shape, L - 1, x.scale)
    out = be.new_tensor("ciphertext", x.shape, L - 1, x.scale, polys=3)
    pt_id = be.new_plaintexts(3, L)
    p2, p1, p0 = be.plaintext(), be.plaintext(), be.plaintext()
    rk = be.rec.key_ids.get("relin", -1)
    if log is not None:
        log((ENCODE, L, pt_id, -1, -1, -1, now()))
        log((ENCODE, L - 1, pt_id + 1, -1, -1, -1, now()))
    enc.encode(float(c2), be.parms_id[L], q, p2)
    enc.encode(float(c1), be.parms_id[L - 1], x.scale, p1)
    scale_out = x.scale * x.scale / be.last_prime[L - 1]
    if log is not None:
        log((ENCODE, L - 2, pt_id + 2, -1, -1, -1, now()))
    enc.encode(float(c0), be.parms_id[L - 2], scale_out, p0)
    for i, a in enumerate(x.cts):
        ui, mi, yi = be.ciphertext(), be.ciphertext(), be.ciphertext()
        if log is not None:
            log((MULP_NEW, L, x.base + i, pt_id, u.base + i, -1, now()))
            log((RESCALE, L, u.base + i, -1, -1, -1, now()))
            log((ADDP_INPLACE, L - 1, u.base + i, pt_id + 1, -1, -1, now()))
        ev.multiply_plain(a, p2, ui)
        ev.rescale_to_next_inplace(ui)
        ev.add_plain_inplace(ui, p1)
        if log is not None:
            log((MODSW_NEW, L, x.base + i, -1, xm.base + i, -1, now()))
        ev.mod_switch_to(a, be.parms_id[L - 1], mi)
        if log is not None:
            log((MUL_NEW, L - 1, u.base + i, xm.base + i, out.base + i, -1, now()))
        ev.multiply(ui, mi, yi)
        if log is not None:
            log((RELIN, L - 1, out.base + i, rk, -1, -1, now()))
            log((RESCALE, L - 1, out.base + i, -1, -1, -1, now()))
            log((ADDP_INPLACE, L - 2, out.base + i, pt_id + 2, -1, -1, now()))
            log((FREE, L - 1, u.base + i, -1, -1, -1, now()))
            log((FREE, L - 1, xm.base + i, -1, -1, -1, now()))
        ev.relinearize_inplace(yi, be.relin_keys)
        ev.rescale_to_next_inplace(yi)
        ev.add_plain_inplace(yi, p0)
        out.cts[i] = yi
    if log is not None:
        for k in range(3):
            log((FREE, L - k, pt_id + k, -1, -1, -1, now()))
    out.level, out.scale = L - 2, scale_out
    return out


def mod_switch(be: SealBackend, x: HTensor, level: int, in_place: bool) -> HTensor:
    """Bring ``x`` down to ``level`` (in place when this is its last use, else into a copy)."""
    if x.level == level:
        return x
    log, ev = be.rec.log, be.evaluator
    y = x if in_place else be.new_tensor("temporary", x.shape, x.level - 1, x.scale)
    for i, a in enumerate(x.cts):
        L = x.level
        if not in_place:
            c = y.cts[i] = be.ciphertext()
            if log is not None:
                log((MODSW_NEW, L, x.base + i, -1, y.base + i, -1, now()))
            ev.mod_switch_to_next(a, c)
            a, L = c, L - 1
        while L > level:
            if log is not None:
                log((MODSW, L, y.base + i, -1, -1, -1, now()))
            ev.mod_switch_to_next_inplace(a)
            L -= 1
    y.level = level
    return y


def add(be: SealBackend, a: HTensor, b: HTensor) -> HTensor:
    """a + b into a new tensor at the lower level of the two (residual add)."""
    if abs(a.scale / b.scale - 1) > 1e-9:
        raise UsageError(f"residual add of scales {a.scale} and {b.scale}")
    log, ev, L = be.rec.log, be.evaluator, a.level
    out = be.new_tensor("ciphertext", a.shape, L, a.scale)
    for i in range(a.size):
        c = out.cts[i] = be.ciphertext()
        if log is not None:
            log((ADD_NEW, L, a.base + i, b.base + i, out.base + i, -1, now()))
        ev.add(a.cts[i], b.cts[i], c)
    return out


def decrypt_all(be: SealBackend, x: HTensor, batch: int) -> np.ndarray:
    """Decrypt every element (the client's last step); returns (batch, *shape)."""
    log, L = be.rec.log, x.level
    dec_id = be.new_plaintexts(x.size, L)
    sk = be.rec.key_ids.get("secret", -1)
    pt, out = be.plaintext(), np.empty((x.size, batch))
    for i, c in enumerate(x.cts):
        if log is not None:
            log((DECRYPT, L, x.base + i, sk, dec_id + i, -1, now()))
        be.decryptor.decrypt(c, pt)
        if log is not None:
            log((DECODE, L, dec_id + i, -1, -1, -1, now()))
        out[i] = be.decode_vector(pt, batch)
        if log is not None:
            log((FREE, L, dec_id + i, -1, -1, -1, now()))
    return out.T.reshape(batch, *x.shape)


def free(be: SealBackend, x: HTensor) -> None:
    """Release every ciphertext of ``x`` (liveness: after its last user)."""
    log = be.rec.log
    if log is not None:
        t = now()
        be.rec.extend((FREE, x.level, x.base + i, -1, -1, -1, t) for i in range(x.size))
    x.cts.clear()
