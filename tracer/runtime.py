"""The backend the kernels run on: CKKS on SEAL (via ``tenseal.sealapi``), and the tensor type.

A kernel (kernels.py) calls the backend's primitives with buffer ids; each primitive logs one
recorder template tuple (what the trace sees) and performs it on the SEAL objects held under
those ids, so temporaries are logged too (TenSEAL's high-level ops hide theirs). Loops go
through ``loop``/``spread`` so that the plan backend (plan.py) can count what this one
iterates. Bytes are never read from SEAL objects: they come from HEParams.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from time import perf_counter_ns as now
from typing import Callable, Iterable

import numpy as np

from hetier.errors import UsageError
from hetier.tracer.params import HEParams
from hetier.tracer.recorder import (ADD_NEW, ADDP_INPLACE, ADDP_NEW, CONSTANT, DECODE, DECRYPT, ENCODE,
                                    ENCODE_VEC, ENCRYPT, FREE, HOST_READ, KEYGEN, MAC, MODSW, MODSW_NEW, MUL_NEW,
                                    MULP_NEW, RELIN, RESCALE, SQUARE_NEW, Recorder)


@contextmanager
def too_large_refused(what: str, level: int, scale: float):
    """SEAL's "encoded value is too large" (the value times the scale needs more bits than the
    level's primes hold) as one line naming the value, instead of a traceback mid-run."""
    try:
        yield
    except ValueError as e:
        if "too large" not in str(e):
            raise
        raise UsageError(f"SEAL cannot encode {what} at level {level} with scale 2^{math.log2(scale):.0f}: the value "
                         "times the scale needs more bits than the level's primes hold (the model's values are too "
                         "large for these parameters: scale its weights down, or give --scale-bits/--primes)") from None


@dataclass
class HTensor:
    """An encrypted activation: one ciphertext per element (batch in the slots), buffers
    ``base`` .. ``base + size - 1``."""

    shape: tuple[int, ...]
    tid: int
    base: int
    level: int  # data primes currently held
    scale: float

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


class SealBackend:
    """Keys, encoder, evaluator and per-level parameter ids of one CKKS context; SEAL objects by
    buffer id. Created empty; ``keygen`` (the run's first primitive) builds the context."""

    def __init__(self, params: HEParams, rec: Recorder):
        self.params = params
        self.rec = rec
        self.log = rec.log
        self.obj: dict[int, object] = {}  # buffer id -> SEAL ciphertext or plaintext
        self.top = params.data_primes
        self.scale = float(2 ** params.scale_bits)
        self.parms_id: dict[int, object] = {}
        self.last_prime = {L: float(2 ** params.primes[L - 1]) for L in range(1, self.top + 1)}

    # ---- ops and loops: this backend runs every iteration
    def begin_op(self, layer: int) -> None:
        self.rec.begin_op(layer)

    def end_op(self) -> None:
        self.rec.end_op()

    def loop(self, n: int, items: Callable[[], Iterable] | None = None, rep=0) -> Iterable:
        """``n`` iterations: 0..n-1, or the elements ``items()`` gives (``rep`` stands for one
        of them where iterations are counted, not run)."""
        return range(n) if items is None else items()

    # A loop whose ``n`` is its total over one run of the enclosing loop, however the
    # iterations fall between the enclosing loop's iterations (a weight's pairs, a window's inputs).
    spread = loop

    # ---- tensors: contiguous buffer ids from the recorder's table
    def new_tensor(self, kind: str, shape: tuple[int, ...], level: int, scale: float, polys: int = 2) -> HTensor:
        n = int(np.prod(shape))
        tid, base = self.rec.tensors.new(kind, n, self.params.ct_bytes(level, polys))
        return HTensor(tuple(shape), tid, base, level, scale)

    def new_plaintexts(self, n: int, level: int) -> Callable[[], int]:
        """Reserve ``n`` plaintext ids at ``level``; returns the next-id function over them."""
        return count(self.rec.tensors.new("plaintext", n, self.params.pt_bytes(level))[1]).__next__

    def new_temporaries(self, n: int, level: int, polys: int = 2) -> Callable[[], int]:
        return count(self.rec.tensors.new("temporary", n, self.params.ct_bytes(level, polys))[1]).__next__

    def new_host(self, n: int, nbytes: int) -> int:
        """Reserve ``n`` host buffers of ``nbytes`` each (memory the reference runtime allocates
        outside SEAL's pool); returns the first id."""
        return self.rec.tensors.new("host", n, nbytes)[1]

    # ---- SEAL: built by keygen
    def _setup(self) -> None:
        import tenseal.sealapi as seal  # lazy: only the tracer needs TenSEAL

        params = self.params
        parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
        parms.set_poly_modulus_degree(params.poly_modulus)
        parms.set_coeff_modulus(seal.CoeffModulus.Create(params.poly_modulus, list(params.primes)))
        ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
        if not ctx.parameters_set():
            raise UsageError(f"SEAL rejects the HE parameters: {ctx.parameters_error_message()}")
        keygen = seal.KeyGenerator(ctx)
        pk = seal.PublicKey()
        keygen.create_public_key(pk)
        self.relin_keys = seal.RelinKeys()
        keygen.create_relin_keys(self.relin_keys)
        self.encoder = seal.CKKSEncoder(ctx)
        self.evaluator = seal.Evaluator(ctx)
        self.encryptor = seal.Encryptor(ctx, pk)
        self.decryptor = seal.Decryptor(ctx, keygen.secret_key())
        cd = ctx.first_context_data()
        while cd is not None:  # parms_id and last prime for each level (data primes held)
            mods = cd.parms().coeff_modulus()
            self.parms_id[len(mods)] = cd.parms_id()
            self.last_prime[len(mods)] = float(mods[-1].value())
            cd = cd.next_context_data()
        self.new_ciphertext = lambda: seal.Ciphertext(ctx)
        self.new_plaintext = seal.Plaintext
        self._tmp = seal.Ciphertext(ctx)

    def _decode(self, pt, batch: int) -> np.ndarray:
        return np.asarray(self.encoder.decode_double(pt)[:batch])

    # ---- primitives: one recorder template each (recorder._T says which events it makes)
    def keygen(self) -> None:
        """Context and keys (secret, public, relinearization): three key buffers."""
        self._setup()
        L = len(self.params.primes)
        for name, nbytes in self.params.key_bytes().items():
            _, bid = self.rec.tensors.new("key", 1, nbytes)
            self.rec.key_ids[name] = bid
            if self.log is not None:
                self.log((KEYGEN, L, bid, -1, -1, -1, now()))

    def encode(self, L: int, p: int, value: float, scale: float) -> None:
        """Plaintext p = a scalar at level L and ``scale``."""
        if self.log is not None:
            self.log((ENCODE, L, p, -1, -1, -1, now()))
        pt = self.obj[p] = self.new_plaintext()
        with too_large_refused(f"the value {value:g}", L, scale):
            self.encoder.encode(value, self.parms_id[L], scale, pt)

    def encode_vec(self, L: int, p: int, values: np.ndarray, scale: float) -> None:
        """Plaintext p = one value per image (slot); unused slots are zero."""
        if self.log is not None:
            self.log((ENCODE_VEC, L, p, -1, -1, -1, now()))
        pt = self.obj[p] = self.new_plaintext()
        with too_large_refused(f"values up to {float(np.max(np.abs(values), initial=0)):g}", L, scale):
            self.encoder.encode(values.tolist(), self.parms_id[L], scale, pt)

    def encrypt(self, L: int, p: int, c: int) -> None:
        if self.log is not None:
            self.log((ENCRYPT, L, p, self.rec.key_ids["public"], c, -1, now()))
        ct = self.obj[c] = self.new_ciphertext()
        self.encryptor.encrypt(self.obj[p], ct)

    def decrypt_decode(self, L: int, c: int, p: int, batch: int) -> np.ndarray:
        """Plaintext p = decryption of c; returns its first ``batch`` slots (two primitives)."""
        if self.log is not None:
            self.log((DECRYPT, L, c, self.rec.key_ids["secret"], p, -1, now()))
        pt = self.obj[p] = self.new_plaintext()
        self.decryptor.decrypt(self.obj[c], pt)
        if self.log is not None:
            self.log((DECODE, L, p, -1, -1, -1, now()))
        return self._decode(pt, batch)

    def _new(self, template: int, L: int, a: int, b: int, c: int, op, *operands) -> None:
        """Log ``template`` on (a, b -> c), then ``op(*operands, new ciphertext c)``."""
        if self.log is not None:
            self.log((template, L, a, b, c, -1, now()))
        ct = self.obj[c] = self.new_ciphertext()
        op(*operands, ct)

    def _in_place(self, template: int, L: int, a: int, b: int, op, *args) -> None:
        """Log ``template`` on (a, b), then ``op(ciphertext a, *args)`` in place."""
        if self.log is not None:
            self.log((template, L, a, b, -1, -1, now()))
        op(self.obj[a], *args)

    def mulp_new(self, L: int, a: int, p: int, c: int) -> None:
        """c = a * p (SEAL copies a into c, then multiplies in place)."""
        self._new(MULP_NEW, L, a, p, c, self.evaluator.multiply_plain, self.obj[a], self.obj[p])

    def mac(self, L: int, a: int, p: int, t: int, d: int) -> None:
        """d += a * p through the temporary t."""
        if self.log is not None:
            self.log((MAC, L, a, p, t, d, now()))
        self.evaluator.multiply_plain(self.obj[a], self.obj[p], self._tmp)
        self.evaluator.add_inplace(self.obj[d], self._tmp)

    def add_new(self, L: int, a: int, b: int, c: int) -> None:
        self._new(ADD_NEW, L, a, b, c, self.evaluator.add, self.obj[a], self.obj[b])

    def addp_new(self, L: int, a: int, p: int, c: int) -> None:
        self._new(ADDP_NEW, L, a, p, c, self.evaluator.add_plain, self.obj[a], self.obj[p])

    def square_new(self, L: int, a: int, c: int) -> None:
        self._new(SQUARE_NEW, L, a, -1, c, self.evaluator.square, self.obj[a])

    def mul_new(self, L: int, a: int, b: int, c: int) -> None:
        self._new(MUL_NEW, L, a, b, c, self.evaluator.multiply, self.obj[a], self.obj[b])

    def modsw_new(self, L: int, a: int, c: int) -> None:
        self._new(MODSW_NEW, L, a, -1, c, self.evaluator.mod_switch_to_next, self.obj[a])

    def addp_inplace(self, L: int, a: int, p: int) -> None:
        self._in_place(ADDP_INPLACE, L, a, p, self.evaluator.add_plain_inplace, self.obj[p])

    def relin(self, L: int, a: int) -> None:
        self._in_place(RELIN, L, a, self.rec.key_ids["relin"], self.evaluator.relinearize_inplace, self.relin_keys)

    def rescale(self, L: int, a: int) -> None:
        self._in_place(RESCALE, L, a, -1, self.evaluator.rescale_to_next_inplace)

    def modsw(self, L: int, a: int) -> None:
        self._in_place(MODSW, L, a, -1, self.evaluator.mod_switch_to_next_inplace)

    # Host buffers stand for the reference runtime's objects (HE-Transformer's constant tensors,
    # nGraph's folded constant data): they are recorded, not built, in every backend. Level 0.
    def constant(self, b: int) -> None:
        """Host buffer b allocated and filled (a Constant op's output, a folded constant's data)."""
        if self.log is not None:
            self.log((CONSTANT, 0, b, -1, -1, -1, now()))

    def host_read(self, b: int) -> None:
        """Host buffer b read by the op using it."""
        if self.log is not None:
            self.log((HOST_READ, 0, b, -1, -1, -1, now()))

    def free(self, L: int, b: int) -> None:
        if self.log is not None:
            self.log((FREE, L, b, -1, -1, -1, now()))
        self.obj.pop(b, None)
