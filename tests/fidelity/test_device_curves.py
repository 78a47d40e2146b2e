"""Device presets against the FAST'20 measurements, through the simulator itself.

Synthetic microbenchmarks (T streams of sequential reads, sequential writes, or random
accesses of one size) run on the SimPy engine; achieved bandwidth = bytes / makespan.

Fitted points (within 10%): threads 1, 2, 4, 6, 8, 12, 16, 20, 24 (the curve points stored in
the presets); in the access-size sweep, the media granularity (64 B DRAM, 256 B Optane) and
sequential sizes of 128 KiB and more. Held out (within 20%): all other thread counts 1..24 and
all other access sizes, except 4 KiB and 8 KiB on interleaved Optane: FAST'20 shows a dip there
from the 4 KiB interleaving across DIMMs, which hetier does not model (its accesses are whole
ciphertexts of 64 KiB and more).
"""

import csv
from pathlib import Path

import pytest

from hetier.simulator.devices import load_device
from hetier.simulator.engine import OpPlan, run
from hetier.simulator.machines import Machine

DATA = Path(__file__).parent / "data" / "optane-fast20"
FIT_THREADS = {1, 2, 4, 6, 8, 12, 16, 20, 24}
STREAM_BYTES = 4e9  # per stream: latency is negligible against it


def _csv(name):
    with open(DATA / name) as f:
        return list(csv.DictReader(f))


def measure(device: str, streams: int, write: bool, access_bytes: float | None = None) -> float:
    """GB/s achieved by ``streams`` concurrent transfers of STREAM_BYTES each."""
    dev = load_device(device)
    m = Machine(device, "flat", (("t", dev),), cores=streams, llc_bytes=0)
    zero = {"t": 0.0}
    load = {"t": STREAM_BYTES * streams}
    plan = OpPlan(0.0, zero if write else load, load if write else zero, streams, access_bytes=access_bytes)
    return STREAM_BYTES * streams / run([plan], m, streams).makespan_ns


CURVES = [
    ("ddr4-2666-6ch", "04-bandwidth_thcount_dram.csv", "Read", False),
    ("ddr4-2666-6ch", "04-bandwidth_thcount_dram.csv", "Write(ntstore)", True),
    ("optane-100-6dimm", "04-bandwidth_thcount_optane.csv", "Read", False),
    ("optane-100-6dimm", "04-bandwidth_thcount_optane.csv", "Write(clwb)", True),  # = ntstore (swapped)
    ("optane-100-1dimm", "04-bandwidth_thcount_optane_ni.csv", "Read", False),
    ("optane-100-1dimm", "04-bandwidth_thcount_optane_ni.csv", "Write(ntstore)", True),
]


@pytest.mark.parametrize("device, csvfile, col, write", CURVES)
def test_bandwidth_vs_threads(device, csvfile, col, write):
    for row in _csv(csvfile):
        t, want = int(row["Threads"]), float(row[col])
        got = measure(device, t, write)
        tol = 0.10 if t in FIT_THREADS else 0.20
        assert abs(got / want - 1) <= tol, f"{device} {col} at {t} threads: {got:.2f} vs {want:.2f} GB/s"


SIZES = [
    ("ddr4-2666-6ch", "05-bandwidth_accesssize_dram.csv", 64, set()),
    ("optane-100-6dimm", "05-bandwidth_accesssize_optane.csv", 256, {4096, 8192}),
    ("optane-100-1dimm", "05-bandwidth_accesssize_optane_ni.csv", 256, set()),
]


@pytest.mark.parametrize("device, csvfile, granule, not_modelled", SIZES)
@pytest.mark.parametrize("col, write", [("Read", False), ("Write(ntstore)", True)])
def test_bandwidth_vs_access_size(device, csvfile, granule, not_modelled, col, write):
    dev = load_device(device)
    streams = dev.peak_streams(write)  # the sweep runs where the device is at its best
    checked = 0
    for row in _csv(csvfile):
        size, want = int(row["AccessSize"]), float(row[col])
        if size in not_modelled:
            continue
        sequential = size >= 128 * 1024
        got = measure(device, streams, write, None if sequential else size)
        tol = 0.10 if (size == granule or sequential) else 0.20
        assert abs(got / want - 1) <= tol, f"{device} {col} {size} B: {got:.2f} vs {want:.2f} GB/s"
        checked += 1
    assert checked >= 14


def test_optane_write_collapse_and_latency_presets():
    opt = load_device("optane-100-6dimm")
    assert opt.peak_streams(write=True) == 4
    assert opt.bandwidth(24, write=True) / opt.bandwidth(4, write=True) == pytest.approx(0.6, abs=0.01)
    assert (opt.read_latency_seq_ns, opt.read_latency_rand_ns) == (169.4, 305.0)
    assert opt.granularity_bytes == 256
