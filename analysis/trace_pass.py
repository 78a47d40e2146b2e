"""One streaming pass over a trace that feeds every batch to a list of accumulators.

`hetier info` (trace_stats.py), `hetier report` (metrics.py) and `hetier export`'s Perfetto trace
(export.py) each pick the accumulators they need (one class per metric: event_metrics.py,
buffer_metrics.py, live_curves.py) and read the trace once through ``TracePass``. Memory is
bounded per batch; a truncated trace gives the numbers of its complete batches and ``truncated``
says so. To add a metric, write one ``Accumulator`` subclass and list it where it is shown.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from itertools import chain
from typing import Iterable, Iterator

from hetier.errors import HetierError
from hetier.formats.trace import EventBatch, TraceReader


class Accumulator:
    """One metric over a trace's events: ``start`` before the first batch, ``add`` per non-empty
    batch in trace order, ``finish`` returns the metric (the driver keeps it in ``result``).

    ``needs``: accumulators whose per-batch state or result this one reads; the driver runs them
    (once, even if several accumulators name them) before this one, batch by batch and at the end.
    """

    needs: tuple["Accumulator", ...] = ()
    result = None

    def start(self, trace: "TracePass") -> None:
        """Sees the trace's metadata and layer names before any event."""

    def add(self, b: EventBatch) -> None:
        """Takes one batch; an accumulator that only reads its ``needs`` at the end keeps this."""

    def finish(self):
        return None


def _with_needs(accumulators: list[Accumulator]) -> list[Accumulator]:
    """The accumulators and everything they need, each once, dependencies first."""
    out: list[Accumulator] = []

    def visit(a: Accumulator) -> None:
        if any(a is o for o in out):
            return
        for d in a.needs:
            visit(d)
        out.append(a)

    for a in accumulators:
        visit(a)
    return out


def no_events(reader: TraceReader, path: str | os.PathLike) -> HetierError:
    """The one-line error for a trace without a complete event (empty, or cut before one)."""
    why = reader.truncation_message() if reader.truncated else f"trace '{path}' ends without events"
    return HetierError(f"{why}: no events to show")


def drive(accumulators: list[Accumulator], batches: Iterable[EventBatch], trace) -> None:
    """Start the accumulators (and what they need) on ``trace`` (its ``meta`` and ``layer_names``),
    feed them every non-empty batch, finish them. TracePass.run drives a file's batches; tests
    drive hand-written ones."""
    accs = _with_needs(accumulators)
    for a in accs:
        a.start(trace)
    for b in batches:
        if len(b):
            for a in accs:
                a.add(b)
    for a in accs:
        a.result = a.finish()


class TracePass:
    """An opened trace, read once by ``run``. ``meta`` and ``layer_names`` are there before the
    events are read; ``events`` (complete events read) and ``truncated`` (the reader's message,
    or None) after.

    ``require_events``: refuse at opening, with a one-line HetierError, a trace without a single
    complete event (an empty or cut trace would give a report of zeros); the batches read to find
    one (normally the first) are kept and fed to ``run``, so the trace is still read once.
    """

    def __init__(self, path: str | os.PathLike, require_events: bool = False):
        self.path = path
        self.reader = TraceReader(path)
        self.meta: dict = self.reader.meta
        self.layer_names: list[str] = self.reader.layer_names
        self.events = 0
        self.truncated: str | None = None
        self._batches: Iterator[EventBatch] = self.reader.batches()
        self._head: list[EventBatch] = []
        self._ran = False
        if require_events:
            try:
                self._read_first_event()
            except BaseException:
                self.close()
                raise

    def _read_first_event(self) -> None:
        for b in self._batches:
            self._head.append(b)
            if len(b):
                return
        raise no_events(self.reader, self.path)

    def run(self, accumulators: list[Accumulator]) -> None:
        """Feed every batch to the accumulators (and what they need), then finish them."""
        if self._ran:
            raise RuntimeError("a TracePass reads its trace once")
        self._ran = True
        drive(accumulators, chain(self._head, self._batches), self)
        self._head = []
        self.events = self.reader.events_read
        self.truncated = self.reader.truncation_message() if self.reader.truncated else None

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> "TracePass":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextmanager
def opened(source: str | os.PathLike | TracePass) -> Iterator[TracePass]:
    """A TracePass for a path (closed afterwards), or the one given (left open for its owner)."""
    if isinstance(source, TracePass):
        yield source
        return
    with TracePass(source) as tp:
        yield tp


def run_pass(source: str | os.PathLike | TracePass, accumulators: list[Accumulator]) -> TracePass:
    """Read ``source`` once through ``accumulators``; returns the finished pass (meta, events,
    truncated); each accumulator's metric is in its ``result``."""
    with opened(source) as tp:
        tp.run(accumulators)
    return tp
