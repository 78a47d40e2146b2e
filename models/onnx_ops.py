"""One ONNX node at a time into the IR: the importer's values and the op-by-op conversion.

Each ONNX value is a polynomial over one IR node (a plain tensor is ``x``, a constant has no
node), so Mul/Add/Sub/Pow chains become ``square`` or ``poly`` and a scale-and-shift after a
Conv or Gemm (bias Add, BatchNormalization, Mul by a constant) becomes an ``affine`` draft node
that ``fold_affines`` then folds into that layer. onnx_import.py reads the file and drives this.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hetier.errors import UsageError
from hetier.models.ir import Graph, Node

SUPPORTED = ("Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "Clip", "Mul", "Add", "Sub", "Pow",
             "AveragePool", "GlobalAveragePool", "MaxPool", "Flatten", "Reshape", "Identity", "Dropout",
             "Constant", "Softmax (trailing)", "LogSoftmax (trailing)", "ArgMax (trailing)")
CLIENT_OPS = ("Softmax", "LogSoftmax", "ArgMax")  # left to the client when they end the graph
ALIAS_OPS = ("Identity", "Dropout")
_WEIGHTED = ("conv2d", "dwconv2d", "dense")
@dataclass
class Poly:
    """``sum_k coeffs[k] * x**k`` where x is IR node ``base`` (None: a constant, coeffs[0]);
    coefficients are scalars or arrays broadcasting against ``shape`` (the ONNX value's shape
    per image)."""

    base: int | None
    coeffs: list
    shape: tuple[int, ...] = ()

    @property
    def degree(self) -> int:
        return max((k for k, c in enumerate(self.coeffs) if np.any(c != 0)), default=0)

    def is_plain(self) -> bool:
        return self.base is not None and self.degree == 1 and np.all(self.coeffs[1] == 1) and \
            np.all(self.coeffs[0] == 0)


def _add(a: Poly, b: Poly, sign: float = 1.0) -> Poly:
    n = max(len(a.coeffs), len(b.coeffs))
    pad = lambda c: list(c) + [0.0] * (n - len(c))  # noqa: E731
    return Poly(a.base if a.base is not None else b.base,
                [x + sign * y for x, y in zip(pad(a.coeffs), pad(b.coeffs))], a.shape if a.base is not None else b.shape)


def _mul(a: Poly, b: Poly) -> Poly:
    out = [0.0] * (len(a.coeffs) + len(b.coeffs) - 1)
    for i, x in enumerate(a.coeffs):
        for j, y in enumerate(b.coeffs):
            out[i + j] = out[i + j] + x * y
    return Poly(a.base if a.base is not None else b.base, out, a.shape if a.base is not None else b.shape)


@dataclass
class Importer:
    graph: Graph
    onnx_node: object = None  # the node being converted (for error messages)
    consts: dict = field(default_factory=dict)  # name -> TensorProto or ndarray (converted on first use)
    vals: dict = field(default_factory=dict)  # ONNX value name -> Poly
    made: dict = field(default_factory=dict)  # ONNX value name -> IR node materialized for it
    needed: set = field(default_factory=set)  # values the output depends on
    names: set = field(default_factory=set)  # IR node names taken

    def fail(self, what: str) -> None:
        n = self.onnx_node
        raise UsageError(f"ONNX node '{n.name or n.output[0]}' ({n.op_type}): {what}")

    # --- values --------------------------------------------------------------------------
    def const(self, name: str) -> np.ndarray | None:
        c = self.consts.get(name)
        if c is None or isinstance(c, np.ndarray):
            return c
        from onnx import numpy_helper

        try:
            arr = numpy_helper.to_array(c)
        except Exception as e:  # an unknown data type, data not matching its dims
            self.fail(f"constant '{name}' cannot be read ({type(e).__name__}: {str(e)[:100]})")
        if arr.dtype.kind not in "fiub":
            self.fail(f"constant '{name}' has type {arr.dtype}; hetier reads float, double and integer constants")
        if not np.isfinite(arr).all():
            self.fail(f"constant '{name}' holds NaN or infinite values")
        self.consts[name] = arr
        return arr

    def value(self, name: str) -> Poly:
        if name in self.vals:
            return self.vals[name]
        c = self.const(name)
        if c is None:
            self.fail(f"input '{name}' is produced by no node, initializer or graph input")
        return Poly(None, [c.astype(np.float64)])

    def weight(self, name: str, what: str) -> np.ndarray:
        c = self.const(name)
        if c is None:
            self.fail(f"the {what} '{name}' must be an initializer (a constant), not computed")
        if what == "weight" and c.size == 0:
            self.fail(f"the weight '{name}' of shape {list(c.shape)} is empty (a layer with no outputs)")
        # float32 kept as stored (no float64 copy of every weight): the kernels and the numpy
        # reference compute in float64, into which float32 converts exactly
        return c if c.dtype in (np.float32, np.float64) else c.astype(np.float64)

    def tensor(self, name: str) -> tuple[int, tuple[int, ...]]:
        """The IR node holding value ``name`` (materializing a polynomial) and its ONNX shape."""
        p = self.value(name)
        if p.base is None:
            self.fail(f"input '{name}' is a constant where a tensor is expected")
        if p.is_plain():
            return p.base, p.shape
        if name not in self.made:
            self.made[name] = self.materialize(p, name)
        return self.made[name], p.shape

    def factor(self, name: str) -> Poly:
        """Value ``name`` as a factor of a product of tensors: a per-channel scale-and-shift (a bias
        add, a batch-norm) is first made an affine node, to fold into its layer, so that
        ``(W x + b)^2`` squares the biased output; scalar coefficients stay symbolic."""
        p = self.value(name)
        if p.base is None or p.is_plain() or p.degree != 1 or \
                all(np.ptp(np.asarray(c, dtype=np.float64)) == 0 for c in p.coeffs):
            return p
        x, shape = self.tensor(name)
        return Poly(x, [0.0, 1.0], shape)

    def materialize(self, p: Poly, name: str) -> int:
        x, d = p.base, p.degree
        shape = self.graph.nodes[x].shape
        if d == 1:
            return self.add("affine", name, [x], shape, weight=self.per_channel(p.coeffs[1], p.shape),
                            bias=self.per_channel(p.coeffs[0], p.shape))
        if d == 2:
            c0, c1, c2 = (self.scalar(c, p.shape) for c in p.coeffs[:3])
            if (c0, c1, c2) == (0.0, 0.0, 1.0):
                return self.add("square", name, [x], shape)
            return self.add("poly", name, [x], shape, coeffs=(c0, c1, c2))
        self.fail(f"a polynomial of degree {d} in its input (the IR's polynomial activations are x^2 and "
                  "c0 + c1 x + c2 x^2)")

    def per_channel(self, c, shape: tuple[int, ...]) -> np.ndarray:
        """A coefficient as one value per channel (axis 0 of ``shape``); refuses one that varies
        within a channel."""
        a = np.asarray(c, dtype=np.float64)
        if a.ndim == len(shape) + 1 and a.shape[0] == 1:
            a = a[0]  # a leading batch axis of 1
        try:
            if np.broadcast_shapes(a.shape, shape) != tuple(shape):
                raise ValueError
        except ValueError:
            self.fail(f"a constant of shape {list(np.shape(c))} does not broadcast over {list(shape)} per image")
        a = a.reshape((1,) * (len(shape) - a.ndim) + a.shape)  # the constant's own axes only: never the
        full = np.broadcast_to(a, (shape[0],) + a.shape[1:]).reshape(shape[0], -1)  # whole tensor's size
        if not (full == full[:, :1]).all():
            self.fail("a constant that varies within a channel (only per-channel scales and shifts fold into a layer)")
        return full[:, 0].copy()

    def scalar(self, c, shape: tuple[int, ...]) -> float:
        v = self.per_channel(c, shape)
        if not (v == v[0]).all():
            self.fail("a polynomial activation with per-channel coefficients (the IR's have one set per layer)")
        return float(v[0])

    def add(self, kind: str, name: str, inputs: list[int], shape, **kw) -> int:
        if not self.names:
            self.names.update(n.name for n in self.graph.nodes)  # those added before the importer (the input)
        unique, k = name, 2
        while unique in self.names:  # ONNX node names need not be unique; a trace's layer names must
            unique, k = f"{name}#{k}", k + 1
        self.names.add(unique)
        return self.graph.add(Node(unique, kind, inputs, tuple(int(s) for s in shape), **kw))

    def put(self, name: str, node: int, shape: tuple[int, ...] | None = None) -> None:
        self.vals[name] = Poly(node, [0.0, 1.0], tuple(shape or self.graph.nodes[node].shape))

    # --- attributes ----------------------------------------------------------------------
    def attrs(self) -> dict:
        from onnx import helper

        return {a.name: helper.get_attribute_value(a) for a in self.onnx_node.attribute}

    def image(self, name: str) -> tuple[int, tuple[int, int, int]]:
        x, shape = self.tensor(name)
        if len(self.graph.nodes[x].shape) != 3:
            self.fail(f"input '{name}' has shape {list(self.graph.nodes[x].shape)} per image; expected (C, H, W)")
        return x, self.graph.nodes[x].shape

    def window(self, a: dict, kernel: tuple[int, ...] | None = None) -> tuple[int, int, int]:
        """(kernel, stride, pad) of a conv or pool: square, equal strides, symmetric equal pads."""
        k = tuple(a.get("kernel_shape", kernel or ()))
        s = tuple(a.get("strides", (1, 1)))
        pads = tuple(a.get("pads", (0, 0, 0, 0)))
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
            self.fail(f"auto_pad {a['auto_pad']!r} (give explicit pads)")
        if any(d != 1 for d in a.get("dilations", (1, 1))):
            self.fail(f"dilations {list(a['dilations'])} (only 1)")
        if a.get("ceil_mode", 0):
            self.fail("ceil_mode 1 (only floor)")
        if len(k) != 2 or k[0] != k[1]:
            self.fail(f"kernel {list(k)} (only square 2-D kernels)")
        if k[0] < 1:
            self.fail(f"kernel {list(k)} (a window of at least 1x1)")
        if len(s) != 2 or s[0] != s[1]:
            self.fail(f"strides {list(s)} (only equal strides)")
        if s[0] < 1:
            self.fail(f"strides {list(s)} (at least 1)")
        if len(pads) not in (0, 4):
            self.fail(f"pads {list(pads)} (a 2-D window has four: begin and end of each axis)")
        if len(set(pads)) > 1:
            self.fail(f"pads {list(pads)} (only the same padding on every side)")
        p = int(pads[0]) if pads else 0
        if p and a.get("auto_pad", b"NOTSET") in (b"VALID", "VALID"):
            self.fail(f"auto_pad VALID with pads {list(pads)} (the two cannot be used together)")
        if p < 0:
            self.fail(f"pads {list(pads)} (negative padding crops the input: not supported)")
        if p >= k[0]:
            self.fail(f"pads {list(pads)} with a {k[0]}x{k[0]} window (windows wholly in the padding)")
        return int(k[0]), int(s[0]), p


def _out_hw(h: int, w: int, k: int, s: int, p: int) -> tuple[int, int]:
    return (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1


def convert_node(im: Importer, n) -> None:
    """Add ONNX node ``n``'s effect to the importer's graph and values."""
    im.onnx_node = n
    op, ins, out = n.op_type, list(n.input), n.output[0]
    a = im.attrs()
    if op == "Constant":
        if "value" not in a:
            im.fail("only Constant with a 'value' tensor is supported")
        im.consts[out] = a["value"]  # read (and checked) by const() on first use
    elif op in ALIAS_OPS:
        if len([o for o in n.output if o]) > 1 and op == "Dropout" and n.output[1] in im.needed:
            im.fail("the dropout mask is used")
        if op == "Dropout":
            training = im.const(ins[2]) if len(ins) > 2 and ins[2] else np.zeros(1)
            if training is None or np.size(training) != 1:
                im.fail(f"training_mode '{ins[2]}' is not one constant (only inference)")
            if bool(np.asarray(training).reshape(-1)[0]) or ("is_test" in a and not a["is_test"]):
                im.fail("training mode (random dropout; only inference, where Dropout passes its input)")
        im.vals[out] = im.value(ins[0])
    elif op == "Conv":
        x, (c, h, w) = im.image(ins[0])
        W = im.weight(ins[1], "weight")
        if W.ndim != 4:
            im.fail(f"weight of shape {list(W.shape)} (only 2-D convolutions)")
        if "kernel_shape" in a and tuple(a["kernel_shape"]) != tuple(W.shape[2:]):
            im.fail(f"kernel_shape {list(a['kernel_shape'])} does not match the weight's {list(W.shape[2:])}")
        k, s, p = im.window(a, W.shape[2:])
        if W.shape[2] != W.shape[3]:
            im.fail(f"kernel {list(W.shape[2:])} (only square kernels)")
        g = int(a.get("group", 1))
        oc = W.shape[0]
        if g < 1 or c % g or oc % g or W.shape[1] * g != c:
            im.fail(f"{g} groups on {c} channels into {oc} with weight {list(W.shape)} (groups must divide the input "
                    "and output channels, and the weight hold input channels / groups)")
        kind = "dwconv2d" if 1 < g == c == oc else "conv2d"  # grouped (depthwise multipliers too) as conv2d
        bias = im.weight(ins[2], "bias").reshape(-1) if len(ins) > 2 and ins[2] else np.zeros(oc)
        if bias.size != oc:
            im.fail(f"bias of {bias.size} value(s) for {oc} output channels")
        oh, ow = _out_hw(h, w, k, s, p)
        if oh < 1 or ow < 1:
            im.fail(f"a {k}x{k} stride-{s} window does not fit a {h}x{w} input")
        im.put(out, im.add(kind, n.name or out, [x], (oc, oh, ow), weight=W, bias=bias, stride=s, padding=p))
    elif op in ("Gemm", "MatMul"):
        x, shape = im.tensor(ins[0])
        if len(im.graph.nodes[x].shape) != 1:
            im.fail(f"input '{ins[0]}' has shape {list(im.graph.nodes[x].shape)} per image; flatten it first")
        W = im.weight(ins[1], "weight")
        if W.ndim != 2:
            im.fail(f"weight of shape {list(W.shape)} (only a 2-D matrix)")
        if op == "Gemm" and a.get("transA", 0):
            im.fail("transA 1 (the input must be (batch, features))")
        W = (W if op == "Gemm" and a.get("transB", 0) else W.T) * float(a.get("alpha", 1.0))
        n_in = im.graph.nodes[x].shape[0]
        if W.shape[1] != n_in:
            im.fail(f"weight of {W.shape[1]} inputs on {n_in} features")
        bias = np.zeros(W.shape[0])
        if op == "Gemm" and len(ins) > 2 and ins[2]:
            C = im.weight(ins[2], "bias") * float(a.get("beta", 1.0))
            bias = im.per_channel(C, (W.shape[0],))
        im.put(out, im.add("dense", n.name or out, [x], (W.shape[0],), weight=W, bias=bias))
    elif op == "BatchNormalization":
        if a.get("training_mode", 0):
            im.fail("training_mode 1 (only inference)")
        if not a.get("spatial", 1):
            im.fail("spatial 0 (statistics per element, not per channel)")
        if len(ins) < 5 or not all(ins[1:5]):
            im.fail("scale, bias, mean and variance are needed")
        x, shape = im.tensor(ins[0])
        c = shape[0]
        gamma, beta, mean, var = (im.weight(i, "batch-norm parameter").reshape(-1) for i in ins[1:5])
        for what, v in zip(("scale", "bias", "mean", "variance"), (gamma, beta, mean, var)):
            if v.size != c:
                im.fail(f"{what} of {v.size} value(s) for {c} channels")
        eps = float(a.get("epsilon", 1e-5))
        if not np.isfinite(eps) or not (var + eps > 0).all():
            im.fail(f"variance + epsilon ({eps:g}) is not positive in every channel")
        s = gamma / np.sqrt(var + eps)
        im.put(out, im.add("affine", n.name or out, [x], im.graph.nodes[x].shape, weight=s, bias=beta - mean * s),
               shape)
    elif op in ("Add", "Sub", "Mul"):
        pa, pb = im.value(ins[0]), im.value(ins[1])
        if pa.base is not None and pb.base is not None and pa.base != pb.base:
            if op != "Add":
                im.fail(f"{op} of two different tensors is not a polynomial of one input "
                        "(only Add joins two tensors, as a residual)")
            xa, sa = im.tensor(ins[0])
            xb, sb = im.tensor(ins[1])
            ha, hb = im.graph.nodes[xa].shape, im.graph.nodes[xb].shape
            if ha != hb or sa != sb:
                im.fail(f"residual Add of shapes {list(sa)} and {list(sb)} (only equal shapes)")
            im.put(out, im.add("add", n.name or out, [xa, xb], ha), sa)
            return
        if op == "Mul" and pa.base is not None and pb.base is not None:
            pa, pb = im.factor(ins[0]), im.factor(ins[1])
        p = _mul(pa, pb) if op == "Mul" else _add(pa, pb, -1.0 if op == "Sub" else 1.0)
        if p.base is None:
            p = Poly(None, [p.coeffs[0]])  # constant folding of constant-only arithmetic
        im.vals[out] = p
    elif op == "Pow":
        e = im.const(ins[1])
        if e is None or e.size != 1 or float(e.reshape(-1)[0]) not in (0.0, 1.0, 2.0, 3.0, 4.0):
            im.fail("an exponent that is not a constant small integer")
        p = Poly(None, [1.0])
        for _ in range(int(e.reshape(-1)[0])):
            p = _mul(p, im.factor(ins[0]))
        im.vals[out] = p
    elif op in ("Relu", "Clip"):
        x, shape = im.tensor(ins[0])
        kind = "relu"
        if op == "Clip":
            lo = im.const(ins[1]) if len(ins) > 1 and ins[1] else a.get("min")
            hi = im.const(ins[2]) if len(ins) > 2 and ins[2] else a.get("max")
            for what, v, i in (("min", lo, 1), ("max", hi, 2)):
                if v is None and len(ins) > i and ins[i]:
                    im.fail(f"{what} '{ins[i]}' is computed (only a constant)")
                if v is not None and np.size(v) != 1:
                    im.fail(f"{what} of {np.size(v)} values (one value)")
            lo = None if lo is None else float(np.asarray(lo).reshape(-1)[0])
            hi = None if hi is None or float(np.asarray(hi).reshape(-1)[0]) >= 3.4e38 else float(np.asarray(hi).reshape(-1)[0])
            if (lo, hi) == (0.0, 6.0):
                kind = "relu6"
            elif lo != 0.0 or hi is not None:
                im.fail(f"Clip({lo}, {hi}) (supported: Clip(0, 6) as ReLU6 and Clip(0) as ReLU)")
        im.put(out, im.add(kind, n.name or out, [x], im.graph.nodes[x].shape), shape)
    elif op in ("AveragePool", "MaxPool"):
        if op == "MaxPool" and len(n.output) > 1 and n.output[1]:
            im.fail("MaxPool indices output (only the values)")
        if a.get("storage_order", 0):
            im.fail("storage_order 1")
        x, (c, h, w) = im.image(ins[0])
        k, s, p = im.window(a)
        if op == "AveragePool" and p:
            im.fail(f"padding {p} (average pooling only without padding)")
        oh, ow = _out_hw(h, w, k, s, p)
        if oh < 1 or ow < 1:
            im.fail(f"a {k}x{k} stride-{s} window does not fit a {h}x{w} input")
        kind = "avgpool" if op == "AveragePool" else "maxpool"
        im.put(out, im.add(kind, n.name or out, [x], (c, oh, ow), kernel=k, stride=s, padding=p))
    elif op == "GlobalAveragePool":
        x, (c, h, w) = im.image(ins[0])
        im.put(out, im.add("gavgpool", n.name or out, [x], (c,), kernel=h * w), (c, 1, 1))
    elif op in ("Flatten", "Reshape"):
        x, shape = im.tensor(ins[0])
        if op == "Flatten" and a.get("axis", 1) != 1:
            im.fail(f"axis {a['axis']} (only 1: a vector per image)")
        size = int(np.prod(shape))
        if op == "Reshape":
            target = im.const(ins[1]) if len(ins) > 1 and ins[1] else \
                (np.array(a["shape"]) if "shape" in a else None)  # opset < 5: the shape is an attribute
            zero_is_zero = a.get("allowzero", 0)  # allowzero 1: a 0 is a zero-size axis, not "copy the input's"
            first = (-1, 1) if zero_is_zero else (-1, 0, 1)
            if target is None or target.ndim != 1 or len(target) != 2 or int(target[0]) not in first or \
                    int(target[1]) not in (-1, size) or int(target[0]) == int(target[1]) == -1:
                im.fail(f"target shape {None if target is None else target.tolist()} (only (batch, -1) or "
                        f"(batch, {size}), with the batch written -1, 0 or 1: a vector per image)")
        if len(im.graph.nodes[x].shape) == 1:
            im.put(out, x, (size,))  # already a vector in the IR (global pool, dense): nothing to do
        else:
            im.put(out, im.add("flatten", n.name or out, [x], (size,)))
    elif op in CLIENT_OPS:
        im.fail(f"{op} inside the network (only a trailing {'/'.join(CLIENT_OPS)} is left to the client)")
    else:
        im.fail(f"not supported (supported: {', '.join(SUPPORTED)})")


def fold_affines(graph: Graph) -> Graph:
    """Fold every ``affine`` draft node (per-channel scale and shift) into the conv or dense layer
    before it; refuse one that follows anything else or a layer whose output is also used elsewhere."""
    users = graph.consumers()
    out = Graph(graph.name, graph.config)
    where: list[int] = []
    for j, n in enumerate(graph.nodes):
        ins = [where[i] for i in n.inputs]
        if n.kind != "affine":
            where.append(out.add(replace(n, inputs=ins)))
            continue
        src, base = n.inputs[0], out.nodes[ins[0]]
        if base.kind not in _WEIGHTED or len(users[src]) != 1:
            why = "is used elsewhere too" if base.kind in _WEIGHTED else f"is a {base.kind}, not a Conv/Gemm/MatMul"
            raise UsageError(f"ONNX node '{n.name}': a per-channel scale/shift (batch-norm, bias or constant Mul/Add) "
                             f"cannot be folded: its input '{base.name}' {why}")
        s = n.weight.reshape(-1, *([1] * (base.weight.ndim - 1)))
        base.weight = base.weight * s
        base.bias = base.bias * n.weight + n.bias
        where.append(ins[0])
    if where[-1] != len(out.nodes) - 1:
        raise UsageError("ONNX graph: the output is not computed last (a branch after the output's layer)")
    return out
