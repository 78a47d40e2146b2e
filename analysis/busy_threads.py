"""Busy threads over a replayed run: what a CPU-use plot of the target would show (100% per busy
thread), from a results file's per-layer rows.

An op's parallel part keeps ``busy_threads`` threads busy from its start until its serial part
begins; its serial part (``serial_ns`` at the op's end: the executor's teardown) keeps one. Ops
that overlap (dataflow stacks) add up, capped at the run's threads.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def busy_threads(layers: Mapping[str, Sequence], threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(times in ns, busy threads from each time until the next) as a step function over the run;
    empty when the rows do not say how many threads each op ran on (results of older hetier)."""
    if "busy_threads" not in layers or not len(layers["start_ns"]):
        return np.zeros(0), np.zeros(0)
    start = np.asarray(layers["start_ns"], dtype=float)
    end = np.asarray(layers["end_ns"], dtype=float)
    serial = np.asarray(layers["serial_ns"], dtype=float) if "serial_ns" in layers else np.zeros(len(start))
    par = np.asarray(layers["busy_threads"], dtype=float)
    split = np.maximum(start, end - serial)  # where the op's serial part begins
    one = (serial > 0).astype(float)  # the serial part's one thread
    t = np.concatenate([start, split, split, end])
    d = np.concatenate([par, -par, one, -one])
    keep = d != 0
    t, d = t[keep], d[keep]
    order = np.lexsort((d, t))  # at one instant, ends before starts (no spurious peak)
    t, d = t[order], d[order]
    times, first = np.unique(t, return_index=True)
    level = np.cumsum(d)[np.r_[first[1:] - 1, len(d) - 1]] if len(d) else np.zeros(0)
    return times, np.minimum(np.round(level, 9), threads)


def busy_at(times: np.ndarray, level: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Busy threads at the instants ``at`` (0 before the run and after its end)."""
    i = np.searchsorted(times, at, side="right") - 1
    return np.where(i >= 0, level[np.clip(i, 0, max(len(level) - 1, 0))] if len(level) else 0.0, 0.0)


def _spans(times: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """How long each step of the curve lasts between ``t0`` and ``t1`` (ns; 0 outside)."""
    return np.diff(np.clip(np.r_[times, max(times[-1], t1)], t0, t1))


def mean_busy(times: np.ndarray, level: np.ndarray, t0: float, t1: float) -> float:
    """Time-averaged busy threads between ``t0`` and ``t1`` (ns)."""
    if t1 <= t0 or not len(times):
        return 0.0
    return float(np.sum(_spans(times, t0, t1) * level) / (t1 - t0))


def share_at_most(times: np.ndarray, level: np.ndarray, threads: float, t0: float, t1: float) -> float:
    """Share of the time between ``t0`` and ``t1`` (ns) with at most ``threads`` busy (low
    parallelism: how long a CPU-use plot sits near the bottom)."""
    if t1 <= t0 or not len(times):
        return 0.0
    return float(np.sum(_spans(times, t0, t1)[level <= threads]) / (t1 - t0))
