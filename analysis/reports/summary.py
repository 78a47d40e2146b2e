"""The plain-language headline of a report, shared by the HTML and the terminal renderers."""

from __future__ import annotations

import numpy as np

from hetier.analysis.comparison import Comparison
from hetier.analysis.metrics import Analysis
from hetier.vocabulary import gb


def hot_bytes_for(an: Analysis, access_share: float = 0.9) -> float:
    """Smallest share of allocated bytes (hottest first) that serves ``access_share`` of traffic."""
    if not len(an.hot_y):
        return 0.0
    return float(np.interp(access_share, an.hot_y, an.hot_x))  # as the plotted CDF, linear between buffers


def headline(an: Analysis, comp: Comparison | None) -> list[str]:
    m = an.meta
    lines = []
    if an.truncated:
        lines.append(f"Truncated trace: {an.truncated}; everything below covers that prefix only.")
    model = m["model"]
    lines.append(f"{model['name']} {model['config']} traced {m['mode']} (durations {m['durations']}) at "
                 f"{m['granularity']} granularity; CKKS N={m['he']['poly_modulus']}, primes {m['he']['primes']}, "
                 f"batch {m['he']['batch']}.")
    lines.append(f"Peak {gb(an.peak_bytes)} live at layer {an.peak_layer} ({an.peak_ts / 1e9:.1f} s{' modelled' if m.get('mode') == 'plan' else ''}); "
                 f"resident with SEAL's size-class pool and host memory {gb(an.resident_peak_bytes)}.")
    total = an.read_bytes + an.write_bytes
    if total:
        share = hot_bytes_for(an)
        lines.append(f"90% of the {gb(total)} of traffic falls on the hottest {gb(share * an.allocated_bytes)} "
                     f"({100 * share:.1f}%) of the {gb(an.allocated_bytes)} allocated over the run; reads are "
                     f"{100 * an.read_bytes / total:.0f}% of it.")
    if comp is not None:
        needs = {(r.get("stack") or {}).get("name", "hetier"): r["memory_needed"] for r in comp.runs
                 if r.get("memory_needed")}
        for stack, n in needs.items():
            lines.append(f"Memory needed, the figure that decides fit: {gb(n['total_bytes'])} with stack {stack} "
                         f"(live peak {gb(n['live_peak_bytes'])}, SEAL's pool and host memory "
                         f"{gb(n['resident_peak_bytes'])}, the runtime's own {gb(n['process_bytes'])}; fit by "
                         f"{n['fit_by']}).")
        lines.extend(s + "." for s in comp.headlines())
        notes = sorted({r.get("notes", {}).get("recording_note") for r in comp.runs} - {None})
        lines.extend(f"Recording host: {n}." for n in notes)  # replays that fell back to the old assumption
    return lines
