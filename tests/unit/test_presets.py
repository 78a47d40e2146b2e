"""Presets are data: every preset loads, and results keep where each number comes from."""

import pytest

from hetier.errors import UsageError
from hetier.simulator.devices import device_from_dict, device_presets, load_device
from hetier.simulator.machines import load_machine, machine_from_dict, machine_presets


@pytest.mark.parametrize("name", list(device_presets()))
def test_every_device_preset_loads_and_cites_its_sources(name):
    d = load_device(name)
    assert d.source and all(isinstance(v, str) and v for v in d.source.values())
    assert d.to_dict()["source"] == d.source  # results keep the provenance


@pytest.mark.parametrize("name", list(machine_presets()))
def test_every_machine_preset_round_trips_with_its_sources(name):
    m = load_machine(name)
    back = machine_from_dict(m.to_dict())
    assert back == m and back.to_dict() == m.to_dict()
    assert m.source and m.to_dict()["source"] == m.source
    assert [t["source"] for t in m.to_dict()["tiers"]] == [d.source for _, d in m.tiers]


def test_a_machine_source_table_is_carried(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('cores = 4\nllc_mb = 8\n[source]\ncores = "my lab machine, lscpu"\n'
                 '[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n')
    assert load_machine(str(f)).to_dict()["source"] == {"cores": "my lab machine, lscpu"}
    f.write_text('cores = 4\nllc_mb = 8\nsource = 3\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n')
    with pytest.raises(UsageError, match=r"m.toml: source must be a table \(got 3\)"):
        load_machine(str(f))


def test_device_preset_keys_and_device_fields_agree():
    """A device field is a dataclass field plus its key's rule: the two lists cannot drift apart
    (capacity is given in GB; the bandwidth scales are what-if knobs applied to the curves)."""
    from dataclasses import fields

    from hetier.simulator.devices import Device
    from hetier.validation import DEVICE

    keys = set(DEVICE.fields) - {"capacity_gb", "read_bw_scale", "write_bw_scale"}
    assert keys == {f.name for f in fields(Device)} - {"capacity_bytes"}
    d = load_device("optane-100-6dimm")
    assert device_from_dict(d.to_dict(), "round trip") == d
