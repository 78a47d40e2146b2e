"""Buffer and tensor ids mapped to dense indices, so that per-buffer arrays grow with the
number of distinct ids seen, not with the largest id (a trace may hold any int64 id)."""

from __future__ import annotations

import numpy as np


class IdMap:
    """Original id -> dense index 0, 1, 2, ... in order of first appearance; -1 stays -1."""

    def __init__(self) -> None:
        self._index: dict[int, int] = {}
        self.ids: list[int] = []  # dense index -> original id

    def __len__(self) -> int:
        return len(self.ids)

    def dense(self, ids: np.ndarray) -> np.ndarray:
        """Dense indices of ``ids`` (negative ids map to -1)."""
        out = np.full(len(ids), -1, dtype=np.int64)
        has = ids >= 0
        if not has.any():
            return out
        uniq, inv = np.unique(ids[has], return_inverse=True)
        index = self._index
        for u in uniq.tolist():
            if u not in index:
                index[u] = len(self.ids)
                self.ids.append(u)
        out[has] = np.fromiter((index[u] for u in uniq.tolist()), dtype=np.int64, count=len(uniq))[inv.reshape(-1)]
        return out

    def original(self, dense: np.ndarray | int):
        """Original ids of dense indices."""
        if isinstance(dense, (int, np.integer)):
            return self.ids[int(dense)]
        return np.asarray(self.ids, dtype=np.int64)[dense]
