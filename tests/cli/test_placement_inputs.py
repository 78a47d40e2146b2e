"""Placement files the issue found accepted or crashing: non-list moves, inexact tensor keys
(" 3", "1_0" used to address tensors 3 and 10), tiers that are not names, NaN op indexes, deep
nesting, and references to tensors or ops the trace does not have; each refused in one line."""

import copy
import json

import pytest

from hetier.formats.placement import placement_document, write_placement
from tests.cli.test_sweep import TRACE
from tests.helpers import run_cli as run


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """An all-DRAM placement of every tensor the sample trace allocates, and the trace's op count."""
    from hetier.simulator.workload import load_workload

    w = load_workload(TRACE)
    tensors = sorted({int(t) for op in w.ops for t in op.alloc_tensor.tolist()})
    doc = placement_document(w.trace_id, "optane-appdirect", "test", {t: "dram" for t in tensors},
                             {1: [(tensors[0], "pmem")]})
    return doc, tensors, len(w.ops)


def _replay(doc_or_text, tmp_path, capsys):
    f = tmp_path / "p.json"
    if isinstance(doc_or_text, str):
        f.write_text(doc_or_text)
    else:
        write_placement(f, doc_or_text)
    return run(["replay", TRACE, "--machine", "optane-appdirect", "--policy", f"placement:{f}"], capsys)


def test_a_good_placement_replays(good, tmp_path, capsys):
    code, out, err = _replay(good[0], tmp_path, capsys)
    assert code == 0, err


def _edit(good, how):
    doc, tensors, n_ops = good
    d = copy.deepcopy(doc)
    first = str(tensors[0])
    if how == "moves-int":
        d["moves"] = [1]
    elif how == "key-abc":
        d["tensors"]["abc"] = "dram"
    elif how == "key-space":
        d["tensors"][" " + first] = d["tensors"].pop(first)
    elif how == "key-underscore":
        d["tensors"][first[:1] + "_" + first[1:] if len(first) > 1 else "0_0"] = d["tensors"].pop(first)
    elif how == "tier-list":
        d["tensors"][first] = ["dram"]
    elif how == "op-nan":
        d["moves"] = [{"before_op": float("nan"), "tensor": tensors[0], "tier": "pmem"}]
    elif how == "op-missing":
        d["moves"] = [{"before_op": n_ops + 5, "tensor": tensors[0], "tier": "pmem"}]
    elif how == "tensor-missing":
        d["moves"] = [{"before_op": 1, "tensor": max(tensors) + 1000, "tier": "pmem"}]
    elif how == "extra-tensor":
        d["tensors"][str(max(tensors) + 1000)] = "dram"
    return d


@pytest.mark.parametrize("how, msg", [
    ("moves-int", "moves[0] must be a table"),
    ("key-abc", "tensors key must match"),
    ("key-space", "tensors key must match"),
    ("key-underscore", "tensors key must match"),
    ("tier-list", "must be a string"),
    ("op-nan", "moves[0].before_op must be a finite number"),
    ("op-missing", "moves before op"),
    ("tensor-missing", "which the trace never allocates"),
    ("extra-tensor", "that the trace never allocates"),
])
def test_bad_placements_are_one_line(good, how, msg, tmp_path, capsys):
    doc = _edit(good, how)
    text = json.dumps(doc)  # NaN written as JSON's NaN, as a crafted file would
    code, _, err = _replay(text, tmp_path, capsys)
    assert code != 0 and msg in err and err.strip().count("\n") == 0 and "Traceback" not in err, err


def test_deep_nesting_is_one_line(tmp_path, capsys):
    code, _, err = _replay("[" * 100_000 + "]" * 100_000, tmp_path, capsys)
    assert code != 0 and "is not a hetier placement file" in err and "Traceback" not in err
