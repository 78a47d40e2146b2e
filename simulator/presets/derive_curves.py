"""Regenerate the derived curves of the device presets from the FAST'20 data in the repo.

    python simulator/presets/derive_curves.py   # rewrites the read_curve/write_curve lines

Each derived preset scales a FAST'20 curve: streams by ``sx`` and bandwidth by ``sy`` (or to a
given plateau). The scalings and their sources are documented in each preset's comments.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fidelity" / "data" / "optane-fast20"
DEVICES = Path(__file__).parent / "devices"
FIT = [1, 2, 4, 6, 8, 12, 16, 20, 24]


def fast20(name: str, col: str) -> list[tuple[int, float]]:
    with open(DATA / name) as f:
        rows = {int(r["Threads"]): float(r[col]) for r in csv.DictReader(f)}
    return [(t, rows[t]) for t in FIT]


def scaled(curve, sx: float, sy: float) -> str:
    return "[" + ", ".join(f"[{round(t * sx, 2):g}, {round(b * sy, 2):g}]" for t, b in curve) + "]"


DRAM_R = fast20("04-bandwidth_thcount_dram.csv", "Read")
DRAM_W = fast20("04-bandwidth_thcount_dram.csv", "Write(ntstore)")
OPT_R = fast20("04-bandwidth_thcount_optane.csv", "Read")
OPT_W = fast20("04-bandwidth_thcount_optane.csv", "Write(clwb)")  # swapped columns: this is ntstore
DDR5 = 8 * 38.4 / (6 * 2666e6 * 8 / 1e9)  # DDR5-4800 x 8 channels over DDR4-2666 x 6 channels

DERIVED = {
    "ref-dram-12ch-192gb": (scaled(DRAM_R, 2, 2), scaled(DRAM_W, 2, 2)),
    "ref-dram-4ch-32gb": (scaled(DRAM_R, 1, 4 / 6), scaled(DRAM_W, 1, 4 / 6)),
    "ref-optane-12dimm-6tb": (scaled(OPT_R, 2, 4 * 21.9 / max(b for _, b in OPT_R)),
                              scaled(OPT_W, 2, 4 * 7.2 / max(b for _, b in OPT_W))),
    "ddr5-4800-8ch": (scaled(DRAM_R, 8 / 6, DDR5), scaled(DRAM_W, 8 / 6, DDR5)),
}


def main() -> None:
    for name, (rd, wr) in DERIVED.items():
        p = DEVICES / f"{name}.toml"
        text = p.read_text()
        text = re.sub(r"^read_curve = .*$", f"read_curve = {rd}", text, flags=re.M)
        text = re.sub(r"^write_curve = .*$", f"write_curve = {wr}", text, flags=re.M)
        p.write_text(text)
        print(f"{name}: read {rd}\n{' ' * len(name)}  write {wr}")


if __name__ == "__main__":
    main()
