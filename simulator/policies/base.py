"""The policy contract: ``place(tensor, state) -> {tier: share}`` at each allocation.

``state`` maps each tier to its free bytes right now. A policy may return a tier that lacks
room: with ``spills = False`` that is recorded as "does not fit" (how many bytes were missing);
with ``spills = True`` the placement pass moves the overflow to the next tier down, as the
kernel does for ``numactl --preferred``.

A policy that plans over the whole run overrides ``prepare(workload, machine, threads)``, called
once before the first allocation, and may ask for moves between tiers at op starts
(``moves_before``); ``ScheduledPolicy`` is the base of those that decide everything up front.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from hetier.errors import UsageError

if TYPE_CHECKING:
    from hetier.simulator.machine import Machine
    from hetier.simulator.workload import Workload

POLICIES: dict[str, type["Policy"]] = {}
ALIASES: dict[str, str] = {}  # alias -> policy name


@dataclass(frozen=True)
class TensorInfo:
    tensor: int
    kind: str  # ciphertext, temporary, plaintext, key, host
    nbytes: int  # bytes this allocation adds
    op: int = -1  # index of the allocating op


# why a policy that places single tensors runs in the simulator only
PER_TENSOR = ("places single tensors; SEAL/TenSEAL expose no allocator hook or memory pool handle to put a "
              "tensor's pages on a node")


class Policy:
    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()  # other names it answers to (what reports print for it)
    spills: ClassVar[bool] = False
    description: ClassVar[str] = ""
    # how to apply it to a real process (None: simulation only, for the reason in ``not_deployable``)
    deploy: ClassVar[str | None] = None
    not_deployable: ClassVar[str] = PER_TENSOR

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name:
            POLICIES[cls.name] = cls
            for alias in cls.aliases:
                ALIASES[alias] = cls.name

    def __init__(self, tiers: list[str], arg: str | None = None):
        self.tiers = tiers
        if arg is not None:
            raise UsageError(f"policy '{self.name}' takes no argument (got '{arg}')")

    def prepare(self, workload: "Workload", machine: "Machine", threads: int = 1) -> None:
        """See the whole workload before placing (default: nothing to do)."""

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        raise NotImplementedError

    def moves_before(self, op: int) -> list[tuple[int, str]]:
        """Tensors to move, whole, to a tier at the start of op ``op``: [(tensor, tier)]."""
        return []

    @property
    def label(self) -> str:
        return self.name

    def number_arg(self, arg: str | None, default: float, convert=float, least: float = 0.0, what: str = "argument"):
        """The policy's argument as a number of at least ``least`` (``default`` when absent)."""
        try:
            value = default if arg is None else convert(arg)
        except ValueError:
            raise UsageError(f"policy {self.name}: {what} '{arg}' is not a {'whole ' if convert is int else ''}number") from None
        if not value >= least:
            raise UsageError(f"policy {self.name}: {what} {value} must be at least {least:g}")
        return value


def get_policy(spec: str, tiers: list[str]) -> Policy:
    """Build a policy from 'name' or 'name:argument'."""
    name, _, arg = spec.partition(":")
    name = ALIASES.get(name, name)
    if name not in POLICIES:
        raise UsageError(f"policy '{name}' not found (known: {', '.join(sorted(POLICIES))})")
    return POLICIES[name](tiers, arg or None)


def policy_class(spec: str) -> type[Policy] | None:
    """The class a policy spec names (aliases included), or None."""
    name = spec.partition(":")[0]
    return POLICIES.get(ALIASES.get(name, name))


class ScheduledPolicy(Policy):
    """Decides in ``prepare`` a start tier per tensor and moves at op starts, then follows it."""

    def __init__(self, tiers: list[str], arg: str | None = None):
        super().__init__(tiers, arg)
        if len(tiers) < 2:
            raise UsageError(f"policy {self.name} needs a machine with two tiers (got {len(tiers)})")
        self.start: dict[int, str] = {}
        self.moves: dict[int, list[tuple[int, str]]] = {}

    def prepare(self, workload: "Workload", machine: "Machine", threads: int = 1) -> None:
        self.start, self.moves = self.schedule(workload, machine, threads)
        self._history: dict[int, list[tuple[int, str]]] = {}
        for op in sorted(self.moves):
            for t, tier in self.moves[op]:
                self._history.setdefault(t, []).append((op, tier))

    def schedule(self, workload: "Workload", machine: "Machine", threads: int
                 ) -> tuple[dict[int, str], dict[int, list[tuple[int, str]]]]:
        raise NotImplementedError

    def tier_at(self, tensor: int, op: int) -> str:
        tier = self.start.get(tensor, self.tiers[0])
        for at, moved_to in self._history.get(tensor, ()):
            if at <= op:
                tier = moved_to
        return tier

    def place(self, tensor: TensorInfo, free: dict[str, int]) -> dict[str, float]:
        return {self.tier_at(tensor.tensor, tensor.op): 1.0}

    def moves_before(self, op: int) -> list[tuple[int, str]]:
        return self.moves.get(op, [])
