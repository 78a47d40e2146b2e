"""`hetier` verbs through main([...]): exit codes and one-line errors, never a traceback."""

import pytest

from tests.helpers import CT, GOOD_ROWS, tiny_meta, write_tiny, run_cli as run, truncated_tiny


@pytest.mark.parametrize("argv, msg", [
    (["trace", "vgg", "-o", "{d}/t.arrow"], "model 'vgg' unknown (known: mlp, cryptonets"),
    (["trace", "mlp", "--poly-modulus", "5000", "-o", "{d}/t.arrow"], "N=5000 is not a power of two"),
    (["trace", "mlp", "--activation", "relu", "--batch", "4096", "-o", "{d}/t.arrow"],
     "batch 4096 must be between 1 and N/2 = 2048"),
    (["trace", "cryptonets", "--primes", "30,22,22,30", "-o", "{d}/t.arrow"],
     "needs 5 levels between refreshes; primes [30, 22, 22, 30] give 2"),
    (["trace", "mobilenetv2", "--width", "0.6", "-o", "{d}/t.arrow"], "width 0.6 unknown"),
    (["trace", "cryptonets", "--width", "0.5", "-o", "{d}/t.arrow"],
     "model 'cryptonets' does not take --width (its options: --classes)"),
    (["trace", "resnet18", "--depth", "50", "-o", "{d}/t.arrow"],
     "model 'resnet18' does not take --depth (its options: --resolution, --classes, --width)"),
    (["trace", "mlp", "--granularity", "layer", "-o", "{d}/t.arrow"], "granularity 'layer' unknown"),
    (["trace", "mlp", "-o", "/proc/hetier/t.arrow"], "cannot create output folder"),
    (["info", "{d}/missing.arrow"], "trace '{d}/missing.arrow' not found"),
    (["check", "{d}"], "is a directory"),
])
def test_bad_input_gets_one_line_and_nonzero_exit(argv, msg, tmp_path, capsys):
    argv = [a.format(d=tmp_path) for a in argv]
    code, out, err = run(argv, capsys)
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err
    assert msg.format(d=tmp_path) in err
    assert not (tmp_path / "t.arrow").exists()


def test_existing_output_is_refused_without_force(tmp_path, capsys):
    target = tmp_path / "t.arrow"
    target.write_text("user data")
    code, _, err = run(["trace", "mlp", "--activation", "relu", "--batch", "2", "-o", str(target)], capsys)
    assert code == 2 and "exists (use --force to overwrite)" in err
    assert target.read_text() == "user data"
    code, _, err = run(["trace", "mlp", "--activation", "relu", "--batch", "2", "-o", str(target), "--force"], capsys)
    assert code == 0, err
    assert "max |decrypted - numpy reference|" in err
    assert run(["check", str(target)], capsys)[0] == 0


def test_info_prints_peak_and_tables(tmp_path, capsys):
    p = write_tiny(tmp_path / "t.arrow", GOOD_ROWS)
    code, out, _ = run(["info", p], capsys)
    assert code == 0
    assert f"peak live {2 * CT / 1e6:,.3f} MB" in out  # buffers 0 and 1 overlap
    assert "events 11" in out and "layer op1" in out


def test_check_flags_violations(tmp_path, capsys):
    rows = GOOD_ROWS[:-3] + [
        (7, "read", 0, CT),  # buffer 0 was freed at row 6
        (8, "free", 0, CT),  # ... and is freed again
        (9, "write", 42, CT),  # never allocated
        (10, "op_end", -1, 0, 0, "none", -1, 1),
    ]
    p = write_tiny(tmp_path / "bad.arrow", rows)
    code, out, _ = run(["check", p], capsys)
    assert code == 1
    assert "access to freed buffer: 2" in out
    assert "access to unknown buffer: 1" in out
    assert "live at end: 1" in out  # buffer 1 is never freed


def test_check_reports_truncation(tmp_path, capsys):
    code, out, _ = run(["check", truncated_tiny(tmp_path)], capsys)
    assert code == 1 and "truncated after batch 1" in out


def test_wrong_version_is_one_line(tmp_path, capsys):
    p = write_tiny(tmp_path / "t.arrow", GOOD_ROWS, tiny_meta(format_version=9))
    code, _, err = run(["info", p], capsys)
    assert code == 1 and "trace format 9; this hetier reads 1-2" in err


def test_plan_mode_and_its_errors(tmp_path, capsys):
    out = tmp_path / "p.arrow"
    code, _, err = run(["trace", "mobilenetv2", "--width", "0.35", "--resolution", "96", "--batch", "2048",
                        "--mode", "plan", "-o", str(out)], capsys)
    assert code == 0, err
    assert "planned events" in err and "durations modelled" in err
    code, stdout, _ = run(["info", str(out)], capsys)
    assert "mode plan (durations modelled: default.json" in stdout
    code, _, err = run(["trace", "cryptonets", "--mode", "plan", "--granularity", "ciphertext", "--max-events", "1000",
                        "-o", str(tmp_path / "c.arrow")], capsys)
    assert code == 2 and "over --max-events 1,000" in err and err.count("\n") == 1
    code, _, err = run(["trace", "mlp", "--mode", "plan", "--cost-file", str(tmp_path / "none.json"),
                        "-o", str(tmp_path / "m.arrow")], capsys)
    assert code == 2 and "cost file" in err and "not found" in err
    code, _, err = run(["trace", "mobilenetv2", "--width", "0.35", "--resolution", "16", "--mode", "plan",
                        "-o", str(tmp_path / "x.arrow")], capsys)
    assert code == 2 and "resolution 16 too small" in err


def test_calibrate_writes_a_labelled_cost_file(tmp_path, capsys):
    out = tmp_path / "c.json"
    code, _, err = run(["calibrate", "--he", "--params", "4096:30,22,30:4", "--reps", "2", "--seconds", "0",
                        "-o", str(out)], capsys)
    assert code == 0, err
    import json

    doc = json.loads(out.read_text())
    assert doc["generated_by"] == "hetier calibrate --he"
    e = doc["entries"][0]
    assert e["timing"]["rounds"] == 5 and e["timing"]["statistic"] == "mean"  # --seconds 0: the 5 rounds
    assert (e["poly_modulus"], e["primes"], e["batch"]) == (4096, [30, 22, 30], 4)
    assert e["ns"]["ENCRYPT"]["2"] > e["ns"]["ADD_NEW"]["2"] > 0
    code, _, err = run(["calibrate", "--he", "--params", "4096:30,22", "-o", str(tmp_path / "d.json")], capsys)
    assert code == 2 and "must look like N:PRIMES:BATCH" in err


def test_help_keeps_example_commands_on_their_own_lines(capsys):
    from hetier.cli.main import main

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines()]
    assert "Examples: hetier export t.arrow --format perfetto [results.arrow ...] -o t.json" in lines
    assert "hetier export t.arrow --format parquet -o t.parquet" in lines


def test_the_verb_list_gives_each_verb_its_whole_first_sentence(capsys):
    """`hetier --help` showed the first line of a docstring, so two summaries stopped mid-sentence
    ("... time by layer), or the")."""
    import argparse

    from hetier.cli.main import VERBS, build_parser, main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "or the runs of a results file (hetier replay -o) or a sweep directory: one row per run." in out
    assert "every override a column), Parquet or CSV." in out
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    assert sorted(helps) == sorted(VERBS) and all(h.endswith(".") for h in helps.values()), helps
