"""Where a sweep's configurations run: this process, a local process pool (workers that exit
with the driver) or a Dask cluster (``dask_cluster``). Pool and cluster workers send back bytes
that the driver validates (``sweep_payload``) before they are stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from hetier.simulator.sweep import Outcome, Task, run_task


@dataclass
class Runner:
    """Where tasks run: ``workers`` == 1 is this process; more is a local pool; ``scheduler``
    (a connected ``distributed.Client``, see ``dask_cluster.connect``) is an existing Dask cluster.
    Pool and cluster workers send back bytes that are validated here (``sweep_payload``)."""

    workers: int = 1
    cluster: object | None = None
    task_timeout_s: float = 3600.0
    peak_rss: dict[str, int] = field(default_factory=dict)
    trace_loads: dict[str, int] = field(default_factory=dict)

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        """Outcomes in completion order."""
        from hetier.simulator.sweep_payload import decode_outcome

        if self.cluster is not None:
            from hetier.simulator.dask_cluster import dask_map

            source = (decode_outcome(t, b) for t, b in dask_map(self.cluster, tasks, self.task_timeout_s))
        elif self.workers > 1:
            source = (decode_outcome(t, b) for t, b in _pool_map(self.workers, tasks))
        else:
            source = map(run_task, tasks)
        for out in source:
            self.peak_rss[out.worker] = max(self.peak_rss.get(out.worker, 0), out.peak_rss_bytes)
            self.trace_loads[out.worker] = max(self.trace_loads.get(out.worker, 0), out.trace_loads)
            yield out


def start_worker(driver_pid: int) -> None:
    """A pool worker's set-up: die with the driver, and reuse freed arrays as the CLI's process does."""
    from hetier.heap_thresholds import reuse_freed_arrays

    die_with(driver_pid)
    reuse_freed_arrays()


def die_with(driver_pid: int) -> None:
    """In a pool worker: exit as soon as the driver process exits, even by SIGKILL (a pidfd
    becomes readable when its process ends), so a killed sweep leaves no worker running."""
    import select
    import threading

    try:
        fd = os.pidfd_open(driver_pid)
    except (OSError, AttributeError):  # the driver is gone already (or no pidfd: Linux < 5.3)
        if not _alive(driver_pid):
            os._exit(1)
        return

    def watch() -> None:
        select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="hetier-die-with-driver", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pool_map(workers: int, tasks: list[Task]) -> Iterable[tuple[Task, bytes]]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from hetier.simulator.sweep_payload import run_task_payload

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["hetier.simulator.sweep_runner", "hetier.simulator.sweep_payload", "hetier.simulator.scenario"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=start_worker, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(run_task_payload, t): t for t in tasks}
        try:
            for f in as_completed(futures):
                yield futures[f], f.result()
        finally:
            for f in futures:
                f.cancel()


def run_sweep(tasks: list[Task], runner: Runner, on_done: Callable[[Outcome], None]) -> None:
    """Run every task, handing each outcome to ``on_done`` as it completes."""
    for out in runner.map(tasks):
        on_done(out)
