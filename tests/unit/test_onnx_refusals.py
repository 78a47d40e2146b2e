"""ONNX models the importer must refuse in one line (or read right): window attributes out of range,
parameters that do not match their layer, values folding makes non-finite, ops used in a way the
IR does not run, files that are not models. Each case was a traceback, a hang or a silently wrong
trace before (found by a run of ~320 damaged models)."""

import os
import tracemalloc

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from hetier.errors import UsageError  # noqa: E402
from hetier.models.onnx_import import MAX_INPUT_VALUES, from_proto, load_onnx  # noqa: E402
from tests.unit.test_onnx_import import Net  # noqa: E402


def conv_net(**conv):
    """x (1, 6, 6) -> Conv 2x1x3x3 (``conv``'s attributes; ``bias``: its values) -> Flatten -> Gemm."""
    n = Net((1, 6, 6))
    bias = conv.pop("bias", None)
    ins = ["x", n.weights("w", (2, 1, 3, 3), 9)] + ([n.const("b", bias)] if bias is not None else [])
    pads = conv.get("pads", [0, 0, 0, 0])
    side = (6 + 2 * max(pads[0], 0) - 3) // max(conv.get("strides", [1, 1])[0], 1) + 1
    c = n.op("Conv", ins, "conv", **conv)
    out = n.op("Gemm", [n.op("Flatten", [c], "flat"), n.weights("fc.w", (3, 2 * side * side), 8)], "fc", transB=1)
    return n.model(out, (3,))


def unchecked(n, out, out_shape, opset=13):
    """``n``'s model without onnx's checker (the cases here are ones it lets through or rejects)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *n.shape])
    y = helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", *out_shape])
    m = helper.make_model(helper.make_graph(n.nodes, "net", [x], [y], n.inits),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def refused(model, pattern):
    with pytest.raises(UsageError, match=pattern):
        from_proto(model, "net")


@pytest.mark.parametrize("attrs, pattern", [
    ({"strides": [0, 0]}, r"'conv' \(Conv\): strides \[0, 0\] \(at least 1\)"),
    ({"pads": [-1, -1, -1, -1]}, r"pads \[-1, -1, -1, -1\] \(negative padding crops the input"),
    ({"pads": [3, 3, 3, 3]}, r"pads \[3, 3, 3, 3\] with a 3x3 window \(windows wholly in the padding\)"),
    ({"kernel_shape": [5, 5]}, r"kernel_shape \[5, 5\] does not match the weight's \[3, 3\]"),
    ({"auto_pad": "VALID", "pads": [1, 1, 1, 1]}, r"auto_pad VALID with pads \[1, 1, 1, 1\]"),
    ({"bias": [0.1, 0.2, 0.3]}, r"bias of 3 value\(s\) for 2 output channels"),
    ({"bias": []}, r"bias of 0 value\(s\) for 2 output channels"),
])
def test_conv_attributes_out_of_range_are_refused(attrs, pattern):
    n = Net((1, 6, 6))
    bias = attrs.pop("bias", None)
    ins = ["x", n.weights("w", (2, 1, 3, 3), 9)] + ([n.const("b", bias)] if bias is not None else [])
    c = n.op("Conv", ins, "conv", **attrs)
    refused(unchecked(n, c, (2, 4, 4)), pattern)


@pytest.mark.parametrize("op, attrs, pattern", [
    ("MaxPool", {"kernel_shape": [0, 0]}, r"'pool' \(MaxPool\): kernel \[0, 0\] \(a window of at least 1x1\)"),
    ("MaxPool", {"kernel_shape": [2, 2], "strides": [0, 0]}, r"strides \[0, 0\] \(at least 1\)"),
    ("AveragePool", {"kernel_shape": [2, 2], "strides": [0, 0]}, r"strides \[0, 0\] \(at least 1\)"),
    ("MaxPool", {"kernel_shape": [2, 2], "pads": [2, 2, 2, 2]}, r"pads \[2, 2, 2, 2\] with a 2x2 window"),
])
def test_pool_windows_out_of_range_are_refused(op, attrs, pattern):
    n = Net((2, 6, 6))
    p = n.op(op, [n.op("Conv", ["x", n.weights("w", (2, 2, 1, 1), 2)], "c")], "pool", **attrs)
    refused(unchecked(n, p, (2, 3, 3)), pattern)


def batch_norm_net(g=(1.0, 1.0), b=(0.0, 0.0), m=(0.0, 0.0), v=(1.0, 1.0), **attrs):
    n = Net((1, 5, 5))
    c = n.op("Conv", ["x", n.weights("w", (2, 1, 3, 3), 9)], "c")
    bn = n.op("BatchNormalization", [c, *(n.const(k, val) for k, val in zip("gbmv", (g, b, m, v)))], "bn", **attrs)
    return n, bn


@pytest.mark.parametrize("params, pattern", [
    ({"g": (1.0, 1.0, 1.0)}, r"'bn' \(BatchNormalization\): scale of 3 value\(s\) for 2 channels"),
    ({"v": (1.0,)}, r"variance of 1 value\(s\) for 2 channels"),
    ({"v": (-1.0, 1.0)}, r"variance \+ epsilon \(1e-05\) is not positive in every channel"),
    ({"v": (0.0, 1.0), "epsilon": 0.0}, r"variance \+ epsilon \(0\) is not positive"),
])
def test_batch_norm_parameters_must_fit_their_channels(params, pattern):
    n, bn = batch_norm_net(**params)
    refused(unchecked(n, bn, (2, 3, 3)), pattern)


def test_batch_norm_per_element_statistics_are_refused():
    n, bn = batch_norm_net(spatial=0)
    refused(unchecked(n, bn, (2, 3, 3), opset=7), r"spatial 0 \(statistics per element")


@pytest.mark.parametrize("attr, value", [("alpha", float("nan")), ("beta", float("inf"))])
def test_gemm_scales_that_make_weights_non_finite_are_refused(attr, value):
    n = Net((4,))
    out = n.op("Gemm", ["x", n.weights("w", (3, 4), 4), n.const("b", [0.1, 0.2, 0.3])], "fc", transB=1,
               **{attr: value})
    what = "weights" if attr == "alpha" else "biases"
    refused(n.model(out, (3,)), rf"layer 'fc' has NaN or infinite {what} once its scales and shifts")


def test_clip_bound_of_several_values_is_refused():
    n = Net((1, 5, 5))
    c = n.op("Conv", ["x", n.weights("w", (1, 1, 3, 3), 9)], "c")
    clip = n.op("Clip", [c, n.const("lo", [0.0, 5.0]), n.const("hi", 6.0)], "clip")
    refused(unchecked(n, clip, (1, 3, 3)), r"'clip' \(Clip\): min of 2 values \(one value\)")


def test_dropout_in_training_mode_is_refused_and_in_inference_passes():
    n = Net((4,))
    h = n.op("Gemm", ["x", n.weights("w", (3, 4), 4)], "fc", transB=1)
    n.inits.append(onnx.numpy_helper.from_array(np.array(True), "train"))
    n.nodes.append(helper.make_node("Dropout", [h, "", "train"], ["d"], name="drop"))
    refused(n.model("d", (3,)), r"'drop' \(Dropout\): training mode")
    n.inits[-1].CopyFrom(onnx.numpy_helper.from_array(np.array(False), "train"))
    g, _ = from_proto(n.model("d", (3,)), "net")
    assert [x.kind for x in g.nodes] == ["input", "dense"]


def reshape_net(target=None, opset=13):
    n = Net((2, 3, 3))
    c = n.op("Conv", ["x", n.weights("w", (2, 2, 1, 1), 2)], "c")
    if target is None:  # opset < 5: the target shape is an attribute
        n.nodes.append(helper.make_node("Reshape", [c], ["rs"], name="rs", shape=[-1, 18]))
    else:
        n.op("Reshape", [c, n.const("t", np.array(target, dtype=np.int64))], "rs")
        n.inits[-1].CopyFrom(onnx.numpy_helper.from_array(np.array(target, dtype=np.int64), "t"))
    out = n.op("Gemm", ["rs", n.weights("fc.w", (3, 18), 18)], "fc", transB=1)
    return unchecked(n, out, (3,), opset)


def test_reshape_must_keep_the_batch_axis():
    refused(reshape_net([5, -1]), r"'rs' \(Reshape\): target shape \[5, -1\] \(only \(batch, -1\)")
    refused(reshape_net([-1, -1]), r"target shape \[-1, -1\]")
    for ok in ([-1, 18], [0, -1], [1, 18]):
        g, _ = from_proto(reshape_net(ok), "net")
        assert [x.kind for x in g.nodes] == ["input", "conv2d", "flatten", "dense"]


def test_old_opset_reshape_reads_its_shape_attribute():
    g, _ = from_proto(reshape_net(None, opset=4), "net")
    assert [x.kind for x in g.nodes] == ["input", "conv2d", "flatten", "dense"]


def test_duplicate_node_names_give_distinct_layers():
    m = conv_net()
    for node in m.graph.node:
        node.name = "same"
    g, _ = from_proto(m, "net")
    names = [x.name for x in g.nodes]
    assert len(set(names)) == len(names) and names[1:] == ["same", "same#2", "same#3"]


@pytest.mark.parametrize("dims, pattern", [
    (["N", 1, 0, 6], r"has shape \[1, 0, 6\] per image: a dimension below 1"),
    (["N", 1, 100000, 100000], r"10,000,000,000 values per image .* over the 2,147,483,648 hetier plans"),
    ([], r"has 0 dims; expected \(batch, C, H, W\)"),
])
def test_input_shapes_hetier_cannot_plan_are_refused_by_what_is_wrong(dims, pattern):
    m = conv_net()
    m.graph.input[0].CopyFrom(helper.make_tensor_value_info("x", TensorProto.FLOAT, dims))
    with pytest.raises(UsageError, match=pattern):
        from_proto(m, "net")
    assert MAX_INPUT_VALUES == 1 << 31


def test_a_per_channel_constant_on_a_large_image_is_checked_without_the_image_sized_copy():
    """A bias Add on a (2, 6000, 6000) image made a 576 MB copy of the broadcast constant."""
    n = Net((1, 6000, 6000))
    c = n.op("Conv", ["x", n.weights("w", (2, 1, 1, 1), 1)], "c")
    out = n.op("Add", [c, n.const("shift", np.array([0.5, -0.5]).reshape(2, 1, 1))], "add")
    m = n.model(out, (2, 6000, 6000))
    tracemalloc.start()
    try:
        g, _ = from_proto(m, "net")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert g.nodes[1].bias.tolist() == [0.5, -0.5]
    assert peak < 20e6, peak


def test_files_that_are_not_models_are_refused_before_reading(tmp_path):
    (tmp_path / "dir.onnx").mkdir()
    os.mkfifo(tmp_path / "fifo.onnx")  # read blindly, this hung forever
    for name in ("dir.onnx", "fifo.onnx"):
        with pytest.raises(UsageError, match="is not a regular file"):
            load_onnx(tmp_path / name)
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:
        f.truncate(1 << 31)  # sparse: no disk used
    with pytest.raises(UsageError, match="over protobuf's 2 GiB limit"):
        load_onnx(big)


def test_newer_opset_than_onnx_knows_and_an_empty_graph_are_refused(tmp_path):
    m = conv_net()
    m.opset_import[0].version = onnx.defs.onnx_opset_version() + 1
    onnx.save(m, tmp_path / "new.onnx")
    with pytest.raises(UsageError, match=r"uses opset \d+, newer than the installed onnx package knows"):
        load_onnx(tmp_path / "new.onnx")
    empty = helper.make_model(helper.make_graph([], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                                [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])]))
    onnx.save(empty, tmp_path / "empty.onnx")
    with pytest.raises(UsageError, match="the ONNX graph has no nodes"):
        load_onnx(tmp_path / "empty.onnx")


def test_an_empty_weight_and_two_pads_are_refused():
    """A layer of 0 output channels reached numpy's reshape (a traceback); pads of two values were read
    as one padding for all four sides."""
    n = Net((1, 6, 6))
    c = n.op("Conv", ["x", n.const("w", np.zeros((0, 1, 3, 3)))], "conv")
    refused(unchecked(n, c, (0, 4, 4)), r"'conv' \(Conv\): the weight 'w' of shape \[0, 1, 3, 3\] is empty")
    n = Net((1, 6, 6))
    c = n.op("Conv", ["x", n.weights("w", (2, 1, 3, 3), 9)], "conv", pads=[1, 1])
    refused(unchecked(n, c, (2, 6, 6)), r"pads \[1, 1\] \(a 2-D window has four")
