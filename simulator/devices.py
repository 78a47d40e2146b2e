"""Memory devices as data: bandwidth-vs-streams curves, latency, write amplification, capacity.

Presets live in ``simulator/presets/devices/*.toml``; every number there carries its source, and
the ``[source]`` table travels with the device into results. A device's bandwidth is a function of
the number of concurrent streams, separately for reads and writes (Optane's write bandwidth peaks
at ~4 streams and then falls). Transfers are sequential streams: traces move whole ciphertexts
(64 KiB and more), so there is no access granule or random-access cost (docs/simulator.md).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from hetier.errors import UsageError
from hetier.validation import DEVICE, DEVICE_OVERRIDE, validate

PRESETS = Path(__file__).parent / "presets"
GB = 1e9


def _plain(default, cast):
    """A device field read from the preset key of its own name with ``cast`` (its rule is in
    hetier.validation.DEVICE); one line here and one rule there add a device field."""
    return field(default=default, metadata={"cast": cast})


@dataclass(frozen=True)
class Device:
    """One memory device (a DRAM socket, an Optane set, a CXL expander)."""

    name: str
    kind: str
    capacity_bytes: int  # preset: capacity_gb
    read_latency_seq_ns: float  # idle latency of a sequential read, added once per transfer
    write_latency_ns: float  # preset default: the read latency
    read_curve: tuple[tuple[float, float], ...]  # (streams, GB/s), streams ascending; scaled by read_bw_scale
    write_curve: tuple[tuple[float, float], ...]
    write_amplification: float = _plain(1.0, float)  # media bytes written per byte written, sequential
    dimms: int = _plain(1, int)
    description: str = _plain("", str)
    source: dict = field(default_factory=dict, compare=False, hash=False)  # where each number comes from

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

    def media_bytes(self, nbytes: float, write: bool) -> float:
        """Bytes the media moves for ``nbytes`` of program traffic (writes are amplified)."""
        return nbytes * self.write_amplification if write else nbytes

    def latency_ns(self, write: bool) -> float:
        """Idle latency added once per transfer."""
        return self.write_latency_ns if write else self.read_latency_seq_ns

    def to_dict(self) -> dict:
        """The device as a preset table (device_from_dict reads it back)."""
        plain = {f.name: getattr(self, f.name) for f in fields(self) if "cast" in f.metadata}
        return {"name": self.name, "kind": self.kind, "capacity_gb": self.capacity_bytes / GB,
                "read_latency_seq_ns": self.read_latency_seq_ns, "write_latency_ns": self.write_latency_ns,
                "read_curve": [list(p) for p in self.read_curve], "write_curve": [list(p) for p in self.write_curve],
                **plain, "source": dict(self.source)}


def source_table(value, where: str) -> dict:
    """The ``[source]`` table: what each number cites (text), or facts of a measurement such as
    its NUMA node (numbers); carried into results."""
    def plain(v) -> bool:
        return isinstance(v, (str, int, float)) or (isinstance(v, list) and all(isinstance(x, (str, int, float)) for x in v))

    if not isinstance(value, dict) or not all(plain(v) for v in value.values()):
        raise UsageError(f"{where}: [source] must be a table of citations (text), numbers or lists of them")
    return dict(value)


def _curve(value, where: str, what: str) -> tuple[tuple[float, float], ...]:
    pts = tuple((float(s), float(b)) for s, b in value)  # validated: positive finite pairs
    if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
        raise UsageError(f"{where}: {what} streams must increase")
    return pts


MIN_GBS = 1e-3  # 1 MB/s: slower than any memory device; below it simulated times leave the results' range


def _scaled(curve: tuple[tuple[float, float], ...], scale: float, where: str, what: str) -> tuple[tuple[float, float], ...]:
    """A curve with every bandwidth multiplied by ``scale`` (a what-if knob: ``pmem.read_bw_scale=2``)."""
    out = curve if scale == 1.0 else tuple((s, b * scale) for s, b in curve)
    low = min(b for _, b in out)
    if low < MIN_GBS:
        raise UsageError(f"{where}: {what} reaches {low:.3g} GB/s{' once scaled' if scale != 1.0 else ''}, below "
                         f"{MIN_GBS:g} GB/s (1 MB/s; no memory device is slower)")
    return out


def check_device_keys(d: dict, where: str) -> dict:
    """Validate some keys of a device table (overrides, a tier's inline keys) against the device
    rules, blaming ``where`` (the file or the --set option they came from)."""
    return validate(d, DEVICE_OVERRIDE, where)


def device_from_dict(d: dict, where: str, overrides: dict | None = None) -> Device:
    """Validate a device table (unknown keys, missing, non-finite or out-of-range numbers are
    errors) and build the device; ``overrides`` must have been checked by the caller."""
    d = {**d, **(overrides or {})}
    validate(d, DEVICE, where)
    plain = {f.name: f.metadata["cast"](d[f.name]) for f in fields(Device) if "cast" in f.metadata and f.name in d}
    return Device(
        name=d.get("name", where), kind=d.get("kind", "dram"),
        capacity_bytes=int(d["capacity_gb"] * GB),
        read_latency_seq_ns=float(d["read_latency_seq_ns"]),
        write_latency_ns=float(d.get("write_latency_ns", d["read_latency_seq_ns"])),
        read_curve=_scaled(_curve(d["read_curve"], where, "read_curve"), d.get("read_bw_scale", 1.0), where, "read_curve"),
        write_curve=_scaled(_curve(d["write_curve"], where, "write_curve"), d.get("write_bw_scale", 1.0), where,
                            "write_curve"),
        source=source_table(d.get("source", {}), where),
        **plain,
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
    from hetier.formats.input_file import open_input

    try:
        with open_input(path, "file") as f:  # a FIFO, a folder or a device is refused, never read
            return tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"file '{path}' not found") from None
    except IsADirectoryError:
        raise UsageError(f"'{path}' is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"'{path}' is not valid TOML: {e}") from None
    except RecursionError:
        raise UsageError(f"'{path}' is not valid TOML (nested too deeply)") from None
    except UnicodeDecodeError:
        raise UsageError(f"'{path}' is not valid TOML (not UTF-8 text)") from None
    except OSError as e:
        raise UsageError(f"cannot read '{path}': {e.strerror}") from None


def load_device(name_or_path: str, overrides: dict | None = None, used_by: str = "") -> Device:
    """A device preset by name, or a device TOML file by path, with checked ``overrides``;
    ``used_by`` tells an error where the device and its overrides came from (a machine's tier)."""
    path = resolve_preset("devices", name_or_path)
    d = load_toml(path)
    d.setdefault("name", path.stem)
    return device_from_dict(d, f"{path}{used_by}", overrides)
