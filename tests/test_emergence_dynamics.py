"""TDMI, Psi / Delta / Gamma on the Rosas toy systems, pairwise capacity, I3, nulls."""

import numpy as np
import pytest

from experio.emergence import (
    EmergenceInputError,
    emergence_criteria,
    emergence_criteria_series,
    pair_emergence_capacity,
    tdmi,
)
from experio.emergence.dynamics import batch_triples, p_value, row_shuffle, time_shift
from experio.emergence.toys import Transitions, causal_decoupling, downward_causation


def h2(p):
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def exact(system):
    return emergence_criteria(system.now, system.next, system.macro(system.now), system.macro(system.next), weights=system.prob)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_causal_decoupling_exact(n):
    r = exact(causal_decoupling(n=n, gamma=0.99))
    assert r["psi"] == pytest.approx(1 - h2(0.01), abs=1e-12)  # 0.9192
    assert r["psi"] == pytest.approx(0.919, abs=5e-4)
    assert r["gamma"] == pytest.approx(0.0, abs=1e-12)  # Psi > 0 and Gamma = 0: causal decoupling
    assert r["delta"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_downward_causation_exact(n):
    r = exact(downward_causation(n=n))
    assert r["psi"] == pytest.approx(0.0, abs=1e-12)
    assert r["delta"] == pytest.approx(1.0, abs=1e-12)
    assert r["gamma"] == pytest.approx(1.0, abs=1e-12)
    noisy = exact(downward_causation(n=n, gamma=0.9))
    assert noisy["delta"] == pytest.approx(1 - h2(0.1), abs=1e-12)


def test_rosas_systems_from_samples():
    """Sampled series (200k rounds) reach the limit values within 0.01 bits (plug-in bias ~1e-4)."""
    rng = np.random.default_rng(0)
    x = causal_decoupling(3, 0.99).sample(200_000, rng)
    r = emergence_criteria_series(x, Transitions.macro(x))
    assert r["psi"] == pytest.approx(0.919, abs=0.01)
    assert r["gamma"] == pytest.approx(0.0, abs=0.01)
    x = downward_causation(3).sample(200_000, rng)
    r = emergence_criteria_series(x, Transitions.macro(x))
    assert (r["psi"], r["delta"], r["gamma"]) == pytest.approx((0.0, 1.0, 1.0), abs=0.01)


def test_tdmi():
    assert tdmi([0, 1, 0, 1, 0, 1, 0, 1, 0]) == pytest.approx(1.0)
    assert tdmi([0, 0, 1, 1, 0, 0, 1, 1, 0, 0], lag=2) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    assert tdmi(rng.integers(0, 2, 100_000)) == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(EmergenceInputError, match="lag"):
        tdmi([0, 1], lag=1)


def test_pair_capacity_sees_synergy_and_the_copy_trap():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(5000, 2))
    for t in range(len(x) - 1):
        x[t + 1, 0] = x[t, 0] ^ x[t, 1]  # X1' = X1 xor X2: synergy 1 bit
    assert pair_emergence_capacity(x)["capacity"] == pytest.approx(1.0, abs=0.01)
    # COPY dynamics: each agent repeats its own state (flipped with probability 0.2). Exact I_min
    # atoms: Red = I(S_i;T) = 1 - H(0.2), Unq = 0, Syn = 2 (1 - H(0.2)) - Red = 1 - H(0.2)
    y = np.zeros((200_000, 2), dtype=int)
    y[0] = (0, 1)
    flips = rng.random((200_000, 2)) < 0.2
    for t in range(len(y) - 1):
        y[t + 1] = y[t] ^ flips[t + 1]
    imin = pair_emergence_capacity(y, measure="imin")["capacity"]
    broja = pair_emergence_capacity(y, measure="broja")["capacity"]
    ccs = pair_emergence_capacity(y, measure="ccs")["capacity"]
    assert imin == pytest.approx(1 - h2(0.2), abs=0.01)  # the trap: self-persistence read as synergy
    assert broja < 0.01 and abs(ccs) < 0.01


def test_triples_on_a_known_system():
    # V_{t+1} = x1 xor x2 xor x3 of the current round: only the triple knows it
    rng = np.random.default_rng(2)
    t, n = 4000, 4
    x = rng.integers(0, 2, size=(1, t, n))
    v = np.zeros((1, t), dtype=int)
    v[0, 1:] = x[0, :-1, 0] ^ x[0, :-1, 1] ^ x[0, :-1, 2]
    r = batch_triples(x, v, np.ones((1, t), bool), 2, 2)
    # triples in order (0,1,2), (0,1,3), (0,2,3), (1,2,3)
    assert r["i3"][0, 0] == pytest.approx(1.0, abs=0.01)
    assert r["g3"][0, 0] == pytest.approx(1.0, abs=0.01)  # no pair knows anything
    assert r["stability"][0, 0] == pytest.approx(1.0, abs=0.01)
    assert np.all(r["i3"][0, 1:] < 0.01)


def test_nulls_keep_what_they_should():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 50, size=(4, 10, 5)).astype(float)
    lengths = np.array([10, 8, 10, 6])
    rows = row_shuffle(values, rng, 7)
    assert rows.shape == (7, 4, 10, 5)
    np.testing.assert_array_equal(np.sort(rows, axis=-1), np.broadcast_to(np.sort(values, axis=-1), rows.shape))
    shifted = time_shift(values, lengths, rng, 7)
    for g, L in enumerate(lengths):  # each agent's valid series is a rotation of itself
        for s in range(7):
            for j in range(5):
                col, orig = shifted[s, g, :L, j], values[g, :L, j]
                assert any(np.array_equal(col, np.roll(orig, -k)) for k in range(1, L))
    assert p_value(np.array(5.0), np.array([1.0, 2.0, 6.0])) == pytest.approx(2 / 4)
