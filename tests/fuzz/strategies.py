"""Hypothesis strategies for what users feed hetier: trace metadata and event columns, machine
presets and --set overrides, cost files, results files and command lines."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import strategies as st

from hetier.formats.trace import (BATCH_CRC_KEY, COLUMNS, EVENTS, FORMAT_VERSION, KINDS, PRIMS, _DTYPES, EventBatch, _schema_metadata,
                                  batch_crc, schema)
from tests.helpers import GOOD_ROWS, rows_to_batch, tiny_meta

ROOT = Path(__file__).parents[2]
SHIPPED_COSTS = json.loads((ROOT / "tracer" / "costs" / "default.json").read_text())

HOSTILE_TEXT = ["[/bold]", "[link=https://e.com]x[/link]", "\x1b[2J", "\x1b]8;;u\x07", "\u202e", "a" * 5000, "",
                "\udcff", "名前", "../../etc/passwd", "x\ny"]
# numbers at the edges: huge, tiny, negative, non-finite, just past bit widths
EDGE_INTS = [0, 1, -1, 2, 63, 64, 127, 128, 255, 2 ** 31, 2 ** 32, 2 ** 46 + 1, 2 ** 53, 2 ** 62, 2 ** 63 - 1,
             -(2 ** 63), -(2 ** 62)]
EDGE_FLOATS = [0.0, -0.0, 0.5, -1.5, 1e-300, 1e308, float("nan"), float("inf"), float("-inf")]

json_scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(EDGE_INTS), st.integers(-10, 10 ** 6),
                         st.sampled_from(EDGE_FLOATS), st.floats(allow_nan=True), st.sampled_from(HOSTILE_TEXT),
                         st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                  st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=8)


def _paths(obj, prefix=()):
    """Every key path of a JSON-like object."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, base, max_changes: int = 3):
    """``base`` (a JSON-like object) with a few values replaced, deleted or added."""
    obj = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_changes))):
        paths = [p for p in _paths(obj) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
    return obj


def good_meta() -> dict:
    return {**tiny_meta(), "magic": "hetier-trace", "format_version": FORMAT_VERSION, "checksum": "crc32"}


@st.composite
def event_batches(draw) -> EventBatch:
    """GOOD_ROWS with some values replaced by edge values, or random columns."""
    b = rows_to_batch(GOOD_ROWS)
    if draw(st.booleans()):
        n = draw(st.integers(0, 40))
        cols = {}
        for c in COLUMNS:
            lo, hi = {"event": (-2, len(EVENTS) + 1), "kind": (-1, len(KINDS)), "prim": (-1, len(PRIMS)),
                      "layer": (-1, 4), "level": (-2, 5)}.get(c, (-2, 50))
            cols[c] = np.array(draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)), dtype=_DTYPES[c])
        b = EventBatch(**cols)
    for _ in range(draw(st.integers(0, 3))):
        if not len(b):
            break
        c = draw(st.sampled_from(COLUMNS))
        i = draw(st.integers(0, len(b) - 1))
        info = np.iinfo(_DTYPES[c])
        v = draw(st.sampled_from(EDGE_INTS).filter(lambda x: info.min <= x <= info.max))
        getattr(b, c)[i] = v
    return b


def write_raw_trace(path: Path, meta, batch: EventBatch | None, layer_names=None, checksum: bool = True) -> None:
    """A trace file with ``meta`` exactly as given (any JSON) and ``batch`` coded as given."""
    names = layer_names or [l["name"] for l in tiny_meta()["layers"]]
    base = good_meta() if checksum else {**good_meta(), "checksum": None}
    sch = schema(base).with_metadata(_schema_metadata(meta) if isinstance(meta, dict) else
                                     {b"hetier": json.dumps(meta).encode()})
    dicts = {"event": pa.array(EVENTS), "kind": pa.array(KINDS), "prim": pa.array(PRIMS),
             "layer": pa.array(names, pa.string())}
    with pa.OSFile(str(path), "wb") as f:
        w = pa.ipc.new_stream(f, sch, options=pa.ipc.IpcWriteOptions(compression="zstd"))
        if batch is not None and len(batch):
            batch = EventBatch(*(getattr(batch, c).astype(_DTYPES[c]) for c in COLUMNS))
            arrays = [pa.DictionaryArray.from_arrays(pa.array(getattr(batch, c)), dicts[c], safe=False)
                      if c in dicts else pa.array(getattr(batch, c)) for c in COLUMNS]
            crc = batch_crc(getattr(batch, c) for c in COLUMNS)
            w.write_batch(pa.record_batch(arrays, schema=sch), custom_metadata={BATCH_CRC_KEY: str(crc).encode()})
        w.close()


@st.composite
def trace_files(draw, path: Path) -> str:
    """Write one fuzzed trace to ``path``: bad metadata, bad events, or damaged bytes."""
    kind = draw(st.sampled_from(["meta", "events", "events", "bytes"]))
    if kind == "meta":
        meta = draw(mutated(good_meta()))
        write_raw_trace(path, meta, rows_to_batch(GOOD_ROWS))
    elif kind == "events":
        write_raw_trace(path, good_meta(), draw(event_batches()))
    else:
        write_raw_trace(path, good_meta(), rows_to_batch(GOOD_ROWS))
        data = bytearray(path.read_bytes())
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["flip", "cut", "append"]))
            if op == "flip" and data:
                i = draw(st.integers(0, len(data) - 1))
                data[i] ^= 1 << draw(st.integers(0, 7))
            elif op == "cut":
                data = data[: draw(st.integers(0, len(data)))]
            else:
                data += draw(st.binary(max_size=64))
        path.write_bytes(bytes(data))
    return kind


# --- machines -------------------------------------------------------------------------------

MACHINE_KEYS = ["name", "description", "mode", "cores", "llc_mb", "mm_miss_penalty_ns", "cache_block_bytes", "bogus"]
DEVICE_KEYS = ["capacity_gb", "read_latency_seq_ns", "read_latency_rand_ns", "write_latency_ns", "read_curve",
               "write_curve", "granularity_bytes", "random_read_efficiency", "random_write_efficiency",
               "write_amplification", "dimms", "name", "kind", "bogus"]
toml_values = st.one_of(
    st.sampled_from(["0", "-1", "0.5", "1", "2", "4", "64", "100", "1e308", "nan", "inf", "-inf", "4096", "24",
                     '"memory"', '"flat"', '"x"', "[]", "[1, 2]", "[[1, nan]]", "[[1, 2.0], [4, 8.0]]", "[[0, 1]]",
                     "[[2, 1], [1, 2]]", "true", '"[/bold]"', "{a = 1}", "1_000_000_000_000"]),
    st.integers(-5, 10 ** 9).map(str))


# values every rule accepts but at their edges: valid machines that stress the simulator
ACCEPTED = {"cores": ["1", "4096", "3"], "llc_mb": ["1e-6", "1e5", "0.001"], "mm_miss_penalty_ns": ["0", "1e7"],
            "cache_block_bytes": ["64", "1073741824"], "capacity_gb": ["1e-6", "1e7", "0.001"],
            "read_latency_seq_ns": ["1e-9", "1e7"], "write_latency_ns": ["1e-9", "1e7"],
            "read_curve": ["[[1e-6, 1e-6]]", "[[1, 1e6], [1e6, 1e-6]]"], "write_curve": ["[[1e6, 1e6]]"],
            "granularity_bytes": ["1", "1048576"], "random_read_efficiency": ["1e-9", "1"],
            "write_amplification": ["1e-3", "1000"], "dimms": ["1", "1024"]}


@st.composite
def machine_texts(draw) -> str:
    """A machine TOML: a sane base with a few keys set to odd values (half the time only to values
    the rules accept, at their edges)."""
    accepted = draw(st.booleans())
    value_for = (lambda k: draw(st.sampled_from(ACCEPTED.get(k, ["1"])))) if accepted else (lambda k: draw(toml_values))
    top = {"name": '"fz"', "cores": "4", "llc_mb": "8"}
    if accepted and draw(st.booleans()):
        top["mode"] = '"memory"'
    for _ in range(draw(st.integers(0, 3))):
        k = draw(st.sampled_from([k for k in MACHINE_KEYS if k in ACCEPTED]) if accepted else st.sampled_from(MACHINE_KEYS))
        top[k] = value_for(k)
    tiers = []
    n_tiers = (2 if top.get("mode") == '"memory"' else draw(st.integers(1, 2))) if accepted else draw(st.integers(0, 3))
    for t in range(n_tiers):
        tier = {"name": f'"{["dram", "pmem"][t]}"' if accepted else
                draw(st.sampled_from(['"dram"', '"pmem"', '"dram"', "5", '"a.b"']))}
        if draw(st.booleans()):
            tier["device"] = draw(st.sampled_from(['"ddr4-2666-6ch"', '"optane-100-6dimm"'] if accepted else
                                                  ['"ddr4-2666-6ch"', '"optane-100-6dimm"', "5", '"nope"']))
        else:
            tier.update({"capacity_gb": "16", "read_latency_seq_ns": "80", "read_curve": "[[1, 10.0]]",
                         "write_curve": "[[1, 5.0]]", "granularity_bytes": "64"})
        for _ in range(draw(st.integers(0, 2))):
            k = draw(st.sampled_from([k for k in DEVICE_KEYS if k in ACCEPTED]) if accepted else st.sampled_from(DEVICE_KEYS))
            tier[k] = value_for(k)
        tiers.append(tier)
    lines = [f"{k} = {v}" for k, v in top.items()]
    for tier in tiers:
        lines += ["[[tiers]]"] + [f"{k} = {v}" for k, v in tier.items()]
    return "\n".join(lines) + "\n"


@st.composite
def overrides(draw) -> list[str]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        tier = draw(st.sampled_from(["dram", "pmem", "machine", "gpu", "optane-memory-mode:dram", "x:"]))
        key = draw(st.sampled_from(DEVICE_KEYS + MACHINE_KEYS + ["", "tiers"]))
        out += ["--set", f"{tier}.{key}={draw(toml_values)}"]
    return out


# --- cost files and command lines -----------------------------------------------------------

@st.composite
def cost_docs(draw):
    entry = next(e for e in SHIPPED_COSTS["entries"] if e["primes"] == [30, 22, 30])
    doc = {**SHIPPED_COSTS, "entries": [copy.deepcopy(entry)]}
    return draw(st.one_of(mutated(doc, 3), json_values))


def option_values():
    return st.one_of(st.sampled_from(["0", "-1", "-3", "1", "2", "8", "32", "nan", "inf", "1e9", "2.5", "", "abc",
                                      "4096", "1000000000", "[/b]"]), st.integers(-3, 100).map(str))


@st.composite
def trace_argvs(draw) -> list[str]:
    plan = draw(st.integers(0, 19)) > 0  # real mode (encrypted, slower) one time in twenty, mlp only
    model = draw(st.sampled_from(["mlp", "cryptonets", "mobilenetv2", "resnet18", "resnet", "nope"])) if plan else "mlp"
    argv = ["trace", model, "-o", draw(st.sampled_from(["t.arrow", "t.arrow", "sub/t.arrow", ""]))]
    argv += ["--mode", "plan"] if plan else ["--batch", "8", "--hidden", "4", "--inputs", "8"]
    flags = ["--width", "--resolution", "--classes", "--depth", "--hidden", "--inputs", "--activation", "--seed",
             "--poly-modulus", "--primes", "--scale-bits", "--batch", "--granularity", "--max-events"]
    for _ in range(draw(st.integers(0, 3))):
        f = draw(st.sampled_from(flags))
        if not plan and f in ("--resolution", "--classes", "--depth", "--width", "--poly-modulus", "--primes"):
            continue  # keep real runs small
        argv += [f, draw(option_values())]
    if plan and draw(st.booleans()):
        argv += ["--cost-file", "costs.json"]
    return argv
