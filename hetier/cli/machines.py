"""List machine and device presets with their key numbers."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", action="store_true", help="list device presets instead")
    p.add_argument("--json", action="store_true", help="print the resolved presets (and machine costs) as JSON on stdout")
    p.add_argument("--price-choice", metavar="NAME",
                   help="price the machines with a named alternative of the price file (shipped: reused-dimms)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hetier.simulator.devices import device_presets, load_device
    from hetier.simulator.machines import load_machine, machine_presets

    if args.price_choice is not None:
        from hetier.simulator.prices import load_prices

        load_prices(choice=args.price_choice)  # an unknown choice fails in one line, before any output
    if args.json:
        print(json.dumps(_as_json(args.devices, args.price_choice), indent=2, sort_keys=True))
        return 0
    c = Console()  # wraps long cells and lines at the terminal's width
    if args.devices:
        from rich import box

        # fits 80 columns: no vertical rules, names never cut; headers wrap instead
        t = Table(title="device presets (bandwidth at the curve's best stream count @ streams)",
                  box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False)
        t.add_column("device", no_wrap=True)
        for col in ("kind", "size\nGB", "read\nGB/s", "write\nGB/s", "idle ns\nread/write"):
            t.add_column(col, justify="right", no_wrap=True)
        for name in device_presets():
            d = load_device(name)
            r, w = d.peak_streams(), d.peak_streams(True)
            t.add_row(name, d.kind, f"{d.capacity_bytes / 1e9:,.0f}", f"{d.bandwidth(r):.1f}@{r}",
                      f"{d.bandwidth(w, True):.1f}@{w}", f"{d.read_latency_seq_ns:.0f}/{d.write_latency_ns:.0f}")
        c.print(t)
        return 0
    from hetier.simulator.prices import machine_cost

    t = Table(title="machine presets (bandwidth with one stream per core; memory cost"
                    + (f", price choice {args.price_choice}" if args.price_choice else "") + ")")
    for col in ("machine", "mode", "cores", "tiers: capacity, read/write GB/s"):
        t.add_column(col)
    t.add_column("memory USD", justify="right")
    estimated = False
    for name in machine_presets():
        m = load_machine(name)
        tiers = "; ".join(f"{n}={d.name} {d.capacity_bytes / 1e9:,.0f} GB {d.bandwidth(m.cores):.0f}/"
                          f"{d.bandwidth(m.cores, True):.0f}" for n, d in m.tiers)
        cost = machine_cost(m, choice=args.price_choice)
        estimated |= cost.estimate
        usd = "-" if cost.total_usd is None else f"{cost.total_usd:,.0f}" + ("*" if cost.estimate else "")
        t.add_row(name, m.mode, str(m.cores), tiers, usd)
    c.print(t)
    if estimated:
        c.print("* priced with an estimate (hetier machines --json: cost_note says which price).")
    c.print("Use a preset name or your own machine .toml wherever --machine is asked; override a number "
            "with --set TIER.KEY=VALUE (e.g. --set dram.capacity_gb=16).")
    return 0


def _as_json(devices: bool, price_choice: str | None = None) -> list[dict]:
    """Device presets, or machine presets with their memory cost and the prices it used."""
    from hetier.simulator.prices import machine_cost
    from hetier.simulator.devices import device_presets, load_device
    from hetier.simulator.machines import load_machine, machine_presets

    if devices:
        return [{"preset": n, **load_device(n).to_dict()} for n in device_presets()]
    out = []
    for name in machine_presets():
        m = load_machine(name)
        cost = machine_cost(m, choice=price_choice)
        out.append({"preset": name, **m.to_dict(), "cost_usd": cost.total_usd, "cost_note": cost.note})
    return out
