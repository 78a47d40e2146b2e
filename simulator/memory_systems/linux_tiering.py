"""Linux memory tiering (TPP): the kernel, not the program, decides which tier each page is in.

CXL memory is a CPU-less NUMA node in a lower tier. New pages go to DRAM while it has free pages
above its low watermark and fall back to the lower tier below it; kswapd then demotes the least
recently used DRAM pages until DRAM is back above its high watermark; NUMA balancing in tiering
mode (``kernel.numa_balancing=2``) unmaps ``numa_balancing_scan_size_mb`` of the lower tier's
pages every scan period, and a page touched within ``numa_balancing_hot_threshold_ms`` of its
unmapping (a hint fault) is promoted, at most ``numa_balancing_promote_rate_limit_MBps``. Each
hint fault and migration costs CPU time, and each migration moves bytes over both tiers'
channels. Parameters are the sysctls' (simulator/presets/tiering/linux-tiering.toml, with the
kernel's defaults and sources); a policy spec overrides them:
``linux-tiering:numa_balancing_promote_rate_limit_MBps=256,transparent_hugepage=always``.

The trace's op is the time step. Pages are counted per tensor (bytes in DRAM, bytes in CXL,
bytes unmapped by the scanner and when, when last touched), so the state is a few numpy arrays
over tensors, not pages: all pages of a tensor share its history, which is what a stream over
whole ciphertexts gives. The clock is the recorded duration of each op divided by its slices
(min(threads, parallelism)); ``place`` runs the kernel over the whole trace once, before the
time stage, so the clock does not feel the tiering's own slowdown. Details in docs/tiering.md.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from hetier.errors import UsageError
from hetier.simulator.memory_systems.base import MemorySystem, OpTraffic
from hetier.simulator.placement import Placement

PARAMS_FILE = Path(__file__).parent.parent / "presets" / "tiering" / "linux-tiering.toml"
THP_BYTES = 2 << 20
SECOND_NS = 1e9


def default_params() -> dict:
    """The kernel's defaults (and the estimated costs), as the parameter file holds them."""
    with open(PARAMS_FILE, "rb") as f:
        d = tomllib.load(f)
    d.pop("source", None)
    return d


def parse_spec(policy: str | None) -> dict:
    """``linux-tiering[:key=value,...]`` -> the overridden keys, checked against the defaults."""
    name, _, rest = (policy or LinuxTiering.run_label).partition(":")
    if name != LinuxTiering.run_label:
        raise UsageError(f"Linux tiering takes policy '{LinuxTiering.run_label}[:sysctl=value,...]' (got '{policy}')")
    base = default_params()
    out: dict = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in base:
            raise UsageError(f"Linux tiering: '{item}' is not key=value with a known key "
                             f"(known: {', '.join(sorted(base))})")
        want = type(base[key])
        try:
            if want is bool:
                v: object = {"true": True, "1": True, "false": False, "0": False}[value.lower()]
            elif want is str:
                v = value
                if key == "transparent_hugepage" and v not in ("always", "madvise", "never"):
                    raise ValueError
            else:
                v = want(float(value)) if want is int else float(value)
                if not math.isfinite(v) or v < 0:
                    raise ValueError
        except (ValueError, KeyError):
            raise UsageError(f"Linux tiering: {key}={value} is not a valid value") from None
        out[key] = v
    return out


@dataclass
class OpTiering:
    """What the kernel did around one op: each accessed tensor's DRAM share before the op, after
    it, and as its passes after the first see it (pages promoted during the op serve half of them
    on average), the migrations' bytes per tier, and CPU time its slices wait."""

    share_before: dict[int, float] = field(default_factory=dict)
    share_after: dict[int, float] = field(default_factory=dict)
    share_later: dict[int, float] = field(default_factory=dict)  # what the op's passes after its first see
    read: dict[str, float] = field(default_factory=dict)
    write: dict[str, float] = field(default_factory=dict)
    latency_ns: float = 0.0
    promoted: float = 0.0
    demoted: float = 0.0


class LinuxTiering(MemorySystem):
    mode = "linux-tiering"
    takes_policy = False
    run_label = "linux-tiering"
    title = "Linux memory tiering"
    description = ("the kernel places pages: first touch in DRAM, kswapd demotes cold pages to CXL, NUMA balancing "
                   "promotes hot ones (TPP)")
    deploy: ClassVar[dict[str, str]] = {
        "kernel": "Linux >= 6.1 (tiering mode 5.18, demotion 5.15, promotion rate limit and hot threshold 6.1)",
        "settings": "sysctl kernel.numa_balancing=2; echo true > /sys/kernel/mm/numa/demotion_enabled",
        "bios": "CXL memory exposed as a CPU-less NUMA node (the default on CXL-ready servers)",
        "code": "none",
    }

    @classmethod
    def check_policy(cls, machine, policy: str | None) -> None:
        parse_spec(policy)

    @classmethod
    def check_machine(cls, machine, where: str) -> None:
        if len(machine.tiers) != 2:
            raise UsageError(f"{where}: Linux tiering here models two tiers (DRAM, then a CPU-less node)")

    def __init__(self, machine, policy: str | None = None, seed: int = 0, stack=None, threads: int = 1):
        super().__init__(machine, policy, seed, stack, threads)
        self.overrides = parse_spec(policy)
        self.p = {**default_params(), **self.overrides}
        self.page = THP_BYTES if self.p["transparent_hugepage"] == "always" else 4096
        self.ops: list[OpTiering] = []
        self.counts = {"pgpromote_success": 0, "pgpromote_candidate": 0, "pgdemote_kswapd": 0, "numa_hint_faults": 0,
                       "numa_pages_migrated": 0, "pgalloc_fallback_bytes": 0.0}

    @property
    def label(self) -> str:
        if not self.overrides:
            return self.run_label
        return self.run_label + ":" + ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                                               for k, v in sorted(self.overrides.items()))

    def watermarks(self) -> tuple[float, float, float]:
        """DRAM's low, high and promo watermarks in bytes (mm/page_alloc.c: min_free_kbytes =
        sqrt(16 x memory in kB), then low/high/promo each one step of max(min / 4,
        memory x watermark_scale_factor / 10000) above the one before)."""
        cap = self.machine.device(self.tiers[0]).capacity_bytes
        wmin = min(max(math.sqrt(cap / 1024 * 16), 128), 262144) * 1024
        step = max(wmin / 4, cap * self.p["watermark_scale_factor"] / 10000)
        return wmin + step, wmin + 2 * step, wmin + 3 * step

    def place(self, workload, threads: int, scale: float = 1.0) -> Placement:
        """Run the kernel over the trace, op by op; what each op sees is kept for ``op_traffic``."""
        p, page = self.p, self.page
        fast_t, slow_t = self.tiers
        cap_f = self.machine.device(fast_t).capacity_bytes
        cap_s = self.machine.device(slow_t).capacity_bytes
        low, high, promo = self.watermarks()
        n = 1 + max([int(t) for o in workload.ops for t in o.alloc_tensor.tolist()] + [0])
        fast, slow = np.zeros(n), np.zeros(n)
        marked, marked_at = np.zeros(n), np.zeros(n)  # lower-tier bytes unmapped by the scanner, and when
        last = np.full(n, -np.inf)  # last touch (LRU age)
        order = np.full(n, np.inf)  # first allocation: the tensor's place in the address space
        seq = 0
        tiering = bool(int(p["numa_balancing"]) & 2)  # a bit mask: 2 = memory tiering (3: with NUMA balancing)
        demote_on = bool(p["demotion_enabled"])
        period = p["numa_balancing_scan_period_min_ms"] * 1e6
        scan_bytes = p["numa_balancing_scan_size_mb"] * 2 ** 20
        hot = p["numa_balancing_hot_threshold_ms"] * 1e6
        rate = p["numa_balancing_promote_rate_limit_MBps"] * 2 ** 20 / SECOND_NS  # bytes per ns
        next_scan = p["numa_balancing_scan_delay_ms"] * 1e6
        cursor = 0.0  # scanner position in the address space (bytes)
        window, window_used = -1, 0.0  # the rate limit's 1-second window and its candidates
        slow_dev = self.machine.device(slow_t)
        kswapd_rate = page / (p["kswapd_ns_per_page"] + page / slow_dev.bandwidth(1, write=True))  # bytes per ns
        kswapd_steals = threads >= self.machine.cores  # no idle core for kswapd: it takes the op's threads' time
        pl = Placement(peak={t: 0 for t in self.tiers}, missing={t: 0 for t in self.tiers},
                       live_peak={t: [] for t in self.tiers}, live_end={t: [] for t in self.tiers})
        now = 0.0
        for op in workload.ops:
            slices = max(1, min(threads, op.parallelism))
            d = max(float(op.duration_ns), 1.0) / slices
            t0, t1 = now, now + d
            rec = OpTiering(read={t: 0.0 for t in self.tiers}, write={t: 0.0 for t in self.tiers})
            woken = False  # an allocation failed DRAM's low watermark: kswapd runs
            # 1. first touch: DRAM above its low watermark, the rest falls back to the lower tier
            for t, c, u in zip(op.alloc_tensor.tolist(), op.alloc_count.tolist(), op.alloc_unit.tolist()):
                nbytes = math.ceil(c * u / page) * page  # a pool's buffers share pages
                room = max(cap_f - fast.sum() - low, 0.0)
                into = float(min(math.floor(room / page) * page, nbytes))
                fast[t] += into
                slow[t] += nbytes - into
                self.counts["pgalloc_fallback_bytes"] += float(nbytes - into)
                woken |= nbytes > into
                last[t] = t0
                if order[t] == np.inf:
                    order[t], seq = seq, seq + 1
            acc = np.unique(op.acc_tensor)
            acc = acc[acc < n]
            acc = acc[(fast[acc] + slow[acc]) > 0]
            size = fast[acc] + slow[acc]
            passes = np.zeros(len(acc))
            if len(acc):
                rows = np.isin(op.acc_tensor, acc)
                b = np.bincount(np.searchsorted(acc, op.acc_tensor[rows]), weights=op.acc_bytes[rows],
                                minlength=len(acc))
                passes = b / size
            gap = d / np.maximum(passes, 1e-12)  # time between two touches of one page during the op
            rec.share_before = dict(zip(acc.tolist(), (fast[acc] / size).tolist()))
            faults = 0.0
            candidates = np.zeros(len(acc))
            early = np.zeros(len(acc))  # candidates whose fault is the op's first touch
            if tiering and len(acc):
                # 2. pages unmapped before this op fault on its first touch; hot if within the threshold
                old = marked[acc]
                candidates += old * np.clip((hot - (t0 - marked_at[acc])) / gap, 0.0, 1.0)
                early = candidates.copy()
                faults += old.sum()
                marked[acc] = 0.0
            # 3. the scanner's passes during this op unmap lower-tier pages (up to scan_size each)
            scans = math.ceil((t1 - next_scan) / period) if tiering and t1 > next_scan else 0
            first = next_scan
            next_scan += scans * period
            ids = np.flatnonzero((fast + slow) > 0) if scans else []
            if len(ids):
                ids = ids[np.argsort(order[ids], kind="stable")]
                span = fast[ids] + slow[ids]
                total = float(span.sum())
                walk = min(scans * 8 * scan_bytes, total)  # virtual range walked: 8 x scan_size a pass
                rel = ((np.cumsum(span) - span) - cursor) % total  # each tensor's start, from the cursor
                end = rel + span
                covered = np.clip(np.minimum(np.minimum(end, total), walk) - rel, 0.0, None)
                covered += np.where(end > total, np.clip(np.minimum(end - total, walk), 0.0, None), 0.0)
                new = covered * slow[ids] / span
                if new.sum() > scans * scan_bytes:
                    new *= scans * scan_bytes / new.sum()
                cursor = (cursor + walk) % total
                when = first + np.floor(np.minimum(rel, walk) / (8 * scan_bytes)) * period
                marked[ids] = np.minimum(marked[ids] + new, slow[ids])
                marked_at[ids] = np.where(new > 0, when, marked_at[ids])
                if len(acc):
                    # unmapped during this op: touched again within gap (uniform) if the op has time left
                    hit = marked[acc] * np.where(passes > 0, np.clip((t1 - marked_at[acc]) / gap, 0.0, 1.0), 0.0)
                    candidates += hit * np.clip(hot / gap, 0.0, 1.0)
                    faults += hit.sum()
                    marked[acc] -= hit
            # 4. promotion: rate limit per 1-second window, then DRAM room above its high watermark;
            #    kswapd demotes cold pages (to the promo watermark) to make room while the op runs
            candidates = np.minimum(np.floor(candidates / page) * page, slow[acc])
            want = float(candidates.sum())
            demote_budget = kswapd_rate * d if demote_on else 0.0
            demoted_total = 0.0
            if want > 0:
                self.counts["pgpromote_candidate"] += int(want // page)
                limit = rate * SECOND_NS  # bytes per 1-second window
                w0, w1 = int(t0 // SECOND_NS), int(t1 // SECOND_NS)
                used = window_used if w0 == window else 0.0
                take = min(want, max(limit * (w1 - w0 + 1) - used, 0.0))
                counted = take  # the limit counts candidates, promoted or not
                room = max(cap_f - fast.sum() - high, 0.0)
                if take > room and demote_on:
                    got = self._demote(min(take - room + (promo - high), demote_budget), fast, slow, last, order,
                                       acc, rec)
                    demote_budget -= got
                    demoted_total += got
                    room = max(cap_f - fast.sum() - high, 0.0)
                take = min(take, room)
                promoted = np.floor(candidates * (take / want) / page) * page
                promoted_early = np.minimum(np.floor(early * (take / want) / page) * page, promoted)
                fast[acc] += promoted
                slow[acc] -= promoted
                moved = float(promoted.sum())
                rec.read[slow_t] += moved
                rec.write[fast_t] += moved
                window = w1
                window_used = used + counted if w0 == w1 else max(counted - (limit - used) - limit * (w1 - w0 - 1), 0.0)
                self.counts["pgpromote_success"] += int(moved // page)
                self.counts["numa_pages_migrated"] += int(moved // page)
                rec.promoted = moved
            # 5. kswapd: back above the high watermark once DRAM fell under its low one
            if demote_on and (woken or cap_f - fast.sum() < low):
                got = self._demote(min(high - (cap_f - fast.sum()), demote_budget), fast, slow, last, order, acc, rec)
                demoted_total += got
            self.counts["numa_hint_faults"] += int(faults // page)
            cpu = (faults // page) * p["hint_fault_ns"] + (rec.promoted // page) * p["migrate_ns_per_page"]
            if kswapd_steals:
                cpu += (demoted_total // page) * p["kswapd_ns_per_page"]
            rec.latency_ns = cpu / slices
            rec.demoted = demoted_total
            rec.share_after = dict(zip(acc.tolist(), (fast[acc] / np.maximum(size, 1)).tolist()))
            if rec.promoted:  # promoted at the first touch: all later passes; during the op: half of them
                later = fast[acc] - promoted + promoted_early + 0.5 * (promoted - promoted_early)
                rec.share_later = dict(zip(acc.tolist(), (later / np.maximum(size, 1)).tolist()))
            else:
                rec.share_later = rec.share_after
            last[acc] = t1
            used_f, used_s = fast.sum(), slow.sum()
            for t, live in ((fast_t, used_f), (slow_t, used_s)):
                pl.live_peak[t].append(int(live))
            pl.peak[fast_t] = max(pl.peak[fast_t], int(used_f))
            pl.peak[slow_t] = max(pl.peak[slow_t], int(used_s))
            pl.missing[slow_t] = max(pl.missing[slow_t], int(used_s - cap_s))
            # 6. frees release a tensor's pages wherever they are
            for t, c in zip(op.free_tensor.tolist(), op.free_count.tolist()):
                tot = fast[t] + slow[t]
                if tot <= 0:
                    continue
                keep = max(tot - math.ceil(c * workload.tensor_unit.get(t, 0) / page) * page, 0.0) / tot
                fast[t] *= keep
                slow[t] *= keep
                marked[t] *= keep
            pl.live_end[fast_t].append(int(fast.sum()))
            pl.live_end[slow_t].append(int(slow.sum()))
            self.ops.append(rec)
            now = t1
        for t in np.flatnonzero(order < np.inf).tolist():
            tot = fast[t] + slow[t]
            pl.share[t] = {fast_t: fast[t] / tot, slow_t: slow[t] / tot} if tot else {fast_t: 1.0}
        return pl

    def _demote(self, need: float, fast, slow, last, order, busy: np.ndarray, rec: OpTiering) -> float:
        """Move up to ``need`` bytes of the least recently used DRAM pages (tensors this op does
        not touch, oldest first) to the lower tier; returns the bytes moved."""
        if need <= 0:
            return 0.0
        cand = np.flatnonzero(fast > 0)
        cand = cand[~np.isin(cand, busy)]
        if not len(cand):
            return 0.0
        cand = cand[np.lexsort((order[cand], last[cand]))]
        take = np.clip(need - (np.cumsum(fast[cand]) - fast[cand]), 0.0, fast[cand])
        take = np.floor(take / self.page) * self.page
        fast[cand] -= take
        slow[cand] += take
        moved = float(take.sum())
        fast_t, slow_t = self.tiers
        rec.read[fast_t] += moved
        rec.write[slow_t] += moved
        self.counts["pgdemote_kswapd"] += int(moved // self.page)
        return moved

    def op_traffic(self, op, traffic: np.ndarray) -> OpTraffic:
        """The op's rows split by each tensor's DRAM share: its first pass as the op found it, any
        further passes as the op's promotions leave it (``share_later``); plus the kernel's
        migrations and CPU time. The serial part's rows, after the op, find its tensors as the op
        leaves them."""
        rec = self.ops[op.index]
        fast_t, slow_t = self.tiers
        read, write = dict(rec.read), dict(rec.write)
        serial = {fast_t: 0.0, slow_t: 0.0}
        first_serial = len(traffic) - op.serial_rows
        for r, (t, w, b, foot) in enumerate(zip(op.acc_tensor.tolist(), op.acc_write.tolist(), traffic.tolist(),
                                                op.acc_footprint.tolist())):
            before, after = rec.share_before.get(t, 1.0), rec.share_later.get(t, 1.0)
            first = 0.0 if r >= first_serial else min(b, foot) if foot > 0 else b
            fb = first * before + (b - first) * after
            out = serial if r >= first_serial else write if w else read
            out[fast_t] += fb
            out[slow_t] += b - fb
        return OpTraffic(read, write, rec.latency_ns, {t: b for t, b in serial.items() if b > 0})

    def layer_columns(self) -> dict[str, list[float]]:
        """Bytes the kernel promoted into DRAM and demoted out of it at each op."""
        return {"promoted_bytes": [r.promoted for r in self.ops], "demoted_bytes": [r.demoted for r in self.ops]}

    def statistics(self) -> dict:
        return {"tiering": {**self.counts, "page_bytes": self.page,
                            "promoted_bytes": float(sum(r.promoted for r in self.ops)),
                            "demoted_bytes": float(sum(r.demoted for r in self.ops))}}
