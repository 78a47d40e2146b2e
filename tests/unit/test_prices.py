"""Memory prices: DIMMs per GB plus the controller cards a CXL expander needs, and named choices."""

from __future__ import annotations

import pytest

from hetier.errors import UsageError
from hetier.simulator.machines import load_machine
from hetier.simulator.prices import Card, Price, load_prices, machine_cost, price_choices, tier_cost


def test_a_cxl_expander_costs_its_dimms_plus_one_card_per_512_gb():
    c = machine_cost(load_machine("ddr5-cxl"))  # 512 GB DDR5 + 256 GB CXL expander
    assert dict(c.tiers) == {"dram": 512 * 17.29, "cxl": round(256 * 17.29 + 1000.0, 2)}
    assert c.total_usd == round(512 * 17.29 + 256 * 17.29 + 1000.0, 2) == 14278.72
    assert c.estimate and "card cxl-x16-aic 1,000 USD per 512 GB (2026-12-06, estimate)" in c.note


def test_the_reused_dimms_choice_pays_for_the_card_only():
    c = machine_cost(load_machine("ddr5-cxl"), choice="reused-dimms")
    assert dict(c.tiers) == {"dram": 8852.48, "cxl": 1000.0}
    assert c.note.startswith("price choice reused-dimms: ") and "(reused DIMMs)" in c.note
    assert machine_cost(load_machine("ddr5-dram-only"), choice="reused-dimms").total_usd == 8852.48
    assert not machine_cost(load_machine("ddr5-dram-only")).estimate  # a DDR5-only box has no estimate in it
    assert "reused-dimms" in price_choices()


def test_whole_cards_per_capacity():
    card = Card("c", 1000.0, 512.0, "2026", "s")
    p = Price(2.0, "2026", "s", card=card)
    assert [tier_cost(gb, p) for gb in (0, 1, 512, 513, 1024, 1536.5)] == [0.0, 1002.0, 2024.0, 3026.0, 4048.0, 7073.0]
    assert tier_cost(100, Price(2.0, "2026", "s")) == 200.0


GOOD = '''
[cards.k]
usd = 500
gb_per_card = 128
date = "2026"
source = "a quote"

[prices.cxl]
usd_per_gb = 10
card = "k"
date = "2026"
source = "a quote"

[prices.cxl-owned]
usd_per_gb = 0
reused = true
card = "k"
date = "2026"
source = "owned"

[prices.ddr5]
usd_per_gb = 20
date = "2026"
source = "a quote"

[devices]
"ddr5-4800-8ch" = "ddr5"
"cxl-expander-x16" = "cxl"

[choices.owned]
description = "DIMMs we own"
devices = { "cxl-expander-x16" = "cxl-owned" }
'''


def test_a_users_price_file_with_cards_and_a_choice(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text(GOOD)
    m = load_machine("ddr5-cxl")
    assert machine_cost(m, str(f)).total_usd == 512 * 20 + 256 * 10 + 2 * 500
    assert machine_cost(m, str(f), "owned").total_usd == 512 * 20 + 2 * 500


@pytest.mark.parametrize("change, message", [
    (('usd_per_gb = 0\nreused = true', 'usd_per_gb = 0'), "needs a positive usd_per_gb (0 only with reused = true)"),
    (('card = "k"\ndate', 'card = "nope"\ndate'), "names card 'nope', which is not defined"),
    (("usd = 500", "usd = -1"), "cards.k.usd must be >= 0 (got -1)"),
    (("usd = 500", "usd = nan"), "cards.k.usd must be a finite number (got nan)"),
    (("gb_per_card = 128", "gb_per_card = 0"), "cards.k.gb_per_card must be >= 1 (got 0)"),
    (("gb_per_card = 128", "gb_per_card = 128\ncolour = 1"), "unknown card key(s) colour in cards.k"),
    (('description = "DIMMs we own"\n', ''), "missing 'description' in choices.owned"),
    (('"cxl-expander-x16" = "cxl-owned"', '"cxl-expander-x16" = "gone"'), "device 'cxl-expander-x16' names price 'gone'"),
])
def test_bad_price_files_are_refused_in_one_line(tmp_path, change, message):
    old, new = change
    f = tmp_path / "p.toml"
    f.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(UsageError) as e:
        load_prices(str(f), "owned")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_an_unknown_choice_is_refused():
    with pytest.raises(UsageError, match=r"no price choice 'nope' \(choices: reused-dimms\)"):
        load_prices(choice="nope")


def test_the_cheapest_answer_says_when_a_box_is_priced_with_an_estimate():
    import pyarrow as pa

    from hetier.analysis.sweep import cheapest_within

    def row(machine, policy, time_s, cost, note):
        return {"trace": "t", "threads": 1, "machine": machine, "policy": policy, "status": "ok", "time_s": time_s,
                "cost_usd": cost, "cost_note": note, "machine_json": None}

    rows = [row("dram", "all-dram", 10.0, 2000.0, "ddr5 17.29 USD/GB (2025-12-28)"),
            row("hyb", "dram-first", 10.5, 1500.0, "ddr5 ...; cxl-expander ... + card (2026-12-06, estimate)")]
    [pick] = cheapest_within(pa.Table.from_pylist(rows), 0.10)
    assert (pick.label, pick.estimate) == ("hyb dram-first x1", True)
    [pick] = cheapest_within(pa.Table.from_pylist(rows[:1]), 0.10)
    assert (pick.label, pick.estimate) == ("dram all-dram x1", False)


@pytest.mark.parametrize("text, message", [
    ("prices = 3", "prices must be a table (got 3)"), ("[prices]\nx = 3", "prices.x must be a table (got 3)"),
    ('[devices]\n"ddr5-4800-8ch" = 3', "devices.ddr5-4800-8ch must be a string (got 3)"), ("cards = [1]", "cards must be a table (got [1])"),
    ('[prices.x]\nusd_per_gb = 1\ndate = "d"\nsource = "s"\ncard = 3', "prices.x.card must be a string (got 3)"),
    ("", "holds no prices"), ("[cards]\n[devices]", "holds no prices"),
    ('name = "ddr5-dram-only"\ncores = 8', "not a price file (unknown key(s) cores, name;"),
    ('[prices.x]\nusd_per_gb = 1\ndate = "d"', "missing 'source' in prices.x"),
    ('[prices.x]\nusd_per_gb = 1\ndate = "d"\nsource = ""', "prices.x.source must not be empty"),
    ('[prices."a\\nb"]\nusd_per_gb = 1\ndate = "d"\nsource = "s"', "prices key must be one line without control characters"),
])
def test_price_files_of_the_wrong_shape_are_refused(tmp_path, text, message):
    f = tmp_path / "p.toml"
    f.write_text(text)
    with pytest.raises(UsageError) as e:
        load_prices(str(f))
    assert message in str(e.value)
