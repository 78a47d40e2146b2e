"""Measured runs: the CSV that `hetier fit` takes (published results or `hetier confirm` records).

One row per run: the model and its options, the HE parameters, the machine preset, the policy,
the threads, and what was measured (peak memory in GB, wall time in seconds). Lines starting
with ``#`` are comments (sources belong there).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from hetier.errors import UsageError

COLUMNS = ("model", "width", "resolution", "batch", "poly_modulus", "primes", "machine", "policy", "threads",
           "peak_gb", "seconds")
MODEL_OPTIONS = ("width", "resolution")


@dataclass(frozen=True)
class MeasuredRun:
    """One measured inference."""

    model: str
    options: tuple[tuple[str, float], ...]  # model options that were given, sorted
    batch: int
    poly_modulus: int
    primes: tuple[int, ...]
    machine: str
    policy: str
    threads: int
    peak_gb: float
    seconds: float

    @property
    def config(self) -> tuple:
        """What defines the trace: the same config replays the same workload."""
        return (self.model, self.options, self.batch, self.poly_modulus, self.primes)

    @property
    def config_label(self) -> str:
        opts = " ".join(f"{k} {v:g}" for k, v in self.options)
        return f"{self.model} {opts}".strip()

    @property
    def label(self) -> str:
        return f"{self.config_label} on {self.machine}"


def _num(text: str, where: str, what: str, kind=float):
    try:
        v = kind(text)
    except ValueError:
        raise UsageError(f"{where}: {what} '{text}' is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise UsageError(f"{where}: {what} must be positive (got {text})")
    return v


def load_measured(path: str | Path) -> list[MeasuredRun]:
    """Read a measured-runs CSV; every bad value is an error naming its file and line."""
    p = Path(path)
    from hetier.formats.input_file import read_input

    try:
        lines = read_input(p, "measured runs").decode().splitlines()
    except UnicodeDecodeError:
        raise UsageError(f"'{p}' is not a measured-runs CSV") from None
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise UsageError(f"'{p}' has no rows")
    rows = csv.DictReader([line for _, line in numbered])
    missing = [c for c in COLUMNS if c not in (rows.fieldnames or [])]
    if missing:
        raise UsageError(f"'{p}': missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})")
    out = []
    for (lineno, _), row in zip(numbered[1:], rows):
        where = f"{p}:{lineno}"
        opts = tuple(sorted((k, _num(row[k], where, k)) for k in MODEL_OPTIONS if row.get(k, "").strip()))
        try:
            primes = tuple(int(x) for x in row["primes"].split(";"))
        except ValueError:
            raise UsageError(f"{where}: primes '{row['primes']}' are not ';'-separated bit sizes") from None
        out.append(MeasuredRun(
            model=row["model"].strip(), options=opts, batch=_num(row["batch"], where, "batch", int),
            poly_modulus=_num(row["poly_modulus"], where, "poly_modulus", int), primes=primes,
            machine=row["machine"].strip(), policy=row["policy"].strip(),
            threads=_num(row["threads"], where, "threads", int), peak_gb=_num(row["peak_gb"], where, "peak_gb"),
            seconds=_num(row["seconds"], where, "seconds")))
    return out
