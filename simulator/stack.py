"""Stack profiles: how the software that runs a trace executes it on the target machine.

A trace records primitives and what they cost on the recording host; a machine says what the
memory does; a stack profile says what the software does with the primitives: whether ops
overlap (dataflow) or run one at a time (nGraph's executor), which ops run on one thread, what
the target's primitives cost relative to the recording's, and what the executor thread does
alone (destroying the host objects an op frees). Profiles are data: presets in ``simulator/presets/stacks/*.toml`` or a
user's TOML file, plus ``key=value`` overrides; results embed the resolved profile.

Each key is declared once, as a field of ``StackProfile`` with its meaning, its rule and how to
measure it in the field's metadata; reading, checking, writing (``profile_toml``) and the docs'
table (``keys_table``) all derive from those declarations.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace

from hetier.errors import UsageError
from hetier.formats.trace import RUNTIME_PROFILES
from hetier.simulator.devices import load_toml, resolve_preset
from hetier.validation import LAYER_KINDS, MAX_NAME, MAX_TEXT, has_control_chars

SCHEDULES = ("dataflow", "sequential")
MAX_SCALE = 1e6  # a primitive a million times slower (or faster) than recorded is a typo; keeps times finite
MAX_SERIAL_NS = 1e9  # a second of serial work per output ciphertext: far beyond any stack
MAX_PROCESS_BYTES = 2.0 ** 50  # 1 PiB


def _key(meaning: str, rule: str, measure: str = "", free: bool = False, **extra) -> dict:
    """A profile key's declaration: its meaning, its rule (text, then checked by ``_check``), how
    to measure it, and whether `hetier fit` may set it."""
    return {"meaning": meaning, "rule": rule, "measure": measure, "free": free, **extra}


def _number(lo: float, hi: float, positive: bool) -> dict:
    return {"kind": "number", "lo": lo, "hi": hi, "positive": positive}


@dataclass(frozen=True)
class StackProfile:
    """How a software stack schedules and pays for a trace's primitives on the target."""

    name: str = field(metadata=_key("the profile's name (results and reports show it)", "text", kind="text"))
    description: str = field(default="", metadata=_key("one line on the stack", "text", kind="text"))
    runtime_profile: str = field(default="hetier", metadata=_key(
        "the tracer's runtime profile of the traces this stack replays (hetier trace --runtime-profile)",
        "one of " + ", ".join(RUNTIME_PROFILES), kind="choice", choices=RUNTIME_PROFILES))
    schedule: str = field(default="dataflow", metadata=_key(
        "dataflow: independent ops overlap; sequential: one op at a time, in graph order",
        "one of " + ", ".join(SCHEDULES), "the stack's executor: does it start an op before the previous ends?",
        kind="choice", choices=SCHEDULES))
    compute_scale: float = field(default=1.0, metadata=_key(
        "target primitive time / recorded primitive time", f"number in [{1 / MAX_SCALE:g}, {MAX_SCALE:g}]",
        "a layer's primitives at 1 thread on the target over the trace's recorded time", free=True,
        **_number(1 / MAX_SCALE, MAX_SCALE, True)))
    teardown_ns_per_host_byte: float = field(default=0.0, metadata=_key(
        "ns per byte of host objects (the runtime's memory outside the pool, e.g. unpacked constant tensors) "
        "that the executor thread destroys when an op frees them: run on one thread under the executor lock, "
        "after the op's parallel part, reading the freed objects through the machine's memory (one stream, "
        "under that CPU time: the part takes the longer of the two)",
        f"number in [0, {MAX_SERIAL_NS:g}]",
        "time the executor thread spends between ops destroying a tensor of n host objects (perf/uftrace on "
        "that thread), over the objects' bytes", free=True, **_number(0.0, MAX_SERIAL_NS, False)))
    serial_ns_per_output: float = field(default=0.0, metadata=_key(
        "legacy, no mechanism behind it (kept so older profiles and results load): ns per output ciphertext "
        "of a serial_output_kinds op on one thread, moving no memory", f"number in [0, {MAX_SERIAL_NS:g}]",
        "one convolution at 1 and T threads, T(t) = s * outputs + p / t",
        **_number(0.0, MAX_SERIAL_NS, False)))
    process_bytes: float = field(default=0.0, metadata=_key(
        "the runtime's own memory besides the trace's buffers (interpreter, libraries, executor); part of memory "
        "needed", f"number in [0, {MAX_PROCESS_BYTES:g}]",
        "resident memory of the runtime process with the model loaded and no ciphertext allocated (e.g. VmRSS)",
        **_number(0.0, MAX_PROCESS_BYTES, False)))
    serial_output_kinds: tuple[str, ...] = field(default=(), metadata=_key(
        "ops that have that serial part", "list of layer kinds", kind="kinds"))
    single_thread_kinds: tuple[str, ...] = field(default=(), metadata=_key(
        "ops the stack runs on one thread", "list of layer kinds", "a profiler's per-op thread count", kind="kinds"))
    output_stationary_kinds: tuple[str, ...] = field(default=(), metadata=_key(
        "ops that accumulate each output in the thread's cache (their own tensors cost one pass)",
        "list of layer kinds", "the kernel's loop order: one output's running sum and product per thread",
        kind="kinds"))
    streaming_store_kinds: tuple[str, ...] = field(default=(), metadata=_key(
        "Memory Mode: ops whose stores write whole lines without reading them first (streaming stores: no read for "
        "ownership, so no store fill from Optane)", "list of layer kinds",
        "perf stat -e mem_inst_retired.all_stores against the op's Optane read bytes, or the kernel's disassembly "
        "(movnt*, rep movsb)", kind="kinds"))
    load_visible: dict = field(default_factory=dict, compare=False, hash=False, metadata=_key(
        "Memory Mode: per op kind, the share of its Optane-served load bytes that retired loads see (PEBS "
        "MEM_LOAD_RETIRED.LOCAL_PMM; prefetched lines are not counted); 1 where absent", "table of kind = [0, 1]",
        "perf stat -e mem_load_retired.local_pmm (x 64 B) over the op's Optane read bytes (uncore imc pmm read "
        "counters)", kind="fractions"))
    source: dict = field(default_factory=dict, compare=False, hash=False,
                         metadata=_key("what each value cites", "table", kind="table"))
    fit: dict = field(default_factory=dict, compare=False, hash=False,
                      metadata=_key("how `hetier fit` set the free values", "table", kind="table"))

    def with_values(self, **values: float) -> "StackProfile":
        """The same profile with some free parameters set (what a fit tries)."""
        return replace(self, **values)

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


KEYS = {f.name: f.metadata for f in fields(StackProfile)}
# the parameters `hetier fit` may set, each with its physical meaning in the declarations above
FREE_PARAMETERS = tuple(k for k, m in KEYS.items() if m["free"])


def _known_kinds(key: str, kinds, where: str):
    """``kinds`` (a list, or a table keyed by kind) if every kind is a layer kind of the IR."""
    unknown = [k for k in kinds if k not in LAYER_KINDS]
    if unknown:
        raise UsageError(f"{where}: '{key}' names unknown layer kind '{unknown[0][:40]}' (known: {', '.join(LAYER_KINDS)})")
    return kinds


def _check(key: str, v, where: str):
    """One value against its declaration; returns it in the dataclass's type."""
    m = KEYS[key]
    kind = m["kind"]
    if kind == "number":
        ok = (not isinstance(v, bool) and isinstance(v, (int, float)) and (isinstance(v, int) or math.isfinite(v))
              and m["lo"] <= v <= m["hi"] and not (m["positive"] and v == 0))
        if not ok:
            raise UsageError(f"{where}: '{key}' must be a {m['rule']} (got {repr(v)[:60]})")
        return float(v)
    if kind == "choice":
        if v not in m["choices"]:
            raise UsageError(f"{where}: {key} '{v}' unknown (known: {', '.join(m['choices'])})")
        return v
    if kind == "kinds":
        if not isinstance(v, list) or not all(isinstance(k, str) for k in v):
            raise UsageError(f"{where}: '{key}' must be a list of layer kinds")
        return tuple(_known_kinds(key, v, where))
    if kind == "table":
        if not isinstance(v, dict):
            raise UsageError(f"{where}: '{key}' must be a table")
        return v
    if kind == "fractions":
        if not isinstance(v, dict) or not all(isinstance(k, str) and not isinstance(x, bool) and isinstance(x, (int, float))
                                              and 0 <= x <= 1 for k, x in v.items()):
            raise UsageError(f"{where}: '{key}' must be a table of layer kinds to fractions in [0, 1]")
        return {k: float(x) for k, x in _known_kinds(key, v, where).items()}
    if not isinstance(v, str):
        raise UsageError(f"{where}: '{key}' must be text (got {str(v)[:40]!r})")
    text = v  # a name or a description: one line (they become comments of `fit -o`), bounded
    limit = MAX_NAME if key == "name" else MAX_TEXT
    if len(text) > limit or has_control_chars(text) or (key == "name" and not text):
        raise UsageError(f"{where}: '{key}' must be one line of at most {limit} characters")
    return text


def stack_from_dict(d: dict, where: str) -> StackProfile:
    """Validate a profile table: unknown keys, choices and out-of-range numbers are errors."""
    unknown = set(d) - set(KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown stack profile key(s) {', '.join(sorted(unknown))}")
    values = {k: _check(k, v, where) for k, v in d.items()}
    values.setdefault("name", where)
    return StackProfile(**values)


def parse_overrides(items: list[str]) -> dict:
    """``key=value`` overrides of a profile (values are TOML)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"stack override '{item}' must look like key=value (e.g. compute_scale=1.5)")
        if key.strip() in out:
            raise UsageError(f"stack override {key.strip()} given twice")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            raise UsageError(f"stack override '{item}': '{value}' is not a TOML value") from None
    return out


def load_stack(name_or_path: str = "hetier", overrides: list[str] | None = None) -> StackProfile:
    """A stack profile preset by name or a profile TOML file by path, with overrides."""
    path = resolve_preset("stacks", name_or_path)
    d = load_toml(path)
    if not d:
        raise UsageError(f"{path}: holds no stack profile keys (an empty file; see docs/simulator.md for the keys)")
    d.setdefault("name", path.stem)
    d.update(parse_overrides(overrides or []))
    return stack_from_dict(d, str(path))


def stack_from_results(d: dict | None) -> StackProfile:
    """The profile a results file embeds (results written before profiles existed: hetier's)."""
    return stack_from_dict(d, "results") if d else StackProfile(name="hetier")


def keys_table() -> str:
    """The profile keys as a Markdown table (what docs/simulator.md shows), from the declarations."""
    rows = ["| key | meaning | rule | how to measure | fitted |", "| --- | --- | --- | --- | --- |"]
    for k, m in KEYS.items():
        rows.append(f"| `{k}` | {m['meaning']} | {m['rule']} | {m['measure'] or '-'} | {'yes' if m['free'] else ''} |")
    return "\n".join(rows) + "\n"


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_value(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def profile_toml(stack: StackProfile, fit_info: dict, command: str) -> str:
    """A profile as a TOML file, each key with its meaning; ``fit_info`` becomes its [fit] table."""
    d = stack.to_dict()
    lines = [f"# Generated by `{command}`; regenerate rather than edit the fitted numbers.",
             f"# {d['description']}" if d["description"] else "#", ""]
    for k, m in KEYS.items():
        if m["kind"] == "table":
            continue
        note = m["meaning"] + (f"; measure: {m['measure']}" if m["measure"] else "")
        if k in fit_info.get("free", []):
            note = f"fitted ({fit_info['runs']}); {note}"
        lines += [f"# {note}", f"{k} = {_toml_value(d[k])}"]
    for table, values in (("source", d["source"]), ("fit", fit_info)):
        if values:
            lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
