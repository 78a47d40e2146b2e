"""CKKS parameters and the buffer-size arithmetic every event's byte count comes from."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hetier.errors import UsageError

# Largest total coefficient-modulus bits for 128-bit classical security (HE standard;
# SEAL's CoeffModulus::MaxBitCount for sec_level_type::tc128).
MAX_BITS_128 = {1024: 27, 2048: 54, 4096: 109, 8192: 218, 16384: 438, 32768: 881}


@dataclass(frozen=True)
class HEParams:
    """N, coefficient primes (the last is the special key-switching prime), scale, batch."""

    poly_modulus: int = 4096
    primes: tuple[int, ...] = (30, 22, 22, 30)
    scale_bits: int = 22
    batch: int = 2048

    def __post_init__(self) -> None:
        n = self.poly_modulus
        if n < 1024 or n & (n - 1):
            raise UsageError(f"poly modulus N={n} is not a power of two >= 1024")
        if n not in MAX_BITS_128:
            raise UsageError(f"poly modulus N={n} not supported (use one of {sorted(MAX_BITS_128)})")
        if len(self.primes) < 2:
            raise UsageError(f"primes {list(self.primes)}: need at least a data prime and the special prime")
        if any(not 17 <= p <= 60 for p in self.primes):
            raise UsageError(f"primes {list(self.primes)}: each prime must have 17..60 bits")
        if sum(self.primes) > MAX_BITS_128[n]:
            raise UsageError(
                f"primes {list(self.primes)} total {sum(self.primes)} bits; N={n} allows "
                f"{MAX_BITS_128[n]} for 128-bit security")
        if not 1 <= self.batch <= n // 2:
            raise UsageError(f"batch {self.batch} must be between 1 and N/2 = {n // 2}")
        if not 10 <= self.scale_bits < self.primes[0]:
            raise UsageError(
                f"scale 2^{self.scale_bits} must be below the first prime (2^{self.primes[0]})")

    @property
    def data_primes(self) -> int:
        """Primes a fresh ciphertext carries (all but the special prime)."""
        return len(self.primes) - 1

    @property
    def levels(self) -> int:
        """Rescales available between two refreshes."""
        return len(self.primes) - 2

    def ct_bytes(self, primes: int, polys: int = 2) -> int:
        """Bytes of a ciphertext's data: polys x N x primes x 8."""
        return polys * self.poly_modulus * primes * 8

    def pt_bytes(self, primes: int) -> int:
        """Bytes of an NTT-form CKKS plaintext at ``primes`` primes."""
        return self.poly_modulus * primes * 8

    def key_bytes(self) -> dict[str, int]:
        """Bytes of the secret, public and relinearization keys (key level: all primes)."""
        k = len(self.primes) * self.poly_modulus * 8
        return {"secret": k, "public": 2 * k, "relin": self.data_primes * 2 * k}

    def to_meta(self) -> dict:
        d = asdict(self)
        d["primes"] = list(self.primes)
        d["levels"] = self.levels
        d["scheme"] = "CKKS"
        d["security"] = "tc128"
        return d


def suggest_params(depth: int, scale_bits: int = 22) -> str:
    """Smallest standard N whose 128-bit budget holds ``depth`` rescales, as CLI options."""
    for n in sorted(MAX_BITS_128):
        primes = [30] + [scale_bits] * depth + [30]
        if n >= 4096 and sum(primes) <= MAX_BITS_128[n]:
            return f"--poly-modulus {n} --primes {','.join(map(str, primes))}"
    return "no standard N holds that depth; add refreshes (ReLU) to the model"

