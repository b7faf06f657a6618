"""Entropy / MI / CMI estimators of experio.emergence: known values, formulas, batching, errors."""

import numpy as np
import pytest

from experio.emergence import (
    EmergenceInputError,
    conditional_mutual_information,
    entropy,
    joint,
    mutual_information,
    quantile_bin,
)


def test_plugin_known_values():
    assert entropy([0, 1, 2, 3]) == pytest.approx(2.0)
    assert entropy([0, 0, 0, 1]) == pytest.approx(0.8112781245)
    x = np.array([0, 0, 1, 1] * 5)
    y = np.array([0, 1, 0, 1] * 5)
    assert mutual_information(x, x) == pytest.approx(1.0)
    assert mutual_information(x, y) == pytest.approx(0.0, abs=1e-12)
    assert mutual_information(x, x ^ y) == pytest.approx(0.0, abs=1e-12)
    assert conditional_mutual_information(x, x ^ y, y) == pytest.approx(1.0)  # XOR: given Y, X^Y tells X


def test_miller_madow_and_jeffreys_formulas():
    x = np.array([0, 0, 0, 1, 1, 2])  # counts 3, 2, 1; N = 6, m = 3 non-empty cells
    p = np.array([3, 2, 1]) / 6
    h = -np.sum(p * np.log2(p))
    assert entropy(x, estimator="miller_madow") == pytest.approx(h + (3 - 1) / (2 * 6 * np.log(2)))
    pj = (np.array([3, 2, 1]) + 0.5) / (6 + 1.5)  # Dirichlet(1/2) over the K = 3 observed values
    assert entropy(x, estimator="jeffreys") == pytest.approx(-np.sum(pj * np.log2(pj)))
    # MI is the same combination of entropies under each estimator
    y = np.array([1, 0, 1, 0, 1, 1])
    for est in ("plugin", "miller_madow", "jeffreys"):
        expect = entropy(x, estimator=est) + entropy(y, estimator=est) - entropy(joint(x, y), estimator=est)
        if est == "jeffreys":  # joint alphabet = 3 x 2 cells, not only the observed pairs
            c = np.zeros(6)
            for a, b in zip(x, y):
                c[a * 2 + b] += 1
            pj = (c + 0.5) / (6 + 3)
            expect = entropy(x, estimator=est) + entropy(y, estimator=est) + np.sum(pj * np.log2(pj))
        assert mutual_information(x, y, estimator=est) == pytest.approx(expect)


def test_bias_corrections_reduce_bias_on_independent_data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(2000, 30))
    y = rng.integers(0, 4, size=(2000, 30))
    plug = mutual_information(x, y).mean()
    mm = mutual_information(x, y, estimator="miller_madow").mean()
    assert plug > 0.2  # plug-in MI of independent variables is biased upwards at 30 samples
    assert abs(mm) < plug / 2


def test_batch_equals_loop_and_broadcasts():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(7, 50))
    y = rng.integers(0, 3, size=(7, 50))
    z = rng.integers(0, 2, size=(7, 50))
    for est in ("plugin", "miller_madow"):
        got = conditional_mutual_information(x, y, z, estimator=est)
        loop = [conditional_mutual_information(a, b, c, estimator=est) for a, b, c in zip(x, y, z)]
        np.testing.assert_allclose(got, loop, atol=1e-12)
    np.testing.assert_allclose(mutual_information(x, y[0]), [mutual_information(a, y[0]) for a in x], atol=1e-12)


def test_weights_express_exact_distributions():
    # P(x, y): (0,0) 0.4, (1,1) 0.4, (0,1) 0.1, (1,0) 0.1  -> I = 1 - H(0.2)
    x, y, w = np.array([0, 1, 0, 1]), np.array([0, 1, 1, 0]), np.array([0.4, 0.4, 0.1, 0.1])
    h02 = -(0.2 * np.log2(0.2) + 0.8 * np.log2(0.8))
    assert mutual_information(x, y, weights=w) == pytest.approx(1 - h02)
    with pytest.raises(EmergenceInputError, match="frequency weights"):
        mutual_information(x, y, weights=w, estimator="miller_madow")


def test_quantile_bin():
    assert quantile_bin([10, 40, 20, 30, 50, 0], bins=3).tolist() == [0, 2, 1, 1, 2, 0]
    # ties stay together and a skewed binary column stays binary
    assert quantile_bin([1, 1, 1, 1, 1, 1, 1, 0, 0, 1], bins=2).tolist() == [1, 1, 1, 1, 1, 1, 1, 0, 0, 1]
    cols = quantile_bin(np.array([[1.0, 100.0], [2.0, 300.0], [3.0, 200.0], [4.0, 400.0]]), bins=2, axis=0)
    assert cols.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]  # each column by its own quantiles


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: entropy([0.5, 1.5, 2.0]), "integer codes"),
        (lambda: mutual_information([0, 1, 0], [0, 1]), "same number of samples"),
        (lambda: entropy([1]), "at least 2"),
        (lambda: entropy([0, 1], estimator="magic"), "unknown estimator"),
        (lambda: quantile_bin([1.0, np.nan], bins=2), "NaN"),
        (lambda: quantile_bin([1.0, 2.0], bins=1), "bins"),
    ],
)
def test_errors_are_precise(call, message):
    with pytest.raises(EmergenceInputError, match=message):
        call()
