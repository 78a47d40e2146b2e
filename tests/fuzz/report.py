"""Print the long fuzz run's summary (out/fuzz-report.json, written by `make fuzz`)."""

from __future__ import annotations

import json
import sys


def main(path: str) -> int:
    doc = json.load(open(path))
    base = doc.get("baseline", {})
    print(f"{'verb':18} {'inputs':>6} {'ok':>5} {'errors':>6} {'tracebacks':>10} {'hangs':>5} {'stray':>5} "
          f"{'slowest s':>9} {'worst peak MB':>13} {'sample peak MB':>14}")
    for verb, v in sorted(doc["verbs"].items()):
        b = base.get(verb, {}).get("maxrss_mb", "-") if verb != "sample" else "-"
        print(f"{verb:18} {v['inputs']:6} {v['ok']:5} {v['errors']:6} {v['tracebacks']:10} {v['hangs']:5} "
              f"{v['stray']:5} {v['slowest_s']:9} {v['worst_maxrss_mb']:13} {b!s:>14}")
    print(f"sample trace for the baseline: {base.get('sample')}; problems: {len(doc['problems'])}")
    for p in doc["problems"][:10]:
        print(f"  {p['problem']}: {' '.join(p['argv'])}")
    return 1 if doc["problems"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
