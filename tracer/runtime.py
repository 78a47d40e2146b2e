"""The CKKS backend on SEAL (via ``tenseal.sealapi``) and the encrypted tensor type.

Every ciphertext and plaintext the computation creates is a SEAL object held here, with a
buffer id from the recorder, so that temporaries are logged too (TenSEAL's high-level ops hide
theirs). Bytes are never read from SEAL objects on the hot path: they come from HEParams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hetier.errors import UsageError
from hetier.tracer.params import HEParams
from hetier.tracer.recorder import Recorder


@dataclass
class HTensor:
    """An encrypted activation: one ciphertext per element (batch in the slots)."""

    shape: tuple[int, ...]
    cts: list
    tid: int
    base: int  # buffer id of cts[0]; element i is buffer base + i
    level: int  # data primes currently held
    scale: float

    @property
    def size(self) -> int:
        return len(self.cts)


class SealBackend:
    """Keys, encoder, evaluator and the per-level parameter ids of one CKKS context."""

    def __init__(self, params: HEParams, rec: Recorder):
        import tenseal.sealapi as seal  # lazy: only the tracer needs TenSEAL

        self.seal = seal
        self.params = params
        self.rec = rec
        parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
        parms.set_poly_modulus_degree(params.poly_modulus)
        parms.set_coeff_modulus(seal.CoeffModulus.Create(params.poly_modulus, list(params.primes)))
        self.ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
        if not self.ctx.parameters_set():
            raise UsageError(f"SEAL rejects the HE parameters: {self.ctx.parameters_error_message()}")
        keygen = seal.KeyGenerator(self.ctx)
        pk = seal.PublicKey()
        keygen.create_public_key(pk)
        self.relin_keys = seal.RelinKeys()
        keygen.create_relin_keys(self.relin_keys)
        rec.new_keys()
        self.encoder = seal.CKKSEncoder(self.ctx)
        self.evaluator = seal.Evaluator(self.ctx)
        self.encryptor = seal.Encryptor(self.ctx, pk)
        self.decryptor = seal.Decryptor(self.ctx, keygen.secret_key())
        # parms_id and last prime for each level (data primes held)
        self.parms_id: dict[int, list] = {}
        self.last_prime: dict[int, float] = {}
        cd = self.ctx.first_context_data()
        while cd is not None:
            mods = cd.parms().coeff_modulus()
            self.parms_id[len(mods)] = cd.parms_id()
            self.last_prime[len(mods)] = float(mods[-1].value())
            cd = cd.next_context_data()
        self.top = params.data_primes
        self.scale = float(2 ** params.scale_bits)
        self.slots = params.poly_modulus // 2

    def new_tensor(self, kind: str, shape: tuple[int, ...], level: int, scale: float,
                   polys: int = 2) -> HTensor:
        n = int(np.prod(shape))
        tid, base = self.rec.tensors.new(kind, n, self.params.ct_bytes(level, polys))
        return HTensor(tuple(shape), [None] * n, tid, base, level, scale)

    def new_plaintexts(self, n: int, level: int) -> int:
        """Reserve ``n`` plaintext buffer ids at ``level``; returns the first id."""
        return self.rec.tensors.new("plaintext", n, self.params.pt_bytes(level))[1]

    def new_temporaries(self, n: int, level: int, polys: int = 2) -> int:
        return self.rec.tensors.new("temporary", n, self.params.ct_bytes(level, polys))[1]

    def plaintext(self):
        return self.seal.Plaintext()

    def ciphertext(self):
        return self.seal.Ciphertext(self.ctx)

    def encode_vector(self, values: np.ndarray, level: int, scale: float, pt) -> None:
        """Encode one value per image (slot); unused slots are zero."""
        self.encoder.encode(values.tolist(), self.parms_id[level], scale, pt)

    def decode_vector(self, pt, batch: int) -> np.ndarray:
        return np.asarray(self.encoder.decode_double(pt)[:batch])
