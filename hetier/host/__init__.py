"""This machine's memory as it really is: NUMA topology, measured bandwidth and latency,
whole-process and per-phase memory policies, and re-running a trace's model to confirm a
prediction (``hetier calibrate --memory``, ``hetier confirm``)."""
