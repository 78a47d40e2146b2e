# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Three questions about a model and a machine
#
# A memory-systems researcher's questions, answered with hetier's Python API (docs/python-api.md):
#
# 1. Does model X fit machine Y, and what is the best placement of its tensors?
# 2. What is the cheapest memory within N% of all-DRAM?
# 3. How far can these predictions be trusted?
#
# Open it as a notebook with `jupytext --to notebook examples/three_questions.py` (or
# Jupyter's jupytext extension); the tests run it headless as it is. The defaults below are a
# small configuration that runs in seconds: the demo's MobileNetV2 (width 0.35, 32x32 inputs,
# batch 16), planned (the events of a real run, durations from a cost model), on the `ddr5-cxl`
# machine with 1 GB of DRAM. Change them to your model and machine: `hetier.model_names()` and
# `hetier.machine_names()` list what there is, and a machine can be your own TOML file.

# %% tags=["parameters"]
MODEL = "mobilenetv2"
MODEL_OPTIONS = {"width": 0.35, "resolution": 32, "classes": 10}
BATCH = 16
MACHINE = "ddr5-cxl"    # a flat machine: a fast tier (DRAM) and a slow one (CXL memory, PMem)
DRAM_GB = 1.0           # the fast tier's capacity for question 1
THREADS = 4
WITHIN = 0.10           # question 2: at most 10% slower than all-DRAM
WORKDIR = "three-questions"

# %%
from pathlib import Path

import hetier

work = Path(WORKDIR)
work.mkdir(exist_ok=True)
trace_path = work / f"{MODEL}.arrow"
run = hetier.trace(MODEL, trace_path, mode="plan", batch=BATCH, force=True, **MODEL_OPTIONS)
stats = hetier.info(trace_path)
print(f"{MODEL} {MODEL_OPTIONS}, batch {BATCH}: {run.events:,} planned events, "
      f"peak {stats.peak_live_bytes / 1e9:.2f} GB live (in {stats.peak_layer})")

# %% [markdown]
# ## 1. Does it fit, and what is the best placement?
#
# Memory needed (the trace's resident peak under SEAL's pool, plus the runtime's own memory) is
# what must fit in the machine's tiers together; it fits all in DRAM only when the DRAM alone
# holds it. `advise` then replays the placement policies on the machine and ranks them against
# all-DRAM (the same machine with DRAM for everything) and, where the slow tier is PMem, against
# the same DRAM used as Memory Mode's cache.

# %%
machine = hetier.machine(MACHINE, dram__capacity_gb=DRAM_GB)
capacity = {tier: dev.capacity_bytes for tier, dev in machine.tiers}
peak = hetier.scenario(trace_path, machine).memory_needed.total_bytes
fast = machine.tier_names[0]
print(f"{MACHINE}: " + ", ".join(f"{t} {b / 1e9:g} GB" for t, b in capacity.items())
      + f"; memory needed {peak / 1e9:.2f} GB")
print("fits the machine" if peak <= sum(capacity.values()) else "does NOT fit the machine",
      "| fits in DRAM alone" if peak <= capacity[fast] else f"| needs {(peak - capacity[fast]) / 1e9:.2f} GB outside DRAM")

# %%
advice = hetier.advise(trace_path, machine, threads=THREADS, bisect=False,
                       policies=["ilp", "hot-cold", "lifetime", "dram-first", "kind-aware"])
best = advice.recommended
mm = f", {best.vs_memory_mode:.3f}x Memory Mode" if best.vs_memory_mode is not None else " (no Memory Mode on CXL)"
print(f"best placement: {best.policy}, {best.time_ns / 1e9:.3f} s predicted, {best.vs_all_dram:.3f}x all-DRAM{mm}")
ranking = advice.table().select(["policy", "time_s", "vs_all_dram", "vs_memory_mode", "fast_peak_bytes", "why"])
ranking.to_pandas()

# %% [markdown]
# `hetier advise TRACE --machine ... -o placement.json` writes that placement (tensor -> tier)
# for `hetier replay --policy placement:placement.json`.
#
# ## 2. The cheapest memory within N% of all-DRAM
#
# A sweep over the DRAM capacity (from an eighth of the peak to all of it) with the placement
# policies, priced with `simulator/presets/prices.toml`; the reference is the fastest all-DRAM
# configuration, whose DRAM holds the whole peak.

# %%
import math

all_dram_gb = math.ceil(peak / 1e9 * 10) / 10
sizes = sorted({round(all_dram_gb * f, 2) for f in (0.125, 0.25, 0.5)} | {all_dram_gb})
configs = hetier.sweep(trace_path, work / "sweep", machines=[MACHINE], policies=["all-dram", "dram-first", "hot-cold"],
                       threads=[THREADS], vary=[f"dram.capacity_gb={','.join(map(str, sizes))}"], force=True)
for pick in hetier.cheapest_within(configs, WITHIN):
    print(f"cheapest within {WITHIN:.0%} of all-DRAM: {pick.label}, {pick.time_s:.3f} s "
          f"({pick.slowdown:.3f}x {pick.reference}), memory {pick.cost_usd:,.0f} USD "
          f"vs {pick.reference_cost_usd:,.0f} USD")
configs.select(["policy", "dram_capacity_gb", "status", "time_s", "cost_usd"]).to_pandas()

# %%
figures = hetier.sweep_figures(work / "sweep")
figures[next(t for t in figures if t.startswith("Pareto, memory cost"))]

# %% [markdown]
# ## 3. How far to trust it
#
# Three things bound the answers above, all read from hetier itself:
#
# - where the trace's durations come from (a real run measures them; a plan models them from a
#   cost file measured on some CPU, `hetier calibrate --he` makes one for yours);
# - the stack profile: hetier's own stack replays the trace's recorded costs as they are; the
#   `he-transformer` profile was fitted to the published runs of the HE-on-PMem study, and its
#   fit errors say how close such predictions came on that hardware;
# - the machine presets: their numbers and sources (`hetier machines --devices`).

# %%
print("durations:", stats.meta["durations"])
he = hetier.stack("he-transformer")
published = hetier.measured_runs()
print(f"stack {he.name}: fitted to {published.num_rows} published runs ({he.fit['runs']}); "
      f"RMS error {he.fit['rms_error']:.1%}, leave-one-out {he.fit['loo_rms_error']:.1%} "
      f"(docs/reference-platform.md has each run)")
own = hetier.stack("hetier")
print(f"stack {own.name} (the answers above): " + (f"fitted to {own.fit['runs']}" if own.fit else
      "not fitted; `hetier confirm` on your machine measures a re-run beside its prediction"))
published.select(["label", "threads", "seconds", "peak_gb"]).to_pandas()
