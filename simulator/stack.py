"""Stack profiles: how the software that runs a trace executes it on the target machine.

A trace records primitives and what they cost on the recording machine; a machine says what the
memory does; a stack profile says what the software does with the primitives: whether ops
overlap (dataflow) or run one at a time (nGraph's executor), which ops run on one thread, what
the target's primitives cost relative to the recording's, and what part of an op does not
shrink with threads. Profiles are data: presets in ``simulator/presets/stacks/*.toml`` or a
user's TOML file, plus ``key=value`` overrides; results embed the resolved profile.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace

from hetier.errors import UsageError
from hetier.simulator.devices import load_toml, resolve_preset
from hetier.validation import STACK, validate

SCHEDULES = ("dataflow", "sequential")
# the parameters `hetier fit` may set, each with its physical meaning in the preset files
FREE_PARAMETERS = ("compute_scale", "serial_ns_per_output")
_KEYS = {"name", "description", "runtime_profile", "schedule", "compute_scale", "serial_ns_per_output",
         "serial_output_kinds", "single_thread_kinds", "output_stationary_kinds", "source", "fit"}


@dataclass(frozen=True)
class StackProfile:
    """How a software stack schedules and pays for a trace's primitives on the target."""

    name: str
    runtime_profile: str = "hetier"  # the tracer's allocation profile whose traces this stack replays
    schedule: str = "dataflow"  # dataflow: independent ops overlap; sequential: one op at a time
    compute_scale: float = 1.0  # target primitive time / recorded primitive time
    serial_ns_per_output: float = 0.0  # per output ciphertext of a serial_output_kinds op, on one thread
    serial_output_kinds: tuple[str, ...] = ()
    single_thread_kinds: tuple[str, ...] = ()  # ops the stack runs on one thread
    # ops that accumulate each output in the thread's cache (running sum and product stay there):
    # the tensors they allocate cost one pass of memory traffic, however many MACs touch them
    output_stationary_kinds: tuple[str, ...] = ()
    description: str = ""
    source: dict = field(default_factory=dict, compare=False, hash=False)
    fit: dict = field(default_factory=dict, compare=False, hash=False)

    def with_values(self, **values: float) -> "StackProfile":
        """The same profile with some free parameters set (what a fit tries)."""
        return replace(self, **values)

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "runtime_profile": self.runtime_profile,
                "schedule": self.schedule, "compute_scale": self.compute_scale,
                "serial_ns_per_output": self.serial_ns_per_output,
                "serial_output_kinds": list(self.serial_output_kinds),
                "single_thread_kinds": list(self.single_thread_kinds),
                "output_stationary_kinds": list(self.output_stationary_kinds), "source": self.source, "fit": self.fit}


def _number(d: dict, key: str, where: str, positive: bool) -> float:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise UsageError(f"{where}: '{key}' must be a finite {'positive' if positive else 'non-negative'} "
                         f"number (got {v!r})")
    return float(v)


def _kinds(d: dict, key: str, where: str) -> tuple[str, ...]:
    v = d.get(key, [])
    if not isinstance(v, list) or not all(isinstance(k, str) for k in v):
        raise UsageError(f"{where}: '{key}' must be a list of layer kinds")
    return tuple(v)


def stack_from_dict(d: dict, where: str) -> StackProfile:
    """Validate a profile table: unknown keys, schedules and out-of-range numbers are errors."""
    unknown = set(d) - _KEYS
    if unknown:
        raise UsageError(f"{where}: unknown stack profile key(s) {', '.join(sorted(unknown))}")
    schedule = d.get("schedule", "dataflow")
    if schedule not in SCHEDULES:
        raise UsageError(f"{where}: schedule '{schedule}' unknown (known: {', '.join(SCHEDULES)})")
    runtime = d.get("runtime_profile", "hetier")
    if runtime not in ("hetier", "reference"):
        raise UsageError(f"{where}: runtime_profile '{runtime}' unknown (known: hetier, reference)")
    vals = {k: _number(d, k, where, k == "compute_scale") for k in FREE_PARAMETERS if k in d}
    validate(d, STACK, where)  # ranges, kinds, names: hetier/validation.py
    return StackProfile(name=str(d.get("name", where)), runtime_profile=runtime, schedule=schedule,
                        serial_output_kinds=_kinds(d, "serial_output_kinds", where),
                        single_thread_kinds=_kinds(d, "single_thread_kinds", where),
                        output_stationary_kinds=_kinds(d, "output_stationary_kinds", where),
                        description=str(d.get("description", "")), source=d.get("source", {}),
                        fit=d.get("fit", {}), **vals)


def parse_overrides(items: list[str]) -> dict:
    """``key=value`` overrides of a profile (values are TOML)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"stack override '{item}' must look like key=value (e.g. compute_scale=1.5)")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            raise UsageError(f"stack override '{item}': '{value}' is not a TOML value") from None
    return out


def load_stack(name_or_path: str = "hetier", overrides: list[str] | None = None) -> StackProfile:
    """A stack profile preset by name or a profile TOML file by path, with overrides."""
    path = resolve_preset("stacks", name_or_path)
    d = load_toml(path)
    d.setdefault("name", path.stem)
    d.update(parse_overrides(overrides or []))
    return stack_from_dict(d, str(path))


def stack_from_results(d: dict | None) -> StackProfile:
    """The profile a results file embeds (results written before profiles existed: hetier's)."""
    return stack_from_dict(d, "results") if d else StackProfile(name="hetier")


# what each key means and how to measure it: the comments of a written profile
MEANING = {
    "runtime_profile": "the tracer's allocation profile of the traces this stack replays (hetier trace --runtime-profile)",
    "schedule": "dataflow: independent ops overlap; sequential: one op at a time, in graph order",
    "compute_scale": "target primitive time / recorded primitive time; measure: a layer's primitives at 1 thread "
                     "on the target over the trace's recorded time",
    "serial_ns_per_output": "ns per output ciphertext of a serial_output_kinds op that do not shrink with threads "
                            "(run on one thread under the executor lock); measure: one convolution at 1 and T "
                            "threads, T(t) = s * outputs + p / t",
    "serial_output_kinds": "ops that have that serial part",
    "single_thread_kinds": "ops the stack runs on one thread",
    "output_stationary_kinds": "ops that accumulate each output in the thread's cache (their own tensors cost one pass)",
}


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


def profile_toml(stack: StackProfile, fit_info: dict, command: str) -> str:
    """A profile as a TOML file, each key with its meaning; ``fit_info`` becomes its [fit] table."""
    d = stack.to_dict()
    lines = [f"# Generated by `{command}`; regenerate rather than edit the fitted numbers.",
             f"# {d['description']}" if d["description"] else "#", ""]
    for k in ("name", "description", "runtime_profile", "schedule", *FREE_PARAMETERS, "serial_output_kinds",
              "single_thread_kinds", "output_stationary_kinds"):
        note = MEANING.get(k, "")
        if k in fit_info.get("free", []):
            note = f"fitted ({fit_info['runs']}); {note}"
        lines += ([f"# {note}"] if note else []) + [f"{k} = {_toml_value(d[k])}"]
    for table, values in (("source", d["source"]), ("fit", fit_info)):
        if values:
            lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
