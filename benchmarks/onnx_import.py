"""ONNX import at scale: a ResNet-50-sized file (the zoo's ResNet-50 at 224 px, 1000 classes,
seeded weights, exported as float32: about 100 MB of initializers).

Measures, in a fresh child process so nothing else is resident: the import's wall time, its peak
resident memory above the process's baseline (VmHWM, Linux; it counts protobuf's C++ buffers) and
tracemalloc's peak (Python and numpy allocations), each beside the size of the weights; then the
plan time (tensor granularity, batch 2048) of the imported graph and of the zoo graph, measured
side by side in alternating order, and their ratio (target: within 1.5x).

    python benchmarks/onnx_import.py [--repeat 3] [--resolution 224] [--batch 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def import_in_child(path: str) -> dict:
    """Import ``path`` in a new interpreter; its wall time and memory."""
    code = f"""
import json, time, tracemalloc
import numpy, onnx, google.protobuf  # loaded before the baseline: libraries are not the import's cost
from hetier.models.onnx_import import load_onnx
def status(key):  # kB; VmHWM is this process's peak RSS (ru_maxrss would carry the parent's across exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith(key + ":")).split()[1])
base = status("VmRSS")
tracemalloc.start()
t0 = time.perf_counter()
m = load_onnx({path!r})
seconds = time.perf_counter() - t0
peak_py = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss = status("VmHWM")
weights = sum(n.weight.nbytes + (0 if n.bias is None else n.bias.nbytes) for n in m.graph.nodes if n.weight is not None)
print(json.dumps(dict(seconds=seconds, peak_rss_above_base=(rss - base) * 1024, tracemalloc_peak=peak_py,
                      ir_weight_bytes=weights, layers=len(m.graph.nodes))))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="plan timings of each graph (median reported)")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--batch", type=int, default=2048)
    args = ap.parse_args()

    from hetier.models.onnx_export import write_onnx
    from hetier.models.onnx_import import load_onnx
    from hetier.models.zoo import build
    from hetier.tracer.session import choose_params, plan_run

    t0 = time.perf_counter()
    zoo = build("resnet50", resolution=args.resolution)
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "resnet50.onnx")
        t0 = time.perf_counter()
        size = write_onnx(zoo, path)
        export_s = time.perf_counter() - t0
        import onnx

        initializers = sum(t.ByteSize() for t in onnx.load(path).graph.initializer)
        child = import_in_child(path)
        imported = load_onnx(path).graph
        params = choose_params(zoo, args.batch, None, None, 22)
        times: dict[str, list[float]] = {"zoo": [], "onnx": []}
        for r in range(args.repeat):  # alternate so drift on a shared machine hits both alike
            for key, g in (("zoo", zoo), ("onnx", imported))[:: 1 if r % 2 == 0 else -1]:
                res = plan_run(g, params, Path(d) / f"{key}-{r}.arrow", "tensor")
                times[key].append(res.seconds)
                os.unlink(res.path)
    mb = 1e6
    print(f"ResNet-50 at {args.resolution} px: zoo build {build_s:.1f} s, ONNX export {export_s:.1f} s, "
          f"file {size / mb:.1f} MB ({initializers / mb:.1f} MB of initializers)")
    print(f"import (fresh process): {child['seconds']:.2f} s; peak RSS above baseline "
          f"{child['peak_rss_above_base'] / mb:.0f} MB = {child['peak_rss_above_base'] / size:.2f}x the file; "
          f"tracemalloc peak {child['tracemalloc_peak'] / mb:.0f} MB; IR weights "
          f"{child['ir_weight_bytes'] / mb:.0f} MB; {child['layers']} layers")
    z, o = statistics.median(times["zoo"]), statistics.median(times["onnx"])
    print(f"plan, tensor granularity, batch {args.batch} (median of {args.repeat}, alternating): "
          f"zoo {z:.2f} s, imported {o:.2f} s, imported/zoo = {o / z:.2f}x  "
          f"(zoo {', '.join(f'{t:.2f}' for t in times['zoo'])}; imported {', '.join(f'{t:.2f}' for t in times['onnx'])})")


if __name__ == "__main__":
    main()
