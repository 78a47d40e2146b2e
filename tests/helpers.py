"""Builders for tiny hand-written traces used across the tests."""

from __future__ import annotations

import numpy as np

from hetier.formats.trace import EV, KIND, PRIM, EventBatch, TraceWriter


def tiny_meta(layers=("input", "op1", "teardown"), granularity="ciphertext", **extra) -> dict:
    meta = {
        "he": {"poly_modulus": 4096, "primes": [30, 22, 22, 30], "scale_bits": 22, "batch": 8},
        "model": {"name": "tiny", "config": {}},
        "mode": "real", "durations": "measured", "granularity": granularity,
        "host": {"cpu": "test", "cores": 1}, "versions": {}, "start_time": "2026-01-01T00:00:00+00:00",
        "runtime": {}, "layers": [{"index": i, "name": n, "kind": n, "shape": [], "inputs": []}
                                  for i, n in enumerate(layers)],
    }
    meta.update(extra)
    return meta


def rows_to_batch(rows: list[tuple]) -> EventBatch:
    """rows: (ts, event, buffer, nbytes[, count, kind, level, layer, prim, tensor])."""
    cols = {c: [] for c in ("ts_ns", "event", "buffer", "tensor", "nbytes", "count", "kind", "level", "layer", "prim")}
    for r in rows:
        ts, ev, buf, nb, *rest = r
        cnt, kind, level, layer, prim, tensor = (list(rest) + [1, "ciphertext", 3, 1, "none", None][len(rest):])
        op = ev in ("op_begin", "op_end")
        cols["ts_ns"].append(ts)
        cols["event"].append(EV[ev])
        cols["buffer"].append(-1 if op else buf)
        cols["tensor"].append(-1 if op else (buf if tensor is None else tensor))
        cols["nbytes"].append(nb)
        cols["count"].append(0 if op else cnt)
        cols["kind"].append(KIND["none" if op else kind])
        cols["level"].append(-1 if op else level)
        cols["layer"].append(layer)
        cols["prim"].append(PRIM[prim])
    return EventBatch(**{k: np.array(v) for k, v in cols.items()})


def write_tiny(path, rows: list[tuple], meta: dict | None = None, batch_rows: int = 1 << 16) -> str:
    w = TraceWriter(path, meta or tiny_meta(), batch_rows=batch_rows)
    w.write(rows_to_batch(rows))
    return str(w.close())


CT = 2 * 4096 * 3 * 8  # one fresh ciphertext at N=4096 with 3 data primes

GOOD_ROWS = [
    (0, "op_begin", -1, 0, 0, "none", -1, 1),
    (1, "alloc", 0, CT),
    (2, "write", 0, CT),
    (3, "alloc", 1, CT),
    (4, "read", 0, CT),
    (5, "write", 1, CT),
    (6, "free", 0, CT),
    (7, "op_end", -1, 0, 0, "none", -1, 1),
    (8, "op_begin", -1, 0, 0, "none", -1, 2),
    (9, "free", 1, CT, 1, "ciphertext", 3, 2),
    (10, "op_end", -1, 0, 0, "none", -1, 2),
]

def ckks_tolerance(p, segments: int = 1) -> float:
    """Allowed |decrypted - numpy|: 8 N 2^-scale_bits sqrt(segments).

    Encryption and rescale rounding put errors of about N 2^-scale_bits into each slot in
    practice (1e-3 at N=4096, scale 2^22; the CKKS paper's worst-case bound B_clean/scale is
    2^-4.8, far looser). Each rescaling layer (``segments``) adds such an error and the
    unit-gain layers pass it on, so they add up like a random walk; the factor 8 is margin. A
    wrong weight, index or level gives errors of order 0.1-1 on these unit-scale outputs.
    """
    return 8 * p.poly_modulus * 2.0 ** -p.scale_bits * segments ** 0.5


def rescaling_layers(graph) -> int:
    from hetier.models.ir import LEVEL_COST

    return sum(LEVEL_COST[n.kind][0] > 0 for n in graph.nodes)


def random_trace(path, seed: int, n_ops: int = 8, host: bool = False) -> str:
    """A random but consistent tensor-granularity trace: each op allocates an output, reads
    one or two live tensors many times, writes its output, and frees tensors it was last to use.
    ``host``: outputs may also be host buffers (the reference runtime's memory outside the pool)."""
    import random

    rng = random.Random(seed)
    rows = []
    ts = 0
    live: dict[int, tuple[int, int, str]] = {}  # tensor -> (count, unit, kind)
    nxt = 0
    layers = ["input"] + [f"op{i}" for i in range(1, n_ops + 1)] + ["teardown"]
    for layer in range(len(layers)):
        ts += 1
        rows.append((ts, "op_begin", -1, 0, 0, "none", -1, layer))
        if layer < len(layers) - 1:
            count, unit = rng.randint(1, 40), rng.choice([65536, 196608, 393216])
            kind = rng.choice(["ciphertext", "ciphertext", "temporary", "plaintext"] + ["host"] * (2 * host))
            t = nxt
            nxt += 1
            ts += rng.randint(1, 1000)
            rows.append((ts, "alloc", t, count * unit, count, kind, 3, layer))
            for src in rng.sample(sorted(live), min(len(live), rng.randint(1, 2))):
                c, u, k = live[src]
                passes = rng.randint(1, 20)
                ts += rng.randint(1, 10 ** 6)
                rows.append((ts, "read", src, passes * c * u, passes * c, k, 3, layer))
            ts += rng.randint(1, 10 ** 6)
            rows.append((ts, "write", t, count * unit, count, kind, 3, layer))
            live[t] = (count, unit, kind)
            for old in [x for x in sorted(live) if x != t and rng.random() < 0.4]:
                c, u, k = live.pop(old)
                rows.append((ts, "free", old, c * u, c, k, 3, layer))
        else:
            for old in sorted(live):
                c, u, k = live.pop(old)
                rows.append((ts, "free", old, c * u, c, k, 3, layer))
        ts += rng.randint(10 ** 5, 10 ** 7)
        rows.append((ts, "op_end", -1, 0, 0, "none", -1, layer))
    return write_tiny(path, rows, tiny_meta(layers=tuple(layers), granularity="tensor"))


def hot_cold_trace(path, n_reads: int = 8) -> str:
    """A cold tensor (900 MiB), then a hot one (200 MiB), each written once; ops of 0.6 s re-read
    the hot one 10 times each; teardown frees both. With 1 GB of DRAM the hot one partly lands in
    CXL and is promoted, kswapd demoting the cold one to make room."""
    CT = 1 << 20
    layers = ["input"] + [f"op{i}" for i in range(1, n_reads + 1)] + ["teardown"]
    rows, ts = [], 0
    for layer in range(len(layers)):
        rows.append((ts, "op_begin", -1, 0, 0, "none", -1, layer))
        if layer == 0:
            rows += [(ts + 1, "alloc", 0, 900 * CT, 900, "ciphertext", 3, 0),
                     (ts + 2, "write", 0, 900 * CT, 900, "ciphertext", 3, 0),
                     (ts + 3, "alloc", 1, 200 * CT, 200, "ciphertext", 3, 0),
                     (ts + 4, "write", 1, 200 * CT, 200, "ciphertext", 3, 0)]
        elif layer < len(layers) - 1:
            rows.append((ts + 1, "read", 1, 2000 * CT, 2000, "ciphertext", 3, layer))
        else:
            rows += [(ts + 1, "free", 0, 900 * CT, 900, "ciphertext", 3, layer),
                     (ts + 2, "free", 1, 200 * CT, 200, "ciphertext", 3, layer)]
        ts += int(0.6e9)
        rows.append((ts, "op_end", -1, 0, 0, "none", -1, layer))
        ts += 1
    return write_tiny(path, rows, tiny_meta(layers=tuple(layers), granularity="tensor"))


def truncated_tiny(tmp_path) -> str:
    """A tiny good trace with its end-of-stream marker cut off (truncated after batch 1)."""
    full = tmp_path / "full.arrow"
    write_tiny(full, GOOD_ROWS)
    cut = tmp_path / "cut.arrow"
    cut.write_bytes(full.read_bytes()[:-8])
    return str(cut)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``hetier`` in-process: (exit code, stdout, stderr)."""
    from hetier.cli.main import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err
