"""The validation layer on the surfaces issue 22 found open: measured-runs CSVs (fit's input,
confirm's records), stack profiles and --stack-set, each finding reproduced as a case."""

import pytest

from hetier.errors import UsageError
from hetier.formats.measured import load_measured
from hetier.simulator.stack import load_stack

HEAD = "model,width,resolution,batch,poly_modulus,primes,machine,policy,threads,peak_gb,seconds\n"
ROW = "mobilenetv2,0.35,96,2048,4096,30;22;22;30,ref-dram-only,all-dram,48,71,5000\n"


def test_layer_kinds_are_the_models():
    from hetier.models.ir import LEVEL_COST
    from hetier.validation import LAYER_KINDS

    assert set(LAYER_KINDS) == set(LEVEL_COST)


def test_a_good_csv_and_a_byte_order_mark(tmp_path):
    f = tmp_path / "m.csv"
    f.write_bytes(("\ufeff" + HEAD + ROW).encode())  # a BOM used to read as "missing column model"
    [r] = load_measured(f)
    assert (r.model, r.options, r.primes, r.seconds) == ("mobilenetv2", (("resolution", 96.0), ("width", 0.35)),
                                                         (30, 22, 22, 30), 5000.0)


@pytest.mark.parametrize("text, msg", [
    (HEAD + ROW.replace(",5000", ",1e-308"), "m.csv:2: seconds must be >= 1e-06"),
    (HEAD + ROW.replace(",5000", ",1e308"), "m.csv:2: seconds must be <= 1e+09"),
    (HEAD + ROW.replace(",5000", ",nan"), "m.csv:2: seconds 'nan' is not a number"),
    (HEAD + ROW.replace(",96,", ",32.7,"), "m.csv:2: resolution must be a whole number"),
    (HEAD + ROW.replace(",4096,", ",5000,"), "m.csv:2: poly_modulus must be a power of two"),
    (HEAD + ROW.replace("30;22;22;30", "30,22,22,30"), "fields, the header has 11"),
    (HEAD + ROW.replace(",48,", ",1e9,"), "m.csv:2: threads must be <= 4096"),
    (HEAD + "mobilenetv2,0.35\n", "m.csv:2: 2 fields, the header has 11"),  # a short row
    (HEAD.replace("seconds", "seconds,seconds") + ROW.replace("\n", ",1\n"), "column(s) seconds appear twice"),
    (HEAD + ROW.replace("ref-dram-only", "x" * 3000), "m.csv:2: machine is longer than 2000 characters"),
    (HEAD + ROW * 1001, "has 1001 runs; at most 1000"),
    (HEAD.replace("\n", ",options\n") + ROW.replace("\n", ",activation\n"), "options 'activation' is not key=value"),
])
def test_bad_measured_runs_are_one_line(tmp_path, text, msg):
    f = tmp_path / "m.csv"
    f.write_text(text)
    with pytest.raises(UsageError, match=".*") as e:
        load_measured(f)
    assert msg in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("override, msg", [
    ("compute_scale=1e300", "'compute_scale' must be a number in [1e-06, 1e+06] (got 1e+300)"),  # looped forever
    ("serial_ns_per_output=1e300", "'serial_ns_per_output' must be a number in [0, 1e+09] (got 1e+300)"),
    ('name="a\\nb"', "'name' must be one line of at most 200 characters"),  # fit -o wrote TOML it could not read
    ('single_thread_kinds=["maxpol"]', "'single_thread_kinds' names unknown layer kind 'maxpol' (known: input, conv2d"),
    ('name="' + "n" * 300 + '"', "'name' must be one line of at most 200 characters"),
])
def test_stack_values_have_finite_ranges(override, msg):
    with pytest.raises(UsageError) as e:
        load_stack("hetier", [override])
    assert msg in str(e.value)


def test_presets_pass_the_stack_rules():
    for name in ("hetier", "he-transformer"):
        assert load_stack(name).name == name


@pytest.mark.parametrize("argv, msg", [
    (["--size-mb", "100000000"], "--size-mb must be <= 65536"),  # the worker died, the parent waited
    (["--repeat", "0"], "--repeat must be >= 1"),
])
def test_calibrate_memory_sizes_are_bounded(argv, msg, tmp_path, capsys):
    from tests.helpers import run_cli

    code, _, err = run_cli(["calibrate", "--memory", *argv, "-o", str(tmp_path / "c.toml")], capsys)
    assert code == 2 and msg in err and not (tmp_path / "c.toml").exists()


@pytest.mark.parametrize("name, text, argv, msg", [
    ("m.toml", "a = " + "[" * 100_000 + "]" * 100_000, ["replay", "{TRACE}", "--machine", "{f}"], "nested too deeply"),
    ("c.json", '{"magic": ' + "[" * 100_000 + "]" * 100_000 + "}",
     ["trace", "mlp", "--mode", "plan", "--cost-file", "{f}", "-o", "{d}/t.arrow"], "is not JSON"),
])
def test_deep_nesting_is_one_line(name, text, argv, msg, tmp_path, capsys):
    from tests.cli.test_sweep import TRACE
    from tests.helpers import run_cli

    f = tmp_path / name
    f.write_text(text)
    code, _, err = run_cli([a.format(TRACE=TRACE, f=f, d=tmp_path) for a in argv], capsys)
    assert code == 2 and msg in err and "Traceback" not in err and err.count("\n") == 1, err
