"""fit's findings: duplicate --free names, a fit that leaves the profile's ranges (no statistic
printed for it), no leave-one-out number it did not compute, a profile it writes loads again."""

import pytest

from tests.helpers import run_cli as run

HEAD = "model,width,resolution,batch,poly_modulus,primes,machine,policy,threads,peak_gb,seconds,options\n"
MLP = "mlp,,,4,4096,30;22;30,dram-only,all-dram,1,0.2,{s},activation=relu;classes=10;hidden=32;inputs=64;seed=0\n"


def test_duplicate_free_names_are_refused(capsys):
    code, _, err = run(["fit", "--stack", "he-transformer", "--free", "compute_scale,compute_scale"], capsys)
    assert code == 2 and "--free names compute_scale twice" in err


def test_no_loo_prints_no_leave_one_out_number(tmp_path, capsys):
    f = tmp_path / "runs.csv"
    f.write_text(HEAD + MLP.format(s=0.9) + MLP.format(s=1.1))
    code, out, err = run(["fit", str(f), "--stack", "hetier", "--free", "compute_scale", "--no-loo",
                          "-o", str(tmp_path / "p.toml")], capsys)
    assert code == 0, err
    assert "leave-one-out not computed (--no-loo)" in out and "nan" not in out
    text = (tmp_path / "p.toml").read_text()
    assert "rms_error = " in text and "loo_rms_error" not in text


def test_a_fit_outside_the_ranges_is_refused(tmp_path, capsys):
    f = tmp_path / "runs.csv"
    f.write_text(HEAD + MLP.format(s=1e8))  # would need compute_scale near 1e8: not a stack, a wrong measurement
    code, out, err = run(["fit", str(f), "--stack", "hetier", "--free", "compute_scale", "--no-loo"], capsys)
    assert code == 1 and "the fit did not converge to a usable profile ('compute_scale' must be a number in [1e-06, 1e+06]" in err
    assert "RMS error" not in out


def test_times_below_the_memory_floor_are_refused(tmp_path, capsys):
    """Runs faster than the replay's memory time alone (0.05 s for this mlp at compute_scale 0.001)
    used to 'fit' compute_scale = 4e-8 and print its error as a result."""
    f = tmp_path / "runs.csv"
    f.write_text(HEAD.replace(",options", "") + "mlp,,,8,8192,30;22;22;22;30,dram-only,all-dram,4,0.1,0.02\n")
    code, out, err = run(["fit", str(f), "--stack", "hetier", "--free", "compute_scale", "--no-loo"], capsys)
    assert code == 1 and "'compute_scale' must be a number in [1e-06, 1e+06] (got 5.6" in err and "RMS error" not in out


def test_a_stack_description_on_two_lines_is_refused(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text('name = "x"\ndescription = "two\\nlines"\n')
    code, _, err = run(["fit", "--stack", str(f), "--free", "compute_scale"], capsys)
    assert code == 2 and "'description' must be one line of at most 2000 characters" in err




def test_a_held_out_model_is_predicted_not_fitted(tmp_path, capsys):
    """--hold-out-model: the fit ignores that model's runs and predicts them with its values."""
    f = tmp_path / "runs.csv"
    cryptonets = "cryptonets,,,4,8192,30;22;22;22;22;22;30,dram-only,all-dram,1,0.2,{s},\n"
    f.write_text(HEAD + MLP.format(s=0.9) + MLP.format(s=1.1) + cryptonets.format(s=1e6))
    code, out, err = run(["fit", str(f), "--stack", "hetier", "--free", "compute_scale", "--no-loo",
                          "--hold-out-model", "cryptonets", "-o", str(tmp_path / "p.toml")], capsys)
    assert code == 0, err
    text = (tmp_path / "p.toml").read_text()
    assert 'held_out_models = ["cryptonets"]' in text and "--hold-out-model cryptonets" in text
    # the 1e6 s cryptonets run would have dragged compute_scale up; held out, it is only predicted
    assert "held_out_errors = [-0.99" in text
    code, _, err = run(["fit", str(f), "--stack", "hetier", "--hold-out-model", "resnet50"], capsys)
    assert code == 2 and "--hold-out-model resnet50: no run of that model in runs.csv" in err
    f.write_text(HEAD + MLP.format(s=0.9))
    code, _, err = run(["fit", str(f), "--stack", "hetier", "--hold-out-model", "mlp"], capsys)
    assert code == 2 and "--hold-out-model holds out every run: nothing left to fit" in err
