"""Integer keys grouped as ``np.unique`` and a stable sort group them, by counting where they can be.

Loading a trace groups each op's events by key (tensor; tensor, level, primitive and direction);
the keys of an op take a few hundred values over a range not much wider than their number, and a
counting pass over that range gives the same groups as sorting them: the sorted distinct values,
each one's first occurrence and every key's group (``unique_first_inverse``), or the keys' stable
order by value with each group's start (``stable_order``). Keys of a few values over a wide range
(buffer sizes) are ranked by binary search among their values; others are sorted as before.
"""

from __future__ import annotations

import numpy as np

SPAN_PER_KEY = 4  # count over the keys' range while it is at most this many slots per key (or 64 Ki slots)
FEW = 1 << 10  # keys over a wider range: ranked by binary search among their values when there are this few


def _ranks(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(sorted distinct values, each key's rank among them) by counting over the keys' range, or
    by binary search among few values over a wide one; None for many values over a wide range."""
    if not len(keys) or keys.dtype.kind not in "iu" or keys.dtype == np.uint64:
        return None
    lo, hi = int(keys.min()), int(keys.max())
    span = hi - lo + 1
    if span > max(SPAN_PER_KEY * len(keys), 1 << 16):
        values = np.unique(keys)  # a sort of the keys alone (no permutation): fast
        if len(values) > FEW:
            return None
        return values, np.searchsorted(values, keys)
    off = keys.astype(np.int64, copy=False) - lo
    present = np.zeros(span, dtype=bool)
    present[off] = True
    slots = np.flatnonzero(present)
    rank_of = np.empty(span, dtype=np.intp)
    rank_of[slots] = np.arange(len(slots))
    return (slots + lo).astype(keys.dtype), rank_of[off]


def unique_first_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index=True, return_inverse=True)`` for 1-D integer keys: the sorted
    distinct values, the first position of each and each key's index into them."""
    got = _ranks(keys)
    if got is None:
        values, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return values, first, inverse.reshape(-1)
    values, inverse = got
    first = np.full(len(values), len(keys), dtype=np.intp)
    np.minimum.at(first, inverse, np.arange(len(keys)))
    return values, first, inverse


def stable_order(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``np.argsort(keys, kind="stable")``, the sorted distinct values, where each value's keys
    begin in that order) for 1-D integer keys. Ranks of fewer than 2^16 values sort by radix."""
    got = _ranks(keys)
    if got is None or len(got[0]) > np.iinfo(np.uint16).max:
        order = np.argsort(keys, kind="stable")
        values, start = np.unique(keys[order], return_index=True)
        return order, values, start
    values, rank = got
    order = np.argsort(rank.astype(np.uint16), kind="stable")  # the ranks sort as the keys do
    start = np.zeros(len(values), dtype=np.intp)
    np.cumsum(np.bincount(rank, minlength=len(values))[:-1], out=start[1:])
    return order, values, start
