"""Per-phase placement: between layers, set this process's memory policy (set_mempolicy from
libnuma, through ctypes) so that the memory the next layer newly takes comes from the tier a
placement file assigns to it; read the policy back (get_mempolicy) to verify it took.

What it cannot do: pages already taken keep their node (SEAL's memory pool reuses freed blocks,
so a layer may also reuse pages an earlier layer took elsewhere), and single tensors cannot be
placed (docs/confirm.md says what the HE library would need).

Placement file (TOML)::

    default = "dram"             # tier for layers not listed (and for keys and the input)
    [layers]
    conv_3 = "pmem"              # a tier of the machine preset
    dense_1 = "interleave"       # pages round-robin over every tier's node
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass, field

from hetier.errors import HetierError, UsageError

MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE = 0, 1, 2, 3
MODE_NAMES = {MPOL_DEFAULT: "default", MPOL_PREFERRED: "preferred", MPOL_BIND: "bind", MPOL_INTERLEAVE: "interleave"}
_MASK_BITS = 1024  # nodemask size passed to the kernel


def libnuma() -> ctypes.CDLL:
    """libnuma (Debian: libnuma1), which wraps the set/get_mempolicy system calls."""
    name = ctypes.util.find_library("numa") or "libnuma.so.1"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        raise HetierError("libnuma is missing: install it (Debian: apt-get install -y libnuma1)") from None
    ulong_p = ctypes.POINTER(ctypes.c_ulong)
    lib.set_mempolicy.argtypes = [ctypes.c_int, ulong_p, ctypes.c_ulong]
    lib.get_mempolicy.argtypes = [ctypes.POINTER(ctypes.c_int), ulong_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong]
    return lib


def _mask(nodes: list[int]):
    words = (ctypes.c_ulong * (_MASK_BITS // 64))()
    for n in nodes:
        words[n // 64] |= 1 << (n % 64)
    return words


def set_policy(mode: int, nodes: list[int]) -> None:
    lib = libnuma()
    mask = _mask(nodes) if mode != MPOL_DEFAULT else None
    if lib.set_mempolicy(mode, mask, _MASK_BITS + 1 if mask is not None else 0) != 0:
        err = ctypes.get_errno()
        raise HetierError(f"set_mempolicy({MODE_NAMES[mode]}, nodes {nodes}) failed: errno {err}")


def get_policy() -> tuple[int, list[int]]:
    """This thread's memory policy as the kernel holds it: (mode, nodes)."""
    lib = libnuma()
    mode = ctypes.c_int()
    mask = _mask([])
    if lib.get_mempolicy(ctypes.byref(mode), mask, _MASK_BITS, None, 0) != 0:
        raise HetierError(f"get_mempolicy failed: errno {ctypes.get_errno()}")
    nodes = [w * 64 + b for w in range(len(mask)) for b in range(64) if mask[w] >> b & 1]
    return mode.value & 0xFFFF, nodes  # upper bits: mode flags


@dataclass
class PhasePlacement:
    """Policy per layer name (mode, nodes); ``before_layer`` is the executor's per-layer hook."""

    layer_order: list[str]
    policy: dict[str, tuple[int, list[int]]]
    default: tuple[int, list[int]]
    checks: list[dict] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: dict) -> "PhasePlacement":
        pol = {k: (v[0], list(v[1])) for k, v in spec["layers"].items()}
        return cls(spec["order"], pol, (spec["default"][0], list(spec["default"][1])))

    def before_layer(self, done: int, _name: str) -> None:
        """Called after layer ``done`` ended (-1: before the first): set the next one's policy
        and record what the kernel reads back."""
        import os

        from hetier.host.numa_maps import resident_by_node

        nxt = done + 1
        if nxt >= len(self.layer_order):
            return
        name = self.layer_order[nxt]
        mode, nodes = self.policy.get(name, self.default)
        set_policy(mode, nodes)
        got = get_policy()
        want = (mode, sorted(nodes) if mode != MPOL_DEFAULT else [])
        self.checks.append({"layer": name, "mode": MODE_NAMES[mode], "nodes": nodes,
                            "read_back": [MODE_NAMES.get(got[0], got[0]), got[1]],
                            "ok": (got[0], got[1] if mode != MPOL_DEFAULT else []) == want,
                            "resident_by_node": {str(k): v for k, v in resident_by_node(os.getpid()).items()}})


def load_placement(path: str, machine_path: str, layers: list[str] | None = None) -> dict:
    """Read a placement file into the child's spec: layer -> (mode, nodes) by the preset's tier
    nodes; a tier or node this host lacks is refused in one line."""
    from hetier.host.memory_preset import tier_nodes
    from hetier.host.topology import read_topology
    from hetier.simulator.devices import load_toml

    raw = load_toml(path)
    nodes = tier_nodes(machine_path)
    known = {n.id for n in read_topology().nodes}
    unknown_keys = set(raw) - {"default", "layers"}
    if unknown_keys:
        raise UsageError(f"placement '{path}': unknown key(s) {', '.join(sorted(unknown_keys))} (known: default, layers)")

    def resolve(what: str, where: str) -> tuple[int, list[int]]:
        if what == "interleave":
            return MPOL_INTERLEAVE, sorted(set(nodes.values()))
        if what not in nodes:
            raise UsageError(f"placement '{path}': {where} names tier '{what}'; machine has "
                             f"{', '.join(nodes)} (or 'interleave')")
        if nodes[what] not in known:
            raise UsageError(f"placement '{path}': {where} needs tier {what} on NUMA node {nodes[what]}, "
                             f"which this host does not have")
        return MPOL_BIND, [nodes[what]]

    layer_map = raw.get("layers", {})
    if layers is not None:
        bad = sorted(set(layer_map) - set(layers))
        if bad:
            raise UsageError(f"placement '{path}': layer(s) {', '.join(bad)} not in the trace")
    resolved = {k: resolve(v, f"layer {k}") for k, v in layer_map.items()}
    default = resolve(raw.get("default", next(iter(nodes))), "default")
    return {"layers": resolved, "default": default,
            "nodes": sorted({n for _, ns in [*resolved.values(), default] for n in ns})}
