"""Discrete information theory, vectorised: entropy, mutual information, conditional MI.

All quantities are in bits. Samples lie along the last axis; leading axes are a batch of
variables computed at once (one `np.bincount` over combined codes for the whole batch)::

    >>> import numpy as np
    >>> from experio.emergence import entropy, mutual_information, quantile_bin
    >>> x = np.array([0, 1, 0, 1]); y = np.array([0, 1, 1, 0])
    >>> float(entropy(x)), float(mutual_information(x, x)), float(mutual_information(x, y))
    (1.0, 1.0, 0.0)
    >>> rows = np.array([[0, 1, 0, 1], [0, 0, 0, 0]])        # two variables, four samples each
    >>> entropy(rows).tolist()
    [1.0, 0.0]
    >>> quantile_bin(np.array([3.2, 0.1, 7.5, 1.0]), bins=2).tolist()
    [1, 0, 1, 0]

Estimators (``estimator=``), for counts n_k over an alphabet of K cells and N samples:

- ``"plugin"``: H = -sum_k p_k log2 p_k with p_k = n_k / N (maximum likelihood).
- ``"miller_madow"``: H_plugin + (m - 1) / (2 N ln 2), m = number of non-empty cells.
- ``"jeffreys"``: Bayesian estimate with a Dirichlet(1/2) prior (Jeffreys):
  p_k = (n_k + 1/2) / (N + K/2) over all K cells, then the plug-in formula.

Mutual information and conditional MI are sums of entropies estimated the same way,
I(X;Y) = H(X) + H(Y) - H(X,Y) and I(X;Y|Z) = H(X,Z) + H(Y,Z) - H(X,Y,Z) - H(Z), so the
bias corrections act on every term. The alphabet of a variable (K, needed by Jeffreys) is the
set of distinct values that occur anywhere in the array passed (the whole batch); the
alphabet of a joint variable is the product of its parts' alphabets.

``weights`` are frequency weights (how many times each sample occurred; 0 drops a sample).
They also express exact distributions: pass one sample per outcome and its probability as
weight, with ``estimator="plugin"`` (bias corrections need a sample size and refuse
probabilities that sum to 1 only when asked for Miller-Madow/Jeffreys: see `check_weights`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .errors import EmergenceInputError

Estimator = Literal["plugin", "miller_madow", "jeffreys"]
ESTIMATORS: tuple[str, ...] = ("plugin", "miller_madow", "jeffreys")
LN2 = np.log(2.0)


# ----------------------------------------------------------------------------------------
# input checks and coding


def check_estimator(estimator: str) -> str:
    if estimator not in ESTIMATORS:
        raise EmergenceInputError(
            f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}."
        )
    return estimator


def as_samples(x: object, name: str = "x", min_samples: int = 2) -> np.ndarray:
    """Return `x` as an integer array with samples on the last axis, or raise a clear error."""
    a = np.asarray(x)
    if a.dtype == bool:
        a = a.astype(np.int64)
    if a.ndim == 0:
        raise EmergenceInputError(f"{name} must be an array of samples, got a scalar {a!r}.")
    if not np.issubdtype(a.dtype, np.integer):
        raise EmergenceInputError(
            f"{name} must hold integer codes, got {a.dtype} values. Discretise numbers first "
            f"with experio.emergence.quantile_bin({name}, bins=...) or cast exact integers "
            f"with .astype(int)."
        )
    if a.shape[-1] < min_samples:
        raise EmergenceInputError(
            f"{name} has {a.shape[-1]} sample(s) on its last axis; at least {min_samples} are "
            f"needed for an estimate. Pass longer series (samples along the last axis)."
        )
    return a


def encode(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Map the values of `a` to codes 0..K-1 (K distinct values in the whole array)."""
    values, codes = np.unique(a, return_inverse=True)
    return codes.reshape(a.shape).astype(np.int64), int(values.size)


def joint(*variables: object) -> np.ndarray:
    """Combine integer variables (same shape) into one joint variable, e.g. a target (Y1, Y2).

    >>> joint([0, 1, 1], [1, 0, 1]).tolist()
    [1, 2, 3]
    """
    if not variables:
        raise EmergenceInputError("joint() needs at least one variable.")
    arrays = [as_samples(v, f"variable {i + 1}", min_samples=1) for i, v in enumerate(variables)]
    shape = arrays[0].shape
    for i, a in enumerate(arrays[1:], start=2):
        if a.shape != shape:
            raise EmergenceInputError(
                f"joint(): variable {i} has shape {a.shape} but variable 1 has {shape}; "
                f"all parts of a joint variable need the same samples."
            )
    out = np.zeros(shape, dtype=np.int64)
    for a in arrays:
        codes, k = encode(a)
        out = out * k + codes
    return out


def check_weights(weights: object, shape: tuple[int, ...], estimator: str) -> np.ndarray | None:
    """Sample weights as a float array of `shape` (None when not given); an EmergenceInputError when unusable."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    try:
        w = np.broadcast_to(w, shape)
    except ValueError:
        raise EmergenceInputError(
            f"weights of shape {w.shape} do not match the samples' shape {shape}; give one "
            f"weight per sample."
        ) from None
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise EmergenceInputError("weights must be finite and non-negative.")
    if estimator != "plugin":
        n = w.sum(axis=-1)
        if np.any(n < 2) or not np.allclose(w, np.round(w)):
            raise EmergenceInputError(
                f"estimator {estimator!r} needs a sample size: weights must be integer counts "
                f"(frequency weights) summing to at least 2. For an exact distribution "
                f"(probabilities) use estimator='plugin'."
            )
    return w


# ----------------------------------------------------------------------------------------
# counting: one bincount for a whole batch


def batch_counts(codes: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Histogram each row of `codes` (shape (..., T), values in [0, k)) -> counts (..., k).

    The rows are laid side by side by offsetting row r's codes by r*k, so a single
    `np.bincount` counts the whole batch.
    """
    lead = codes.shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    flat = codes.reshape(rows, -1) + (np.arange(rows, dtype=np.int64) * k)[:, None]
    w = None if weights is None else weights.reshape(rows, -1).ravel()
    counts = np.bincount(flat.ravel(), weights=w, minlength=rows * k)
    return counts.reshape(*lead, k).astype(np.float64)


def entropy_from_counts(counts: np.ndarray, estimator: str = "plugin") -> np.ndarray:
    """Entropy in bits of each histogram on the last axis of `counts` (..., K)."""
    n = counts.sum(axis=-1)
    k = counts.shape[-1]
    if estimator == "jeffreys":
        counts = counts + 0.5  # Dirichlet(1/2) pseudo-counts on every one of the K cells
        n = n + 0.5 * k
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts / n[..., None]
        h = -np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0), axis=-1)
    if estimator == "miller_madow":
        m = np.count_nonzero(counts > 0, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = h + np.where(n > 0, (m - 1) / (2.0 * n * LN2), 0.0)
    return np.where(n > 0, h, 0.0) + 0.0  # + 0.0 turns -0.0 into 0.0


def _entropy_codes(codes: np.ndarray, k: int, weights: np.ndarray | None, estimator: str):
    return entropy_from_counts(batch_counts(codes, k, weights), estimator)


def _out(h: np.ndarray) -> float | np.ndarray:
    return float(h) if np.ndim(h) == 0 else h


def _prepare(named: dict[str, object], weights: object, estimator: str):
    """Check, broadcast and encode several sample arrays; returns codes, alphabets, weights."""
    check_estimator(estimator)
    arrays = {n: as_samples(v, n) for n, v in named.items()}
    lengths = {n: a.shape[-1] for n, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{n} has {t}" for n, t in lengths.items())
        raise EmergenceInputError(
            f"the variables need the same number of samples on their last axis: {desc}. "
            f"Align the series (e.g. cut to the common rounds) before estimating."
        )
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        desc = ", ".join(f"{n}{a.shape}" for n, a in arrays.items())
        raise EmergenceInputError(
            f"batch shapes do not broadcast: {desc}. Leading axes are batches of variables; "
            f"give equal leading shapes or 1-D arrays."
        ) from None
    coded = {}
    for n, a in arrays.items():
        c, k = encode(a)
        coded[n] = (np.broadcast_to(c, shape), k)
    return coded, shape, check_weights(weights, shape, estimator)


# ----------------------------------------------------------------------------------------
# public estimators


def entropy(x: object, *, estimator: Estimator = "plugin", weights: object = None) -> float | np.ndarray:
    """H(X) in bits; `x` is (T,) or a batch (..., T) of integer samples.

    >>> entropy([0, 0, 1, 1, 2, 2, 3, 3])
    2.0
    """
    coded, shape, w = _prepare({"x": x}, weights, estimator)
    cx, kx = coded["x"]
    return _out(_entropy_codes(cx, kx, w, estimator))


def mutual_information(
    x: object, y: object, *, estimator: Estimator = "plugin", weights: object = None
) -> float | np.ndarray:
    """I(X;Y) = H(X) + H(Y) - H(X,Y) in bits, batched over leading axes.

    >>> mutual_information([0, 1, 0, 1], [1, 0, 1, 0])
    1.0
    """
    coded, shape, w = _prepare({"x": x, "y": y}, weights, estimator)
    (cx, kx), (cy, ky) = coded["x"], coded["y"]
    hx = _entropy_codes(cx, kx, w, estimator)
    hy = _entropy_codes(cy, ky, w, estimator)
    hxy = _entropy_codes(cx * ky + cy, kx * ky, w, estimator)
    return _out(hx + hy - hxy)


def conditional_mutual_information(
    x: object, y: object, z: object, *, estimator: Estimator = "plugin", weights: object = None
) -> float | np.ndarray:
    """I(X;Y|Z) = H(X,Z) + H(Y,Z) - H(X,Y,Z) - H(Z) in bits, batched over leading axes.

    >>> x = [0, 0, 1, 1]; z = [0, 1, 0, 1]
    >>> conditional_mutual_information(x, joint(x, z), z)        # Y determines X given Z
    1.0
    """
    coded, shape, w = _prepare({"x": x, "y": y, "z": z}, weights, estimator)
    (cx, kx), (cy, ky), (cz, kz) = coded["x"], coded["y"], coded["z"]
    hxz = _entropy_codes(cx * kz + cz, kx * kz, w, estimator)
    hyz = _entropy_codes(cy * kz + cz, ky * kz, w, estimator)
    hxyz = _entropy_codes((cx * ky + cy) * kz + cz, kx * ky * kz, w, estimator)
    hz = _entropy_codes(cz, kz, w, estimator)
    return _out(hxz + hyz - hxyz - hz)


# ----------------------------------------------------------------------------------------
# discretisation


def midrank_bins(x: np.ndarray, bins: int) -> np.ndarray:
    """Equal-frequency bins per row of a float array (..., T); NaN = missing -> code -1.

    Each value goes to bin floor(bins * (midrank - 1/2) / L), where midrank is its average
    rank among the L valid values of its row. Without ties this is exact quantile binning;
    with ties, equal values always share a bin and a binary column stays binary.
    Vectorised: one argsort per batch, runs of equal values found with accumulate.
    """
    x = np.asarray(x, dtype=np.float64)
    lead, t = x.shape[:-1], x.shape[-1]
    x2 = x.reshape(-1, t)
    valid = ~np.isnan(x2)
    length = valid.sum(axis=1)
    xf = np.where(valid, x2, np.inf)
    order = np.argsort(xf, axis=1, kind="stable")
    xs = np.take_along_axis(xf, order, axis=1)
    pos = np.broadcast_to(np.arange(t), xs.shape)
    new_run = np.ones(xs.shape, dtype=bool)
    new_run[:, 1:] = xs[:, 1:] != xs[:, :-1]
    start = np.maximum.accumulate(np.where(new_run, pos, 0), axis=1)
    last_of_run = np.ones(xs.shape, dtype=bool)
    last_of_run[:, :-1] = new_run[:, 1:]
    end = np.minimum.accumulate(np.where(last_of_run, pos, t)[:, ::-1], axis=1)[:, ::-1]
    midrank = (start + end) / 2.0 + 1.0  # 1-based average rank of the tie run
    with np.errstate(divide="ignore", invalid="ignore"):
        sorted_codes = np.floor(bins * (midrank - 0.5) / np.maximum(length, 1)[:, None])
    sorted_codes = np.clip(sorted_codes, 0, bins - 1).astype(np.int64)
    codes = np.empty_like(sorted_codes)
    np.put_along_axis(codes, order, sorted_codes, axis=1)
    codes[~valid] = -1
    return codes.reshape(*lead, t)


def quantile_bin(x: object, bins: int, axis: int = -1) -> np.ndarray:
    """Discretise numbers into `bins` equal-frequency (quantile) bins along `axis`.

    Every 1-D slice along `axis` is binned by its own quantiles (e.g. each agent's guesses).
    Ties stay together (see `midrank_bins`).

    >>> quantile_bin([10, 40, 20, 30, 50, 0], bins=3).tolist()
    [0, 2, 1, 1, 2, 0]
    """
    if not isinstance(bins, (int, np.integer)) or bins < 2:
        raise EmergenceInputError(f"bins must be an integer >= 2, got {bins!r}.")
    a = np.asarray(x)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or a.ndim == 0:
        raise EmergenceInputError(f"quantile_bin needs a numeric array, got {a.dtype} {a.shape}.")
    a = np.moveaxis(a.astype(np.float64), axis, -1)
    if not np.all(np.isfinite(a)):
        raise EmergenceInputError(
            "quantile_bin got NaN or infinite values; drop or impute missing samples first."
        )
    return np.moveaxis(midrank_bins(a, int(bins)), -1, axis)
