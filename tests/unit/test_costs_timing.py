"""calibrate --he times thread CPU, so waiting (another process on the core, a sleep) is not
counted as the primitive's cost."""

import time

from hetier.tracer.costs import _median_ns


def test_a_call_that_waits_costs_only_its_cpu_time():
    assert _median_ns(lambda: time.sleep(0.02), reps=2, rounds=3) < 5e6  # wall time would be >= 2e7 ns


def test_a_call_that_works_costs_its_cpu_time():
    def work():
        s = 0
        for i in range(200_000):
            s += i
    assert _median_ns(work, reps=2, rounds=3) > 1e6  # 200k Python additions take milliseconds of CPU


def test_calibration_rounds_take_turns():
    """Every template takes a turn in each timing round, so all see the same stretch of time."""
    from hetier.tracer.costs import _rounds_ns

    order: list[str] = []
    times = _rounds_ns([(lambda: order.append("a"), 2), (lambda: order.append("b"), 1)], rounds=3)
    assert order == ["a", "a", "b"] * 3
    assert [len(t) for t in times] == [3, 3] and all(v >= 0 for t in times for v in t)
