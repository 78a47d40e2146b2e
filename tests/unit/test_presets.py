"""Presets are data: every preset loads, and results keep where each number comes from."""

from dataclasses import replace

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


def test_machine_fields_are_the_declared_keys():
    """Each Machine field is one declaration of hetier.validation.MACHINE_KEYS (its default, its
    Python type and the file's rules come from there); the results schema names the same fields."""
    from dataclasses import MISSING, fields

    from hetier.simulator.machine import Machine
    from hetier.validation import MACHINE, MACHINE_KEYS, MACHINE_OVERRIDE, RESULTS_RUN

    assert [f.name for f in fields(Machine)] == [k.name for k in MACHINE_KEYS]
    assert all(f.metadata["key"].name == f.name for f in fields(Machine))
    assert {f.name: f.type for f in fields(Machine)} == {
        "name": "str", "mode": "str", "tiers": "tuple[tuple[str, Device], ...]", "cores": "int", "llc_bytes": "int",
        "mm_miss_penalty_ns": "float", "cache_block_bytes": "int", "page_bytes": "int", "description": "str",
        "source": "dict"}
    assert all(f.type.startswith(k.type.__name__) for f, k in zip(fields(Machine), MACHINE_KEYS))
    assert {f.name: f.default for f in fields(Machine) if f.default is not MISSING} == {
        "mode": "flat", "mm_miss_penalty_ns": 70.0, "cache_block_bytes": 4096, "page_bytes": 4096, "description": ""}
    assert list(MACHINE.fields) == ["name", "mode", "tiers", "cores", "llc_mb", "mm_miss_penalty_ns",
                                    "cache_block_bytes", "page_bytes", "description", "source"]
    assert MACHINE.required == ("tiers", "cores", "llc_mb")
    assert sorted(MACHINE_OVERRIDE.fields) == ["cache_block_bytes", "cores", "description", "llc_mb",
                                               "mm_miss_penalty_ns", "name", "page_bytes"]
    results = RESULTS_RUN.fields["machine"]
    assert sorted(results.fields) == sorted(f.name for f in fields(Machine))
    assert results.required == ("name", "mode", "tiers", "cores", "llc_bytes", "mm_miss_penalty_ns",
                                "cache_block_bytes")


def test_a_machine_file_loads_through_the_declarations(tmp_path):
    """Every declared key reaches its field (llc_mb in MiB -> llc_bytes), defaults where absent,
    and results keep old machines without the keys added later (page_bytes, description, source)."""
    f = tmp_path / "box.toml"
    f.write_text('cores = 6\nllc_mb = 1.5\nmm_miss_penalty_ns = 80\ncache_block_bytes = 65536\npage_bytes = 2097152\n'
                 'description = "a box"\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n')
    m = load_machine(str(f))
    assert (m.name, m.mode, m.cores, m.llc_bytes, m.mm_miss_penalty_ns, m.cache_block_bytes, m.page_bytes,
            m.description, m.source) == ("box", "flat", 6, 1_572_864, 80.0, 65536, 2_097_152, "a box", {})
    assert isinstance(m.mm_miss_penalty_ns, float) and isinstance(m.llc_bytes, int)
    f.write_text('cores = 6\nllc_mb = 1.5\n[[tiers]]\nname = "dram"\ndevice = "ddr4-2666-6ch"\n')
    plain = load_machine(str(f))
    assert (plain.mm_miss_penalty_ns, plain.cache_block_bytes, plain.page_bytes, plain.description) == (70.0, 4096,
                                                                                                       4096, "")
    old = {k: v for k, v in m.to_dict().items() if k not in ("page_bytes", "description", "source")}
    assert machine_from_dict(old) == replace(m, page_bytes=4096, description="")
