"""Write tests/fuzz/corpus/: small crafted files for the cases issue 13 found (traces, machines,
cost files, results). Regenerate with: .venv/bin/python -m tests.fuzz.make_corpus
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from hetier.formats.trace import FORMAT_VERSION, TraceWriter, schema
from tests.helpers import CT, GOOD_ROWS, rows_to_batch, tiny_meta, write_tiny

CORPUS = Path(__file__).parent / "corpus"


def _trace_with(path: Path, column: str, row: int, value) -> None:
    b = rows_to_batch(GOOD_ROWS)
    getattr(b, column)[row] = value
    w = TraceWriter(path, tiny_meta())
    w.write(b)
    w.close()


def _raw_meta_trace(path: Path, meta) -> None:
    """A trace whose metadata JSON is ``meta`` as given (no validation on the way out)."""
    good = {**tiny_meta(), "magic": "hetier-trace", "format_version": FORMAT_VERSION}
    sch = schema(good).with_metadata({b"hetier": json.dumps(meta).encode()})
    with pa.OSFile(str(path), "wb") as f:
        w = pa.ipc.new_stream(f, sch)
        w.close()


def traces(d: Path) -> None:
    write_tiny(d / "good.arrow", GOOD_ROWS)
    write_tiny(d / "markup-names.arrow", GOOD_ROWS,
               tiny_meta(layers=("[/bold]", "[link=https://example.com]x[/link]", "\x1b[2J\x1b]8;;u\x07")))
    meta = tiny_meta()
    meta["model"]["name"] = "M" * 10_000
    _raw_meta_trace(d / "long-name.arrow", {**meta, "magic": "hetier-trace", "format_version": 1})
    for name, col, row, val in [("nbytes-2e62", "nbytes", 2, 1 << 62), ("count-2e62", "count", 2, 1 << 62),
                                ("buffer-2e26", "buffer", 3, 1 << 26), ("buffer-negative", "buffer", 3, -5),
                                ("event-code-9", "event", 4, 9), ("kind-code-9", "kind", 4, 9),
                                ("prim-code-99", "prim", 4, 99), ("layer-40", "layer", 4, 40),
                                ("ts-backwards", "ts_ns", 8, 2), ("nbytes-negative", "nbytes", 2, -CT)]:
        _trace_with(d / f"{name}.arrow", col, row, val)
    rows = GOOD_ROWS[:6] + [(6, "free", 0, CT), (7, "free", 0, CT)] + GOOD_ROWS[7:]
    write_tiny(d / "double-free.arrow", rows)
    for name, change in [("no-layers", lambda m: m.pop("layers")), ("he-list", lambda m: m.update(he=[1])),
                         ("meta-list", None), ("granularity-banana", lambda m: m.update(granularity="banana")),
                         ("batch-nan", lambda m: m["he"].update(batch=float("nan")))]:
        m = {**tiny_meta(), "magic": "hetier-trace", "format_version": 1}
        if change is None:
            m = [m]
        else:
            change(m)
        _raw_meta_trace(d / f"{name}.arrow", m)
    good = (d / "good.arrow").read_bytes()
    flipped = bytearray(good)
    flipped[len(good) - 60] ^= 0x01  # in the batch body
    (d / "bit-flip.arrow").write_bytes(bytes(flipped))
    (d / "after-eos.arrow").write_bytes(good + good[:64])
    (d / "cut.arrow").write_bytes(good[:-8])
    (d / "run.arrow.x1y2z3ab.partial").write_bytes(b"")
    (d / "not-arrow.arrow").write_bytes(b"hello, not a trace\n")
    extra = pa.schema(list(schema({**tiny_meta(), "magic": "hetier-trace", "format_version": 1}))
                      + [pa.field("evil", pa.int64())],
                      metadata=schema({**tiny_meta(), "magic": "hetier-trace", "format_version": 1}).metadata)
    with pa.OSFile(str(d / "extra-column.arrow"), "wb") as f:
        pa.ipc.new_stream(f, extra).close()
    rows = [(0, "op_begin", -1, 0, 0, "none", -1, 1)] + [(1 + i, "alloc", i * 7919, CT) for i in range(200)] + \
        [(201 + i, "free", i * 7919, CT) for i in range(200)] + [(401, "op_end", -1, 0, 0, "none", -1, 1)]
    write_tiny(d / "sparse-ids.arrow", rows)


def machines(d: Path) -> None:
    base = 'name = "m"\ncores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n'
    files = {
        "nan-curve.toml": base + "read_curve = [[1, nan]]\n",
        "inf-latency.toml": base + "read_latency_seq_ns = inf\n",
        "huge-latency.toml": base + "read_latency_seq_ns = 1e308\n",
        "device-5.toml": 'cores = 4\nllc_mb = 8\n[[tiers]]\nname = "dram"\ndevice = 5\n',
        "tiers-ints.toml": "cores = 4\nllc_mb = 8\ntiers = [1, 2]\n",
        "name-5.toml": base.replace('name = "m"', "name = 5"),
        "block-half.toml": base.replace('cores = 4', 'mode = "flat"\ncache_block_bytes = 0.5\ncores = 4'),
        "cores-fraction.toml": base.replace("cores = 4", "cores = 0.5"),
        "dup-tiers.toml": base + '[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n',
        "memory-one-tier.toml": base.replace('cores = 4', 'mode = "memory"\ncores = 4'),
        "unknown-key.toml": base + "bogus = 1\n",
        "llc-nan.toml": base.replace("llc_mb = 8", "llc_mb = nan"),
    }
    for name, text in files.items():
        (d / name).write_text(text)
    (d / "not-utf8.toml").write_bytes(b"cores = \xff\xfe\n")


def costs(d: Path) -> None:
    shipped = json.loads((Path(__file__).parents[2] / "tracer" / "costs" / "default.json").read_text())
    (d / "costs-list.json").write_text("[]")
    entry = next(e for e in shipped["entries"] if e["primes"] == [30, 22, 30])
    bad = {**shipped, "entries": [{**entry, "ns": {**entry["ns"], "MAC": {"2": float("nan")}}}]}
    (d / "costs-nan.json").write_text(json.dumps(bad))
    (d / "costs-no-entries.json").write_text(json.dumps({**shipped, "entries": []}))
    (d / "costs-level-0.json").write_text(json.dumps({**shipped, "entries": [{**entry, "ns": {"MAC": {"0": 1.0}}}]}))
    (d / "costs-negative.json").write_text(json.dumps({**shipped, "entries": [{**entry, "ns": {"MAC": {"2": -5.0}}}]}))


def results(d: Path) -> None:
    t = pa.table({"run": pa.array([0]), "layer": [0], "name": ["a"], "kind": ["k"], "start_ns": [0.0],
                  "end_ns": [1.0], "compute_ns": [1.0]})
    for name, raw in [("results-not-json.arrow", b"{not json"),
                      ("results-no-runs.arrow", json.dumps({"magic": "hetier-results", "version": 1}).encode()),
                      ("results-runs-str.arrow", json.dumps({"magic": "hetier-results", "version": 1,
                                                             "runs": "x"}).encode())]:
        tt = t.replace_schema_metadata({b"hetier": raw})
        with pa.OSFile(str(d / name), "wb") as f, pa.ipc.new_file(f, tt.schema) as w:
            w.write_table(tt)


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir()
    np.random.seed(0)
    for make in (traces, machines, costs, results):
        make(CORPUS)
    print(f"wrote {len(list(CORPUS.iterdir()))} files to {CORPUS}")


if __name__ == "__main__":
    main()
