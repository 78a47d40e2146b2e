"""Replay a placement file (``placement:FILE``) written by ``hetier advise`` for the same trace.

Optimises nothing itself: it reproduces the schedule in the file (start tier per tensor, moves
at op starts), after checking that the file was made for this trace and names this machine's tiers.
"""

from hetier.errors import UsageError
from hetier.formats.placement import check_trace, read_placement
from hetier.simulator.policies.base import ScheduledPolicy


class FromFile(ScheduledPolicy):
    name = "placement"
    description = "the placement in FILE (placement:FILE), as written by hetier advise for this trace"

    def __init__(self, tiers, arg=None):
        super().__init__(tiers)
        if not arg:
            raise UsageError("policy placement needs a file: placement:FILE")
        self.path = arg
        self.doc = read_placement(arg)

    @property
    def label(self) -> str:
        return f"placement:{self.path}"

    def schedule(self, workload, machine, threads):
        doc = self.doc
        check_trace(doc, workload.trace_id, self.path)
        named = set(doc["tensors"].values()) | {m.get("tier") for m in doc["moves"]}
        unknown = sorted(str(t) for t in named - set(machine.tier_names))
        if unknown:
            raise UsageError(f"placement '{self.path}' names tier(s) {', '.join(unknown)} that machine "
                             f"'{machine.name}' lacks (tiers: {', '.join(machine.tier_names)})")
        start = {int(t): tier for t, tier in doc["tensors"].items()}
        allocated = {int(t) for op in workload.ops for t in op.alloc_tensor.tolist()}
        missing = sorted(allocated - set(start))
        if missing:
            raise UsageError(f"placement '{self.path}' does not place tensor(s) {', '.join(map(str, missing[:5]))}")
        extra = sorted(set(start) - allocated)
        if extra:
            raise UsageError(f"placement '{self.path}' places tensor(s) {', '.join(map(str, extra[:5]))} that the "
                             "trace never allocates")
        moves: dict[int, list[tuple[int, str]]] = {}
        for m in doc["moves"]:
            op, tensor = int(m["before_op"]), int(m["tensor"])
            if op >= len(workload.ops):
                raise UsageError(f"placement '{self.path}' moves before op {op}; the trace has {len(workload.ops)} ops")
            if tensor not in allocated:
                raise UsageError(f"placement '{self.path}' moves tensor {tensor}, which the trace never allocates")
            moves.setdefault(op, []).append((tensor, m["tier"]))
        return start, moves
