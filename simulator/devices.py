"""Memory devices as data: bandwidth-vs-streams curves, latency, access granularity, capacity.

Presets live in ``simulator/presets/devices/*.toml``; every number there carries its source.
A device's bandwidth is a function of the number of concurrent streams, separately for reads
and writes (Optane's write bandwidth peaks at ~4 streams and then falls).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hetier.errors import UsageError
from hetier.validation import DEVICE, DEVICE_OVERRIDE, validate

PRESETS = Path(__file__).parent / "presets"
GB = 1e9



@dataclass(frozen=True)
class Device:
    """One memory device (a DRAM socket, an Optane set, a CXL expander)."""

    name: str
    kind: str
    capacity_bytes: int
    read_latency_seq_ns: float
    read_latency_rand_ns: float
    write_latency_ns: float
    read_curve: tuple[tuple[float, float], ...]  # (streams, GB/s), streams ascending
    write_curve: tuple[tuple[float, float], ...]
    granularity_bytes: int = 64
    random_read_efficiency: float = 1.0  # random accesses of one granule vs sequential, same streams
    random_write_efficiency: float = 1.0
    write_amplification: float = 1.0  # media bytes written per byte written, sequential
    dimms: int = 1
    source: dict = field(default_factory=dict, compare=False, hash=False)

    def bandwidth(self, streams: int | float, write: bool = False) -> float:
        """Total bytes/ns (= GB/s) with ``streams`` concurrent streams: the curve, linear between
        points, flat past the last one, proportional below the first."""
        pts = self.write_curve if write else self.read_curve
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        if streams <= xs[0]:
            return ys[0] * streams / xs[0]
        return float(np.interp(streams, xs, ys))

    def peak_streams(self, write: bool = False) -> int:
        pts = self.write_curve if write else self.read_curve
        return int(max(pts, key=lambda p: p[1])[0])

    def access_efficiency(self, access_bytes: float, write: bool = False, random: bool = True) -> float:
        """Useful share of media bandwidth for accesses of ``access_bytes``: the media works in
        granules, so a random access smaller than one wastes the rest."""
        if not random:
            return 1.0
        g = self.granularity_bytes
        useful = access_bytes / (math.ceil(access_bytes / g) * g)
        return useful * (self.random_write_efficiency if write else self.random_read_efficiency)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "capacity_gb": self.capacity_bytes / GB,
                "read_latency_seq_ns": self.read_latency_seq_ns, "read_latency_rand_ns": self.read_latency_rand_ns,
                "write_latency_ns": self.write_latency_ns, "read_curve": [list(p) for p in self.read_curve],
                "write_curve": [list(p) for p in self.write_curve], "granularity_bytes": self.granularity_bytes,
                "random_read_efficiency": self.random_read_efficiency,
                "random_write_efficiency": self.random_write_efficiency,
                "write_amplification": self.write_amplification, "dimms": self.dimms}


def _curve(value, where: str, what: str) -> tuple[tuple[float, float], ...]:
    pts = tuple((float(s), float(b)) for s, b in value)  # validated: positive finite pairs
    if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
        raise UsageError(f"{where}: {what} streams must increase")
    return pts


def check_device_keys(d: dict, where: str) -> dict:
    """Validate some keys of a device table (overrides, a tier's inline keys) against the device
    rules, blaming ``where`` (the file or the --set option they came from)."""
    return validate(d, DEVICE_OVERRIDE, where)


def device_from_dict(d: dict, where: str, overrides: dict | None = None) -> Device:
    """Validate a device table (unknown keys, missing, non-finite or out-of-range numbers are
    errors) and build the device; ``overrides`` must have been checked by the caller."""
    d = {**d, **(overrides or {})}
    validate(d, DEVICE, where)
    return Device(
        name=d.get("name", where), kind=d.get("kind", "dram"),
        capacity_bytes=int(d["capacity_gb"] * GB),
        read_latency_seq_ns=float(d["read_latency_seq_ns"]),
        read_latency_rand_ns=float(d.get("read_latency_rand_ns", d["read_latency_seq_ns"])),
        write_latency_ns=float(d.get("write_latency_ns", d["read_latency_seq_ns"])),
        read_curve=_curve(d["read_curve"], where, "read_curve"),
        write_curve=_curve(d["write_curve"], where, "write_curve"),
        granularity_bytes=int(d["granularity_bytes"]),
        random_read_efficiency=float(d.get("random_read_efficiency", 1.0)),
        random_write_efficiency=float(d.get("random_write_efficiency", 1.0)),
        write_amplification=float(d.get("write_amplification", 1.0)),
        dimms=int(d.get("dimms", 1)),
        source=d.get("source", {}),
    )


def presets_of(kind: str) -> dict[str, Path]:
    """Preset files of ``kind`` ("devices" or "machines") by name."""
    return {p.stem: p for p in sorted((PRESETS / kind).glob("*.toml"))}


def device_presets() -> dict[str, Path]:
    return presets_of("devices")


def resolve_preset(kind: str, name_or_path: str) -> Path:
    """A preset of ``kind`` by name, or a user's TOML file by path; an unknown name is an error."""
    presets = presets_of(kind)
    if name_or_path in presets:
        return presets[name_or_path]
    if name_or_path.endswith(".toml") or Path(name_or_path).exists():
        return Path(name_or_path)
    raise UsageError(f"{kind[:-1]} '{name_or_path}' not found (known: {', '.join(presets)})")


def load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"file '{path}' not found") from None
    except IsADirectoryError:
        raise UsageError(f"'{path}' is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"'{path}' is not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise UsageError(f"'{path}' is not valid TOML (not UTF-8 text)") from None
    except OSError as e:
        raise UsageError(f"cannot read '{path}': {e.strerror}") from None


def load_device(name_or_path: str, overrides: dict | None = None) -> Device:
    """A device preset by name, or a device TOML file by path, with checked ``overrides``."""
    path = resolve_preset("devices", name_or_path)
    d = load_toml(path)
    d.setdefault("name", path.stem)
    return device_from_dict(d, str(path), overrides)
