"""Dense ids: the array map and the dict map it moves to for sparse ids give the same indices."""

import numpy as np
from hypothesis import given, settings, strategies as st

from hetier.analysis.ids import IdMap

batches = st.lists(st.lists(st.one_of(st.integers(-3, 60), st.integers(0, 2**62)), max_size=25), max_size=8)


@settings(max_examples=300, deadline=None)
@given(batches)
def test_dense_indices_follow_first_appearance(rows):
    m, want = IdMap(), {}
    for ids in rows:
        got = m.dense(np.array(ids, dtype=np.int64))
        for i in sorted({i for i in ids if i >= 0}):  # a batch's new ids are numbered in id order
            want.setdefault(i, len(want))
        assert got.tolist() == [-1 if i < 0 else want[i] for i in ids]
    assert len(m) == len(want)
    assert m.original(np.arange(len(m), dtype=np.int64)).tolist() == list(want)


def test_small_ids_stay_in_the_array_and_large_ones_move_to_the_dict():
    m = IdMap()
    m.dense(np.arange(1000, dtype=np.int64))
    assert m._index is None  # direct lookup while ids are dense
    assert m.dense(np.array([2**50, 5, -1])).tolist() == [1000, 5, -1]
    assert m._index is not None and m.original(1000) == 2**50 and m.original(5) == 5
