"""Measured runs: the CSV that `hetier fit` takes (published results or `hetier confirm` records).

One row per run: the model and its options, the HE parameters, the machine preset, the policy,
the threads, and what was measured (peak memory in GB, wall time in seconds). Lines starting
with ``#`` are comments (sources belong there).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from hetier.errors import UsageError

COLUMNS = ("model", "width", "resolution", "batch", "poly_modulus", "primes", "machine", "policy", "threads",
           "peak_gb", "seconds")
MODEL_OPTIONS = ("width", "resolution")
# Optional: the model's other options as ``key=value;key=value`` (confirm writes every option of
# the traced model, e.g. ``activation=relu;hidden=32``, so that fit plans the same model).
OPTIONS_COLUMN = "options"
RECORD_COLUMNS = COLUMNS + (OPTIONS_COLUMN,)


@dataclass(frozen=True)
class MeasuredRun:
    """One measured inference."""

    model: str
    options: tuple[tuple[str, float | int | str], ...]  # model options that were given, sorted
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
        opts = " ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.options)
        return f"{self.model} {opts}".strip()

    @property
    def label(self) -> str:
        return f"{self.config_label} on {self.machine}"


PRIMES_SEPARATOR = ";"  # "30;22;30": commas separate the CSV's columns


def primes_text(primes) -> str:
    """Bit sizes of the primes as a measured-runs CSV writes them (``30;22;30``)."""
    return PRIMES_SEPARATOR.join(str(int(p)) for p in primes)


def options_text(config: dict) -> str:
    """A model's options (but width and resolution, which have their columns) as the options column."""
    return ";".join(f"{k}={v}" for k, v in sorted(config.items()) if k not in MODEL_OPTIONS)


def _options(text: str, where: str) -> dict:
    out: dict = {}
    for item in filter(None, (t.strip() for t in text.split(";"))):
        k, eq, v = item.partition("=")
        k, v = k.strip(), v.strip()
        if not eq or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", k) or not re.fullmatch(r"[A-Za-z0-9_.+-]{1,64}", v):
            raise UsageError(f"{where}: options '{item[:60]}' is not key=value (e.g. activation=relu;hidden=32)")
        if k in out or k in MODEL_OPTIONS:
            raise UsageError(f"{where}: option {k} given twice")
        for kind in (int, float):
            try:
                num = kind(v)
            except ValueError:
                continue
            if not math.isfinite(num) or abs(num) > 1e12:
                raise UsageError(f"{where}: option {k}={v} is out of range")
            out[k] = num
            break
        else:
            out[k] = v
    if len(out) > 32:
        raise UsageError(f"{where}: more than 32 options")
    return out


_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # plain ASCII decimals: Python's int() also
# takes 4_8 (48) and other scripts' digits, which a CSV of measurements never means


def _number(text: str, where: str, what: str) -> float | int:
    t = text.strip()
    if not _DECIMAL.fullmatch(t):
        raise UsageError(f"{where}: {what} '{t[:40]}' is not a number")
    return int(t) if t.lstrip("+-").isdigit() else float(t)


def parse_row(row: dict, where: str) -> MeasuredRun:
    """One CSV row (column -> text) as a checked run; every bad value is an error naming ``where``."""
    from hetier.validation import MEASURED_RUN, validate

    values: dict = {k: row[k].strip() for k in ("model", "machine", "policy")}
    for k in ("batch", "poly_modulus", "threads", "peak_gb", "seconds") + MODEL_OPTIONS:
        if k in MODEL_OPTIONS and not (row.get(k) or "").strip():
            continue
        values[k] = _number(row[k], where, k)
    try:
        values["primes"] = [int(x) for x in row["primes"].split(PRIMES_SEPARATOR)]
    except ValueError:
        raise UsageError(f"{where}: primes '{row['primes'][:40]}' are not '{PRIMES_SEPARATOR}'-separated bit sizes "
                         f"(e.g. 30;22;30)") from None
    validate(values, MEASURED_RUN, where)
    more = _options(row.get(OPTIONS_COLUMN) or "", where)
    opts = tuple(sorted([(k, float(values[k])) for k in MODEL_OPTIONS if k in values] + list(more.items())))
    return MeasuredRun(model=values["model"], options=opts, batch=int(values["batch"]),
                       poly_modulus=int(values["poly_modulus"]), primes=tuple(values["primes"]),
                       machine=values["machine"], policy=values["policy"], threads=int(values["threads"]),
                       peak_gb=float(values["peak_gb"]), seconds=float(values["seconds"]))


def parse_measured(text: str, name: str) -> list[MeasuredRun]:
    """The runs of a measured-runs CSV's text (``name``: the file, for messages)."""
    from hetier.validation import MAX_CSV_FIELD, MAX_MEASURED_RUNS

    lines = text.removeprefix("\ufeff").splitlines()  # a byte-order mark is not part of the first column
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if len(numbered) < 2:
        raise UsageError(f"'{name}' has no runs (a header and one row per run)")
    if len(numbered) - 1 > MAX_MEASURED_RUNS:
        raise UsageError(f"'{name}' has {len(numbered) - 1} runs; at most {MAX_MEASURED_RUNS}")
    for lineno, line in numbered:
        if len(line) > MAX_CSV_FIELD * len(COLUMNS) * 2:
            raise UsageError(f"{name}:{lineno}: line longer than {MAX_CSV_FIELD * len(COLUMNS) * 2} characters")
    try:
        table = list(csv.reader([line for _, line in numbered]))
    except csv.Error as e:
        raise UsageError(f"'{name}' is not a measured-runs CSV ({e})") from None
    header = [h.strip() for h in table[0]]
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise UsageError(f"'{name}': column(s) {', '.join(dup)[:200]} appear twice")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise UsageError(f"'{name}': missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})")
    out = []
    for (lineno, _), fields in zip(numbered[1:], table[1:]):
        where = f"{name}:{lineno}"
        if len(fields) != len(header):
            raise UsageError(f"{where}: {len(fields)} fields, the header has {len(header)}")
        long = [h for h, f in zip(header, fields) if len(f) > MAX_CSV_FIELD]
        if long:
            raise UsageError(f"{where}: {long[0][:40]} is longer than {MAX_CSV_FIELD} characters")
        out.append(parse_row(dict(zip(header, fields)), where))
    return out


def load_measured(path: str | Path) -> list[MeasuredRun]:
    """Read a measured-runs CSV; every bad value is an error naming its file and line."""
    from hetier.formats.input_file import read_input
    from hetier.validation import MAX_CSV_FIELD, MAX_MEASURED_RUNS

    p = Path(path)
    data = read_input(p, "measured runs", (MAX_MEASURED_RUNS + 100) * MAX_CSV_FIELD * len(COLUMNS))
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise UsageError(f"'{p}' is not a measured-runs CSV (not UTF-8 text)") from None
    return parse_measured(text, str(p))
