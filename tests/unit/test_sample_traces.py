"""The committed sample traces: counts derived by hand from the models and the runtime's rules."""

from pathlib import Path

from hetier.analysis.check import check_trace
from hetier.analysis.trace_stats import trace_stats
from hetier.formats.trace import EV, KIND, PRIM, read_trace
from hetier.tracer.params import HEParams

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
    allocs = ct + temporaries + plaintexts + 3
    assert s.by_event["alloc"] == s.by_event["free"] == allocs
    assert s.by_event["op_begin"] == s.by_event["op_end"] == 5  # input, dense1, relu1, dense2, teardown

    def dense(i, o):
        """(reads, writes) of a dense layer: per product, copy the input (read ciphertext, write a
        temporary) and multiply_plain in place (read it and the weight, write it); per output,
        i - 1 adds (read two, write one), a rescale, the copy out and add_plain of the bias (read
        the copy and the bias, write the copy); and i x o + o encodes."""
        return 3 * i * o + 2 * o * (i - 1) + 4 * o, 2 * i * o + o * (i - 1) + 3 * o + (i * o + o)

    # input: 3 keygens, then per element encode and encrypt (read the public key and the plaintext)
    # ReLU per ciphertext: decrypt (read it and the secret key), decode, encode, encrypt (read key, plaintext)
    # teardown per output: decrypt (read it and the key) and decode
    reads = 2 * 64 + dense(64, 32)[0] + 5 * 32 + dense(32, 10)[0] + 3 * 10
    writes = (3 + 2 * 64) + dense(64, 32)[1] + 3 * 32 + dense(32, 10)[1] + 10
    assert (s.by_event["read"], s.by_event["write"]) == (reads, writes)  # 12,242 and 9,835
    assert s.events == 2 * 5 + 2 * allocs + reads + writes  # 32,201
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
    # one row per (tensor, event, primitive, level) in each op, plus op_begin/op_end for 8 layers.
    # input: 3 keys (alloc, write), the input (alloc, write), encrypt's reads of the public key and
    # the plaintext, the plaintext (alloc, write, free). A linear layer (conv, dense): allocs of
    # the accumulator, the output, the product temporary and the plaintext; 10 reads and 10
    # writes (the accumulator at two levels, the product, the output, weights and bias), frees of
    # the three scratch tensors, and of its input unless that is the network's input. A square:
    # its output (alloc), reads of the relinearization key, the input and its output twice, three
    # writes, the input's free. Teardown: decrypt and decode (alloc, 3 reads, a write) and 6 frees.
    linear = 4 + 10 + 10 + 3
    rows = 2 * 8 + (6 + 2 + 2 + 3) + linear + 9 + (linear + 1) + 9 + (linear + 1) + 11
    assert len(ev) == rows  # 141
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
    # the peak is square_1's output (3 polynomials before relinearization, 5 primes) while its
    # input (the conv output, rescaled to 5 primes) and the network's input (6 primes) are live
    p = HEParams(8192, (30, 22, 22, 22, 22, 22, 30), 22, 64)
    peak = (sum(p.key_bytes().values()) + 784 * p.ct_bytes(6) + 845 * p.ct_bytes(5)
            + 845 * p.ct_bytes(5, polys=3))
    assert (s.peak_layer, s.peak_live_bytes) == ("square_1", peak)  # 2,007,891,968 B
