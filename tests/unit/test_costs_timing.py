"""calibrate --he times thread CPU, so waiting (another process on the core, a sleep) is not
counted as the primitive's cost."""

import statistics
import time

from hetier.tracer.costs import _rounds_ns


def _median_ns(fn, reps: int, rounds: int) -> float:
    return statistics.median(_rounds_ns([(fn, reps)], rounds)[0])


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
    order: list[str] = []
    times = _rounds_ns([(lambda: order.append("a"), 2), (lambda: order.append("b"), 1)], rounds=3)
    assert order == ["a", "a", "b"] * 3
    assert [len(t) for t in times] == [3, 3] and all(v >= 0 for t in times for v in t)


def test_calibration_takes_rounds_until_its_window_has_passed():
    """At least the rounds asked for, then more until ``seconds`` of wall time have passed: a
    window long enough to hold the fast and slow spells a long run sees."""
    now = [0.0]

    def clock():
        return now[0]

    def tick():
        now[0] += 1.0  # each call takes a second of (fake) wall time

    assert [len(t) for t in _rounds_ns([(tick, 1)], rounds=5, seconds=3.5, clock=clock)] == [5]
    now[0] = 0.0
    assert [len(t) for t in _rounds_ns([(tick, 1)], rounds=5, seconds=7.5, clock=clock)] == [8]
    now[0] = 0.0
    assert [len(t) for t in _rounds_ns([(tick, 2), (tick, 1)], rounds=1, seconds=7.5, clock=clock)] == [3, 3]


def test_a_template_costs_the_mean_of_its_rounds(monkeypatch):
    """A run's CPU time is the sum of its calls: a template slow in one round of five is priced
    at the mean of the rounds (a median would price it at the fast rounds)."""
    import hetier.tracer.costs as costs
    from hetier.tracer.params import HEParams

    def fake_rounds(jobs, rounds=5, seconds=0.0, clock=None):
        return [[100.0, 100.0, 100.0, 100.0, 600.0] for _ in jobs]

    monkeypatch.setattr(costs, "_rounds_ns", fake_rounds)
    timing: dict = {}
    got = costs.measure(HEParams(4096, (30, 22, 30), 22, 4), reps=1, timing=timing)
    assert got["MAC"][2] == 200.0 and got["ENCODE"][1] == 200.0
    assert got["RESCALE"][2] == 0.0  # its job's rounds minus MULP_NEW's: the same fake rounds
    assert timing["rounds"] == 5 and timing["statistic"] == "mean" and timing["mac_spread"] == 6.0


def test_memory_pools_take_turns_and_their_ratios_in_each_round_give_the_cache(monkeypatch):
    """The pools of growing size (and the accumulator's) are timed in the same rounds, each
    priced by its median ratio to the one-ciphertext pool of the same round: a slow round
    (every pool twice as slow) and a spell that began within a round (one pool 3x slower
    than the rest of its round) leave the step, the cache and the cold costs as they are."""
    import hetier.tracer.costs as costs
    from hetier.tracer.params import HEParams

    seen = {}
    hot = [100.0, 100.0, 200.0, 100.0, 100.0]  # round 3 in a slow spell

    def fake_rounds(jobs, rounds=5, seconds=0.0, clock=None):
        seen["calls"] = [n for _, n in jobs]
        seen["rounds"], seen["seconds"] = rounds, seconds
        # one ciphertext, 4, 16, 64 MiB (round 4: a spell within the round), the accumulator
        big = [3 * t for t in hot]
        big[3] *= 3
        return [hot, list(hot), [1.2 * t for t in hot], big, [5 * t for t in hot]]

    monkeypatch.setattr(costs, "_rounds_ns", fake_rounds)
    p = HEParams(4096, (30, 22, 30), 22, 4)
    got = costs.measure_memory(p, max_pool_bytes=64 << 20, seconds=7.0)
    ct = p.ct_bytes(2)
    pools = [1] + [(b << 20) // ct for b in (4, 16, 64)]
    assert seen["calls"] == [max(n, 256) for n in pools] + [max(pools[-1], 256)]
    assert seen["rounds"] == 3 and seen["seconds"] == 7.0
    assert got["pool_points"] == [[ct, 120.0], [4 << 20, 120.0], [16 << 20, 144.0], [64 << 20, 360.0]]
    assert got["cache_bytes"] == 16 << 20  # the largest pool still under halfway from hot (120) to cold (360)
    assert abs(got["cold_read_ns_per_byte"] - 240.0 / ct) < 1e-12
    assert abs(got["cold_write_ns_per_byte"] - (600.0 - 120.0 - 240.0) / ct) < 1e-12
