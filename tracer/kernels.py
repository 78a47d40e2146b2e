"""The encrypted layer kernels: one description per layer kind of what it allocates, reads and
writes, the way HE-Transformer on SEAL does.

Each kernel creates its tensors and calls the backend's primitives (runtime.SealBackend) inside
``be.loop``/``be.spread`` loops. The SEAL backend runs it for real, the symbolic backend with no
encryption (plan mode, ciphertext granularity) and the plan backend (plan.py) counts its loops
(plan mode, tensor granularity): one description, three backends. ``KERNELS`` maps each layer
kind to its kernel; executor.py walks the graph through it.

Linear layers are weight-stationary: each scalar weight is encoded once (at the scale of the
prime the rescale will drop, so scales stay exact), used for all its multiply-accumulates, then
freed. A weight's first product into an output becomes that output; later ones go through a
temporary and are added in. Non-linear layers decrypt, apply and re-encrypt at the top level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hetier.errors import UsageError
from hetier.models.ir import Node
from hetier.tracer.geometry import LINEAR_KINDS, PoolWindows, linear_geometry
from hetier.tracer.runtime import HTensor, SealBackend


# Host memory of the reference stack (HE-Transformer on nGraph; sources read at
# github.com/NervanaSystems/he-transformer, the version whose kernels take std::vector<HEType>):
# - A Constant op's output is an unpacked plaintext HETensor: he_tensor.cpp, HETensor::HETensor,
#   ``m_data.resize(num_elements, HEType(HEPlaintext(get_batch_size()), ...))`` with batch size 1
#   for an unpacked tensor, i.e. one HEType per value (a Constant is unpacked: the
#   PropagateHEAnnotations pass, pass/propagate_he_annotations.cpp, gives every op without an
#   annotation the server-plaintext-unpacked one, and packing flows only from packed inputs,
#   which a Constant has none of); constant_seal.cpp (constant_seal over
#   std::vector<HEType>) then sets each one to ``HEPlaintext(std::vector<double>{value})``.
# - HEType (he_type.hpp, private members): bool m_is_plain, bool m_complex_packing (8 bytes with
#   padding), size_t m_batch_size (8), HEPlaintext m_plain (a std::vector<double>, he_plaintext.hpp:
#   24), std::shared_ptr<SealCiphertextWrapper> m_cipher (16): 56 bytes in the vector's array.
# - Each HEPlaintext holds its one double on the heap: an 8-byte request is a 32-byte chunk of
#   glibc's malloc on x86-64 (16-byte alignment, 8-byte header, minimum chunk 32).
HOST_BYTES_PER_VALUE = 56 + 32
# nGraph keeps a Constant's data as f32 (op::Constant, element::f32), 4 bytes per value, for as
# long as the function lives: the whole run.
FLOAT_BYTES = 4


@dataclass
class RunOptions:
    """What a kernel needs to know besides its inputs."""

    batch: int
    bias_copy: bool = True  # hetier profile: the bias add writes a new ciphertext (else in place)
    fused_bias: bool = True  # hetier profile; the reference stack adds the bias as a layer of its own
    dies: tuple[bool, ...] = ()  # per input: is this node its last reader


def _need_level(x: HTensor, levels: int, what: str) -> None:
    if x.level - levels < 1:
        raise UsageError(f"{what}: ciphertext at {x.level} primes cannot lose {levels} more "
                         "(too little depth; more primes are needed)")


def reference_rescales(level: int) -> bool:
    """HE-Transformer rescales a layer's output only while the chain index stays above zero: from
    ``level`` data primes to ``level - 1`` when that leaves at least two (rescale_seal.cpp)."""
    return level - 1 >= 2


def linear(be: SealBackend, node: Node, ins: list[HTensor], run: RunOptions) -> HTensor:
    """conv2d, dwconv2d, dense, avgpool, gavgpool from their geometry.

    ``fused_bias`` (hetier's runtime): each channel is rescaled and biased before the next one
    starts. Otherwise (the reference stack): the whole output is accumulated, then rescaled in
    place (capacity kept), only while reference_rescales allows; its bias is a layer (``bias``)."""
    x, fused = ins[0], run.fused_bias
    if fused or reference_rescales(x.level):
        _need_level(x, 1, "linear layer")
    elif x.scale > 1.5 * be.scale:
        raise UsageError("linear layer: the reference profile keeps an unrescaled product at "
                         f"{x.level} primes; a second multiplication before a refresh overflows the modulus")
    geo = linear_geometry(node, x.shape)
    L, q = x.level, be.last_prime[x.level]
    # the reference stack's weights Constant: an unpacked plaintext tensor built before the op
    wc = None if fused or node.weight is None else be.new_host(1, int(node.weight.size) * HOST_BYTES_PER_VALUE)
    if wc is not None:
        be.constant(wc)
    copy = fused and run.bias_copy
    acc = be.new_tensor("temporary" if copy else "ciphertext", node.shape, L, x.scale)
    out = be.new_tensor("ciphertext", node.shape, L - 1, x.scale) if copy else acc
    tmp = be.new_temporaries(geo.channels * (geo.pairs - geo.outputs), L)
    pt = be.new_plaintexts(geo.channels * (geo.weights + fused), L)
    for o in be.loop(geo.channels):
        for w, firsts, rest in be.loop(geo.weights, lambda: geo.channel(o), rep=(0.0, (), ())):
            p = pt()
            be.encode(L, p, w, q)
            for s, d in be.spread(geo.outputs, lambda: firsts, rep=(0, 0)):
                be.mulp_new(L, x.base + s, p, acc.base + d)
            for s, d in be.spread(geo.pairs - geo.outputs, lambda: rest, rep=(0, 0)):
                be.mac(L, x.base + s, p, tmp(), acc.base + d)
            be.free(L, p)
        if not fused:
            continue
        p = pt()  # rescale each output of this channel once, then add its bias
        be.encode(L - 1, p, float(geo.bias[o]), x.scale)
        for d in be.loop(geo.outputs, lambda: range(o * geo.outputs, (o + 1) * geo.outputs)):
            be.rescale(L, acc.base + d)
            if copy:
                be.addp_new(L - 1, acc.base + d, p, out.base + d)
                be.free(L - 1, acc.base + d)
            else:
                be.addp_inplace(L - 1, acc.base + d, p)
        be.free(L - 1, p)
    if not fused:
        if not reference_rescales(L):  # kept at L primes with the product's scale
            out.scale = x.scale * q
            if wc is not None:
                be.free(0, wc)
            return out
        for d in be.loop(acc.size):
            be.rescale(L, acc.base + d)
    out.level = L - 1
    if wc is not None:
        be.free(0, wc)
    return out


def bias_add(be: SealBackend, node: Node, ins: list[HTensor], run: RunOptions) -> HTensor:
    """The reference stack's bias Add: a copy of every ciphertext at its level plus its channel's
    bias (encoded once per channel).

    ngraph-bridge (v0.21.0-rc0, ngraph_builder.cc, the BiasAdd translation) lowers BiasAdd to
    ``Broadcast(bias, input shape)`` + ``Add``, the input shape including the batch; constant
    folding turns the broadcast into a Constant of batch x elements values, which HE-Transformer
    builds as an unpacked plaintext tensor (HOST_BYTES_PER_VALUE per value) just before its Add
    and frees after it. The Add reads only the constant's first ``elements`` values:
    he_seal_executable.cpp (case Add) calls ``add_seal(..., out[0]->get_batched_element_count())``,
    the packed output's element count, and add_seal.cpp loops ``for i < count`` over ``arg1[i]``;
    the other batch - 1 values per element are built and destroyed unread. So the constant is two
    host buffers: the head the Add reads (elements x HOST_BYTES_PER_VALUE, contiguous: the
    vector's first HETypes and the chunks one thread malloc'd for them) and, per element, the
    batch - 1 values no one reads."""
    x, L = ins[0], ins[0].level
    out = be.new_tensor("ciphertext", x.shape, L, x.scale)
    head = be.new_host(1, x.size * HOST_BYTES_PER_VALUE)
    rest = be.new_host(x.size, (run.batch - 1) * HOST_BYTES_PER_VALUE) if run.batch > 1 else None
    be.constant(head)
    if rest is not None:
        for d in be.loop(x.size):
            be.constant(rest + d)
    be.host_read(head)
    per = x.size // len(node.bias)
    pt = be.new_plaintexts(len(node.bias), L)
    for ch in be.loop(len(node.bias)):
        p = pt()
        be.encode(L, p, float(node.bias[ch]), x.scale)
        for d in be.loop(per, lambda: range(ch * per, (ch + 1) * per)):
            be.addp_new(L, x.base + d, p, out.base + d)
        be.free(L, p)
    be.free(0, head)
    if rest is not None:
        for d in be.loop(x.size):
            be.free(0, rest + d)
    return out


def folded_constants(be: SealBackend, nodes: list[Node], batch: int) -> list[int]:
    """The reference stack's constant data for the whole run (f32, FLOAT_BYTES per value): each
    weighted layer's weights and each bias Add's folded broadcast (batch x elements values).
    One host buffer per constant, allocated now (before the first op); returns their ids."""
    sizes = [int(n.weight.size) for n in nodes if n.weight is not None]
    sizes += [batch * int(np.prod(n.shape)) for n in nodes if n.kind == "bias"]
    ids = [be.new_host(1, FLOAT_BYTES * s) for s in sizes]
    for b in ids:
        be.constant(b)
    return ids


def refresh(be: SealBackend, x: HTensor, fn: Callable[[np.ndarray], np.ndarray], batch: int,
            windows: PoolWindows | None = None, out_shape: tuple[int, ...] | None = None) -> HTensor:
    """Decrypt -> apply -> encrypt at the top level (ReLU, ReLU6; max-pool over ``windows``)."""
    L, top = x.level, be.top
    out = be.new_tensor("ciphertext", out_shape or x.shape, top, be.scale)
    n_dec = x.size if windows is None else windows.total
    dec = be.new_plaintexts(n_dec, L)
    enc = be.new_plaintexts(out.size, top)
    for o in be.loop(out.size):
        vals = []
        for i in be.spread(n_dec, (lambda: (o,)) if windows is None else (lambda: windows[o])):
            vals.append(be.decrypt_decode(L, x.base + i, p := dec(), batch))
            be.free(L, p)
        v = fn(np.max(vals, axis=0) if len(vals) > 1 else vals[0])
        be.encode_vec(top, p := enc(), v, be.scale)
        be.encrypt(top, p, out.base + o)
        be.free(top, p)
    return out


def activation(fn: Callable[[np.ndarray], np.ndarray]):
    """A refresh layer applying ``fn`` to every element."""
    def kernel(be: SealBackend, node: Node, ins: list[HTensor], run: RunOptions) -> HTensor:
        return refresh(be, ins[0], fn, run.batch)
    return kernel


def maxpool(be: SealBackend, node: Node, ins: list[HTensor], run: RunOptions) -> HTensor:
    windows = PoolWindows(node, ins[0].shape)
    return refresh(be, ins[0], lambda v: v, run.batch, windows, node.shape)


def square(be: SealBackend, node: Node, ins: list[HTensor], run: RunOptions) -> HTensor:
    """x * x, relinearized and rescaled (one level)."""
    x, L = ins[0], ins[0].level
    _need_level(x, 1, "square")
    out = be.new_tensor("ciphertext", x.shape, L, x.scale, polys=3)
    for i in be.loop(x.size):
        be.square_new(L, x.base + i, out.base + i)
        be.relin(L, out.base + i)
        be.rescale(L, out.base + i)
    out.level, out.scale = L - 1, x.scale * x.scale / be.last_prime[L]
    return out


def poly(be: SealBackend, node: Node, ins: list[HTensor], run: RunOptions) -> HTensor:
    """c0 + c1 x + c2 x^2 as x * (c2 x + c1) + c0 (two levels)."""
    x, L = ins[0], ins[0].level
    _need_level(x, 2, "poly activation")
    c0, c1, c2 = node.coeffs
    u = be.new_tensor("temporary", x.shape, L, x.scale)
    xm = be.new_tensor("temporary", x.shape, L - 1, x.scale)
    out = be.new_tensor("ciphertext", x.shape, L - 1, x.scale, polys=3)
    pt = be.new_plaintexts(3, L)
    p2, p1, p0 = pt(), pt(), pt()
    scale_out = x.scale * x.scale / be.last_prime[L - 1]
    be.encode(L, p2, float(c2), be.last_prime[L])
    be.encode(L - 1, p1, float(c1), x.scale)
    be.encode(L - 2, p0, float(c0), scale_out)
    for i in be.loop(x.size):
        a, ui, mi, yi = x.base + i, u.base + i, xm.base + i, out.base + i
        be.mulp_new(L, a, p2, ui)
        be.rescale(L, ui)
        be.addp_inplace(L - 1, ui, p1)
        be.modsw_new(L, a, mi)
        be.mul_new(L - 1, ui, mi, yi)
        be.relin(L - 1, yi)
        be.rescale(L - 1, yi)
        be.addp_inplace(L - 2, yi, p0)
        be.free(L - 1, ui)
        be.free(L - 1, mi)
    for k, p in enumerate((p2, p1, p0)):
        be.free(L - k, p)
    out.level, out.scale = L - 2, scale_out
    return out


def mod_switch(be: SealBackend, x: HTensor, level: int, in_place: bool) -> HTensor:
    """Bring ``x`` down to ``level`` (in place when this is its last use, else into a copy)."""
    if x.level == level:
        return x
    y = x if in_place else be.new_tensor("temporary", x.shape, x.level - 1, x.scale)
    for i in be.loop(x.size):
        L = x.level
        if not in_place:
            be.modsw_new(L, x.base + i, y.base + i)
            L -= 1
        while L > level:
            be.modsw(L, y.base + i)
            L -= 1
    y.level = level
    return y


def add(be: SealBackend, node: Node, ins: list[HTensor], run: RunOptions) -> HTensor:
    """a + b (residual add) into a new tensor at the lower level of the two; an input above it is
    switched down in place when this is its last use, else through a copy freed after."""
    if abs(ins[0].scale / ins[1].scale - 1) > 1e-9:
        raise UsageError(f"residual add of scales {ins[0].scale} and {ins[1].scale}")
    lo = min(t.level for t in ins)
    a, b = (mod_switch(be, t, lo, dies) for t, dies in zip(ins, run.dies))
    out = be.new_tensor("ciphertext", a.shape, lo, a.scale)
    for i in be.loop(a.size):
        be.add_new(lo, a.base + i, b.base + i, out.base + i)
    for t, src in ((a, ins[0]), (b, ins[1])):
        if t is not src:
            free(be, t)
    return out


def flatten(be: SealBackend, node: Node, ins: list[HTensor], run: RunOptions) -> HTensor:
    """The same ciphertexts under another shape (no primitive)."""
    s = ins[0]
    return HTensor(node.shape, s.tid, s.base, s.level, s.scale)


def encrypt_input(be: SealBackend, shape: tuple[int, ...], images: np.ndarray | None) -> HTensor:
    """One ciphertext per element of ``images`` (batch, *shape), an image per slot (None: no
    values, for the backends that encrypt nothing)."""
    rows = None if images is None else images.reshape(images.shape[0], -1).T  # a row per element
    t = be.new_tensor("ciphertext", shape, be.top, be.scale)
    pt = be.new_plaintexts(t.size, be.top)
    for i in be.loop(t.size):
        be.encode_vec(be.top, p := pt(), None if rows is None else rows[i], be.scale)
        be.encrypt(be.top, p, t.base + i)
        be.free(be.top, p)
    return t


def decrypt_all(be: SealBackend, x: HTensor, batch: int) -> np.ndarray:
    """Decrypt every element (the client's last step); returns (batch, *shape)."""
    L = x.level
    dec = be.new_plaintexts(x.size, L)
    out = np.zeros((x.size, batch))
    for i in be.loop(x.size):
        out[i] = be.decrypt_decode(L, x.base + i, p := dec(), batch)
        be.free(L, p)
    return out.T.reshape(batch, *x.shape)


def free(be: SealBackend, x: HTensor) -> None:
    """Release every ciphertext of ``x`` (liveness: after its last user)."""
    for i in be.loop(x.size):
        be.free(x.level, x.base + i)


_RELU = activation(lambda v: np.maximum(v, 0.0))
KERNELS: dict[str, Callable[[SealBackend, Node, list[HTensor], RunOptions], HTensor]] = {
    **{kind: linear for kind in LINEAR_KINDS},
    "bias": bias_add,
    "relu": _RELU,
    "relu6": activation(lambda v: np.clip(v, 0.0, 6.0)),
    "maxpool": maxpool,
    "square": square,
    "poly": poly,
    "add": add,
    "flatten": flatten,
}
