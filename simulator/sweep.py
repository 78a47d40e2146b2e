"""Run a sweep's configurations on this process, a local process pool or a Dask cluster.

Each task is one configuration; a worker loads each trace once (a per-process cache keyed by
the trace's sha256) and returns the configuration's summary row and per-layer columns, which
the driver stores as they arrive (``sweep_store``). Rows hold no wall-clock numbers, so where a
configuration ran never changes its row.
"""

from __future__ import annotations

import functools
import os
import resource
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from hetier.errors import HetierError
from hetier.formats.results import RunResult, run_row
from hetier.simulator.axes import Config, config_id


@dataclass(frozen=True)
class Task:
    """One configuration of a sweep, as sent to a worker."""

    config: Config
    trace_sha256: str
    allow_truncated: bool = False
    allow_runtime_mismatch: bool = False
    fit_by: str = "resident"

    @property
    def key(self) -> str:
        return self.config.key(self.trace_sha256)

    @property
    def config_id(self) -> str:
        return config_id(self.key)


@dataclass
class Outcome:
    """What a worker sends back: the summary row, per-layer columns, the worker's peak memory
    and how many times it has read a trace so far (once per trace, thanks to the cache)."""

    row: dict
    layers: dict
    worker: str
    peak_rss_bytes: int
    trace_loads: int = 0


@functools.lru_cache(maxsize=4)
def _workload(path: str, sha256: str, allow_truncated: bool):
    from hetier.simulator.workload import load_workload

    w = load_workload(path, allow_truncated)
    if w.trace_id["sha256"] != sha256:
        raise HetierError(f"trace '{path}' changed during the sweep (sha256 {w.trace_id['sha256'][:12]}, "
                          f"expected {sha256[:12]})")
    return w


def base_row(task: Task, status: str, reason: str | None) -> dict:
    """The axis columns of a configuration plus its status (the columns every row has)."""
    return task.config.row(task.trace_sha256, status, reason)


def result_row(task: Task, r: RunResult) -> dict:
    """Summary columns of one simulated run (results' ``run_row``) with the configuration's axes."""
    return {**base_row(task, "ok", None), **run_row({**r.summary(), "overrides": {}})}


def run_task(task: Task) -> Outcome:
    """Simulate one configuration (in a worker); a configuration that cannot run is a row saying why."""
    from hetier.simulator.scenario import Scenario, runtime_mismatch, simulate
    from hetier.simulator.stack import load_stack

    c = task.config
    layers: dict = {}
    if c.skip:
        row = base_row(task, "not applicable", c.skip)
    else:
        try:
            machine = c.load()
            work = _workload(c.trace, task.trace_sha256, task.allow_truncated)
            stack = load_stack(c.stack)
            mismatch = runtime_mismatch(work.meta, stack)
            if mismatch and not task.allow_runtime_mismatch:
                row = base_row(task, "not applicable", mismatch)
            else:
                r = simulate(Scenario(work, machine, c.policy_spec, stack, c.threads,
                                      allow_runtime_mismatch=task.allow_runtime_mismatch, fit_by=task.fit_by))
                row = result_row(task, r)
                layers = r.layers
        except HetierError as e:
            row = base_row(task, "error", str(e))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    return Outcome(row, layers, f"{os.uname().nodename}:{os.getpid()}", rss, _workload.cache_info().misses)


@dataclass
class Runner:
    """Where tasks run: ``workers`` == 1 is this process; more is a local pool; ``scheduler``
    (tcp://HOST:PORT) is an existing Dask cluster."""

    workers: int = 1
    scheduler: str | None = None
    peak_rss: dict[str, int] = field(default_factory=dict)
    trace_loads: dict[str, int] = field(default_factory=dict)

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        """Outcomes in completion order."""
        if self.scheduler:
            source = _dask_map(self.scheduler, tasks)
        elif self.workers > 1:
            source = _pool_map(self.workers, tasks)
        else:
            source = map(run_task, tasks)
        for out in source:
            self.peak_rss[out.worker] = max(self.peak_rss.get(out.worker, 0), out.peak_rss_bytes)
            self.trace_loads[out.worker] = max(self.trace_loads.get(out.worker, 0), out.trace_loads)
            yield out


def _pool_map(workers: int, tasks: list[Task]) -> Iterable[Outcome]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["hetier.simulator.sweep", "hetier.simulator.scenario"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(run_task, t) for t in tasks]
        try:
            for f in as_completed(futures):
                yield f.result()
        finally:
            for f in futures:
                f.cancel()


def _dask_map(address: str, tasks: list[Task]) -> Iterable[Outcome]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise HetierError("--scheduler needs dask[distributed] (pip install 'dask[distributed]')") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise HetierError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    with client:
        futures = client.map(run_task, tasks, key=[f"hetier-{t.config_id}" for t in tasks], pure=False)
        try:
            for f in as_completed(futures):
                try:
                    yield f.result()
                except HetierError:
                    raise
                except Exception as e:  # e.g. a worker without hetier installed, or a lost worker
                    raise HetierError(f"Dask task failed on the cluster: {type(e).__name__}: {e}") from e
        finally:
            client.cancel(futures)


def run_sweep(tasks: list[Task], runner: Runner, on_done: Callable[[Outcome], None]) -> None:
    """Run every task, handing each outcome to ``on_done`` as it completes."""
    for out in runner.map(tasks):
        on_done(out)
