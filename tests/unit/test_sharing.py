"""Bandwidth sharing: the virtual-time heap agrees with the naive reference and with theory."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetier.simulator.devices import load_device
from hetier.simulator.sharing import NaiveShare, VirtualTimeShare, simulate


def test_two_equal_transfers_share_a_flat_channel():
    for cls in (NaiveShare, VirtualTimeShare):
        # 10 bytes/ns whatever the count: two 100-byte transfers at t=0 end together at t=20
        assert simulate(cls(lambda n: 10.0), [(0.0, 100.0), (0.0, 100.0)]) == [20.0, 20.0]
        # a late arrival: the first runs alone 5 ns (50 B), both run at 5 B/ns until the second's
        # 20 B are done (t=9), then the first's last 30 B run alone (t=12)
        assert simulate(cls(lambda n: 10.0), [(0.0, 100.0), (5.0, 20.0)]) == pytest.approx([12.0, 9.0])


def test_concurrency_curve_is_used():
    opt = load_device("optane-100-6dimm")
    # four writers of 1 GB each, together at 12.5 GB/s: all end at 4 GB / 12.5 GB/s = 320 ms
    fin = simulate(VirtualTimeShare(lambda n: opt.bandwidth(n, write=True)), [(0.0, 1e9)] * 4)
    assert fin == pytest.approx([4e9 / 12.5] * 4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e4), st.floats(1, 1e6)), min_size=1, max_size=40), st.integers(0, 3))
def test_virtual_time_agrees_with_naive(arrivals, curve):
    rates = [lambda n: 7.0, lambda n: 2.0 * min(n, 4), lambda n: 10.0 / (1 + 0.1 * n), lambda n: 3.0 + n]
    a = simulate(NaiveShare(rates[curve]), arrivals)
    b = simulate(VirtualTimeShare(rates[curve]), arrivals)
    for x, y in zip(a, b):
        assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6)


def test_a_transfer_ending_below_float_resolution_does_not_stall():
    # found by hypothesis: 1e-9 B left at t = 1.07e6 ns, whose end time rounds to now
    arr = [(0.0, 674487.1795459812), (1932.338499440861, 1e6), (1254.9870940792796, 1e6),
           (1901.642693485136, 1e6), (0.0, 296276.29407170066), (695.1253725940853, 1e6),
           (0.0, 71213.61906612832), (0.0, 1.0), (4017.7455556435025, 1e6), (9157.240760287965, 367903.44981810596),
           (9725.239399140262, 1.0), (1.0, 1.0)]
    rate = lambda n: 10.0 / (1 + 0.1 * n)  # noqa: E731
    a, b = simulate(NaiveShare(rate), arr), simulate(VirtualTimeShare(rate), arr)
    assert all(math.isclose(x, y, rel_tol=1e-9) for x, y in zip(a, b))
    total = sum(s for _, s in arr)  # the channel never runs faster than rate(1) nor slower than rate(12)
    assert total / rate(1) <= max(a) <= total / rate(12) + max(t for t, _ in arr)


def test_random_workload_agrees_at_scale():
    rng = random.Random(7)
    arr = [(rng.uniform(0, 1e6), rng.uniform(1e3, 1e6)) for _ in range(2000)]
    dev = load_device("ddr4-2666-6ch")
    a = simulate(NaiveShare(lambda n: dev.bandwidth(n)), arr)
    b = simulate(VirtualTimeShare(lambda n: dev.bandwidth(n)), arr)
    assert max(abs(x - y) / y for x, y in zip(a, b)) < 1e-9
