"""HE parameters, sizes and the depth check."""

import pytest

from hetier.errors import UsageError
from hetier.models.zoo import build
from hetier.tracer.params import HEParams
from hetier.tracer.session import choose_params


def test_reference_defaults_and_sizes():
    p = HEParams()
    assert (p.poly_modulus, p.primes, p.batch, p.levels) == (4096, (30, 22, 22, 30), 2048, 2)
    assert p.ct_bytes(3) == 2 * 4096 * 3 * 8 == 196608
    assert p.pt_bytes(2) == 65536
    assert p.key_bytes() == {"secret": 131072, "public": 262144, "relin": 786432}


@pytest.mark.parametrize("kw, msg", [
    (dict(poly_modulus=5000), "not a power of two"),
    (dict(batch=4096), "batch 4096 must be between 1 and N/2 = 2048"),
    (dict(primes=(60, 60, 60)), "allows 109"),
    (dict(scale_bits=30), "below the first prime"),
])
def test_bad_parameters_name_the_problem(kw, msg):
    with pytest.raises(UsageError, match=msg):
        HEParams(**kw)


def test_defaults_follow_model_depth():
    assert choose_params(build("mobilenetv2", width=0.35, resolution=32), 16, None, None, 22).primes == (30, 22, 22, 30)
    p = choose_params(build("cryptonets"), 64, None, None, 22)
    assert p.poly_modulus == 8192 and p.levels == 5


def test_too_little_depth_says_what_would_do():
    with pytest.raises(UsageError) as e:
        choose_params(build("cryptonets"), 64, 4096, [30, 22, 22, 30], 22)
    assert "needs 5 levels between refreshes" in str(e.value)
    assert "give 2" in str(e.value)
    assert "--poly-modulus 8192 --primes 30,22,22,22,22,22,30" in str(e.value)
