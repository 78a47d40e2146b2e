"""Cost model of the HE runtime's primitives, per N and level, for plan-mode durations.

``hetier calibrate --he`` measures each runtime template (a multiply-accumulate, an encode, an
encryption, ...) the way the kernels issue it, per poly modulus N and level, with repeated
timing (the mean over interleaved rounds spread over a window of wall time), and writes a JSON
cost file labelled with the machine. Plan mode
charges each planned primitive its cost; a cost file made for other parameters is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hetier.atomic import write_bytes_atomic
from hetier.errors import UsageError
from hetier.tracer.host import host_info, versions
from hetier.tracer.params import HEParams
from hetier.tracer.recorder import TEMPLATES
from hetier.validation import COST_FILE, validate

DEFAULT_COST_FILE = Path(__file__).parent / "costs" / "default.json"
COST_MAGIC = "hetier-costs"


@dataclass
class CostModel:
    """ns per template per level, for one (N, primes) parameter set."""

    path: str
    machine: dict
    poly_modulus: int
    primes: list[int]
    ns: dict[str, dict[int, float]]  # template -> level -> ns, operands in cache
    batch: int = 0
    warning: str | None = None
    cold_read_ns_per_byte: float = 0.0  # extra time per byte read from memory rather than cache
    cold_write_ns_per_byte: float = 0.0  # extra time per byte written to a ciphertext not in cache
    cache_bytes: int = 1 << 62  # effective cache: tensors with a larger op footprint live in memory
    timing: dict | None = None  # how calibrate timed it (rounds, seconds, statistic); None in older files

    def lookup(self, template: str, level: int) -> float:
        per = self.ns.get(template)
        if not per:
            return 0.0
        if level in per:
            return per[level]
        near = min(per, key=lambda l: abs(l - level))
        return per[near] * level / near  # primitives scale with the primes they touch

    def table(self, max_level: int):
        """A (template x level) numpy table for vectorised lookups."""
        import numpy as np

        t = np.zeros((len(TEMPLATES), max_level + 2))
        for name, code in TEMPLATES.items():
            for lvl in range(max_level + 2):
                t[code, lvl] = self.lookup(name, lvl) if lvl else 0.0
        return t

    def cold_ns(self, ev, cold: np.ndarray) -> np.ndarray:
        """Extra ns of each event of ``ev`` (an EventBatch) whose ``cold`` mask is set."""
        from hetier.formats.trace import EV

        per_byte = np.where(ev.event == EV["write"], self.cold_write_ns_per_byte,
                            np.where(ev.event == EV["read"], self.cold_read_ns_per_byte, 0.0))
        return per_byte * ev.nbytes * cold

    def label(self) -> dict:
        return {"cost_file": os.path.basename(self.path), "cost_machine": self.machine.get("cpu"),
                "cost_generated": self.machine.get("generated"), "cost_batch": self.batch}


def load_costs(path: str | os.PathLike | None, params: HEParams) -> CostModel:
    """The cost entry of ``path`` (default: the shipped file) for ``params``; refuse a mismatch."""
    p = Path(path) if path else DEFAULT_COST_FILE
    from hetier.formats.input_file import read_input

    try:
        doc = json.loads(read_input(p, "cost file"))
    except FileNotFoundError:
        raise UsageError(f"cost file '{p}' not found") from None
    except IsADirectoryError:
        raise UsageError(f"cost file '{p}' is a directory") from None
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deeply
        raise UsageError(f"cost file '{p}' is not JSON") from None
    except OSError as e:
        raise UsageError(f"cannot read cost file '{p}': {e.strerror}") from None
    if not isinstance(doc, dict) or doc.get("magic") != COST_MAGIC:
        raise UsageError(f"'{p}' is not a hetier cost file")
    validate(doc, COST_FILE, f"cost file '{p}'")
    for entry in doc["entries"]:
        unknown = sorted(set(entry["ns"]) - set(TEMPLATES))
        if unknown:
            raise UsageError(f"cost file '{p}': unknown primitive template(s) {', '.join(unknown)[:200]} "
                             f"(known: {', '.join(TEMPLATES)})")
    have, match = [], []
    for entry in doc["entries"]:
        have.append(f"N={entry['poly_modulus']} primes {entry['primes']} batch {entry['batch']}")
        if entry["poly_modulus"] == params.poly_modulus and list(entry["primes"]) == list(params.primes):
            match.append(entry)
    if match:
        # the batch changes only the cost of encoding and decoding vectors: nearest batch, with a warning
        entry = min(match, key=lambda e: (abs(e["batch"] - params.batch), e["batch"]))
        ns = {t: {int(l): v for l, v in per.items()} for t, per in entry["ns"].items()}
        warn = None if entry["batch"] == params.batch else (
            f"cost file '{p.name}' has N={params.poly_modulus} primes {list(params.primes)} at batch "
            f"{entry['batch']}, not {params.batch}: vector encode/decode costs are those of batch {entry['batch']}")
        mem = entry.get("memory", {})
        return CostModel(str(p), doc["machine"], entry["poly_modulus"], entry["primes"], ns, entry["batch"], warn,
                         mem.get("cold_read_ns_per_byte", 0.0), mem.get("cold_write_ns_per_byte", 0.0),
                         mem.get("cache_bytes", 1 << 62), entry.get("timing"))  # validated: a table or absent
    raise UsageError(f"cost file '{p}' has no costs for N={params.poly_modulus} primes {list(params.primes)} "
                     f"(it has: {'; '.join(have)}); run hetier calibrate --he with those parameters")


def _rounds_ns(jobs: list[tuple], rounds: int = 5, seconds: float = 0.0, clock=time.monotonic) -> list[list[float]]:
    """Thread CPU ns per call of each ``(fn, reps)`` job in each round, the jobs taking turns
    within a round: ``rounds`` rounds at least, more until ``seconds`` of wall time have passed.
    On a shared machine the speed of a core drifts by 2x within seconds (other work on its
    sibling, caches and memory shared); interleaved, every job's rounds are spread over the whole
    measurement, so all jobs see the same mix of fast and slow spells, and a window of a minute
    holds the mix a run of minutes sees (an 11 s window can sit in one spell). Thread CPU time,
    unlike wall time, leaves out the time other work holds the core (what traces record per op
    and what `hetier confirm` compares with)."""
    times: list[list[float]] = [[] for _ in jobs]
    start, k = clock(), 0
    while k < rounds or clock() - start < seconds:
        for out, (fn, reps) in zip(times, jobs):
            t0 = time.thread_time_ns()
            for _ in range(reps):
                fn()
            out.append((time.thread_time_ns() - t0) / reps)
        k += 1
    return times


def _backend(params: HEParams):
    """A keyed SEAL backend that logs nothing: the kernels' primitives, to time them."""
    from hetier.tracer.recorder import Recorder
    from hetier.tracer.runtime import SealBackend

    be = SealBackend(params, Recorder.disabled(params))
    be.keygen()
    return be


PROBE_CALLS = 20  # timed calls of one speed probe (about 2.5 ms at N=4096 on a 2020s core)
PROBE_WARMUP = 2  # calls first, untimed: after an op's traffic the probe's operands are out of cache


def _top_mac_operands(params: HEParams):
    """A keyed backend that logs nothing, with a multiply-accumulate's operands at the top level:
    plaintext P, ciphertext CT, product-scale accumulator ACC (measurement ids, the run's are
    >= 0). Returns (backend, level, P, CT, ACC)."""
    be = _backend(params)
    L = be.top
    P, V, CT, ACC = range(-4, 0)
    be.encode(L, P, 0.5, be.last_prime[L])
    be.encode_vec(L, V, np.linspace(0, 1, params.batch), be.scale)
    be.encrypt(L, V, CT)
    be.mulp_new(L, CT, P, ACC)
    return be, L, P, CT, ACC


def probe_mac(params: HEParams):
    """The multiply-accumulate calibrate times at the top level, operands its own: a reference
    the re-run times between ops to see how fast the core runs then against when the cost file
    was measured. Returns (call, level)."""
    be, L, P, CT, ACC = _top_mac_operands(params)
    return (lambda: be.mac(L, CT, P, -1, ACC)), L


def probe_ns(call, calls: int = PROBE_CALLS, warmup: int = PROBE_WARMUP) -> float:
    """Thread CPU ns per call of ``call`` over ``calls`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    return _rounds_ns([(call, calls)], rounds=1)[0][0]


def measure_memory(params: HEParams, max_pool_bytes: int = 1 << 30, seconds: float = 0.0) -> dict:
    """Effective cache size and the extra cost of operands that live in memory, not cache.

    Multiply-accumulates at the top level whose source rotates through pools of distinct
    ciphertexts of growing size, from one ciphertext (the templates' operands in cache) up, give
    the cache size (the largest pool still less than halfway from hot to cold) and the cold-read
    cost per byte; rotating the accumulator through the largest pool instead (as a convolution's
    output channel does) adds its read and write, which gives the cold-write cost per byte. All
    pools take turns in each timing round for ``seconds`` at least (3 rounds at least), and each
    is priced by its median ratio to the one-ciphertext pool of the same round: a pool timed in
    a fast spell and another in a slow one would show a step that is the machine's drift, not
    its cache.
    """
    be, L, P, SEED, ACC = _top_mac_operands(params)
    ct_bytes = params.ct_bytes(L)
    pools: dict[str, list] = {"source": [], "accumulator": []}

    def grow(kind: str, n: int) -> list:
        pool = pools[kind]
        while len(pool) < n:
            c = -5 - len(pools["source"]) - len(pools["accumulator"])
            if kind == "source":
                be.add_new(L, SEED, SEED, c)  # input scale
            else:
                be.mulp_new(L, SEED, P, c)  # product scale, as an accumulator
            pool.append(c)
        return pool

    def mac_job(n: int, rotate: str) -> tuple:
        """(fn, calls per round): a round cycles the pool of ``n`` ciphertexts, 256 calls at least
        (a small pool's first pass after the other pools' rounds is its only cold one)."""
        pool = grow(rotate, n)
        state = {"i": 0}

        def mac():
            c = pool[state["i"] % n]
            state["i"] += 1
            if rotate == "source":
                be.mac(L, c, P, -1, ACC)
            else:  # rotate the accumulator, source stays in cache
                be.mac(L, SEED, P, -1, c)
        return mac, max(n, 256)

    sizes = [ct_bytes]  # one source ciphertext: in the core's own cache, as the templates are timed
    size = 4 << 20
    while size <= max_pool_bytes:
        sizes.append(size)
        size *= 4
    jobs = [mac_job(max(1, b // ct_bytes), "source") for b in sizes]
    jobs.append(mac_job(max(2, sizes[-1] // ct_bytes), "accumulator"))
    rounds = np.array(_rounds_ns(jobs, rounds=3, seconds=seconds))  # job x round
    # each pool against the one-ciphertext pool of the same round (a second apart: the core's
    # speed cancels), the median over rounds (a spell that changed within a round does not
    # count), on the one-ciphertext pool's mean
    times = (np.median(rounds / rounds[0], axis=1) * rounds[0].mean()).tolist()
    points = list(zip(sizes, times[:-1]))
    acc_cold = times[-1]
    hot, cold = points[0][1], points[-1][1]
    cache = ([b for b, t in points if t < hot + 0.5 * (cold - hot)] or [points[0][0]])[-1] if cold > hot else points[-1][0]
    read = max(cold - hot, 0.0) / ct_bytes  # the source is read once (copied into the temporary)
    write = max(acc_cold - hot, 0.0) / ct_bytes - read  # the accumulator is read and written
    return {"cache_bytes": int(cache), "cold_read_ns_per_byte": read, "cold_write_ns_per_byte": max(write, 0.0),
            "pool_points": [[b, round(t, 1)] for b, t in points], "cold_accumulator_mac_ns": round(acc_cold, 1)}


def measure(params: HEParams, reps: int = 50, interleave: bool = True, seconds: float = 0.0,
            timing: dict | None = None) -> dict[str, dict[int, float]]:
    """Time every template at every level of ``params`` on this machine: each as the backend
    primitive the kernels call (runtime.SealBackend, logging off), operands in cache. All
    templates of all levels take turns in each timing round (``_rounds_ns``), each level with
    its own operands, for ``seconds`` of wall time at least; ``interleave=False`` times each
    one's rounds back to back instead (what calibrate did before; benchmarks/cpu_time_drift.py
    compares the two). A template's cost is the mean of its rounds: a run's CPU time is the sum
    of its calls, so the mean over the machine's spells prices it (a median picks the common,
    fast spell and prices a long run low). ``timing``, if given, receives the rounds taken, the
    seconds they spanned and the top-level multiply-accumulate's slowest / fastest round."""
    be = _backend(params)
    vals = np.linspace(0.0, 1.0, params.batch)
    jobs: list[tuple] = []  # (template, level, fn, calls, template whose cost to subtract)

    def put(name: str, level: int, fn, n: int = reps, minus: str | None = None) -> None:
        jobs.append((name, level, fn, n, minus))

    for L in range(be.top, 0, -1):
        P, V, CT, CT2, ACC, X = range(-6 * (be.top - L + 1), -6 * (be.top - L))  # this level's buffers (the run's are >= 0)
        q = be.last_prime[L] if L > 1 else be.scale  # products are only formed above level 1
        be.encode(L, P, 0.5, q)
        be.encode_vec(L, V, vals, be.scale)
        be.encrypt(L, V, CT)
        be.encrypt(L, V, CT2)
        put("ENCODE", L, lambda L=L, P=P, q=q: be.encode(L, P, 0.5, q), reps * 4)
        put("ENCODE_VEC", L, lambda L=L, V=V: be.encode_vec(L, V, vals, be.scale))
        if L > 1:
            be.mulp_new(L, CT, P, ACC)
            put("MULP_NEW", L, lambda L=L, CT=CT, P=P, X=X: be.mulp_new(L, CT, P, X))
            put("MAC", L, lambda L=L, CT=CT, P=P, ACC=ACC: be.mac(L, CT, P, -1, ACC))
            put("ADD_INPLACE", L, lambda ACC=ACC, X=X: be.evaluator.add_inplace(be.obj[ACC], be.obj[X]))  # no kernel uses it
        put("ADD_NEW", L, lambda L=L, CT=CT, X=X: be.add_new(L, CT, CT, X))
        put("ADDP_NEW", L, lambda L=L, CT=CT, V=V, X=X: be.addp_new(L, CT, V, X))
        put("ADDP_INPLACE", L, lambda L=L, CT2=CT2, V=V: be.addp_inplace(L, CT2, V))
        put("DECODE", L, lambda V=V: be._decode(be.obj[V], params.batch))
        put("DECRYPT", L, lambda L=L, CT=CT, X=X: be.decrypt_decode(L, CT, X, params.batch), minus="DECODE")
        if L == be.top:
            put("ENCRYPT", L, lambda L=L, V=V, X=X: be.encrypt(L, V, X), max(reps // 5, 5))
        if L > 1:
            put("RESCALE", L, lambda L=L, CT=CT, P=P, X=X: (be.mulp_new(L, CT, P, X), be.rescale(L, X)), minus="MULP_NEW")
            put("MODSW_NEW", L, lambda L=L, CT=CT, X=X: be.modsw_new(L, CT, X))
            put("SQUARE_NEW", L, lambda L=L, CT=CT, X=X: be.square_new(L, CT, X))
            put("MUL_NEW", L, lambda L=L, CT=CT, X=X: be.mul_new(L, CT, CT, X))
            put("RELIN", L, lambda L=L, CT=CT, X=X: (be.square_new(L, CT, X), be.relin(L, X)), max(reps // 5, 5),
                minus="SQUARE_NEW")
    # the run's set-up (context, key generation, encoder, evaluator), charged to the three keys
    jobs.append(("KEYGEN", len(params.primes), lambda: _backend(params), 1, None))
    runs = [(fn, n) for _, _, fn, n, _ in jobs]
    t0 = time.monotonic()
    times = (_rounds_ns(runs, seconds=seconds) if interleave
             else [_rounds_ns([job], seconds=seconds / len(runs))[0] for job in runs])
    if timing is not None:
        i = next((i for i, j in enumerate(jobs) if j[:2] == ("MAC", be.top)), None)
        mac = times[i] if i is not None else [0.0]
        timing.update({"rounds": len(times[0]), "seconds": round(time.monotonic() - t0, 1), "statistic": "mean",
                       "mac_spread": round(max(mac) / min(mac), 3) if min(mac) > 0 else None})
    out: dict[str, dict[int, float]] = {}
    for (name, level, _, _, minus), ts in zip(jobs, times):
        ns = statistics.fmean(ts)
        out.setdefault(name, {})[level] = max(ns - out[minus][level], 0.0) if minus else ns
    for L, ns in out.get("MODSW_NEW", {}).items():
        out.setdefault("MODSW", {})[L] = ns  # in place: the same work, no copy to time apart
    out["FREE"] = {1: 0.0}
    out["KEYGEN"][len(params.primes)] /= 3
    return out


def calibrate(param_sets: list[HEParams], out: str | os.PathLike, reps: int = 50, progress=None,
              seconds: float = 0.0) -> dict:
    """Measure every parameter set (each for ``seconds`` of wall time at least) and write the cost
    file atomically."""
    entries = []
    for p in param_sets:
        if progress:
            progress(f"N={p.poly_modulus} primes {list(p.primes)}")
        timing: dict = {}
        ns = measure(p, reps, seconds=seconds, timing=timing)
        entries.append({"poly_modulus": p.poly_modulus, "primes": list(p.primes), "batch": p.batch,
                        "ns": {t: {str(l): round(v, 1) for l, v in sorted(per.items())} for t, per in sorted(ns.items())},
                        "timing": timing, "memory": measure_memory(p, seconds=seconds / 2)})
    machine = {**host_info(), "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "versions": versions()}
    machine.pop("hostname", None)
    doc = {"magic": COST_MAGIC, "version": 1, "generated_by": "hetier calibrate --he", "machine": machine,
           "note": ("mean thread CPU ns per runtime template over interleaved rounds (timing: how many, over how long) "
                    "with its operands in cache (kernel-style Python call included), "
             "per level (primes held); memory: effective cache and extra ns per byte streamed from memory"),
           "entries": entries}
    write_bytes_atomic(out, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    return doc
