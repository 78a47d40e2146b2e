"""The machine a trace was recorded on, as the trace says: its calibrated memory preset and
per-op CPU time (see ``hetier calibrate --memory``). Compute = CPU time - the host memory's
time for the op's traffic; a busy recording host stretches wall time, not CPU time.

A trace without them (older traces, plan traces, no preset) falls back to the old assumption,
the FAST'20 DDR4 socket at one stream, a 32 MiB LLC and wall time as compute, and says so in
``note``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hetier.simulator.devices import Device, load_device

FALLBACK_DEVICE = "ddr4-2666-6ch"
FALLBACK_LLC = 32 * 2 ** 20


@dataclass(frozen=True)
class RecordingHost:
    """The recording host's memory (a preset name/path or a Device), its LLC, and per-op
    busy times (CPU ns by op index; None: the ops' wall time)."""

    device: str | Device = FALLBACK_DEVICE
    llc_bytes: int = FALLBACK_LLC
    cpu_ns: tuple[int, ...] | None = None
    source: str = "assumed"  # what the device and times come from
    note: str = ""  # why (part of) the old assumption is used

    def memory_device(self) -> Device:
        return self.device if isinstance(self.device, Device) else load_device(self.device)

    def busy_ns(self, op) -> float:
        """The op's time on the recording CPU: its CPU time if recorded (never above its wall
        time), else its wall time."""
        if self.cpu_ns is not None and op.index < len(self.cpu_ns):
            return float(min(self.cpu_ns[op.index], op.duration_ns))
        return float(op.duration_ns)

    def notes(self) -> dict:
        """What results record about the recording host."""
        dev = self.device.name if isinstance(self.device, Device) else self.device
        out = {"recording_device": dev, "recording_llc_bytes": self.llc_bytes, "recording_source": self.source,
               "recording_cpu_time": self.cpu_ns is not None}
        if self.note:
            out["recording_note"] = self.note
        return out


def recording_host_from_trace(meta: dict, op_cpu_ns: list[list[int]], n_ops: int) -> RecordingHost:
    """The RecordingHost a trace's metadata and per-op CPU times describe (thread CPU time: the
    runtime runs its ops on one thread)."""
    from hetier.simulator.machines import machine_from_dict

    preset = (meta.get("host") or {}).get("memory_preset")
    cpu = tuple(int(t) for t, _ in op_cpu_ns) if op_cpu_ns else None
    missing = []
    if preset is None:
        missing.append("no calibrated memory preset of its host")
    if cpu is None:
        missing.append("no per-op CPU time")
    elif len(cpu) < n_ops:
        missing.append(f"CPU time for {len(cpu)} of {n_ops} ops")
    note = ""
    if missing:
        assumed = []
        if preset is None:
            assumed.append("the FAST'20 DDR4 socket (one stream, 32 MiB LLC) as its memory")
        if cpu is None or len(cpu) < n_ops:
            assumed.append("wall time as CPU time")
        note = (f"trace has {' and '.join(missing)}: assumed {' and '.join(assumed)}"
                " (run hetier calibrate --memory, then trace again)")
    if preset is None:
        return RecordingHost(cpu_ns=cpu, source="assumed FAST'20 DDR4" + (", CPU time" if cpu else ", wall time"),
                         note=note)
    machine = machine_from_dict(preset["machine"])
    source = f"host preset '{preset['name']}' ({preset['source'].get('tool')}, {preset['source'].get('date')})"
    return RecordingHost(machine.device(machine.tier_names[0]), machine.llc_bytes, cpu,
                     source + (", CPU time" if cpu else ", wall time"), note)


def recording_host_of(workload) -> RecordingHost:
    return recording_host_from_trace(workload.meta, workload.op_cpu_ns, len(workload.ops))
