"""Known-answer systems: the Rosas et al. (2020) toy dynamics and the PID logic gates.

Each Rosas system is a stationary Markov chain on n bits, given exactly as a table of
transitions (x_t, x_{t+1}) with probabilities, with X_t uniform (stationary for both systems).
The macro signal is the parity V = x_1 xor ... xor x_n.

    >>> from experio.emergence.toys import causal_decoupling, downward_causation
    >>> from experio.emergence import emergence_criteria
    >>> s = downward_causation(n=3)
    >>> r = emergence_criteria(s.now, s.next, s.macro(s.now), s.macro(s.next), weights=s.prob)
    >>> {k: round(v, 6) for k, v in r.items()}
    {'psi': 0.0, 'delta': 1.0, 'gamma': 1.0}

- causal_decoupling(n, gamma): X_{t+1} is uniform over the states whose parity equals the
  parity of X_t with probability gamma (else the opposite parity). Then I(V_t;V_{t+1}) =
  1 - H(gamma) and every single bit is independent of the parity (n >= 2), so
  Psi = 1 - H(gamma) (0.919 for gamma = 0.99), Gamma = 0, Delta = 0.
- downward_causation(n, gamma=1): the next state of part 1 is the parity of X_t (kept with
  probability gamma, flipped otherwise); the other bits are fresh fair coins. The parity of
  X_{t+1} is then a fair coin, so Psi = 0, while V_t tells part 1's future:
  Delta = Gamma = 1 - H(gamma) (1 for gamma = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from .errors import EmergenceInputError


@dataclass(frozen=True)
class Transitions:
    """Exact joint distribution of (X_t, X_{t+1}) of a stationary chain on n bits."""

    now: np.ndarray  # (M, n) states x_t
    next: np.ndarray  # (M, n) states x_{t+1}
    prob: np.ndarray  # (M,) P(x_t, x_{t+1}), sums to 1

    @staticmethod
    def macro(x: np.ndarray) -> np.ndarray:
        """The macro signal used by these systems: parity of the bits, per row."""
        return np.bitwise_xor.reduce(np.asarray(x), axis=-1)

    def sample(self, rounds: int, rng: np.random.Generator) -> np.ndarray:
        """Simulate `rounds` steps of the chain from its stationary (uniform) start; (rounds, n)."""
        n = self.now.shape[1]
        states = np.array(list(product((0, 1), repeat=n)), dtype=np.int64)
        idx = lambda x: int("".join(map(str, x)), 2)  # noqa: E731  state -> row of `states`
        kernel = np.zeros((2**n, 2**n))
        for a, b, p in zip(self.now, self.next, self.prob):
            kernel[idx(a), idx(b)] += p
        kernel /= kernel.sum(axis=1, keepdims=True)
        cum = np.cumsum(kernel, axis=1)
        out = np.empty(rounds, dtype=np.int64)
        out[0] = rng.integers(2**n)
        u = rng.random(rounds)
        for t in range(1, rounds):
            out[t] = min(int(np.searchsorted(cum[out[t - 1]], u[t], side="right")), 2**n - 1)
        return states[out]


def _build(n: int, kernel) -> Transitions:
    if n < 2:
        raise EmergenceInputError(f"the Rosas toy systems need n >= 2 bits, got n={n}.")
    states = np.array(list(product((0, 1), repeat=n)), dtype=np.int64)
    now, nxt, prob = [], [], []
    for a in states:
        for b in states:
            p = kernel(a, b) / 2**n  # uniform stationary P(x_t) = 2^-n
            if p > 0:
                now.append(a), nxt.append(b), prob.append(p)
    return Transitions(np.array(now), np.array(nxt), np.array(prob))


def causal_decoupling(n: int = 3, gamma: float = 0.99) -> Transitions:
    """Parity of n bits preserved with probability gamma; everything else uniform."""
    if not 0.0 <= gamma <= 1.0:
        raise EmergenceInputError(f"gamma must lie in [0, 1], got {gamma}.")
    half = 2 ** (n - 1)  # number of states of each parity

    def kernel(a, b):
        same = a.sum() % 2 == b.sum() % 2
        return (gamma if same else 1.0 - gamma) / half

    return _build(n, kernel)


def downward_causation(n: int = 3, gamma: float = 1.0) -> Transitions:
    """Part 1's next state = parity of X_t (with probability gamma); other bits fair coins."""
    if not 0.0 <= gamma <= 1.0:
        raise EmergenceInputError(f"gamma must lie in [0, 1], got {gamma}.")

    def kernel(a, b):
        hit = b[0] == a.sum() % 2
        return (gamma if hit else 1.0 - gamma) / 2 ** (n - 1)

    return _build(n, kernel)


def gate(name: str) -> np.ndarray:
    """Table p[x1, x2, y] of a two-input gate with uniform independent binary inputs.

    XOR, AND, RDN (X1 = X2 = Y) and COPY (Y = (X1, X2), coded 2 x1 + x2): the known answers of
    the PID measures (see the brief's table).
    """
    p = np.zeros((2, 2, 4))
    name = name.upper()
    for x1, x2 in product((0, 1), repeat=2):
        if name == "XOR":
            p[x1, x2, x1 ^ x2] = 0.25
        elif name == "AND":
            p[x1, x2, x1 & x2] = 0.25
        elif name == "COPY":
            p[x1, x2, 2 * x1 + x2] = 0.25
        elif name == "RDN":
            if x1 == x2:
                p[x1, x2, x1] = 0.5
        else:
            raise EmergenceInputError(f"unknown gate {name!r}; choose XOR, AND, RDN or COPY.")
    return p if name == "COPY" else p[:, :, :2]
