"""Counting keys groups them exactly as sorting them does (hetier/formats/key_groups.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hetier.formats.key_groups import stable_order, unique_first_inverse

KEYS = st.one_of(
    arrays(np.int64, st.integers(0, 400), elements=st.integers(-3, 40)),  # few values: counted
    arrays(np.int64, st.integers(0, 60), elements=st.integers(-(2 ** 62), 2 ** 62)),  # wide: sorted
    arrays(np.int8, st.integers(0, 300), elements=st.integers(-128, 127)),
    arrays(np.int64, st.integers(0, 300), elements=st.integers(0, 70000)),  # over 2^16 distinct ranks possible
    # few values over a wide range: ranked by binary search
    arrays(np.int64, st.integers(0, 300), elements=st.sampled_from([-(2 ** 40), 7, 65536, 917504, 2 ** 50])),
)


@settings(max_examples=100, deadline=None)
@given(keys=KEYS)
def test_unique_first_inverse_is_nps(keys):
    want = np.unique(keys, return_index=True, return_inverse=True)
    got = unique_first_inverse(keys)
    for g, w in zip(got, want):
        assert np.array_equal(g, w.reshape(-1)) and g.dtype == w.dtype


@settings(max_examples=100, deadline=None)
@given(keys=KEYS)
def test_stable_order_is_a_stable_argsort(keys):
    order = np.argsort(keys, kind="stable")
    values, start = np.unique(keys[order], return_index=True)
    got = stable_order(keys)
    for g, w in zip(got, (order, values, start)):
        assert np.array_equal(g, w) and g.dtype == w.dtype


@pytest.mark.parametrize("n", [70000])
def test_many_distinct_keys_sort_as_before(n):
    # more distinct values than a 16-bit rank holds: the stable sort of the keys themselves
    keys = np.random.default_rng(0).permutation(n).astype(np.int64)
    order, values, start = stable_order(keys)
    assert np.array_equal(order, np.argsort(keys, kind="stable"))
    assert np.array_equal(values, np.arange(n)) and np.array_equal(start, np.arange(n))
