"""Emergence measures on multivariate time series: TDMI, Psi / Delta / Gamma, emergence
capacity (pairwise PID synergy), I3 / G3 / total stability, and their nulls.

Notation (Rosas et al. 2020, "Reconciling emergences"; Riedl 2025): parts X_j (agent j's
guess), a macro signal V (e.g. the group's sum), lag l; "now" is t, "next" is t + l.

    TDMI            I(X_t; X_{t+l})
    Psi             I(V_t; V_{t+l}) - sum_j I(X_{j,t}; V_{t+l})                     (Psi > 0: V emergent)
    Delta           max_j [ I(V_t; X_{j,t+l}) - sum_i I(X_{i,t}; X_{j,t+l}) ]       (Delta > 0: downward causation)
    Gamma           max_j I(V_t; X_{j,t+l})                 (Psi > 0 and Gamma = 0: causal decoupling)
    capacity        for each pair (i, j): Syn of the PID with sources X_{i,t}, X_{j,t} and
                    target (X_{i,t+l}, X_{j,t+l}); the group score is the median over pairs
    I3              I(X_{i,t}, X_{j,t}, X_{k,t}; V_{t+l}) for a triple (i, j, k)
    G3              I3 - max over the triple's pairs of I(X_{a,t}, X_{b,t}; V_{t+l})
    stability       I3 / H(V_{t+l})   ("total stability"); group scores = median over triples

Single series::

    >>> import numpy as np
    >>> from experio.emergence import tdmi, emergence_criteria_series
    >>> x = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0])
    >>> tdmi(x)
    1.0

Batches (many groups x many null surrogates) go through `batch_*` functions that take codes of
shape (B, T, N) and a validity mask (B, T) for series of unequal length; they are what
`analyze_groups` and the benchmark use.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .errors import EmergenceInputError
from .info import (
    check_weights,
    as_samples,
    batch_counts,
    check_estimator,
    encode,
    entropy_from_counts,
)
from .pid import ATOMS, check_measure, pid_tables

# ----------------------------------------------------------------------------------------
# batched building blocks over (B, samples) with 0/1 (or frequency) weights


def _mi_from_joint_counts(c: np.ndarray, estimator: str) -> np.ndarray:
    """I(X;Y) from joint counts (..., Kx, Ky): H(X) + H(Y) - H(X,Y)."""
    hx = entropy_from_counts(c.sum(axis=-1), estimator)
    hy = entropy_from_counts(c.sum(axis=-2), estimator)
    hxy = entropy_from_counts(c.reshape(*c.shape[:-2], -1), estimator)
    return hx + hy - hxy


def batch_mi(x: np.ndarray, kx: int, y: np.ndarray, ky: int, w: np.ndarray, estimator: str) -> np.ndarray:
    """I(X;Y) for each row of codes x (..., S) in [0,kx), y (..., S) in [0,ky); weights w."""
    counts = batch_counts(x * ky + y, kx * ky, w)
    return _mi_from_joint_counts(counts.reshape(*counts.shape[:-1], kx, ky), estimator)


def _lagged(codes: np.ndarray, valid: np.ndarray, lag: int):
    """Split (B, T, ...) into now = t, next = t + lag, and the weight of each transition."""
    if codes.shape[1] <= lag:
        raise EmergenceInputError(
            f"series of {codes.shape[1]} rounds are too short for lag {lag}; need at least "
            f"{lag + 2} rounds."
        )
    now, nxt = codes[:, :-lag], codes[:, lag:]
    w = (valid[:, :-lag] & valid[:, lag:]).astype(np.float64)
    return np.where(now >= 0, now, 0), np.where(nxt >= 0, nxt, 0), w


def batch_criteria(x: np.ndarray, v: np.ndarray, valid: np.ndarray, k: int, kv: int,
                   lag: int = 1, estimator: str = "plugin") -> dict[str, np.ndarray]:
    """Psi, Delta, Gamma and per-part terms for B systems at once.

    x: parts' codes (B, T, N) in [0, k); v: macro codes (B, T) in [0, kv); valid: (B, T).
    """
    xn, xf, w = _lagged(x, valid, lag)
    vn, vf, _ = _lagged(v[:, :, None], valid, lag)
    vn, vf = vn[..., 0], vf[..., 0]
    b, s, n = xn.shape
    wn = np.broadcast_to(w[:, None, :], (b, n, s))
    xn_t, xf_t = xn.transpose(0, 2, 1), xf.transpose(0, 2, 1)  # (B, N, S)
    i_vv = batch_mi(vn, kv, vf, kv, w, estimator)  # I(V_t; V_t+l)
    i_xv = batch_mi(xn_t, k, np.broadcast_to(vf[:, None, :], (b, n, s)), kv, wn, estimator)  # I(X_j,t; V_t+l)
    i_vx = batch_mi(np.broadcast_to(vn[:, None, :], (b, n, s)), kv, xf_t, k, wn, estimator)  # I(V_t; X_j,t+l)
    # I(X_i,t; X_j,t+l) for all ordered (i, j): (B, N_i, N_j)
    wnn = np.broadcast_to(w[:, None, None, :], (b, n, n, s))
    i_xx = batch_mi(np.broadcast_to(xn_t[:, :, None, :], (b, n, n, s)), k,
                    np.broadcast_to(xf_t[:, None, :, :], (b, n, n, s)), k, wnn, estimator)
    psi = i_vv - i_xv.sum(axis=1)
    delta = np.max(i_vx - i_xx.sum(axis=1), axis=1)
    gamma = np.max(i_vx, axis=1)
    self_tdmi = np.diagonal(i_xx, axis1=1, axis2=2)  # I(X_j,t; X_j,t+l): self-persistence
    h_now = entropy_from_counts(batch_counts(xn_t, k, wn), estimator)  # H(X_j,t)
    return {"psi": psi, "delta": delta, "gamma": gamma, "macro_tdmi": i_vv,
            "self_tdmi": self_tdmi, "h_now": h_now}


def batch_pair_pid(x: np.ndarray, valid: np.ndarray, k: int, lag: int = 1, measure: str = "imin",
                   pairs: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """PID of the TDMI for every pair of parts: sources X_i,t, X_j,t; target (X_i,t+l, X_j,t+l).

    x: codes (B, T, N) in [0, k). Returns atoms of shape (B, P) for P pairs (default: all).
    One bincount over codes ((s1 k + s2) k + y1) k + y2 of every pair and system at once.
    """
    xn, xf, w = _lagged(x, valid, lag)
    b, s, n = xn.shape
    if pairs is None:
        pairs = np.array(list(combinations(range(n), 2)), dtype=np.int64).reshape(-1, 2)
    i, j = pairs[:, 0], pairs[:, 1]
    code = ((xn[:, :, i] * k + xn[:, :, j]) * k + xf[:, :, i]) * k + xf[:, :, j]  # (B, S, P)
    code = code.transpose(0, 2, 1)  # (B, P, S)
    counts = batch_counts(code, k**4, np.broadcast_to(w[:, None, :], code.shape))  # (B, P, k^4)
    tot = counts.sum(axis=-1, keepdims=True)
    p = (counts / np.where(tot > 0, tot, 1.0)).reshape(b * len(pairs), k, k, k * k)
    out = pid_tables(p, measure)
    return {a: out[a].reshape(b, len(pairs)) for a in ATOMS}


def batch_triples(x: np.ndarray, v: np.ndarray, valid: np.ndarray, k: int, kv: int, lag: int = 1,
                  estimator: str = "plugin") -> dict[str, np.ndarray]:
    """I3, G3 and total stability for every triple of parts (B, n_triples)."""
    xn, _, w = _lagged(x, valid, lag)
    _, vf, _ = _lagged(v[:, :, None], valid, lag)
    vf = vf[..., 0]
    b, s, n = xn.shape
    if n < 3:
        nan = np.full((b, 0), np.nan)
        return {"i3": nan, "g3": nan, "stability": nan}
    triples = np.array(list(combinations(range(n), 3)), dtype=np.int64)
    pairs = np.array(list(combinations(range(n), 2)), dtype=np.int64)
    pair_index = {tuple(pq): m for m, pq in enumerate(pairs)}
    tcode = ((xn[:, :, triples[:, 0]] * k + xn[:, :, triples[:, 1]]) * k + xn[:, :, triples[:, 2]]).transpose(0, 2, 1)
    pcode = (xn[:, :, pairs[:, 0]] * k + xn[:, :, pairs[:, 1]]).transpose(0, 2, 1)
    vft = np.broadcast_to(vf[:, None, :], tcode.shape)
    i3 = batch_mi(tcode, k**3, vft, kv, np.broadcast_to(w[:, None, :], tcode.shape), estimator)
    i2 = batch_mi(pcode, k**2, np.broadcast_to(vf[:, None, :], pcode.shape), kv,
                  np.broadcast_to(w[:, None, :], pcode.shape), estimator)
    sub = np.array([[pair_index[(a, b_)], pair_index[(a, c)], pair_index[(b_, c)]] for a, b_, c in triples])
    best_pair = i2[:, sub].max(axis=-1)  # (B, n_triples)
    hv = entropy_from_counts(batch_counts(vf, kv, w), estimator)  # H(V_t+l)
    with np.errstate(divide="ignore", invalid="ignore"):
        stability = np.where(hv[:, None] > 0, i3 / hv[:, None], 0.0)
    return {"i3": i3, "g3": i3 - best_pair, "stability": stability}


# ----------------------------------------------------------------------------------------
# nulls: surrogate data that keep some structure and break the rest


def row_shuffle(values: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """n surrogates of (G, T, N) values, each round's values permuted across agents.

    Breaks agent identity (who guessed what over time, incl. each agent's self-persistence),
    keeps each round's set of values (so the group sum V is unchanged).
    """
    keys = rng.random((n, *values.shape))
    perm = np.argsort(keys, axis=-1)
    return np.take_along_axis(np.broadcast_to(values, keys.shape), perm, axis=-1)


def time_shift(values: np.ndarray, lengths: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """n surrogates of (G, T, N) values, each agent's column circularly shifted in time.

    The shift of each column is uniform in 1..L-1 for a group of L valid rounds. Breaks the
    alignment between agents, keeps each agent's own dynamics (its self-persistence), except
    at the one wrap-around point.
    """
    g, t, a = values.shape
    lengths = np.asarray(lengths)
    shifts = 1 + np.floor(rng.random((n, g, 1, a)) * (lengths[None, :, None, None] - 1)).astype(np.int64)
    tt = np.arange(t)[None, None, :, None]
    src = np.where(tt < lengths[None, :, None, None], (tt + shifts) % lengths[None, :, None, None], tt)
    return np.take_along_axis(np.broadcast_to(values, (n, g, t, a)), src, axis=2)


def p_value(observed: np.ndarray, null: np.ndarray, axis: int = 0) -> np.ndarray:
    """One-sided permutation p-value (1 + #{null >= observed}) / (1 + n_null)."""
    return (1.0 + np.sum(null >= observed - 1e-12, axis=axis)) / (1.0 + null.shape[axis])


# ----------------------------------------------------------------------------------------
# single-series public API


def _series(a: object, name: str, ndim: int) -> np.ndarray:
    arr = as_samples(a, name, min_samples=1)
    if arr.ndim != ndim:
        raise EmergenceInputError(f"{name} must be {ndim}-D, got shape {arr.shape}.")
    return arr


def tdmi(x: object, lag: int = 1, *, estimator: str = "plugin") -> float:
    """Time-delayed mutual information I(X_t; X_{t+lag}) of one integer series, in bits.

    >>> tdmi([0, 0, 1, 1, 0, 0, 1, 1, 0, 0], lag=2)
    1.0
    """
    check_estimator(estimator)
    a = _series(x, "x", 1)
    if lag < 1 or len(a) < lag + 2:
        raise EmergenceInputError(f"tdmi needs lag >= 1 and at least lag + 2 samples, got lag {lag} and {len(a)} samples.")
    c, k = encode(a)
    return float(batch_mi(c[None, :-lag], k, c[None, lag:], k, np.ones((1, len(a) - lag)), estimator)[0])


def emergence_criteria(
    parts_now: object, parts_next: object, macro_now: object, macro_next: object,
    *, weights: object = None, estimator: str = "plugin",
) -> dict[str, float]:
    """Psi, Delta, Gamma from paired samples of (X_t, X_{t+l}) and (V_t, V_{t+l}).

    parts_*: integer arrays (S, N) (S samples of N parts); macro_*: (S,). With `weights` one
    probability per row this evaluates an exact distribution (see `experio.emergence.toys`).

    >>> from experio.emergence.toys import causal_decoupling
    >>> sys = causal_decoupling(n=3, gamma=0.99)
    >>> r = emergence_criteria(sys.now, sys.next, sys.macro(sys.now), sys.macro(sys.next), weights=sys.prob)
    >>> round(r["psi"], 3), round(r["gamma"], 3)
    (0.919, 0.0)
    """
    check_estimator(estimator)
    xn, xf = _series(parts_now, "parts_now", 2), _series(parts_next, "parts_next", 2)
    vn, vf = _series(macro_now, "macro_now", 1), _series(macro_next, "macro_next", 1)
    if xn.shape != xf.shape or len(vn) != len(xn) or len(vf) != len(xn):
        raise EmergenceInputError(
            f"shapes disagree: parts_now {xn.shape}, parts_next {xf.shape}, macro_now {vn.shape}, "
            f"macro_next {vf.shape}; need (S, N), (S, N), (S,), (S,)."
        )
    if len(xn) < 2:
        raise EmergenceInputError("need at least 2 samples.")
    w = check_weights(weights, (len(xn),), estimator)
    w = np.ones(len(xn)) if w is None else w
    xc, k = encode(np.concatenate([xn, xf]))
    vc, kv = encode(np.concatenate([vn, vf]))
    s = len(xn)
    return _criteria_from_pairs(xc[:s], xc[s:], vc[:s], vc[s:], w, k, kv, estimator)


def _criteria_from_pairs(xn, xf, vn, vf, w, k, kv, estimator) -> dict[str, float]:
    s, n = xn.shape
    wn = np.broadcast_to(w[None, :], (n, s))
    i_vv = batch_mi(vn[None], kv, vf[None], kv, w[None], estimator)[0]
    i_xv = batch_mi(xn.T, k, np.broadcast_to(vf, (n, s)), kv, wn, estimator)
    i_vx = batch_mi(np.broadcast_to(vn, (n, s)), kv, xf.T, k, wn, estimator)
    i_xx = batch_mi(np.broadcast_to(xn.T[:, None, :], (n, n, s)), k,
                    np.broadcast_to(xf.T[None, :, :], (n, n, s)), k,
                    np.broadcast_to(w, (n, n, s)), estimator)
    return {
        "psi": float(i_vv - i_xv.sum()),
        "delta": float(np.max(i_vx - i_xx.sum(axis=0))),
        "gamma": float(np.max(i_vx)),
    }


def emergence_criteria_series(parts: object, macro: object, lag: int = 1, *, estimator: str = "plugin") -> dict[str, float]:
    """Psi, Delta, Gamma of a time series: parts (T, N) integer codes, macro (T,).

    >>> import numpy as np
    >>> from experio.emergence.toys import causal_decoupling
    >>> sys = causal_decoupling(n=3, gamma=0.99)
    >>> x = sys.sample(200_000, np.random.default_rng(0))
    >>> round(emergence_criteria_series(x, sys.macro(x))["psi"], 2)
    0.92
    """
    x, v = _series(parts, "parts", 2), _series(macro, "macro", 1)
    if len(v) != len(x):
        raise EmergenceInputError(f"parts has {len(x)} rounds but macro has {len(v)}; give one macro value per round.")
    if lag < 1 or len(x) < lag + 2:
        raise EmergenceInputError(f"need lag >= 1 and at least lag + 2 rounds, got lag {lag} and {len(x)} rounds.")
    return emergence_criteria(x[:-lag], x[lag:], v[:-lag], v[lag:], estimator=estimator)


def pair_emergence_capacity(parts: object, lag: int = 1, measure: str = "imin") -> dict[str, object]:
    """Per-pair PID of the TDMI of a (T, N) integer series; group capacity = median synergy.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 2, size=(400, 2))
    >>> for t in range(399): x[t + 1, 0] = x[t, 0] ^ x[t, 1]           # X1' = X1 xor X2
    >>> round(pair_emergence_capacity(x)["capacity"], 1)
    1.0
    """
    check_measure(measure)
    x = _series(parts, "parts", 2)
    if x.shape[1] < 2:
        raise EmergenceInputError(f"need at least 2 parts (columns), got {x.shape[1]}.")
    if lag < 1 or len(x) < lag + 2:
        raise EmergenceInputError(f"need lag >= 1 and at least lag + 2 rounds, got lag {lag} and {len(x)} rounds.")
    c, k = encode(x)
    atoms = batch_pair_pid(c[None], np.ones((1, len(x)), dtype=bool), k, lag, measure)
    pairs = list(combinations(range(x.shape[1]), 2))
    per_pair = {pq: {a: float(atoms[a][0, m]) for a in ATOMS} for m, pq in enumerate(pairs)}
    return {"pairs": per_pair, "capacity": float(np.median(atoms["synergy"][0]))}
