"""What spans the tracer, the simulator and the analysis: planned study cases (measured runs
turned into replayable scenarios) and `hetier confirm` (a real re-run beside its prediction).
Above every other package but the CLI; nothing below imports it."""
