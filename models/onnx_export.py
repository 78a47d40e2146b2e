"""Write an IR graph (a zoo model) as ONNX: the seed's networks with their seeded weights, in the
interchange format PyTorch and TensorFlow export to, and re-importable by onnx_import.

Weights are stored as float32 (what trained networks ship); the batch axis is symbolic ("N").
Each IR node becomes the ONNX ops a framework export would give it: Conv (group = channels for
depthwise), Gemm, AveragePool, GlobalAveragePool + Flatten, MaxPool, Add, Flatten, Relu,
Clip(0, 6), Mul(x, x) for square and Mul/Add nodes for the polynomial. Node names are the IR's.
"""

from __future__ import annotations

import os

import numpy as np

from hetier.errors import UsageError
from hetier.models.ir import Graph

OPSET = 13  # Clip takes min/max as inputs from opset 11; 13 is what torch.onnx.export defaults to


def _onnx():
    from hetier.models.onnx_import import require_onnx

    return require_onnx()


def to_onnx(graph: Graph):
    """The ModelProto of ``graph`` (conv/dense weights and biases as float32 initializers)."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    names: list[str] = []  # ONNX value holding each IR node's output

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def op(op_type: str, inputs: list[str], name: str, out: str | None = None, **attrs) -> str:
        out = out or name
        nodes.append(helper.make_node(op_type, inputs, [out], name=name, **attrs))
        return out

    for n in graph.nodes:
        x = [names[i] for i in n.inputs]
        k = n.kind
        if k == "input":
            names.append("input")
            continue
        if k in ("conv2d", "dwconv2d"):
            kh = n.weight.shape[2]
            ins = x + [const(f"{n.name}.weight", n.weight)]
            if n.bias is not None:
                ins.append(const(f"{n.name}.bias", n.bias))
            y = op("Conv", ins, n.name, kernel_shape=[kh, kh], strides=[n.stride] * 2, pads=[n.padding] * 4,
                   dilations=[1, 1], group=graph.nodes[n.inputs[0]].shape[0] // n.weight.shape[1])
        elif k == "dense":
            ins = x + [const(f"{n.name}.weight", n.weight)]
            if n.bias is not None:
                ins.append(const(f"{n.name}.bias", n.bias))
            y = op("Gemm", ins, n.name, transB=1)
        elif k == "avgpool":
            y = op("AveragePool", x, n.name, kernel_shape=[n.kernel] * 2, strides=[n.stride] * 2)
        elif k == "maxpool":
            y = op("MaxPool", x, n.name, kernel_shape=[n.kernel] * 2, strides=[n.stride] * 2, pads=[n.padding] * 4)
        elif k == "gavgpool":  # the IR's global pool yields a vector; ONNX keeps (N, C, 1, 1)
            y = op("Flatten", [op("GlobalAveragePool", x, n.name)], f"{n.name}_flatten", axis=1)
        elif k == "flatten":
            y = op("Flatten", x, n.name, axis=1)
        elif k == "add":
            y = op("Add", x, n.name)
        elif k == "relu":
            y = op("Relu", x, n.name)
        elif k == "relu6":
            y = op("Clip", x + [const(f"{n.name}.min", 0.0), const(f"{n.name}.max", 6.0)], n.name)
        elif k == "square":
            y = op("Mul", [x[0], x[0]], n.name)
        elif k == "poly":  # c0 + c1 x + c2 x^2 as a framework writes it
            c0, c1, c2 = n.coeffs
            sq = op("Mul", [x[0], x[0]], f"{n.name}_x2")
            a = op("Mul", [sq, const(f"{n.name}.c2", c2)], f"{n.name}_c2x2")
            b = op("Mul", [x[0], const(f"{n.name}.c1", c1)], f"{n.name}_c1x")
            y = op("Add", [op("Add", [a, b], f"{n.name}_sum"), const(f"{n.name}.c0", c0)], n.name)
        elif k == "bias":
            y = op("Add", x + [const(f"{n.name}.value", n.bias.reshape(-1, *([1] * (len(n.shape) - 1))))], n.name)
        else:
            raise UsageError(f"cannot export layer '{n.name}' of kind '{k}' to ONNX")
        names.append(y)
    batch_in = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *graph.input_shape])
    out = helper.make_tensor_value_info(names[-1], TensorProto.FLOAT, ["N", *graph.nodes[-1].shape])
    g = helper.make_graph(nodes, graph.name, [batch_in], [out], inits)
    from hetier.version import __version__

    model = helper.make_model(g, producer_name="hetier", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by onnxruntime >= 1.11 and onnx >= 1.10
    model.doc_string = f"hetier zoo model {graph.name} {graph.config}"
    onnx.checker.check_model(model)
    return model


def write_onnx(graph: Graph, path: str | os.PathLike, force: bool = False) -> int:
    """Write ``graph`` as an ONNX file (atomically; refuses an existing file without ``force``).
    Returns the bytes written."""
    from hetier.atomic import AtomicOutput, check_output

    data = to_onnx(graph).SerializeToString()
    check_output(path, force)
    with AtomicOutput(path) as out:
        out.file.write(data)
    return len(data)
