"""The SEAL backend with no encryption: plan mode at ciphertext granularity.

Every primitive is logged exactly as in a real run (the kernels and the backend's primitives are
the same code); the SEAL objects are stand-ins whose methods do nothing, so only tensors, ids and
levels are kept. Last primes are 2^bits (SEAL's are within 2^-20 of that; only scale checks use them).
"""

from __future__ import annotations

from time import perf_counter_ns as now

import numpy as np

from hetier.tracer.recorder import ENCODE_VEC
from hetier.tracer.runtime import SealBackend

_HANDLE = object()  # stands for any ciphertext or plaintext


class _Noop:
    """Stands in for SEAL's evaluator, encoder, encryptor and decryptor: every call does nothing."""

    def __getattr__(self, name):
        return lambda *a, **k: None


class SymbolicBackend(SealBackend):
    """SealBackend's kernels and log with no encryption."""

    def _setup(self) -> None:
        self.encoder = self.evaluator = self.encryptor = self.decryptor = _Noop()
        self.relin_keys = None
        self.parms_id = {L: None for L in range(1, self.top + 1)}
        self.new_ciphertext = self.new_plaintext = lambda: _HANDLE
        self._tmp = _HANDLE

    def _decode(self, pt, batch: int) -> np.ndarray:
        return np.zeros(batch)

    def encode_vec(self, L: int, p: int, values, scale: float) -> None:
        if self.log is not None:
            self.log((ENCODE_VEC, L, p, -1, -1, -1, now()))
        self.obj[p] = _HANDLE
