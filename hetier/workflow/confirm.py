"""`hetier confirm`: re-run a trace's model for real under the NUMA binding of a placement
policy, sample its resident memory per node, and set the measurement beside the simulator's
prediction for the same configuration. One record per run (the measured-runs format that
`hetier fit` reads)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hetier.errors import HetierError, UsageError
from hetier.formats.measured import RECORD_COLUMNS as MEASURED_RECORD_COLUMNS
from hetier.formats.measured import options_text, parse_measured, primes_text
from hetier.formats.trace import COLUMNS, TraceReader
from hetier.host.host_preset import check_this_host, preset_source
from hetier.host.memory_preset import tier_nodes
from hetier.host.numa_maps import PeakSampler, resident_by_node
from hetier.host.numactl import bind_prefix
from hetier.host.tiering import PROC, SYS, read_vmstat, tiering_refusal, vmstat_delta
from hetier.host.topology import Topology
from hetier.simulator.policies.base import PER_TENSOR as POLICY_PER_TENSOR
from hetier.workflow.calibration import DEFAULT_SECONDS

RECORD_COLUMNS = MEASURED_RECORD_COLUMNS  # a record file is fit's input: the measured-runs columns first
EXTRA_COLUMNS = ("repeat", "recorder_seconds", "cpu_seconds", "predicted_seconds", "seconds_error", "cpu_seconds_error",
                 "predicted_with", "predicted_seconds_trace_costs", "predicted_seconds_host_costs", "run_speed",
                 "run_speed_spread", "predicted_seconds_run_speed", "cpu_seconds_error_run_speed", "peak_above_start_gb", "predicted_peak_gb",
                 "peak_error", "pool_resident_gb", "pool_peak_error", "peak_gb_by_node", "predicted_peak_gb_by_tier", "binding", "placement", "placement_verified",
                 "events_match",
                 "max_abs_error", "trace", "trace_sha256", "date", "hetier_version")
PER_TENSOR = f"{POLICY_PER_TENSOR}, so confirm cannot apply it (it applies whole-process policies and per-phase " \
             "--placement)"


@dataclass
class Binding:
    """How a policy is applied for real: the numactl words, and the policy the simulator predicts."""

    numactl: list[str]
    predict_policy: str | None
    label: str
    predicted: bool | None = None  # None: predicted when predict_policy is set
    predict_mode: str | None = None  # the memory system the prediction runs the machine in (None: its own)

    @property
    def predicts(self) -> bool:
        return self.predicted if self.predicted is not None else self.predict_policy is not None


def binding_for(policy: str, machine, nodes: dict[str, int], topo: Topology, proc_root=PROC, sys_root=SYS) -> Binding:
    """The numactl binding of ``policy`` on this host, or a one-line refusal naming the hardware,
    kernel setting or runtime support it needs."""
    from hetier.simulator.memory_systems import memory_system_for

    system = memory_system_for(machine)
    if not system.takes_policy:  # the hardware (or a boot setting) places the bytes: run unbound, predict as is
        if policy not in (system.run_label, "all-dram"):
            raise UsageError(f"machine '{machine.name}' is in {system.title} (a boot setting): confirm only runs "
                             f"and compares there (use --policy {system.run_label}), it cannot apply '{policy}'")
        return Binding([], None, f"{system.run_label} (no binding)", predicted=True)
    name, _, arg = policy.partition(":")
    odd = sorted(t for t, n in nodes.items() if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 1 << 16)
    if odd:
        raise UsageError(f"machine '{machine.name}': numa_node of tier {odd[0]} must be one node number "
                         f"(got {str(nodes[odd[0]])[:40]})")
    dram = nodes.get(machine.tier_names[0])
    if dram is None:
        raise UsageError(f"machine '{machine.name}' names no NUMA node for tier '{machine.tier_names[0]}' "
                         f"(a preset from hetier calibrate --memory does)")
    far = [n.id for n in topo.memory_only_nodes]
    known = {n.id for n in topo.nodes}
    if dram not in known:
        raise UsageError(f"machine '{machine.name}' puts tier {machine.tier_names[0]} on NUMA node {dram}, "
                         f"which this host does not have")
    needs_far = f"policy '{policy}' needs a memory-only NUMA node (PMem in App Direct/KMEM DAX or a CXL " \
                "expander: a node with memory and no CPUs); this machine has none"
    if name == "all-dram":
        return Binding(bind_prefix([dram], membind=[dram]), "all-dram", f"membind {dram}")
    if name == "linux-tiering":  # the kernel places pages: run on DRAM's CPUs with the default policy
        if not far or len(machine.tiers) != 2 or nodes.get(machine.tier_names[-1]) not in far:
            raise UsageError(needs_far if not far else f"policy '{policy}' needs machine '{machine.name}' to have two "
                             f"tiers, the second on a memory-only node (nodes {', '.join(map(str, far))})")
        why = tiering_refusal(proc_root, sys_root)
        if why:
            raise UsageError(why)
        from hetier.simulator.memory_systems.linux_tiering import LinuxTiering

        return Binding(bind_prefix([dram]), policy, "linux-tiering (first touch, kernel tiering)",
                       predict_mode=LinuxTiering.mode)
    if name in ("all-pmem", "dram-first"):
        if not far:
            raise UsageError(needs_far)
        slow = nodes.get(machine.tier_names[-1])
        if len(machine.tiers) < 2 or slow not in far:
            raise UsageError(f"policy '{policy}' needs machine '{machine.name}' to have a tier on a memory-only node "
                             f"(nodes {', '.join(map(str, far))}): calibrate --memory writes it")
        if name == "all-pmem":
            return Binding(bind_prefix([dram], membind=[slow]), "all-pmem", f"membind {slow}")
        return Binding(bind_prefix([dram], preferred=dram), "dram-first", f"preferred {dram}")
    if name == "interleave":
        try:
            ratio = float(arg) if arg else 0.5
        except ValueError:
            raise UsageError(f"policy '{policy[:60]}': '{arg[:40]}' is not a fraction (interleave:0.5)") from None
        if ratio != 0.5:
            raise UsageError(f"policy '{policy}' needs weighted interleave (Linux 6.9 MPOL_WEIGHTED_INTERLEAVE); "
                             "numactl --interleave splits pages evenly: use interleave or interleave:0.5")
        ids = [dram] + ([nodes[machine.tier_names[-1]]] if len(machine.tiers) > 1 else [])
        # on one tier every page lands on it: the simulator's placement is all-dram
        return Binding(bind_prefix([dram], interleave=ids), "interleave" if len(ids) > 1 else "all-dram",
                       f"interleave {','.join(map(str, ids))}")
    raise UsageError(f"policy '{policy}' {PER_TENSOR}")


def rerun_spec(meta: dict, path: str) -> dict:
    """What the child needs to run the trace's model again, or a one-line refusal."""
    from hetier.models.zoo import build

    if meta.get("mode") != "real":
        raise UsageError(f"trace '{path}' is a {meta.get('mode')} trace: confirm re-runs real traces (its model may "
                         f"not fit here)")
    model = meta["model"]
    try:
        graph = build(model["name"], **model["config"])
    except HetierError as e:
        raise UsageError(f"trace '{path}': this hetier cannot rebuild its model ({e})") from None
    if graph.depth() != model.get("depth", graph.depth()):
        raise UsageError(f"trace '{path}': model {model['name']} {model['config']} rebuilds with depth "
                         f"{graph.depth()}, the trace says {model['depth']}")
    he, rt = meta["he"], meta.get("runtime", {})
    from hetier.tracer.params import HEParams

    try:
        params = HEParams(he["poly_modulus"], tuple(he["primes"]), he["scale_bits"], he["batch"])
    except (HetierError, KeyError, TypeError) as e:
        raise UsageError(f"trace '{path}': this hetier cannot rebuild its HE parameters ({e})") from None
    if params.levels < graph.depth():
        raise UsageError(f"trace '{path}': its HE parameters give {params.levels} levels, model needs {graph.depth()}")
    if "input_seed" not in rt:
        raise UsageError(f"trace '{path}' does not record its input seed: it cannot be re-run identically")
    return {"model": model["name"], "config": model["config"], "granularity": meta["granularity"],
            "he": {k: he[k] for k in ("poly_modulus", "primes", "scale_bits", "batch")},
            "seed": rt["input_seed"], "bias_copy": rt.get("bias_copy", True)}


def event_digest(path: str | Path) -> tuple[str, float]:
    """Hash of every column but the timestamps (equal digests = the same events in the same
    order), and the ops' summed thread CPU seconds (0 if the trace has none)."""
    hs = {c: hashlib.sha256() for c in COLUMNS if c != "ts_ns"}
    with TraceReader(path) as r:
        for b in r.batches():
            for c, h in hs.items():
                h.update(getattr(b, c).tobytes())
        cpu = sum(t for t, _ in r.op_cpu_ns) / 1e9
    return hashlib.sha256("".join(h.hexdigest() for h in hs.values()).encode()).hexdigest(), cpu


def measure_once(prefix: list[str], spec: dict, interval: float = 0.1) -> dict:
    """Start the child under ``prefix``, sample its residency from READY to the end."""
    cmd = [*prefix, sys.executable, "-m", "hetier.workflow.rerun", json.dumps(spec)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line.strip() != "READY":
        err = p.communicate()[1].strip().splitlines()[-1:] or ["(no output)"]
        raise HetierError(f"the re-run did not start ({' '.join(prefix) or 'no binding'}): {err[0]}")
    sampler = PeakSampler(p.pid, interval)
    start = resident_by_node(p.pid)
    sampler.sample()
    sampler.start()
    p.stdin.write("go\n")
    p.stdin.flush()
    out, err = p.communicate()
    sampler.stop()
    if p.returncode != 0:
        last = err.strip().splitlines()[-1:] or ["(no output)"]
        raise HetierError(f"the re-run failed (exit {p.returncode}): {last[0]}")
    result = json.loads(next(l for l in out.splitlines() if l.startswith("RESULT "))[7:])
    return {**result, "start_bytes": sum(start.values()), "peak_bytes": sampler.peak_total,
            "peak_by_node": sampler.peak_by_node, "samples": sampler.samples}


def _gb(b: float) -> float:
    return round(b / 1e9, 4)


def host_costs(cost_file: str | Path, params, reps: int = 100, progress=None, seconds: float = DEFAULT_SECONDS):
    """This host's HE primitive costs for ``params`` (a ``CostModel``) and whether they were
    measured now: the cost file is reused if it exists, else ``hetier calibrate --he`` measures
    ``params`` here (rounds for ``seconds``) and writes it. A cost file measured on another CPU is refused: the point is
    to price the re-run with this machine's costs."""
    from hetier.tracer.costs import calibrate, load_costs
    from hetier.tracer.host import host_info

    path = Path(cost_file)
    measured = not path.exists()
    if measured:
        if progress:
            progress(f"measuring this host's HE primitive costs (hetier calibrate --he, {reps} calls per round, "
                     f"{seconds:g} s of rounds) into {path}")
        calibrate([params], path, reps, progress, seconds)
    costs = load_costs(path, params)
    cpu = host_info()["cpu"]
    if costs.machine.get("cpu") != cpu:
        raise UsageError(f"cost file '{path}' was measured on {costs.machine.get('cpu')}, not on this host's CPU "
                         f"({cpu}): run hetier calibrate --he here, or give a new file name to measure it now")
    return costs, measured


def predict_with_costs(meta: dict, spec: dict, costs, machine, policy: str | None, stack, workdir: Path,
                       allow_runtime_mismatch: bool = False, fit_by: str = "resident"):
    """The prediction of the re-run with ``costs`` (this host's) instead of the trace's recorded
    times: the trace's model planned with the cost file (the same events, tensor granularity,
    durations modelled from the costs), replayed on ``machine`` with this host's memory as the
    recording host (the plan's durations are this host's). Returns the run result and the
    planned ops' seconds, in op order."""
    from hetier.formats.trace import runtime_profile_of
    from hetier.models.zoo import build
    from hetier.simulator.recording_host import RecordingHost
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.workload import load_workload
    from hetier.tracer.params import HEParams
    from hetier.tracer.session import plan_run

    he = spec["he"]
    params = HEParams(he["poly_modulus"], tuple(he["primes"]), he["scale_bits"], he["batch"])
    planned = plan_run(build(spec["model"], **spec["config"]), params, workdir / "host-costs.arrow", "tensor",
                       costs.path, spec["bias_copy"], profile=runtime_profile_of(meta)).path
    label = costs.label()
    here = RecordingHost(machine.device(machine.tier_names[0]), machine.llc_bytes, None,
                         source=f"this host's HE costs ({label['cost_file']}, {label['cost_machine']}, "
                                f"{label['cost_generated']})")
    work = load_workload(planned)
    return simulate(Scenario(work, machine, policy, stack, threads=1, recording=here,
                             allow_runtime_mismatch=allow_runtime_mismatch, fit_by=fit_by)), \
        [op.duration_ns / 1e9 for op in work.ops]


def run_speed(op_seconds: list[float], probes_ns: list[float], calibrated_ns: float) -> tuple[float, float]:
    """How slowly the core ran through a re-run against its speed while the cost file was
    measured: each op's probe time (the mean of the probes just before and just after it; the
    probe is the cost file's top-level multiply-accumulate) over the cost file's, weighted by the
    op's predicted seconds. Returns (that factor: 1.2 = 20% slower than when calibrated, the
    slowest probe over the fastest). One probe per op boundary is expected; otherwise the
    probes' plain mean."""
    if not probes_ns or calibrated_ns <= 0:
        raise ValueError("no speed probes or no calibrated multiply-accumulate to compare them with")
    spread = max(probes_ns) / min(probes_ns)
    if len(probes_ns) == len(op_seconds) + 1 and sum(op_seconds) > 0:
        per_op = [(a + b) / 2 for a, b in zip(probes_ns, probes_ns[1:])]
        mean = sum(w * p for w, p in zip(op_seconds, per_op)) / sum(op_seconds)
    else:
        mean = sum(probes_ns) / len(probes_ns)
    return mean / calibrated_ns, spread


def confirm(trace: str, machine_path: str, policy: str, repeat: int, topo: Topology,
            placement_path: str | None = None, progress=None, stack=None, allow_runtime_mismatch: bool = False,
            fit_by: str = "resident", proc_root=PROC, sys_root=SYS, cost_file: str | None = None,
            cost_reps: int = 100, cost_seconds: float = DEFAULT_SECONDS) -> list[dict]:
    """Measure ``repeat`` re-runs and predict the same configuration; one record per run. Under
    Linux tiering each record also holds the kernel's tiering counters over the run (/proc/vmstat
    before and after) beside the predicted ones. With ``cost_file`` (this host's ``calibrate --he``
    costs, measured now if the file does not exist) the prediction is priced with them; the record
    keeps the trace-cost prediction beside it."""
    from hetier.version import __version__
    from hetier.simulator.machines import load_machine
    from hetier.simulator.memory_systems import memory_system_for
    from hetier.simulator.scenario import Scenario, simulate
    from hetier.simulator.workload import load_workload

    if repeat < 1:
        raise UsageError(f"--repeat {repeat} must be at least 1")
    machine = load_machine(machine_path)
    check_this_host(machine_path, preset_source(machine_path))
    with TraceReader(trace) as r:
        meta = r.meta
    spec = rerun_spec(meta, trace)
    bind = binding_for(policy, machine, tier_nodes(machine_path), topo, proc_root, sys_root)
    placement = None
    if placement_path is not None:
        from hetier.host.phase_policy import load_placement

        if not memory_system_for(machine).takes_policy:
            raise UsageError(f"a per-phase placement needs tiers under a placement policy; machine '{machine.name}' "
                             f"is in {memory_system_for(machine).title}")
        order = [l["name"] for l in meta["layers"]]
        placement = {**load_placement(placement_path, machine_path, order), "order": order}
        if placement["nodes"] != [tier_nodes(machine_path)[machine.tier_names[0]]]:
            # the simulator has no per-phase policy: such a placement is applied and measured, not predicted
            bind.predict_policy = None
    work = load_workload(trace)
    pred_s = pred_peak = None
    import dataclasses

    predicted_on = dataclasses.replace(machine, mode=bind.predict_mode) if bind.predict_mode else machine
    pred = simulate(Scenario(work, predicted_on, bind.predict_policy, stack, threads=1,
                             allow_runtime_mismatch=allow_runtime_mismatch, fit_by=fit_by)) if bind.predicts else None
    if pred is not None and pred.makespan_ns is None:
        raise UsageError(f"the simulator says {policy} does not fit on {machine.name}: nothing to confirm")
    if pred is not None:
        pred_s, pred_peak = pred.makespan_ns / 1e9, sum(pred.peak_bytes.values())
    trace_s, host_s, priced = pred_s, None, "trace's recorded op times"
    op_seconds: list[float] = []
    calibrated_mac = 0.0  # the cost file's top-level multiply-accumulate, ns: what the re-run's probes compare with
    if pred is not None and cost_file is not None:
        from hetier.tracer.params import HEParams

        he = spec["he"]
        params = HEParams(he["poly_modulus"], tuple(he["primes"]), he["scale_bits"], he["batch"])
        costs, measured = host_costs(cost_file, params, cost_reps, progress, cost_seconds)
        with tempfile.TemporaryDirectory(prefix="hetier-confirm-plan-") as d:
            host_run, op_seconds = predict_with_costs(meta, spec, costs, predicted_on, bind.predict_policy, stack,
                                                      Path(d), allow_runtime_mismatch, fit_by)
        host_s = host_run.makespan_ns / 1e9
        calibrated_mac = costs.ns.get("MAC", {}).get(params.data_primes, 0.0)
        label = costs.label()
        timed = costs.timing or {}
        how = (f"; mean of {timed['rounds']} rounds over {timed['seconds']:g} s" if "rounds" in timed and "seconds" in timed
               else "")
        priced = (f"this host's HE costs ({label['cost_file']}, {'measured now' if measured else 'reused'}{how}; "
                  f"{label['cost_machine']}, {label['cost_generated']})")
        pred_s = host_s
        if progress:
            progress(f"prediction priced with {priced}: {host_s:.3f} s (with the trace's recorded times: {trace_s:.3f} s)")
    original = event_digest(trace)[0]
    from hetier.analysis.trace_stats import trace_stats

    pool = trace_stats(trace).resident_peak_bytes  # the trace's peak under SEAL's size-class pool
    cfg = model_columns(meta)
    records = []
    with tempfile.TemporaryDirectory(prefix="hetier-confirm-") as d:
        for k in range(repeat):
            if progress:
                progress(f"run {k + 1}/{repeat}: {' '.join(bind.numactl) or 'no binding'} {meta['model']['name']}")
            before = read_vmstat(proc_root) if bind.predict_mode else None
            got = measure_once(bind.numactl, {**spec, "trace_out": str(Path(d) / f"r{k}.arrow"),
                                              "placement": placement, "speed_probe": calibrated_mac > 0})
            tiering = tiering_fields(before, read_vmstat(proc_root), pred) if bind.predict_mode else {}
            digest, cpu_s = event_digest(Path(d) / f"r{k}.arrow")
            above = got["peak_bytes"] - got["start_bytes"]
            # the ops' time, as the trace's durations (the recorder's and the speed probes' taken off)
            seconds = got["seconds"] - got["recorder_seconds"] - got.get("probe_seconds", 0.0)
            speed = run_speed(op_seconds, got["speed_probe_ns"], calibrated_mac) if "speed_probe_ns" in got else None
            records.append({
                **cfg, "machine": machine_ref(machine_path), "policy": policy, "threads": 1, "peak_gb": _gb(got["peak_bytes"]),
                "seconds": round(seconds, 4), "repeat": k + 1, "recorder_seconds": round(got["recorder_seconds"], 4),
                "predicted_seconds": round(pred_s, 4) if pred else "",
                "seconds_error": round(pred_s / seconds - 1, 4) if pred else "",
                "cpu_seconds_error": round(pred_s / cpu_s - 1, 4) if pred and cpu_s > 0 else "",
                "predicted_with": priced if pred else "",
                "predicted_seconds_trace_costs": round(trace_s, 4) if pred else "",
                "predicted_seconds_host_costs": round(host_s, 4) if host_s is not None else "",
                "run_speed": round(speed[0], 4) if speed else "",
                "run_speed_spread": round(speed[1], 3) if speed else "",
                "predicted_seconds_run_speed": round(host_s * speed[0], 4) if speed else "",
                "cpu_seconds_error_run_speed": round(host_s * speed[0] / cpu_s - 1, 4) if speed and cpu_s > 0 else "",
                "peak_above_start_gb": _gb(above),
                "predicted_peak_gb": _gb(pred_peak) if pred else "",
                "peak_error": round(pred_peak / above - 1, 4) if pred and above > 0 else "",
                "pool_resident_gb": _gb(pool), "pool_peak_error": round(pool / above - 1, 4) if above > 0 else "",
                "peak_gb_by_node": ";".join(f"{n}:{_gb(b)}" for n, b in sorted(got["peak_by_node"].items())),
                "predicted_peak_gb_by_tier": ";".join(f"{t}:{_gb(b)}" for t, b in pred.peak_bytes.items()) if pred else "",
                "binding": bind.label, "placement": json.dumps(placement["layers"]) if placement else "",
                "events_match": digest == original, "cpu_seconds": round(cpu_s, 4),
                "max_abs_error": got["max_abs_error"], "trace": Path(trace).name,
                "trace_sha256": work.trace_id["sha256"],
                "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "hetier_version": __version__,
                "placement_verified": all(c["ok"] for c in got["placement_checks"]) if placement else "",
                **({"placement_checks": got["placement_checks"]} if placement else {}), **tiering,
            })
    return records


def confirm_records(trace: str, machine_path: str, policy: str = "all-dram", repeat: int = 1, topo: Topology | None = None,
                    output: str | Path | None = None, append: bool = False, force: bool = False,
                    cost_reps: int = 100, cost_seconds: float = DEFAULT_SECONDS, **options) -> tuple[list[dict], Path | None]:
    """``confirm`` with its record file: ``output`` (.csv: the measured-runs columns fit reads,
    or .json) is checked and locked before the first re-run and written when they end (after
    the records already there if ``append``). ``options`` are ``confirm``'s (``placement_path``,
    ``progress``, ``stack``, ``cost_file``, ...). Returns the records and the file written."""
    from hetier.atomic import check_output
    from hetier.host.topology import read_topology

    out = None
    if output:
        out = check_output(output, force or append)
        if out.suffix not in (".csv", ".json"):
            raise UsageError(f"record file '{out}' must end in .csv or .json")
    if not 1 <= cost_reps <= 1_000_000:
        raise UsageError(f"--cost-reps {cost_reps} must be a count from 1 to 1000000")
    if not 0 <= cost_seconds <= 86_400:  # NaN fails both
        raise UsageError(f"--cost-seconds {cost_seconds} must be seconds from 0 to 86400")
    records_file = RecordFile(out, append) if out else None  # checked and locked before the first re-run
    try:
        records = confirm(trace, machine_path, policy, repeat, topo or read_topology(), cost_reps=cost_reps,
                          cost_seconds=cost_seconds, **options)
    except BaseException:
        if records_file:
            records_file.close()
        raise
    if records_file:  # written first: a failure after this must not lose the measurements
        records_file.write(records)
    return records, out


def tiering_fields(before: dict[str, int], after: dict[str, int], pred) -> dict:
    """The kernel's tiering counters over one run (machine-wide) beside the simulator's."""
    counted = pred.notes.get("tiering", {}) if pred is not None else {}
    return {"vmstat_delta": vmstat_delta(before, after),
            "predicted_vmstat": {k: counted.get(k, 0) for k in after if k in counted}}


def model_columns(meta: dict) -> dict:
    cfg, he = meta["model"]["config"], meta["he"]
    return {"model": meta["model"]["name"], "width": cfg.get("width", ""), "resolution": cfg.get("resolution", ""),
            "batch": he["batch"], "poly_modulus": he["poly_modulus"], "primes": primes_text(he["primes"]), "options": options_text(cfg)}


def machine_ref(machine_path: str) -> str:
    """How a record names its machine so that ``hetier fit`` finds it again: a preset's name,
    or the machine file's absolute path (a host preset is named after the host, which fit
    cannot resolve)."""
    import os

    from hetier.simulator.devices import presets_of

    return machine_path if machine_path in presets_of("machines") else os.path.abspath(machine_path)


class RecordFile:
    """A confirm record file, checked and locked before the first re-run so that no measurement
    is lost: ``--append`` to an unreadable or foreign file is refused before anything runs, a
    second hetier writing it is refused at once, and the records are written (old ones first)
    through a temporary file and a rename. If that write fails, the new records are saved beside
    it (``NAME.unsaved-XXXX.json``) and the error says where."""

    def __init__(self, path: Path, append: bool):
        from hetier.atomic import OutputLock

        self.path, self.append = path, append
        self.lock = OutputLock(path)
        try:
            self.old = self._read_old()
        except BaseException:
            self.lock.release()
            raise

    def _read_old(self):
        """The existing records (CSV text or a JSON list) when appending; None otherwise."""
        import os

        from hetier.formats.input_file import read_input

        if not (self.append and os.path.lexists(self.path)):
            return None
        data = read_input(self.path, "record file", 1 << 30)
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise UsageError(f"record file '{self.path}' is not UTF-8 text; write to a new file") from None
        if self.path.suffix == ".json":
            try:
                old = json.loads(text)
            except (ValueError, RecursionError):
                raise UsageError(f"record file '{self.path}' is not JSON; write to a new file") from None
            if not isinstance(old, list) or not all(isinstance(r, dict) for r in old):
                raise UsageError(f"record file '{self.path}' is not a list of confirm records; write to a new file")
            return old
        columns = RECORD_COLUMNS + EXTRA_COLUMNS
        header = text.splitlines()[:1]
        if header != [",".join(columns)]:
            old_columns = header[0].split(",") if header else []
            # an earlier hetier's records (fewer extras, same order): kept, under today's header
            if not (old_columns[:len(RECORD_COLUMNS)] == list(RECORD_COLUMNS)
                    and len(set(old_columns)) == len(old_columns)
                    and [c for c in columns if c in old_columns] == old_columns):
                raise UsageError(f"'{self.path}' has other columns than a confirm record; write to a new file")
            text = _under_header(text, columns)
        parse_measured(text, str(self.path))  # the runs already there must be fit's input too
        return text if text.endswith("\n") else text + "\n"

    def content(self, records: list[dict]) -> bytes:
        """The whole file: the old records, then ``records``."""
        import csv
        import io

        if self.path.suffix == ".json":
            return (json.dumps((self.old or []) + records, indent=1) + "\n").encode()
        buf = io.StringIO()
        buf.write(self.old or "")
        w = csv.DictWriter(buf, fieldnames=RECORD_COLUMNS + EXTRA_COLUMNS, extrasaction="ignore", lineterminator="\n")
        if self.old is None:
            w.writeheader()
        w.writerows(records)
        return buf.getvalue().encode()

    def write(self, records: list[dict]) -> None:
        """Write old + new records atomically and release the lock; on failure keep the new ones."""
        import os

        from hetier.atomic import AtomicOutput

        try:
            with AtomicOutput(self.path, lock=self.lock) as out:
                out.file.write(self.content(records))
        except HetierError as e:
            saved = _save_unsaved(self.path, records)
            raise HetierError(f"{e}; the {len(records)} new record(s) are in {saved}") from None
        finally:
            self.close()

    def close(self) -> None:
        self.lock.release()


def _under_header(text: str, columns: tuple[str, ...]) -> str:
    """CSV ``text`` re-written with ``columns`` as its header (columns it lacks left empty)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows(csv.DictReader(io.StringIO(text)))
    return buf.getvalue()


def _save_unsaved(path: Path, records: list[dict]) -> str:
    """Keep records that could not be written: a new file beside ``path``, else the temp folder."""
    import os

    data = (json.dumps(records, indent=1) + "\n").encode()
    for folder in (path.parent if str(path.parent) else Path("."), Path(tempfile.gettempdir())):
        try:
            fd, name = tempfile.mkstemp(prefix=f"{path.name}.unsaved-", suffix=".json", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return name
        except OSError:
            continue
    sys.stdout.write(data.decode())
    return "standard output (no folder was writable)"


def write_records(path: Path, records: list[dict], append: bool) -> None:
    """CSV (the measured-runs columns, then the extras) or JSON (every field) by extension;
    ``append`` adds rows to an existing file of the same format."""
    RecordFile(path, append).write(records)
