"""Stack distance: the chunked wavelet-matrix pass against a brute-force definition, and a hand-derived case."""

import numpy as np
from hypothesis import given, settings, strategies as st

from hetier.analysis.metrics import analyze
from hetier.analysis.reuse import N_BINS, StackDistance, distance_bin, distance_bins, weight_above
from tests.helpers import write_tiny


def brute_force(accesses: list[tuple[int, int, int]]) -> list[float | None]:
    """accesses: (buffer, nbytes, footprint). The definition, term by term: for each access, the
    footprints (of their latest access so far) of the distinct other buffers accessed since the
    previous access of the same buffer."""
    out = []
    for i, (b, _, _) in enumerate(accesses):
        prev = max((j for j in range(i) if accesses[j][0] == b), default=None)
        if prev is None:
            out.append(None)
            continue
        latest = {}
        for c, _, f in accesses[prev + 1:i]:
            if c != b:
                latest[c] = f
        out.append(float(sum(latest.values())))
    return out


traces = st.lists(st.tuples(st.integers(0, 7), st.integers(1, 5000), st.integers(1, 5000)), max_size=120)


@settings(max_examples=200, deadline=None)
@given(traces, st.lists(st.integers(1, 9), min_size=1, max_size=40), st.integers(1, 8))
def test_chunked_distances_match_brute_force(accesses, cuts, chunk):
    """Distances solved piece by piece against the carried stack (merged runs included) equal the
    definition, whatever the pieces; the histogram fed through the queue agrees with them."""
    want = brute_force(accesses)
    sd, got, i, c = StackDistance(), [], 0, 0
    while i < len(accesses):
        piece = accesses[i:i + cuts[c % len(cuts)]]
        d = sd.advance(np.array([b for b, _, _ in piece]), np.array([f for _, _, f in piece]))
        got += [None if x < 0 else float(x) for x in d.tolist()]
        i, c = i + len(piece), c + 1
    assert got == want
    queued = StackDistance(chunk=chunk)  # a small chunk solves many times
    for b, nb, f in accesses:
        queued.accesses(np.array([b]), np.array([nb]), np.array([1]), np.array([f]))
    h = queued.histogram()
    hist = np.zeros(N_BINS)
    for (_, nb, _), d in zip(accesses, want):
        if d is not None:
            hist[distance_bin(d)] += nb
    assert h.bytes.tolist() == hist.tolist()
    assert h.cold_bytes == sum(nb for (_, nb, _), d in zip(accesses, want) if d is None)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 10**12)), min_size=1, max_size=60),
       st.lists(st.tuples(st.integers(0, 60), st.integers(0, 300)), max_size=30))
def test_weight_above_is_the_dominance_sum(points, queries):
    y = np.array([p[0] for p in points])
    w = np.array([p[1] for p in points])
    a = np.array([min(q[0], len(points)) for q in queries], dtype=np.int64)
    b = np.array([q[1] for q in queries], dtype=np.int64)
    want = [int(w[:ai][y[:ai] > bi].sum()) for ai, bi in zip(a.tolist(), b.tolist())]
    assert weight_above(y, w, a, b).tolist() == want


def test_distance_bins_are_exact_at_powers_of_two():
    d = [0, 0.5, 1, 2, 3, 4, 2**40 - 1, 2**40, 2**70]
    assert distance_bins(np.array(d, dtype=np.float64)).tolist() == [0, 0, 1, 2, 2, 3, 40, 41, N_BINS - 1]
    assert [distance_bin(x) for x in d] == [0, 0, 1, 2, 2, 3, 40, 41, N_BINS - 1]


# Hand-derived: buffers A (id 0, 100 B), B (id 1, 300 B), C (id 2, 50 B, tensor of 5 ciphertexts).
ROWS = [
    (0, "op_begin", -1, 0, 0, "none", -1, 1),
    (1, "alloc", 0, 100),
    (2, "alloc", 1, 300, 1, "plaintext"),
    (3, "alloc", 2, 50, 5),
    (4, "write", 0, 100),               # A first touch
    (5, "write", 1, 300, 1, "plaintext"),  # B first touch
    (6, "read", 2, 150, 15),            # C first touch: 3 passes over its 5 ciphertexts
    (7, "read", 0, 100),                # A: B (300) and C (footprint min(150, 50) = 50) since -> 350
    (8, "read", 1, 300, 1, "plaintext"),  # B: C (50) and A (100) since -> 150
    (9, "read", 0, 40),                 # A: B (300) since -> 300
    (10, "read", 0, 100),               # A: nothing since -> 0
    (11, "read", 2, 50, 5),             # C: A (latest access 100 B) and B (300) -> 400
    (12, "free", 0, 100),
    (13, "free", 1, 300, 1, "plaintext"),
    (14, "free", 2, 50, 5),
    (15, "op_end", -1, 0, 0, "none", -1, 1),
]


def test_hand_derived_case(tmp_path):
    h = analyze(write_tiny(tmp_path / "t.arrow", ROWS)).reuse
    # distances 350 (bin 9: [256, 512)), 150 (bin 8: [128, 256)), 300 (bin 9), 0 (bin 0), 400 (bin 9)
    assert {k: v for k, v in enumerate(h.bytes.tolist()) if v} == {0: 100, 8: 300, 9: 100 + 40 + 50}
    assert {k: v for k, v in enumerate(h.accesses.tolist()) if v} == {0: 1, 8: 1, 9: 1 + 1 + 5}
    assert (h.cold_bytes, h.cold_accesses) == (100 + 300 + 150, 1 + 1 + 15)
    assert h.share_beyond(256) == (100 + 40 + 50) / 590
    assert h.share_beyond(1024) == 0.0
