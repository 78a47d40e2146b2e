"""Policy comparison from results files: one row per run, and the headline sentences."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hetier.errors import HetierError
from hetier.formats.results import load_results, run_status
from hetier.vocabulary import does_not_fit, ordered_tiers, policy_label, seconds


@dataclass
class Comparison:
    """Runs of one trace across machines and policies (dicts as saved in results files)."""

    runs: list[dict]
    layers: list  # pyarrow tables, one per results file

    def rows(self) -> list[dict]:
        """One row per run; values that do not exist (a run that does not fit has no time,
        compute or stall) are None. Tiers fast first; ``policy`` as a reader should see it."""
        base = self.baseline()
        out = []
        for r in self.runs:
            t = r["makespan_ns"]
            fits = t is not None
            tiers = ordered_tiers(r["peak_bytes"])
            out.append({
                "machine": r["machine"]["name"], "overrides": question(r),
                "policy": policy_label(r["policy"], r["machine"]),
                "threads": r["threads"], "time_s": t / 1e9 if fits else None,
                "vs_baseline": t / base["makespan_ns"] if fits and base is not None else None,
                "fits": r["fits"], "missing_bytes": r["missing_bytes"], "reason": run_status(r)[1],
                "compute_s": r["compute_ns"] / 1e9 if fits else None,
                "stall_s": {k: r["stall_ns"][k] / 1e9 for k in ordered_tiers(r["stall_ns"])} if fits else None,
                "read_gb": {k: r["read_bytes"].get(k, 0) / 1e9 for k in tiers},
                "write_gb": {k: r["write_bytes"].get(k, 0) / 1e9 for k in tiers},
                "peak_gb": {k: r["peak_bytes"][k] / 1e9 for k in tiers},
                "mm_hit_ratio": r.get("mm_hit_ratio"),  # optional in the results schema
            })
        return out

    def run_layers(self):
        """(run, per-layer columns) for every run that fits, in order."""
        i = 0
        for table in self.layers:
            cols = table.to_pydict()
            n_runs = len(json.loads(table.schema.metadata[b"hetier"])["runs"])
            for k in range(n_runs):
                run = self.runs[i + k]
                rows = [j for j, r in enumerate(cols["run"]) if r == k]
                if run["makespan_ns"] is not None and rows:
                    yield run, {c: [cols[c][j] for j in rows] for c in cols}
            i += n_runs

    def baseline(self) -> dict | None:
        """The all-DRAM run that fits (the reference point), else the fastest run."""
        fit = [r for r in self.runs if r["makespan_ns"]]
        dram = [r for r in fit if r["policy"] == "all-dram"]
        return (dram or sorted(fit, key=lambda r: r["makespan_ns"]) or [None])[0]

    def headlines(self) -> list[str]:
        """The best configuration and its margin, the others against the baseline in one line,
        what does not fit, and a warning when runs differ in threads."""
        label = lambda r: f"{r['machine']['name']} / {policy_label(r['policy'], r['machine'])}"  # noqa: E731
        fit = sorted((r for r in self.runs if r["makespan_ns"]), key=lambda r: r["makespan_ns"])
        if not fit:
            return ["no configuration fits"]
        best = fit[0]
        out = [f"Best: {label(best)}, {seconds(best['makespan_ns'])} predicted"
               + (f", {100 * (fit[1]['makespan_ns'] / best['makespan_ns'] - 1):.1f}% ahead of {label(fit[1])}"
                  if len(fit) > 1 else " (the only configuration that fits)")]
        base = self.baseline()
        others = [r for r in fit if r is not base]
        if others:
            out.append(f"Against {label(base)}: " + "; ".join(
                f"{label(r)} {r['makespan_ns'] / base['makespan_ns']:.2f}x" for r in others))
        for r in self.runs:
            if r["makespan_ns"] is None:
                out.append(f"{label(r)} {does_not_fit(r['missing_bytes'])}")
        threads = sorted({r["threads"] for r in self.runs})
        if len(threads) > 1:
            out.append("Runs differ in threads (" + "; ".join(
                f"{n}: " + ", ".join(label(r) for r in self.runs if r["threads"] == n) for n in threads)
                + "); compare times only between runs with the same thread count")
        return out


def load_comparison(paths: list[str], trace_sha256: str | None = None, trace_name: str = "") -> Comparison:
    """Read results files; refuse one that belongs to another trace, naming both."""
    runs, layers = [], []
    for p in paths:
        rs, table = load_results(p)
        for r in rs:
            if trace_sha256 and r["trace"]["sha256"] != trace_sha256:
                raise HetierError(f"results '{p}' belong to trace '{r['trace']['file']}' "
                                  f"(sha256 {r['trace']['sha256'][:12]}), not to '{trace_name}' "
                                  f"(sha256 {trace_sha256[:12]})")
        runs.extend(rs)
        layers.append(table)
    return Comparison(runs, layers)


def fast_tier_capacities(runs: list[dict]) -> list[tuple[str, float]]:
    """(label, bytes) of each distinct machine's fast tier (Memory Mode: its DRAM cache)."""
    from hetier.simulator.memory_systems import MEMORY_SYSTEMS  # only the HTML report asks; exports stay light

    out: dict[str, float] = {}
    for r in runs:
        m = r["machine"]
        t = m["tiers"][0]
        role = "DRAM cache" if MEMORY_SYSTEMS[m["mode"]].cache_tier else t["tier"]
        out.setdefault(f"{m['name']}: {role} {t['capacity_gb']:,.2f} GB", t["capacity_gb"] * 1e9)
    return sorted(out.items(), key=lambda kv: (kv[1], kv[0]))


def question(run: dict) -> str:
    """What a run was asked beyond its preset: its overrides and a stack other than hetier's
    (``dram.capacity_gb=2 stack=he-transformer``), or "" for none."""
    ov = [f"{k}={v}" for k, v in sorted((run.get("overrides") or {}).items())]
    stack = (run.get("stack") or {}).get("name", "hetier")
    return " ".join(ov + ([f"stack={stack}"] if stack != "hetier" else []))
