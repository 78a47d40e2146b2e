"""The policy contract: ``place(tensor, state) -> {tier: share}`` at each allocation.

``state`` maps each tier to its free bytes right now. A policy may return a tier that lacks
room: with ``spills = False`` that is recorded as "does not fit" (how many bytes were missing);
with ``spills = True`` the placement pass moves the overflow to the next tier down, as the
kernel does for ``numactl --preferred``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hetier.errors import UsageError

POLICIES: dict[str, type["Policy"]] = {}


@dataclass(frozen=True)
class TensorInfo:
    tensor: int
    kind: str  # ciphertext, temporary, plaintext, key
    nbytes: int  # bytes this allocation adds


class Policy:
    name: ClassVar[str] = ""
    spills: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name:
            POLICIES[cls.name] = cls

    def __init__(self, tiers: list[str], arg: str | None = None):
        self.tiers = tiers
        if arg is not None:
            raise UsageError(f"policy '{self.name}' takes no argument (got '{arg}')")

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        raise NotImplementedError

    @property
    def label(self) -> str:
        return self.name


def get_policy(spec: str, tiers: list[str]) -> Policy:
    """Build a policy from 'name' or 'name:argument'."""
    name, _, arg = spec.partition(":")
    if name not in POLICIES:
        raise UsageError(f"policy '{name}' not found (known: {', '.join(sorted(POLICIES))})")
    return POLICIES[name](tiers, arg or None)
