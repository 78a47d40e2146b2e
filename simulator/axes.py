"""Sweep axes, shared by `hetier replay` and `hetier sweep`: traces x machines x policies x
stacks x threads x overrides, expanded into configurations.

Machines may be listed twice under different labels (``small=optane-appdirect``); an override
``[LABEL:]tier.key=VALUES`` takes one value, a comma list (``16,32``) or an inclusive range
(``16:192:16``), and a list or range becomes an axis. A label prefix that names no listed
machine is an error. A pair that cannot run (interleave on a one-tier machine) is a
configuration carrying the reason, so one bad pair never aborts a sweep.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from hetier.errors import UsageError
from hetier.formats.results import override_column
from hetier.simulator.devices import load_toml, presets_of, resolve_preset
from hetier.simulator.machine import Machine
from hetier.simulator.machines import load_machine
from hetier.simulator.memory_systems import MEMORY_SYSTEMS, memory_system_for
from hetier.simulator.policies import POLICIES, get_policy, policy_class
from hetier.validation import SWEEP_FILE, validate
from hetier.vocabulary import threads_exceed

# what a memory system that takes no placement policy is listed as in --policy and in results
SYSTEM_LABELS = tuple(sorted({c.run_label for c in MEMORY_SYSTEMS.values() if not c.takes_policy}))


@dataclass(frozen=True)
class MachineEntry:
    """A listed machine: the label it goes by in this sweep and the preset or file it comes from."""

    label: str
    ref: str


@dataclass(frozen=True)
class Override:
    """``tier.key`` set to one or more values, for every machine (target None) or one label."""

    target: str | None
    key: str
    texts: tuple[str, ...]  # TOML text of each value, as the machine loader takes it

    @property
    def tier(self) -> str:
        return self.key.split(".", 1)[0]


@dataclass(frozen=True)
class Config:
    """One point of a sweep. ``skip`` says why it cannot run (it is still a result row)."""

    trace: str
    machine: str  # label
    ref: str  # preset name or machine file
    overrides: tuple[tuple[str, str], ...]  # (tier.key, TOML text), sorted by key
    policy: str  # a policy spec, or the label of a memory system that takes none (SYSTEM_LABELS)
    threads: int
    skip: str | None = None
    stack: str = "hetier"  # stack profile preset or file
    added: bool = False  # an all-DRAM reference the sweep added (not asked for)

    @property
    def policy_spec(self) -> str | None:
        """The policy to hand the memory system (None for systems that take none)."""
        return None if self.policy in SYSTEM_LABELS else self.policy

    def override_values(self) -> dict[str, object]:
        """Override values parsed (numbers as numbers), by ``tier.key``."""
        return {k: parse_value(v) for k, v in self.overrides}

    def load(self) -> Machine:
        """The resolved machine, named by its label."""
        m = load_machine(self.ref, [f"{k}={v}" for k, v in self.overrides])
        return replace(m, name=self.machine)

    def row(self, trace_sha256: str, status: str, reason: str | None) -> dict:
        """The configuration's columns of the one results schema (sweeps' configs.parquet rows,
        `replay --json`): its id and key, trace, machine label and preset, policy, stack, threads,
        status and reason, then each override as a column (``override_column``: no dots)."""
        key = self.key(trace_sha256)
        return {"config_id": config_id(key), "config_key": key, "trace": os.path.basename(self.trace),
                "trace_sha256": trace_sha256, "machine": self.machine, "machine_preset": self.ref, "mode": None,
                "policy": self.policy, "stack": self.stack, "threads": self.threads, "status": status, "reason": reason,
                "reference_added": self.added,
                **{override_column(k): v for k, v in self.override_values().items()}}

    def key(self, trace_sha256: str) -> str:
        """Canonical text identifying this configuration (what resume and row order use)."""
        key = {"trace": trace_sha256, "machine": self.machine, "ref": self.ref,
               "overrides": [list(o) for o in self.overrides], "policy": self.policy, "threads": self.threads}
        if self.stack != "hetier":  # keys of sweeps written before stacks were an axis stay the same
            key["stack"] = self.stack
        if self.added:
            key["added"] = True
        return json.dumps(key, sort_keys=True, separators=(",", ":"))


def config_id(key: str) -> str:
    """A configuration's short id: the first 16 hex digits of its key's sha256."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def split_list(values: list[str] | None) -> list[str]:
    """Repeated options and comma lists, flattened in order."""
    return [v.strip() for item in (values or []) for v in item.split(",") if v.strip()]


def parse_value(text: str) -> object:
    """An override value as TOML (numbers, strings, lists); bare words stay strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_threads(values: list[str] | None) -> list[int]:
    """``--threads 1,8 --threads 24`` -> [1, 8, 24]; a count listed twice or below 1 is an error.
    None given: [] (each machine's cores)."""
    items = split_list(values)
    if not items:
        return []
    out: list[int] = []
    for v in items:
        try:
            n = int(v)
        except ValueError:
            raise UsageError(f"threads '{v}' is not a whole number") from None
        if n < 1:
            raise UsageError(f"threads {n} must be at least 1")
        if n in out:
            raise UsageError(f"threads {n} listed twice")
        out.append(n)
    return out


def parse_machines(values: list[str] | None) -> list[MachineEntry]:
    """``preset``, ``file.toml`` or ``LABEL=preset``; two entries with one label are an error."""
    presets = presets_of("machines")
    out: list[MachineEntry] = []
    for item in split_list(values):
        label, eq, ref = item.partition("=")
        if not eq:
            ref = item
            label = item if item in presets else _file_machine_name(item)
        elif not label or not ref:
            raise UsageError(f"machine '{item}' must be PRESET, FILE.toml or LABEL=PRESET")
        if any(e.label == label for e in out):
            raise UsageError(f"machine '{label}' listed twice; give each variant a label, "
                             f"e.g. --machine small={ref} --set small:dram.capacity_gb=16")
        out.append(MachineEntry(label, ref))
    if not out:
        raise UsageError("no machine given (--machine PRESET)")
    return out


def _file_machine_name(ref: str) -> str:
    path = resolve_preset("machines", ref)  # unknown preset names fail here, naming the known ones
    return str(load_toml(path).get("name", Path(path).stem))


def _range_texts(spec: str) -> tuple[str, ...] | None:
    """``16:192:16`` -> ("16", "32", ..., "192"), exact in decimal; None if not a range."""
    parts = spec.split(":")
    if len(parts) != 3:
        return None
    try:
        start, stop, step = (Decimal(p) for p in parts)
    except InvalidOperation:
        return None
    if not all(p.is_finite() for p in (start, stop, step)):
        raise UsageError(f"range '{spec}' must be three finite numbers START:STOP:STEP")
    if step <= 0 or stop < start:
        raise UsageError(f"range '{spec}' must be START:STOP:STEP with STEP > 0 and STOP >= START")
    n = int((stop - start) / step) + 1
    if n > 10000:
        raise UsageError(f"range '{spec}' has {n} values (at most 10000)")
    return tuple(str(start + i * step) for i in range(n))


def parse_overrides(values: list[str] | None, labels: list[str]) -> list[Override]:
    """``[LABEL:]tier.key=VALUE[,VALUE...|START:STOP:STEP]``; the label must be listed."""
    out: list[Override] = []
    for item in values or []:
        target: str | None = None
        head, colon, rest = item.partition(":")
        if colon and "=" not in head:
            if head not in labels:
                raise UsageError(f"override '{item}' names machine '{head}', which is not listed "
                                 f"(listed: {', '.join(labels)})")
            target, item = head, rest
        key, sep, value = item.partition("=")
        if not sep or "." not in key or not value:
            raise UsageError(f"override '{item}' must look like tier.key=value (e.g. dram.capacity_gb=16)")
        if value.lstrip().startswith("["):
            texts: tuple[str, ...] = (value,)  # a TOML list such as a bandwidth curve
        else:
            texts = _range_texts(value) or tuple(v.strip() for v in value.split(",") if v.strip())
        if not texts:
            raise UsageError(f"override '{item}' gives no value")
        if len(set(texts)) != len(texts):
            raise UsageError(f"override '{item}' lists a value twice")
        if any(o.target == target and o.key == key for o in out):
            raise UsageError(f"override {key} given twice for {target or 'every machine'}")
        clash = [o.key for o in out if o.key != key and override_column(o.key) == override_column(key)]
        if clash:
            raise UsageError(f"overrides {clash[0]} and {key} would share the results column "
                             f"'{override_column(key)}'; rename one of the tiers")
        out.append(Override(target, key, texts))
    return out


def machine_variants(entry: MachineEntry, overrides: list[Override]) -> list[tuple[tuple[str, str], ...]]:
    """Every combination of the overrides that apply to ``entry`` (its label's beat the global ones)."""
    tiers = _tier_names(entry)
    mine = {o.key: o for o in overrides if o.target == entry.label}
    for o in overrides:
        if o.target is None and o.key not in mine and (o.tier in tiers or o.tier == "machine"):
            mine[o.key] = o
    keys = sorted(mine)
    return [tuple(zip(keys, combo)) for combo in itertools.product(*(mine[k].texts for k in keys))]


def _tier_names(entry: MachineEntry) -> list[str]:
    """The machine's tier names (loading it checks the file: a bad one is a one-line error)."""
    return load_machine(entry.ref).tier_names


def check_global_tiers(machines: list[MachineEntry], overrides: list[Override]) -> None:
    """A global override must name a tier some listed machine has (else it is a typo)."""
    tiers = {t for m in machines for t in _tier_names(m)} | {"machine"}
    unknown = sorted({o.tier for o in overrides if o.target is None and o.tier not in tiers})
    if unknown:
        raise UsageError(f"override names unknown tier(s) {', '.join(unknown)} (tiers: {', '.join(sorted(tiers - {'machine'}))})")


def policy_for(machine: Machine, spec: str) -> tuple[str, str | None]:
    """(policy label, reason it cannot run or None) for a policy spec on a machine."""
    system = memory_system_for(machine)
    if not system.takes_policy:
        return system.run_label, None
    try:
        pol = get_policy(spec, machine.tier_names)
    except UsageError as e:
        return spec, f"not applicable: {e}"
    return ("all-dram" if len(machine.tiers) == 1 else pol.label), None


def check_policies(specs: list[str]) -> None:
    """Unknown policy names and malformed arguments are errors (typos), before any replay."""
    for s in specs:
        if s in SYSTEM_LABELS:
            continue
        get_policy(s, ["fast", "slow"])


@dataclass
class Axes:
    """What a sweep varies; ``configs()`` expands it in a fixed order."""

    traces: list[str]
    machines: list[MachineEntry]
    policies: list[str]
    threads: list[int]
    overrides: list[Override]
    stacks: list[str] = field(default_factory=lambda: ["hetier"])

    def configs(self) -> list[Config]:
        check_policies(self.policies)
        check_global_tiers(self.machines, self.overrides)
        out: list[Config] = []
        for trace in self.traces:
            for entry in self.machines:
                for ov in machine_variants(entry, self.overrides):
                    base = Config(trace, entry.label, entry.ref, ov, "", 1)
                    m = base.load()  # bad values fail here, naming the file and key
                    seen = []
                    for spec in self.policies:
                        label, skip = policy_for(m, spec)
                        if label in seen:
                            continue
                        seen.append(label)
                        for stack in self.stacks:
                            for t in self.threads or [m.cores]:
                                over = threads_exceed(t, m.cores) if t > m.cores else None
                                out.append(replace(base, policy=label, threads=t, skip=skip or over, stack=stack))
        return out

    def override_keys(self) -> list[str]:
        return sorted({o.key for o in self.overrides})


def dram_only_references(axes: "Axes", needed: dict[tuple[str, str], int]) -> list[Config]:
    """For each listed machine under a placement policy with more than one tier, trace, stack and
    thread count: the same machine with its first tier alone, sized to the memory needed
    (``needed[(trace, stack)]`` bytes, rounded up to a whole GB), running all-DRAM: the like-for-like
    reference a hybrid box is priced against (not the hybrid box with its expander idle)."""
    out = []
    for entry in axes.machines:
        m = load_machine(entry.ref)
        if not memory_system_for(m).takes_policy or len(m.tiers) < 2:
            continue
        first, *rest = m.tier_names
        for trace in axes.traces:
            for stack in axes.stacks:
                if (trace, stack) not in needed:
                    continue
                gb = -(-needed[(trace, stack)] // 10 ** 9)
                ov = tuple(sorted([(f"{first}.capacity_gb", str(gb)), *((f"{t}.capacity_gb", "0") for t in rest)]))
                for t in axes.threads or [m.cores]:
                    over = threads_exceed(t, m.cores) if t > m.cores else None
                    out.append(Config(trace, f"{entry.label}-{first}-only", entry.ref, ov, "all-dram", t, over, stack,
                                      added=True))
    return out


def axes_from_args(traces: list[str], machines: list[str] | None, policies: list[str] | None,
                   threads: list[str] | None, sets: list[str] | None, varies: list[str] | None = None,
                   stacks: list[str] | None = None) -> Axes:
    """Axes from command-line lists (each option repeatable and comma-separated)."""
    entries = parse_machines(machines)
    ov = parse_overrides([*(sets or []), *(varies or [])], [e.label for e in entries])
    pols = split_list(policies) or ["all-dram"]
    unknown = [p for p in pols if p not in SYSTEM_LABELS and policy_class(p) is None]
    if unknown:
        raise UsageError(f"policy '{unknown[0].partition(':')[0]}' not found (known: {', '.join(sorted(POLICIES))})")
    stack_list = split_list(stacks) or ["hetier"]
    if len(set(stack_list)) != len(stack_list):
        raise UsageError("a stack profile is listed twice")
    return Axes(list(traces), entries, pols, parse_threads(threads), ov, stack_list)


_SWEEP_FILE_KEYS = {"traces", "machines", "policies", "stacks", "threads", "set", "vary", "description"}


def _toml_text(v: object) -> str:
    """A sweep-file value back to override text: lists become comma lists, strings stay as written."""
    if isinstance(v, list):
        if any(isinstance(x, list) for x in v):
            raise UsageError("a sweep file's override list holds numbers or strings (a range is \"16:192:16\")")
        return ",".join(_toml_text(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def read_sweep_file(path: str) -> dict[str, list[str]]:
    """A TOML sweep file as command-line lists: traces (relative to the file), machines, policies,
    threads, and ``[set]`` / ``[vary]`` tables of ``"[LABEL:]tier.key" = value, list or "A:B:STEP"``."""
    d = load_toml(Path(path))
    unknown = set(d) - _SWEEP_FILE_KEYS
    if unknown:
        raise UsageError(f"{path}: unknown sweep key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(_SWEEP_FILE_KEYS))})")
    for k in ("traces", "machines", "policies", "stacks", "threads"):
        if k in d and not isinstance(d[k], list):
            raise UsageError(f"{path}: '{k}' must be a list")
    validate(d, SWEEP_FILE, path)  # types, sizes and ranges: hetier/validation.py
    here = Path(path).parent
    out = {"traces": [str(t if Path(t).is_absolute() else here / t) for t in d.get("traces", [])],
           "machines": [str(m) for m in d.get("machines", [])], "policies": [str(p) for p in d.get("policies", [])],
           "stacks": [str(s) for s in d.get("stacks", [])],
           "threads": [str(t) for t in d.get("threads", [])], "sets": []}
    for table in ("set", "vary"):
        for key, v in d.get(table, {}).items():
            out["sets"].append(f"{key}={_toml_text(v)}")
    return out
