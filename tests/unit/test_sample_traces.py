"""The committed sample traces: counts derived by hand from the models and the runtime's rules."""

from pathlib import Path


from hetier.analysis.check import check_trace
from hetier.analysis.trace_stats import trace_stats
from hetier.tracer.format import EV, KIND, PRIM, read_trace

TRACES = Path(__file__).resolve().parents[2] / "traces"
MLP = TRACES / "mlp-relu-b8.ciphertext.arrow"
CRYPTONETS = TRACES / "cryptonets-b64.tensor.arrow"


def test_mlp_allocation_counts_follow_the_model():
    # mlp 64 -> dense 32 -> relu -> dense 10, N=4096, primes [30,22,30]
    s = trace_stats(str(MLP))
    ct = 64 + 32 + 32 + 10  # input, dense1 out, relu out, dense2 out
    temporaries = 64 * 32 + 32 * 10  # one per product: first products become the sums (accumulators)
    plaintexts = 64 + (64 * 32 + 32) + (32 + 32) + (32 * 10 + 10) + 10  # input, weights+biases, refresh, decrypt
    assert {k: v[0] for k, v in s.buffers_by_kind.items()} == {
        "ciphertext": ct, "temporary": temporaries, "plaintext": plaintexts, "key": 3}
    assert s.by_event["alloc"] == s.by_event["free"] == ct + temporaries + plaintexts + 3
    assert s.by_event["op_begin"] == 5  # input, dense1, relu1, dense2, teardown
    assert s.events == 32201
    assert check_trace(str(MLP)).ok


def test_mlp_bytes_per_buffer():
    ev = read_trace(MLP).events
    fresh = 2 * 4096 * 2 * 8
    ct_allocs = ev.nbytes[(ev.event == EV["alloc"]) & (ev.kind == KIND["ciphertext"])]
    # dense outputs are bias copies made after the rescale: one prime left
    assert sorted(set(ct_allocs.tolist())) == [fresh // 2, fresh]
    assert int((ct_allocs == fresh).sum()) == 64 + 32  # input and relu output are fresh encryptions


def test_cryptonets_tensor_trace():
    t = read_trace(CRYPTONETS)
    ev = t.events
    assert t.meta["granularity"] == "tensor" and t.meta["he"]["poly_modulus"] == 8192
    assert len(ev) == 141
    mac_temps = int(ev.count[(ev.event == EV["alloc"]) & (ev.kind == KIND["temporary"])].sum())
    # per op the tensor trace keeps each temporary tensor's peak: one product temporary at a time,
    # and the accumulators of one output channel (conv: 13x13; dense: 1 unit), because each
    # channel is rescaled and bias-copied before the next one starts
    assert mac_temps == 3 * 1 + (13 * 13 + 1 + 1)
    dense1 = ev.layer == t.layer_names.index("dense_1")
    reads_of_copies = ev.count[(ev.event == EV["read"]) & (ev.prim == PRIM["copy"]) & dense1
                               & (ev.kind == KIND["ciphertext"])]
    assert reads_of_copies.sum() == 845 * 100  # each input element is copied once per output
    assert check_trace(str(CRYPTONETS)).ok
    s = trace_stats(str(CRYPTONETS))
    assert s.peak_layer == "square_1"
    assert s.peak_live_bytes == 2007891968
