"""Buffer and tensor ids mapped to dense indices, so that per-buffer arrays grow with the
number of distinct ids seen, not with the largest id (a trace may hold any int64 id)."""

from __future__ import annotations

import numpy as np

DIRECT_FROM = 1 << 22  # ids below max(this, 8 x ids seen) are looked up in an array, not a dict


class IdMap:
    """Original id -> dense index 0, 1, 2, ... in order of first appearance; -1 stays -1.

    The tracer numbers buffers 0, 1, 2, ..., so while the ids stay below ``DIRECT_FROM`` or 8x the
    count seen, a numpy array indexed by id holds the map (8 B per id, vectorized); a trace with
    sparse ids (any int64) moves it to a dict once."""

    def __init__(self) -> None:
        self._lut = np.full(0, -1, dtype=np.int64)  # id -> dense index (-1: not seen), while direct
        self._index: dict[int, int] | None = None  # the map once ids are sparse
        self._ids = np.zeros(1 << 12, dtype=np.int64)  # dense index -> original id
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def ids(self) -> np.ndarray:
        """Original ids in dense order."""
        return self._ids[: self._n]

    def _append(self, new: np.ndarray) -> np.ndarray:
        """Dense indices for ``new`` (distinct, unseen) ids, in their order."""
        n, k = self._n, len(new)
        if n + k > len(self._ids):
            self._ids = np.concatenate([self._ids, np.zeros(max(n + k, 2 * len(self._ids)) - len(self._ids), np.int64)])
        self._ids[n:n + k] = new
        self._n = n + k
        return np.arange(n, n + k, dtype=np.int64)

    def _go_sparse(self) -> None:
        self._index = dict(zip(self.ids.tolist(), range(self._n)))
        self._lut = np.full(0, -1, dtype=np.int64)

    def dense(self, ids: np.ndarray) -> np.ndarray:
        """Dense indices of ``ids`` (negative ids map to -1)."""
        out = np.full(len(ids), -1, dtype=np.int64)
        has = ids >= 0
        if not has.any():
            return out
        uniq, inv = np.unique(ids[has], return_inverse=True)
        top = int(uniq[-1])
        if self._index is None and top >= max(DIRECT_FROM, 8 * (self._n + len(uniq))):
            self._go_sparse()
        if self._index is None:
            if top >= len(self._lut):
                size = max(top + 1, 2 * len(self._lut))
                self._lut = np.concatenate([self._lut, np.full(size - len(self._lut), -1, dtype=np.int64)])
            found = self._lut[uniq]
            unseen = found < 0
            found[unseen] = self._append(uniq[unseen])
            self._lut[uniq[unseen]] = found[unseen]
        else:
            index = self._index
            found = np.fromiter((index.get(u, -1) for u in uniq.tolist()), dtype=np.int64, count=len(uniq))
            unseen = found < 0
            found[unseen] = self._append(uniq[unseen])
            index.update(zip(uniq[unseen].tolist(), found[unseen].tolist()))
        out[has] = found[inv.reshape(-1)]
        return out

    def original(self, dense: np.ndarray | int):
        """Original ids of dense indices."""
        if isinstance(dense, (int, np.integer)):
            return int(self._ids[int(dense)])
        return self.ids[dense]
