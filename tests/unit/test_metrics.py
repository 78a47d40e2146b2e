"""Access-pattern analyses on a hand-written trace with known answers."""

from pathlib import Path

import numpy as np
import pytest

from hetier.analysis.metrics import analyze
from tests.helpers import tiny_meta, write_tiny

ROWS = [
    (0, "op_begin", -1, 0, 0, "none", -1, 1),
    (1, "alloc", 0, 100),
    (2, "write", 0, 100),
    (3, "alloc", 1, 300, 1, "plaintext"),
    (4, "write", 1, 300, 1, "plaintext"),
    (5, "read", 0, 100),  # 300 B touched since buffer 0's last access
    (6, "read", 0, 100),  # 0 B since
    (7, "free", 1, 300, 1, "plaintext"),
    (8, "op_end", -1, 0, 0, "none", -1, 1),
    (9, "op_begin", -1, 0, 0, "none", -1, 2),
    (10, "free", 0, 100, 1, "ciphertext", 3, 2),
    (12, "op_end", -1, 0, 0, "none", -1, 2),
]


@pytest.fixture
def an(tmp_path):
    return analyze(write_tiny(tmp_path / "t.arrow", ROWS))


def test_live_bytes_and_peak(an):
    assert an.peak_bytes == 400 and an.peak_ts == 3 and an.peak_layer == "op1"
    assert an.live_ts.tolist() == [1, 3, 7, 10]
    assert an.live_by_kind["ciphertext"].tolist() == [100, 100, 100, 0]
    assert an.live_by_kind["plaintext"].tolist() == [0, 300, 0, 0]
    assert an.resident_peak_bytes == 400  # two size classes, one block each


def test_hot_cold_cdf(an):
    # buffer 0: 300 B of traffic on 100 B (density 3), buffer 1: 300 B on 300 B (density 1)
    assert an.hot_x.tolist() == [0.0, 0.25, 1.0]
    assert an.hot_y.tolist() == [0.0, 0.5, 1.0]
    assert an.hot_share(0.25) == 0.5


def test_reuse_distance(an):
    # stack distances 300 B (bin [256, 512)) and 0; the two first touches are cold
    assert {k: v for k, v in enumerate(an.reuse.bytes.tolist()) if v} == {0: 100, 9: 100}
    assert (an.reuse.cold_bytes, an.reuse.cold_accesses) == (400, 2)


def test_allocation_sites_dhat_view(an):
    s = an.sites
    i = s["kind"].index("ciphertext")
    j = s["kind"].index("plaintext")
    assert (s["reads_per_byte"][i], s["writes_per_byte"][i]) == (2.0, 1.0)
    assert s["bytes_never_read"][i] == 0 and s["bytes_never_read"][j] == 300
    assert s["mean_lifetime_s"][i] == pytest.approx(9e-9) and s["mean_lifetime_s"][j] == pytest.approx(4e-9)
    assert s["count"][i] == 1 and not any(s["lifetime_derived"])  # ciphertext granularity: recorded times


def test_traffic_and_time_per_layer(an):
    pl = an.per_layer
    assert pl["read_bytes"][1] == 200 and pl["write_bytes"][1] == 400
    assert pl["seconds"][1] == pytest.approx(8e-9) and pl["seconds"][2] == pytest.approx(3e-9)
    assert (an.read_bytes, an.write_bytes) == (200, 400)


def test_large_trace_is_downsampled():
    from pathlib import Path

    an = analyze(str(Path(__file__).resolve().parents[2] / "traces" / "mlp-relu-b8.ciphertext.arrow"))
    assert len(an.live_ts) <= 4000 + 2
    total = sum(an.live_by_kind.values())
    assert total.max() == an.peak_bytes  # the peak sample survives downsampling
    assert np.all(np.diff(an.live_ts) >= 0)


def _tensor_rows(temp_alloc_ts: int, temp_free_ts: int) -> list[tuple]:
    """A tensor-granularity trace: op1 (1000 ns) makes ciphertexts of temporary tensor 1, at most
    2 live at once, written by copy (10), multiply_plain (6 at level 3 + 4 at level 2) and add (30)."""
    return [
        (0, "op_begin", -1, 0, 0, "none", -1, 0),
        (1, "alloc", 0, 400, 4, "ciphertext", 3, 0, "encrypt"),
        (1, "write", 0, 400, 4, "ciphertext", 3, 0, "encrypt"),
        (10, "op_end", -1, 0, 0, "none", -1, 0),
        (10, "op_begin", -1, 0, 0, "none", -1, 1),
        (temp_alloc_ts, "alloc", 1, 200, 2, "temporary", 3, 1, "multiply_plain"),
        (10, "read", 0, 400, 4, "ciphertext", 3, 1, "copy"),
        (10, "write", 1, 1000, 10, "temporary", 3, 1, "copy"),
        (10, "write", 1, 600, 6, "temporary", 3, 1, "multiply_plain"),
        (10, "write", 1, 300, 4, "temporary", 2, 1, "multiply_plain"),
        (10, "write", 1, 2700, 30, "temporary", 2, 1, "add"),
        (temp_free_ts, "free", 1, 200, 2, "temporary", 3, 1, "free"),
        (1010, "op_end", -1, 0, 0, "none", -1, 1),
        (1010, "op_begin", -1, 0, 0, "none", -1, 2),
        (1020, "free", 0, 400, 4, "ciphertext", 3, 2, "free"),
        (1030, "op_end", -1, 0, 0, "none", -1, 2),
    ]


@pytest.mark.parametrize("mode,alloc_ts,free_ts", [("plan", 10, 10), ("real", 15, 900)])
def test_lifetimes_of_tensors_inside_one_op(tmp_path, mode, alloc_ts, free_ts):
    meta = tiny_meta(granularity="tensor", mode=mode)
    an = analyze(write_tiny(tmp_path / "t.arrow", _tensor_rows(alloc_ts, free_ts), meta))
    s = an.sites
    t = s["kind"].index("temporary")
    c = s["kind"].index("ciphertext")
    # made = max(peak 2, min(copy 10, multiply_plain 6 + 4, add 30)) = 10 ciphertexts in 1000 ns,
    # at most 2 live: each lives 1000 x 2 / 10 = 200 ns, in the plan trace and the real one alike
    assert s["mean_lifetime_s"][t] == pytest.approx(200e-9) and s["lifetime_derived"][t]
    assert an.derived_lifetime_ns == {1: pytest.approx(200.0)}
    # the input tensor lives across ops: its recorded allocation (1) to free (1020)
    assert s["mean_lifetime_s"][c] == pytest.approx(1019e-9) and not s["lifetime_derived"][c]
    assert (s["count"][t], s["count"][c], s["buffers"][t]) == (2, 4, 1)  # ciphertexts, not rows


def test_headline_only_pass_gives_the_same_headline():
    """The terminal report's pass (no figures) reads the same peaks, traffic and hot/cold CDF and
    skips the live curves, sites and reuse distances."""
    from hetier.analysis.reports.summary import headline

    path = str(Path(__file__).resolve().parents[2] / "traces" / "mlp-relu-b8.ciphertext.arrow")
    full, brief = analyze(path), analyze(path, figures=False)
    assert headline(brief, None) == headline(full, None)
    assert (brief.per_layer, brief.per_prim) == (full.per_layer, full.per_prim)
    assert full.reuse.bytes.sum() > 0 and full.sites and len(full.live_ts)
    assert brief.reuse.bytes.sum() == 0 and not brief.sites and not len(brief.live_ts)
