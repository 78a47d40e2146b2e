"""One validation layer for what hetier reads: trace and results metadata, cost files, machine
and device presets (files and ``--set`` overrides alike).

Rules are data (``Num``, ``Str``, ``ListOf``, ``MapOf``, ``Obj`` below, and the schemas built from
them at the end of this module); ``validate`` walks a value against a rule and raises one
``UsageError`` naming the file (``where``), the key path and the rule broken. Numbers must be
finite and within their range, so NaN, inf and 1e308 never reach the simulator.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field

from hetier.errors import UsageError

MAX_NAME = 200  # characters of a name (model, layer, machine, tier, device)
MAX_TEXT = 2000  # characters of a description, a cost label, a path
MAX_THREADS = 4096  # simulated worker threads: more than any machine the presets describe


class Rule:
    """A constraint on one value; ``check`` returns an error text or None."""

    def check(self, value, path: str, where: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:
        """The rule in words (docs tables)."""
        return "any value"


def _fail(where: str, path: str, what: str, value) -> None:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:60] + "..."
    raise UsageError(f"{where + ': ' if where else ''}{path or 'value'} {what} (got {shown})")


def _shown(x: float) -> str:
    """A bound as the docs show it: whole numbers in full (1073741824), others short (1e-06)."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclass(frozen=True)
class Num(Rule):
    """A finite number in [lo, hi] (``lo_open``: lo excluded); ``integer`` refuses fractions;
    ``pow2`` asks for a power of two."""

    lo: float | None = None
    hi: float | None = None
    integer: bool = False
    lo_open: bool = False
    pow2: bool = False
    optional: bool = False  # None allowed
    lo_shown: str | None = None  # the lower bound as messages and docs show it (2^-20 MiB: "1 byte")

    def check(self, value, path, where):
        if value is None and self.optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(where, path, "must be a number", value)
        if isinstance(value, float) and not math.isfinite(value):
            _fail(where, path, "must be a finite number", value)
        if self.integer and not (isinstance(value, int) or value.is_integer()):  # a huge int has no float
            _fail(where, path, "must be a whole number", value)
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            _fail(where, path, f"must be {'>' if self.lo_open else '>='} {self.lo_shown or format(self.lo, 'g')}", value)
        if self.hi is not None and value > self.hi:
            _fail(where, path, f"must be <= {self.hi:g}", value)
        if self.pow2 and (int(value) != value or int(value) & (int(value) - 1)):
            _fail(where, path, "must be a power of two", value)

    def describe(self) -> str:
        what = "power of two" if self.pow2 else "whole number" if self.integer else "number"
        lo = "-inf" if self.lo is None else self.lo_shown or _shown(self.lo)
        hi = "inf" if self.hi is None else _shown(self.hi)
        return f"{what} in {'(' if self.lo_open else '['}{lo}, {hi}]"


def has_control_chars(text: str) -> bool:
    """True if ``text`` holds a control character (a newline, an escape): not one line of text."""
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


@dataclass(frozen=True)
class Str(Rule):
    """A string of at most ``max_len`` characters, one of ``choices`` or matching ``pattern``."""

    max_len: int = MAX_NAME
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    min_len: int = 0
    optional: bool = False  # None allowed
    one_line: bool = False  # no control characters (a name shown in tables and one-line messages)

    def check(self, value, path, where):
        if value is None and self.optional:
            return
        if not isinstance(value, str):
            _fail(where, path, "must be a string", value)
        if self.one_line and has_control_chars(value):
            _fail(where, path, "must be one line without control characters", value)
        if len(value) > self.max_len:
            _fail(where, path, f"is longer than {self.max_len} characters", value)
        if len(value) < self.min_len:
            _fail(where, path, "must not be empty", value)
        if self.choices is not None and value not in self.choices:
            _fail(where, path, f"must be one of {', '.join(self.choices)}", value)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            _fail(where, path, f"must match {self.pattern}", value)

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        return f"text of {'1' if self.min_len else '0'} to {self.max_len} characters"


@dataclass(frozen=True)
class Bool(Rule):
    def check(self, value, path, where):
        if not isinstance(value, bool):
            _fail(where, path, "must be true or false", value)


@dataclass(frozen=True)
class TextOrDate(Rule):
    """A date as text ("2025-12") or as a TOML date (2025-12-28), not empty."""

    def check(self, value, path, where):
        if not (isinstance(value, datetime.date) or isinstance(value, str) and value):
            _fail(where, path, "must be text or a date", value)

    def describe(self) -> str:
        return "text or a date"


@dataclass(frozen=True)
class AnyJSON(Rule):
    """Anything JSON holds, kept to a size (free-form metadata such as a model's config)."""

    max_len: int = 100_000

    def check(self, value, path, where):
        if len(repr(value)) > self.max_len:
            _fail(where, path, f"is larger than {self.max_len} characters", value)


@dataclass(frozen=True)
class ListOf(Rule):
    item: Rule
    min_len: int = 0
    max_len: int = 1_000_000
    length: int | None = None

    def check(self, value, path, where):
        if not isinstance(value, (list, tuple)):
            _fail(where, path, "must be a list", value)
        if self.length is not None and len(value) != self.length:
            _fail(where, path, f"must have {self.length} items", value)
        if not self.min_len <= len(value) <= self.max_len:
            _fail(where, path, f"must have {self.min_len} to {self.max_len} items", value)
        for i, v in enumerate(value):
            self.item.check(v, f"{path}[{i}]", where)

    def describe(self) -> str:
        return f"list of {self.min_len} to {self.max_len} items"


@dataclass(frozen=True)
class MapOf(Rule):
    """A table whose keys are free (matching ``key``) and whose values follow ``value``."""

    value: Rule
    key: Str = Str()
    max_len: int = 10_000

    def check(self, value, path, where):
        if not isinstance(value, dict):
            _fail(where, path, "must be a table", value)
        if len(value) > self.max_len:
            _fail(where, path, f"has more than {self.max_len} entries", len(value))
        for k, v in value.items():
            self.key.check(k, f"{path} key", where)
            self.value.check(v, f"{path}.{k}" if path else str(k), where)

    def describe(self) -> str:
        return f"table of up to {self.max_len} entries"


@dataclass(frozen=True)
class Obj(Rule):
    """A table with known keys: ``required`` must be there, others are optional; unknown keys
    are errors unless ``extra``."""

    fields: dict[str, Rule] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    extra: bool = False
    label: str = "key"

    def check(self, value, path, where):
        if not isinstance(value, dict):
            _fail(where, path, "must be a table", value)
        unknown = sorted(str(k) for k in value if k not in self.fields)
        if unknown and not self.extra:
            raise UsageError(f"{where}: unknown {self.label}(s) {', '.join(unknown)[:300]}"
                             + (f" in {path}" if path else "") + f" (known: {', '.join(sorted(self.fields))})")
        for k in self.required:
            if k not in value:
                raise UsageError(f"{where}: missing '{k}'" + (f" in {path}" if path else ""))
        for k, rule in self.fields.items():
            if k in value:
                rule.check(value[k], f"{path}.{k}" if path else k, where)


def validate(value, rule: Rule, where: str, path: str = ""):
    """Check ``value`` against ``rule``; return it unchanged or raise a UsageError naming ``where``."""
    rule.check(value, path, where)
    return value


TRACE_OPTIONS = Obj({  # hetier trace's numeric options, by flag
    "--width": Num(0, 4, lo_open=True), "--resolution": Num(1, 4096, integer=True),
    "--classes": Num(1, 100_000, integer=True), "--depth": Num(1, 1000, integer=True),
    "--hidden": Num(1, 1 << 20, integer=True), "--inputs": Num(1, 1 << 20, integer=True),
    "--seed": Num(0, 2 ** 32 - 1, integer=True), "--batch": Num(1, 1 << 20, integer=True),
    "--poly-modulus": Num(0, 1 << 17, integer=True), "--scale-bits": Num(1, 60, integer=True),
    "--max-events": Num(1, 1 << 40, integer=True), "--activation": Str(16),
})
CALIBRATE_OPTIONS = Obj({"--reps": Num(1, 1_000_000, integer=True),
                         "--seconds": Num(0, 86_400),  # a day of timing rounds per parameter set at most
                         "--size-mb": Num(1, 1 << 16, integer=True),  # 64 GiB working set at most
                         "--repeat": Num(1, 1000, integer=True)})


def check_options(values: dict, rules: Obj) -> None:
    """Command-line options (flag -> value; None: not given) against ``rules``."""
    validate({k: v for k, v in values.items() if v is not None}, rules, "")


def check_threads(threads: int) -> int:
    """Simulated worker threads: 1 to MAX_THREADS."""
    if not 1 <= threads <= MAX_THREADS:
        raise UsageError(f"threads {threads} must be between 1 and {MAX_THREADS}")
    return threads


# --- schemas -------------------------------------------------------------------------------

POSITIVE = Num(0, 1e12, lo_open=True)
COUNT = Num(0, 2 ** 62, integer=True)
TEXT = Str(MAX_TEXT)
NAME = Str(MAX_NAME, min_len=1, one_line=True)  # a name shown in tables and one-line messages
SOURCE = MapOf(AnyJSON(MAX_TEXT), max_len=100)

# what a device is: the advice compares Memory Mode only over a pmem tier, policies name tiers by kind;
# memory-only: a calibrated host's CPU-less NUMA node (hetier/host/memory_preset.py)
DEVICE_KINDS = ("dram", "pmem", "cxl", "hbm", "memory-only")
_CURVE = ListOf(ListOf(Num(0, 1e6, lo_open=True), length=2), min_len=1, max_len=1000)  # [streams, GB/s]

DEVICE = Obj({
    "name": NAME, "kind": Str(choices=DEVICE_KINDS), "description": TEXT, "source": SOURCE,
    "capacity_gb": Num(0, 1e7, lo_open=True),  # up to 10 PB
    "read_latency_seq_ns": Num(0, 1e7, lo_open=True), "write_latency_ns": Num(0, 1e7, lo_open=True),
    "read_curve": _CURVE, "write_curve": _CURVE,
    "read_bw_scale": Num(0, 1e6, lo_open=True), "write_bw_scale": Num(0, 1e6, lo_open=True),  # what-if knobs
    "write_amplification": Num(0, 1000, lo_open=True),
    "dimms": Num(1, 1024, integer=True),
}, required=("capacity_gb", "read_latency_seq_ns", "read_curve", "write_curve"), label="device key")

MODES = ("flat", "memory", "linux-tiering", "flat-memory-mode")  # simulator/memory_systems/: one mode each
TIER_NAME = Str(32, min_len=1, pattern=r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class MachineKey:
    """One key of a machine file, declared once: its rule, unit, meaning and default (``required``:
    none), and the ``Machine`` field it fills (``field``, default its own name; the file's value
    times ``scale``, of type ``type``). simulator/machine.py's dataclass, ``load_machine``,
    ``Machine.to_dict``, ``machine_from_dict``, the results schema below and the table in
    docs/simulator.md all derive from these declarations. ``settable``: ``--set machine.KEY`` may
    change it; ``in_results``: results embed the field ("required", or "optional" for keys added
    after results version 1); ``field_rule``: the field's rule in results where it differs;
    ``measure``: how to find the value for a real machine."""

    key: str
    type: type
    rule: Rule
    meaning: str
    unit: str = ""
    default: object = None
    required: bool = False
    field: str = ""
    scale: float = 1
    settable: bool = True
    in_results: str = "required"
    field_rule: Rule | None = None
    measure: str = ""  # how to find the value for a real machine

    @property
    def name(self) -> str:
        """The ``Machine`` field (and results key) this key fills."""
        return self.field or self.key

    def value(self, d: dict):
        """This key's ``Machine`` field value from a validated machine file table ``d``."""
        if self.key not in d:
            return self.default
        v = d[self.key]
        return self.type(v * self.scale) if self.scale != 1 else self.type(v)


MACHINE_KEYS = (
    MachineKey("name", str, NAME, "the machine's name, shown in results and reports "
               "(default: the file's name)"),
    MachineKey("mode", str, Str(choices=MODES), "the memory system that organises the tiers: flat (App Direct / "
               "KMEM-DAX NUMA tiers, CXL), memory (Memory Mode: the first tier caches the second), linux-tiering, "
               "flat-memory-mode (docs/tiering.md)", default="flat", settable=False),
    MachineKey("tiers", tuple, ListOf(AnyJSON(), min_len=1, max_len=16),  # each tier: TIER_REF, then DEVICE
               "the memory tiers, fastest first: each [[tiers]] table has a `name` and a device (`device`: a preset name, "
               "or a device file, a relative path read from the machine file's folder) and/or device keys", required=True, settable=False),
    MachineKey("cores", int, Num(1, MAX_THREADS, integer=True), "CPU cores; the simulated threads default to it "
               "and may not exceed it", unit="cores", required=True,
               measure="the CPUs of the NUMA node the run is bound to (`hetier calibrate --memory` counts them)"),
    MachineKey("llc_mb", int, Num(2 ** -20, 1e5, lo_shown="2^-20 (one byte)"), "last-level cache: accesses it holds never reach memory",
               unit="MiB", required=True, field="llc_bytes", scale=2 ** 20, field_rule=Num(1, 1e14, integer=True),
               measure="the highest cache level under /sys/devices/system/cpu/cpu0/cache (`hetier calibrate --memory` "
                       "reads it)"),
    MachineKey("mm_miss_penalty_ns", float, Num(0, 1e7), "Memory Mode: the wait per 64 B line read from the "
               "backing tier, overlapped with the thread's other misses", unit="ns", default=70.0,
               measure="published, not measured here: 70 ns (Moon, Oh, Ahn, KIISE 2020)"),
    MachineKey("cache_block_bytes", int, Num(64, 1 << 30, integer=True, pow2=True), "Memory Mode: the DRAM "
               "cache's block (4 KiB: a coarser stand-in for the hardware's 64 B lines)", unit="bytes", default=4096,
               measure="a modelling choice: 64 is the hardware's line, larger blocks replay faster"),
    MachineKey("page_bytes", int, Num(4096, 1 << 40, integer=True, pow2=True), "Memory Mode: the OS's page, "
               "each backed by a random frame (4 KiB; 2 MiB for huge pages)", unit="bytes", default=4096,
               in_results="optional", measure="`getconf PAGESIZE`, or the huge page size the runtime maps"),
    MachineKey("description", str, TEXT, "one line on the machine", default="", in_results="optional"),
    MachineKey("source", dict, SOURCE, "what each number cites (key = citation), carried into results",
               settable=False, in_results="optional"),
)
MACHINE = Obj({k.key: k.rule for k in MACHINE_KEYS}, required=tuple(k.key for k in MACHINE_KEYS if k.required),
              label="machine key")
DEVICE_OVERRIDE = Obj(DEVICE.fields, label="device key")
# --set machine.KEY: the machine's numbers and its labels (mode and tiers come from the file)
MACHINE_OVERRIDE = Obj({k.key: k.rule for k in MACHINE_KEYS if k.settable}, label="machine key")
TIER_REF = Obj({"name": TIER_NAME, "device": Str(MAX_TEXT, min_len=1)}, required=("name",), extra=True,
               label="tier key")

_LAYER = Obj({"index": Num(0, 1 << 31, integer=True), "name": Str(MAX_NAME), "kind": Str(64),
              "shape": AnyJSON(1000), "inputs": AnyJSON(100_000)}, required=("name", "kind"), extra=True)
MAX_LAYERS = 1 << 20
TRACE_META = Obj({
    "magic": Str(), "format_version": Num(1, 1000, integer=True),
    "he": Obj({"poly_modulus": Num(1, 1 << 20, integer=True), "primes": ListOf(Num(1, 64, integer=True), max_len=256),
               "scale_bits": Num(1, 64, integer=True), "batch": Num(1, 1 << 20, integer=True)},
              required=("poly_modulus", "primes", "scale_bits", "batch"), extra=True),
    "model": Obj({"name": Str(MAX_NAME), "config": AnyJSON(10_000), "depth": Num(0, 1 << 20, integer=True)},
                 required=("name", "config"), extra=True),
    "mode": Str(choices=("real", "plan")),
    "durations": TEXT,
    "granularity": Str(choices=("ciphertext", "tensor")),
    "host": Obj({"cpu": Str(MAX_TEXT), "cores": Num(0, 1 << 20, integer=True)}, required=("cpu", "cores"),
                extra=True),
    "versions": AnyJSON(10_000),
    "start_time": Str(64),
    "runtime": AnyJSON(100_000),
    "layers": ListOf(_LAYER, min_len=1, max_len=MAX_LAYERS),
    "checksum": Str(16),
}, required=("magic", "format_version", "he", "model", "mode", "durations", "granularity", "host",
             "start_time", "layers"), extra=True)

_BYTES = Num(0, 1e21)
_PER_TIER = MapOf(_BYTES, key=TIER_NAME, max_len=16)
RESULTS_RUN = Obj({
    "machine": Obj({**{k.name: k.field_rule or k.rule for k in MACHINE_KEYS if k.key != "tiers"},
                    "tiers": ListOf(Obj({"tier": TIER_NAME, **DEVICE.fields}, required=("tier", *DEVICE.required),
                                        label="tier key"), min_len=1, max_len=16)},
                   required=tuple(k.name for k in MACHINE_KEYS if k.in_results == "required"), extra=True),
    "policy": Str(MAX_NAME), "threads": Num(1, MAX_THREADS, integer=True),
    "trace": Obj({"file": Str(MAX_TEXT), "sha256": Str(64, pattern=r"[0-9a-f]{64}")}, required=("file", "sha256"),
                 extra=True),
    "fits": Bool(), "missing_bytes": _PER_TIER, "peak_bytes": _PER_TIER,
    "makespan_ns": Num(0, 1e21, optional=True), "compute_ns": Num(0, 1e21, optional=True),
    "stall_ns": _PER_TIER, "read_bytes": _PER_TIER, "write_bytes": _PER_TIER,
    "mm_hit_ratio": Num(0, 1, optional=True), "mm_writeback_bytes": Num(0, 1e21, optional=True),
    "notes": MapOf(AnyJSON(100_000), max_len=1000),
    "stack": Obj({"name": Str(MAX_NAME)}, required=("name",), extra=True), "scenario": Obj(extra=True),
    "overrides": MapOf(AnyJSON(MAX_TEXT), max_len=1000),
    "memory_needed": Obj({k: _BYTES for k in ("total_bytes", "live_peak_bytes", "resident_peak_bytes", "process_bytes")}
                         | {"fit_by": Str(16)}, required=("total_bytes", "live_peak_bytes", "resident_peak_bytes",
                                                           "process_bytes", "fit_by"), extra=True),
}, required=("machine", "policy", "threads", "trace", "fits", "missing_bytes", "peak_bytes", "makespan_ns",
             "compute_ns", "stall_ns", "read_bytes", "write_bytes"), extra=True)
RESULTS_META = Obj({"magic": Str(), "version": Num(1, 1000, integer=True), "hetier": Str(64),
                    "runs": ListOf(RESULTS_RUN, min_len=1, max_len=100_000)},
                   required=("magic", "version", "runs"), extra=True)

_LEVEL = Str(4, pattern=r"[1-9][0-9]{0,2}")
COST_ENTRY = Obj({
    "poly_modulus": Num(1, 1 << 20, integer=True), "primes": ListOf(Num(1, 64, integer=True), min_len=1, max_len=256),
    "batch": Num(1, 1 << 20, integer=True),
    "ns": MapOf(MapOf(Num(0, 1e15), key=_LEVEL, max_len=300), key=Str(32)),
    "memory": Obj({"cold_read_ns_per_byte": Num(0, 1e6), "cold_write_ns_per_byte": Num(0, 1e6),
                   "cache_bytes": Num(0, 2 ** 62, integer=True)}, extra=True),
    "timing": Obj({"rounds": Num(1, 1e12, integer=True), "seconds": Num(0, 1e7)}, extra=True),
}, required=("poly_modulus", "primes", "batch", "ns"), extra=True)
COST_FILE = Obj({"magic": Str(), "machine": MapOf(AnyJSON(MAX_TEXT), max_len=100),
                 "entries": ListOf(COST_ENTRY, min_len=1, max_len=10_000)},
                required=("magic", "machine", "entries"), extra=True)

# A measured run (hetier/formats/measured.py: fit's input, confirm's records), after its CSV text
# is converted: bounds keep fit's arithmetic finite (1e-308 s or 1e308 s are not measurements).
MEASURED_RUN = Obj({
    "model": NAME, "width": Num(0, 4, lo_open=True), "resolution": Num(1, 4096, integer=True),
    "batch": Num(1, 1 << 20, integer=True), "poly_modulus": Num(1024, 1 << 17, integer=True, pow2=True),
    "primes": ListOf(Num(1, 64, integer=True), min_len=2, max_len=256),
    "machine": Str(MAX_TEXT, min_len=1, one_line=True), "policy": NAME,
    "threads": Num(1, MAX_THREADS, integer=True),
    "peak_gb": Num(1e-6, 1e7),  # 1 kB to 10 PB
    "seconds": Num(1e-6, 1e9),  # 1 us to 30 years
}, required=("model", "batch", "poly_modulus", "primes", "machine", "policy", "threads", "peak_gb", "seconds"),
    label="column")
MAX_MEASURED_RUNS = 1000  # fit replays every run (twice per evaluation with leave-one-out)
MAX_CSV_FIELD = 2000  # characters in one CSV field

# The layer kinds a stack profile may name (simulator/stack.py declares each key's rule; the kinds
# are models/ir.py's LEVEL_COST keys: tests/unit/test_validation_layer.py keeps the two equal).
LAYER_KINDS = ("input", "conv2d", "dwconv2d", "dense", "avgpool", "gavgpool", "add", "flatten", "relu", "relu6",
               "maxpool", "square", "poly", "bias")

# Sweep files (simulator/axes.py read_sweep_file) and the size of a sweep (hetier/cli/sweep.py).
SWEEP_FILE = Obj({
    "traces": ListOf(Str(MAX_TEXT, min_len=1), max_len=1000),
    "machines": ListOf(Str(MAX_TEXT, min_len=1), max_len=1000),
    "policies": ListOf(NAME, max_len=100),
    "stacks": ListOf(Str(MAX_TEXT, min_len=1), max_len=100),
    "threads": ListOf(Num(1, MAX_THREADS, integer=True), max_len=100),
    "set": MapOf(AnyJSON(MAX_TEXT), key=NAME, max_len=100),
    "vary": MapOf(AnyJSON(MAX_TEXT), key=NAME, max_len=100),
    "description": TEXT,
}, label="sweep key")
MAX_SWEEP_CONFIGS = 100_000  # configurations per sweep: each is a replay and a Parquet part

# Placement files (hetier/formats/placement.py). Tensor keys are exact decimal integers (" 3" and
# "1_0" used to address tensors 3 and 10 through int()); references to tensors and ops are then
# checked against the trace (simulator/policies/from_file.py).
TENSOR_KEY = Str(19, pattern=r"0|[1-9][0-9]{0,18}")
MAX_PLACED = 10_000_000  # tensors or moves in one placement file
_INDEX = Num(0, 2 ** 62, integer=True)
PLACEMENT = Obj({
    "magic": Str(), "version": Num(1, 1000, integer=True), "hetier": Str(64),
    "trace": Obj({"sha256": Str(64, pattern=r"[0-9a-f]{64}")}, required=("sha256",), extra=True),
    "machine": Str(MAX_TEXT), "policy": Str(MAX_TEXT), "granularity": Str(choices=("tensor", "site")),
    "tensors": MapOf(TIER_NAME, key=TENSOR_KEY, max_len=MAX_PLACED),
    "sites": MapOf(TIER_NAME, key=NAME, max_len=MAX_PLACED),
    "moves": ListOf(Obj({"before_op": _INDEX, "tensor": _INDEX, "tier": TIER_NAME},
                        required=("before_op", "tensor", "tier"), label="move key"), max_len=MAX_PLACED),
}, required=("magic", "version", "trace", "tensors", "moves"), label="placement key")

# Advice files (simulator/advise.py read_advice): what `report --advice` renders.
_BIG = Num(0, 1e21, optional=True)
_ADVICE_ROW = Obj({"machine": Str(MAX_NAME), "policy": Str(MAX_TEXT), "time_ns": _BIG, "vs_all_dram": _BIG,
                   "vs_memory_mode": _BIG, "fast_peak_bytes": _BIG, "migrated_bytes": _BIG, "min_fast_bytes": _BIG,
                   "why": Str(MAX_TEXT, optional=True), "deploy": Str(MAX_TEXT, optional=True),
                   "searched": Bool()}, required=("machine", "policy", "time_ns", "vs_all_dram", "vs_memory_mode",
                                                  "fast_peak_bytes", "migrated_bytes", "min_fast_bytes", "why"),
                   extra=True, label="row key")
MAX_ADVICE_LAYERS = 200_000  # per-op rows of the recommended placement
MAX_ADVICE_TIERING = 3000  # tiering entries: three ways per machine, at most 1000 machines
ADVICE = Obj({
    "magic": Str(), "version": Num(1, 1000, integer=True),
    "trace": Obj({"sha256": Str(64, pattern=r"[0-9a-f]{64}")}, required=("sha256",), extra=True),
    "threads": Num(1, MAX_THREADS, integer=True, optional=True), "bisected": Bool(), "within": Num(0, 100),
    "machines": ListOf(Obj({"machine": Str(MAX_NAME), "fast_tier": Str(32, optional=True), "all_dram_ns": _BIG,
                            "memory_mode_ns": _BIG, "fast_bytes": _BIG, "peak_live_bytes": _BIG,
                            "memory_needed_bytes": _BIG, "threads": Num(1, MAX_THREADS, integer=True, optional=True),
                            "rows": ListOf(_ADVICE_ROW, max_len=1000)},
                           # what the report reads of each machine (null allowed where the rule says so)
                           required=("machine", "rows", "fast_tier", "all_dram_ns", "memory_mode_ns", "fast_bytes"),
                           extra=True,
                           label="machine key"), max_len=1000),
    "recommended": _ADVICE_ROW,
    "layers": ListOf(Obj({"op": Num(0, 2 ** 62, integer=True), "layer": Str(MAX_NAME),
                          "bytes": MapOf(Num(0, 1e21), key=TIER_NAME, max_len=16), "moved_bytes": Num(0, 1e21)},
                         required=("op", "layer", "bytes", "moved_bytes"), extra=True, label="layer key"), max_len=MAX_ADVICE_LAYERS),
    "tiering": ListOf(Obj({  # per tiering alternative that ran: bytes moved per op (absent in files before it)
        "machine": Obj({"name": Str(MAX_NAME), "mode": Str(choices=("linux-tiering", "flat-memory-mode")),
                        "tiers": ListOf(Obj({"tier": TIER_NAME, "kind": Str(32), "capacity_gb": Num(0, 1e9)},
                                            required=("tier", "kind", "capacity_gb"), label="tier key"),
                                        min_len=2, max_len=2)},
                       required=("name", "mode", "tiers"), label="machine key"),
        "policy": Str(MAX_TEXT),
        "ops": Obj({"name": ListOf(Str(MAX_NAME), max_len=MAX_ADVICE_LAYERS),
                    **{c: ListOf(Num(0, 1e21), max_len=MAX_ADVICE_LAYERS)
                       for c in ("start_ns", "end_ns", "promoted_bytes", "demoted_bytes", "resident_bytes")}},
                   required=("name", "start_ns", "end_ns", "promoted_bytes", "demoted_bytes"), label="tiering column")},
        required=("machine", "policy", "ops"), label="tiering key"), max_len=MAX_ADVICE_TIERING),
}, required=("magic", "version", "trace", "threads", "bisected", "machines", "recommended", "layers"), extra=True,
    label="advice key")

# A price file (simulator/presets/prices.toml): per entry and card its source and date; what the
# schema cannot say (usd_per_gb 0 only for reused DIMMs, names that point at defined entries) is
# checked in simulator/prices.py.
MAX_CARD_USD = 1e7  # bounds keep the arithmetic finite
MAX_USD_PER_GB = 1e6
_SOURCED = {"date": TextOrDate(), "source": Str(MAX_TEXT, min_len=1), "note": TEXT, "estimate": Bool()}
PRICE_CARD = Obj({"usd": Num(0, MAX_CARD_USD), "gb_per_card": Num(1, 1e9), **_SOURCED},  # a card holds >= 1 GB
                 required=("usd", "gb_per_card", "date", "source"), label="card key")
PRICE_ENTRY = Obj({"usd_per_gb": Num(0, MAX_USD_PER_GB), "card": NAME, "reused": Bool(), **_SOURCED},
                  required=("usd_per_gb", "date", "source"), label="price key")
PRICE_FILE = Obj({
    "cards": MapOf(PRICE_CARD, key=NAME, max_len=1000),
    "prices": MapOf(PRICE_ENTRY, key=NAME, max_len=1000),
    "devices": MapOf(NAME, key=NAME, max_len=1000),  # device preset -> price entry
    "choices": MapOf(Obj({"description": Str(MAX_TEXT, min_len=1), "devices": MapOf(NAME, key=NAME, max_len=1000)},
                         required=("description", "devices"), label="choice key"), key=NAME, max_len=100),
})
