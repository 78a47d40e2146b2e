"""Policy comparison from results files: one row per run, and the headline sentences."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hetier.errors import HetierError
from hetier.simulator.results import load_results


@dataclass
class Comparison:
    """Runs of one trace across machines and policies (dicts as saved in results files)."""

    runs: list[dict]
    layers: list  # pyarrow tables, one per results file

    def rows(self) -> list[dict]:
        base = self.baseline()
        out = []
        for r in self.runs:
            t = r["makespan_ns"]
            out.append({
                "machine": r["machine"]["name"], "policy": r["policy"], "threads": r["threads"],
                "time_s": None if t is None else t / 1e9,
                "vs_baseline": None if t is None or base is None else t / base["makespan_ns"],
                "fits": r["fits"], "missing_gb": {k: v / 1e9 for k, v in r["missing_bytes"].items() if v > 0},
                "compute_s": r["compute_ns"] / 1e9, "stall_s": {k: v / 1e9 for k, v in r["stall_ns"].items()},
                "read_gb": {k: v / 1e9 for k, v in r["read_bytes"].items()},
                "write_gb": {k: v / 1e9 for k, v in r["write_bytes"].items()},
                "peak_gb": {k: v / 1e9 for k, v in r["peak_bytes"].items()},
                "mm_hit_ratio": r["mm_hit_ratio"],
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
        base = self.baseline()
        out = []
        if base is None:
            return ["no configuration fits"]
        name = f"{base['machine']['name']} ({base['policy']})"
        for r in self.runs:
            label = f"{r['machine']['name']} {r['policy']}"
            if r is base:
                continue
            if r["makespan_ns"] is None:
                need = ", ".join(f"{v / 1e9:.2f} GB more {k}" for k, v in r["missing_bytes"].items() if v > 0)
                out.append(f"{label} does not fit (needs {need})")
            else:
                out.append(f"{label} predicted {r['makespan_ns'] / base['makespan_ns']:.2f}x {name}")
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
