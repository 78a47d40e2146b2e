"""Turn an ONNX file into the IR, with its real weights from the initializers, and say where it
came from (the trace's ``model.source``).

The conversion goes node by node (onnx_ops.py). What the IR cannot run exactly is refused in one
line naming the node, its op type and the supported list: nothing is approximated (a Sigmoid is
not a ReLU). A trailing Softmax, LogSoftmax or ArgMax is left to the client, as HE deployments
return logits, and recorded in the provenance.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from dataclasses import dataclass

import numpy as np

from hetier.errors import HetierError, UsageError
from hetier.models.ir import Graph, Node
from hetier.models.onnx_ops import CLIENT_OPS, SUPPORTED, Importer, convert_node, fold_affines


def require_onnx():
    """The onnx module, or a one-line error saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise HetierError("reading or writing ONNX needs the onnx package: pip install 'hetier[onnx]'") from None
    return onnx


@dataclass
class Imported:
    """An imported model: its IR graph and where it came from (the trace's ``model.source``)."""

    graph: Graph
    source: dict


def client_tail(g) -> tuple[str, list[str]]:
    """The value the encrypted model returns (the graph output with trailing client ops removed)
    and notes naming the removed nodes."""
    producer = {o: n for n in g.node for o in n.output}
    name, notes = g.output[0].name, []
    while name in producer and producer[name].op_type in (*CLIENT_OPS, "Identity"):  # a Dropout is converted: its mode
        n = producer[name]
        if n.op_type in CLIENT_OPS:
            notes.append(f"{n.op_type} '{n.name or n.output[0]}' left to the client")
        name = n.input[0]
    return name, notes[::-1]


def needed_nodes(g, output: str) -> tuple[list, set[str]]:
    """The nodes ``output`` depends on, in graph order, and the values they read."""
    producer = {o: i for i, n in enumerate(g.node) for o in n.output if o}
    keep, todo, seen = set(), [output], set()
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in producer and producer[v] not in keep:
            keep.add(producer[v])
            todo.extend(i for i in g.node[producer[v]].input if i)
    return [n for i, n in enumerate(g.node) if i in keep], seen


def input_shape(g, inits: set[str], given: tuple[int, ...] | None) -> tuple[str, tuple[int, ...]]:
    """The one graph input that is not an initializer and its shape per image."""
    ins = [i for i in g.input if i.name not in inits]
    if len(ins) != 1:
        raise UsageError(f"ONNX graph has {len(ins)} inputs ({', '.join(i.name for i in ins)[:200]}); "
                         "hetier traces models with one input")
    t = ins[0].type.tensor_type
    if t.elem_type not in (1, 11):  # FLOAT, DOUBLE
        raise UsageError(f"ONNX input '{ins[0].name}' has element type {t.elem_type}; only float inputs")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim][1:]
    if len(dims) not in (1, 3) and given is None:
        raise UsageError(f"ONNX input '{ins[0].name}' has {len(t.shape.dim)} dims; expected (batch, C, H, W) or "
                         "(batch, features)")
    if any(d is not None and d < 1 for d in dims):  # (an unknown dim has no dim_value at all)
        raise UsageError(f"ONNX input '{ins[0].name}' has shape {['?' if d is None else d for d in dims]} per image: "
                         "a dimension below 1")
    if given is not None:
        if len(given) != len(dims) or any(d is not None and d != v for d, v in zip(dims, given)):
            raise UsageError(f"--input-shape {','.join(map(str, given))} does not match the ONNX input "
                             f"'{ins[0].name}' of shape {['?' if d is None else d for d in dims]} per image")
        return ins[0].name, checked_size(ins[0].name, tuple(given))
    if any(d is None for d in dims):
        raise UsageError(f"ONNX input '{ins[0].name}' has symbolic dims {['?' if d is None else d for d in dims]} "
                         "per image; give --input-shape C,H,W")
    return ins[0].name, checked_size(ins[0].name, tuple(dims))


MAX_INPUT_VALUES = 1 << 31  # values per image: one ciphertext each in batch-axis packing (2^31 of them: ~400 TB)


def checked_size(name: str, dims: tuple[int, ...]) -> tuple[int, ...]:
    """``dims`` if an image of that shape is one hetier can plan (each value a ciphertext)."""
    values = math.prod(int(d) for d in dims)  # Python ints: no overflow for 2^62-wide dims
    if values > MAX_INPUT_VALUES:
        raise UsageError(f"ONNX input '{name}' has {values:,} values per image {list(dims)}, over the "
                         f"{MAX_INPUT_VALUES:,} hetier plans (each value is a ciphertext)")
    return dims


def from_proto(model, name: str, shape: tuple[int, ...] | None = None) -> tuple[Graph, list[str]]:
    """The IR graph of ONNX ``model`` and the notes on what was left to the client."""
    g = model.graph
    if len(g.output) != 1:
        raise UsageError(f"ONNX graph has {len(g.output)} outputs; hetier traces models with one")
    consts = {t.name: t for t in g.initializer}
    output, notes = client_tail(g)
    nodes, needed = needed_nodes(g, output)
    known = {op.split()[0] for op in SUPPORTED}
    for n in nodes:  # an op the IR lacks is the first thing to say, before any shape
        if n.op_type not in known or n.domain not in ("", "ai.onnx"):
            where = f" in domain '{n.domain}'" if n.domain not in ("", "ai.onnx") else ""
            raise UsageError(f"ONNX node '{n.name or n.output[0]}' ({n.op_type}){where}: not supported "
                             f"(supported: {', '.join(SUPPORTED)})")
    in_name, in_shape = input_shape(g, set(consts), shape)
    graph = Graph(name, {"onnx": name, "input_shape": list(in_shape)})
    graph.add(Node("input", "input", [], in_shape))
    im = Importer(graph, consts=consts, needed=needed)
    im.put(in_name, 0)
    for n in nodes:
        convert_node(im, n)
    im.onnx_node = type("Out", (), {"name": output, "op_type": "graph output", "output": [output]})
    x, _ = im.tensor(output)
    if x == 0:
        raise UsageError("ONNX graph: the output is the input (no layer to trace)")
    return finite_weights(fold_affines(graph)), notes


def finite_weights(graph: Graph) -> Graph:
    """``graph`` if every layer's weights, biases and coefficients are finite after folding (a
    batch-norm with variance + epsilon <= 0, or a Gemm alpha/beta of NaN or inf, makes them not)."""
    for n in graph.nodes:
        for field, what in (("weight", "weights"), ("bias", "biases"), ("coeffs", "coefficients")):
            v = getattr(n, field, None)
            if v is not None and not np.isfinite(np.asarray(v, dtype=np.float64)).all():
                raise UsageError(f"ONNX graph: layer '{n.name}' has NaN or infinite {what} once its scales and "
                                 "shifts (batch-norm, Gemm alpha/beta, constant Mul/Add) are folded in")
    return graph


MAX_PROTO_BYTES = (1 << 31) - 1  # protobuf's limit on one serialized message (an ONNX ModelProto)


def first_words(e: Exception, limit: int = 300) -> str:
    """An exception's message as one line (the checker's run over several), cut to ``limit``."""
    text = " ".join(str(e).split())
    return (text[:limit] + "...") if len(text) > limit else (text or type(e).__name__)


def load_onnx(path: str | os.PathLike, shape: tuple[int, ...] | None = None) -> Imported:
    """Import the ONNX file at ``path``: its graph and provenance (file name, size, sha256,
    producer, opset, what was left to the client)."""
    onnx = require_onnx()
    from google.protobuf.message import DecodeError

    p = os.fspath(path)
    st = os.stat(p)
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"'{p}' is not a regular file (an ONNX model is one)")
    if st.st_size > MAX_PROTO_BYTES:
        raise UsageError(f"'{p}' holds {st.st_size:,} bytes, over protobuf's 2 GiB limit for an ONNX model "
                         "(larger models keep their weights as external data)")
    with open(p, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    size = len(data)
    try:  # the checker parses the bytes in C++ first: no Python copy of the model is alive yet
        onnx.checker.check_model(data)
        invalid = None
    except Exception as e:  # the checker's ValidationError (also for models with external data)
        invalid = first_words(e)
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, RuntimeWarning, ValueError) as e:
        raise UsageError(f"'{p}' is not an ONNX model (truncated or another format: {str(e)[:120]})") from None
    del data
    if not model.HasField("graph") or model.ir_version < 1:
        raise UsageError(f"'{p}' is not an ONNX model (no graph; truncated or another format)")
    if not model.graph.node:
        raise UsageError(f"'{p}': the ONNX graph has no nodes (nothing to trace)")
    try:
        if any(t.data_location == 1 for t in model.graph.initializer):  # EXTERNAL: weights in other files
            from onnx.external_data_helper import load_external_data_for_model

            load_external_data_for_model(model, os.path.dirname(os.path.abspath(p)))
            onnx.checker.check_model(model)
            invalid = None
    except Exception as e:  # the checker's ValidationError and missing external files
        invalid = first_words(e)
    if invalid is not None:
        raise UsageError(f"'{p}' is not a valid ONNX model: {invalid}")
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    known = onnx.defs.onnx_opset_version()
    if opset > known:
        raise UsageError(f"'{p}' uses opset {opset}, newer than the installed onnx package knows ({known}): "
                         "its ops' meaning cannot be checked")
    stem = os.path.splitext(os.path.basename(p))[0][:200] or "onnx-model"
    graph, notes = from_proto(model, stem, shape)
    graph.config["onnx"] = os.path.basename(p)
    source = {"kind": "onnx", "file": os.path.basename(p), "bytes": size, "sha256": digest,
              "producer": f"{model.producer_name} {model.producer_version}".strip(), "opset": int(opset),
              "left_to_client": notes}
    return Imported(graph, source)
