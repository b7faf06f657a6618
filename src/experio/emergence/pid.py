"""Two-source partial information decomposition (PID), vectorised over many distributions.

Williams & Beer (2010) split what two sources S1, S2 tell about a target T into four atoms::

    I(S1,S2;T) = Red + Unq1 + Unq2 + Syn
    I(S1;T)    = Red + Unq1
    I(S2;T)    = Red + Unq2

Fixing a redundancy function Red fixes the rest. Measures here (``measure=``):

- ``"imin"``  Williams-Beer I_min: Red = sum_t p(t) min_i I_spec(T=t; S_i), with the specific
  information I_spec(T=t; S_i) = sum_s p(s|t) log2 p(t|s)/p(t).
- ``"mmi"``   minimum mutual information (Barrett 2015): Red = min_i I(S_i; T).
- ``"ccs"``   common change in surprisal, Ince (2017): Red = sum over outcomes of q(s1,s2,t) *
  c(s1,s2,t), counted only where the local co-information c = i(s1;t) + i(s2;t) - i(s1,s2;t)
  has the same sign as i(s1;t), i(s2;t) and i(s1,s2;t); q is the maximum-entropy distribution
  with the pairwise marginals p(s1,s2), p(s1,t), p(s2,t) (found by iterative proportional
  fitting, batched), and the local terms are computed under q.
- ``"broja"`` Bertschinger, Rauh, Olbrich, Jost, Ay (2014): over the set Delta_P of
  distributions Q with Q(s1,t) = P(s1,t) and Q(s2,t) = P(s2,t), take Q* minimising
  I_Q(S1,S2;T) (equivalently maximising H_Q(T|S1,S2)); then Unq1 = I_Q*(S1;T|S2),
  Unq2 = I_Q*(S2;T|S1), Red = I(S1;T) - Unq1, Syn = I_P(S1,S2;T) - I_Q*(S1,S2;T).
  Solved by a batched log-barrier Newton method (see `_broja_solve`), to about 1e-9 bits.

Use on samples::

    >>> import numpy as np
    >>> from experio.emergence import pid
    >>> x1 = np.array([0, 0, 1, 1]); x2 = np.array([0, 1, 0, 1])
    >>> {k: round(v, 4) for k, v in pid(x1, x2, x1 ^ x2, measure="imin").items()}
    {'redundancy': 0.0, 'unique_1': 0.0, 'unique_2': 0.0, 'synergy': 1.0}

or on a probability table p[s1, s2, t] (or a batch p[b, s1, s2, t]) with `pid_distribution`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .errors import EmergenceInputError
from .info import check_weights, as_samples, encode

Measure = Literal["imin", "mmi", "ccs", "broja"]
MEASURES: tuple[str, ...] = ("imin", "mmi", "ccs", "broja")
ATOMS: tuple[str, ...] = ("redundancy", "unique_1", "unique_2", "synergy")


def check_measure(measure: str) -> str:
    if measure not in MEASURES:
        raise EmergenceInputError(f"unknown PID measure {measure!r}; choose one of {', '.join(MEASURES)}.")
    return measure


def _xlogy_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num * log2(num / den), with 0 where num == 0 (0 log 0 = 0)."""
    pos = num > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pos, num * np.log2(np.where(pos, num, 1.0) / np.where(pos, den, 1.0)), 0.0)


# ----------------------------------------------------------------------------------------
# mutual informations of a batch of tables p[b, s1, s2, t]


def _marginals(p: np.ndarray) -> dict[str, np.ndarray]:
    m = {"s1t": p.sum(axis=2), "s2t": p.sum(axis=1), "s12": p.sum(axis=3)}
    m["t"] = m["s1t"].sum(axis=1)
    m["s1"] = m["s1t"].sum(axis=2)
    m["s2"] = m["s2t"].sum(axis=2)
    return m


def _mi_terms(p: np.ndarray, m: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """I(S1;T), I(S2;T), I(S1,S2;T) for each table in the batch."""
    i1 = _xlogy_ratio(m["s1t"], m["s1"][:, :, None] * m["t"][:, None, :]).sum(axis=(1, 2))
    i2 = _xlogy_ratio(m["s2t"], m["s2"][:, :, None] * m["t"][:, None, :]).sum(axis=(1, 2))
    i12 = _xlogy_ratio(p, m["s12"][:, :, :, None] * m["t"][:, None, None, :]).sum(axis=(1, 2, 3))
    return i1, i2, i12


def _atoms(red: np.ndarray, i1: np.ndarray, i2: np.ndarray, i12: np.ndarray) -> dict[str, np.ndarray]:
    u1, u2 = i1 - red, i2 - red
    return {"redundancy": red, "unique_1": u1, "unique_2": u2, "synergy": i12 - red - u1 - u2}


# ----------------------------------------------------------------------------------------
# I_min (Williams-Beer) and MMI: closed forms, fully vectorised


def _red_imin(p: np.ndarray, m: dict[str, np.ndarray]) -> np.ndarray:
    # p(t) * I_spec(T=t; S_i) = sum_s p(s,t) log2 p(s,t) / (p(s) p(t))
    spec1 = _xlogy_ratio(m["s1t"], m["s1"][:, :, None] * m["t"][:, None, :]).sum(axis=1)
    spec2 = _xlogy_ratio(m["s2t"], m["s2"][:, :, None] * m["t"][:, None, :]).sum(axis=1)
    # I_min = sum_t p(t) min_i I_spec(t; S_i)
    return np.minimum(spec1, spec2).sum(axis=1)


# ----------------------------------------------------------------------------------------
# CCS (Ince 2017): maximum-entropy q by batched IPF, then signed local co-information


def maxent_pairwise(p: np.ndarray, tol: float = 1e-12, max_iter: int = 5000) -> np.ndarray:
    """Max-entropy q[b,s1,s2,t] with the pairwise marginals (s1,s2), (s1,t), (s2,t) of p.

    Iterative proportional fitting from the uniform table, all tables of the batch at once;
    a table leaves the batch once its marginals match to `tol`. Structural zeros of the
    marginals become zeros of q after the first sweep (IPF converges only slowly where zeros
    are implied jointly by several marginals; `max_iter` bounds the work there).
    """
    m = _marginals(p)
    q = np.ones_like(p) / np.prod(p.shape[1:])
    active = np.arange(len(p))
    with np.errstate(divide="ignore", invalid="ignore"):
        for it in range(max_iter):
            qa, s12, s1t, s2t = q[active], m["s12"][active], m["s1t"][active], m["s2t"][active]
            qa = qa * np.nan_to_num(s12 / qa.sum(axis=3))[:, :, :, None]
            qa = qa * np.nan_to_num(s1t / qa.sum(axis=2))[:, :, None, :]
            qa = qa * np.nan_to_num(s2t / qa.sum(axis=1))[:, None, :, :]
            q[active] = qa
            if it % 10 == 9:  # check convergence every 10 sweeps
                err = np.maximum(np.abs(qa.sum(axis=3) - s12).max(axis=(1, 2)), np.abs(qa.sum(axis=2) - s1t).max(axis=(1, 2)))
                active = active[err >= tol]
                if active.size == 0:
                    break
    return q


def _red_ccs(p: np.ndarray) -> np.ndarray:
    q = maxent_pairwise(p)
    mq = _marginals(q)
    pos = q > 0

    def local(num, den):  # pointwise log2 num/den on q's support, 0 elsewhere
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(pos, np.log2(np.where(pos, num, 1.0) / np.where(pos, den, 1.0)), 0.0)
        return np.where(np.isclose(v, 0.0), 0.0, v)  # as Ince/dit: treat ~0 as exactly 0

    t = mq["t"][:, None, None, :]
    i1 = local(mq["s1t"][:, :, None, :], mq["s1"][:, :, None, None] * t)  # i(s1; t)
    i2 = local(mq["s2t"][:, None, :, :], mq["s2"][:, None, :, None] * t)  # i(s2; t)
    i12 = local(q, mq["s12"][:, :, :, None] * t)  # i(s1, s2; t)
    c = i1 + i2 - i12  # local co-information
    c = np.where(np.isclose(c, 0.0), 0.0, c)
    s = np.sign(c)
    keep = pos & (s == np.sign(i1)) & (s == np.sign(i2)) & (s == np.sign(i12))
    return np.where(keep, q * c, 0.0).sum(axis=(1, 2, 3))


# ----------------------------------------------------------------------------------------
# BROJA: convex optimisation over Delta_P, batched over tables (distinct tables only)


def _broja_solve(ps: np.ndarray) -> np.ndarray:
    """Q* = argmin_{Q in Delta_P} I_Q(S1,S2;T) for a batch of tables ps (B, A1, A2, AT).

    Delta_P fixes Q(s1,t) = P(s1,t) and Q(s2,t) = P(s2,t): for each t, Q(s1,s2|t) is a coupling
    of P(s1|t) and P(s2|t). Cells with P(s1,t) = 0 or P(s2,t) = 0 are forced to 0; on the rest
    ("active" rows r and columns c of each t-block) the couplings form q0 + span{e_rct} with

        e_rct = E(r0,c0,t) - E(r0,c,t) - E(r,c0,t) + E(r,c,t)   (r != r0, c != c0 active),

    r0, c0 the first active row and column of block t; q0 = P(s1,t) P(s2,t) / P(t) is strictly
    positive on the active cells. Objective (nats), convex:

        f(q) = -H_Q(T|S1,S2) = sum q log q - sum_{s1,s2} q(s1,s2) log q(s1,s2).

    We minimise f(q) - mu sum log q by damped Newton steps in z (q = q0 + N z; gradient
    N^T (log q - log q(s1,s2) - mu/q), Hessian N^T diag(1/q + mu/q^2) N - (MN)^T diag(1/q(s1,s2)) MN,
    M summing over t), for mu = 1e-2, 5e-4, ... down to 1e-14: a textbook barrier method whose
    duality gap is at most n mu. Every table has its own basis (padded to a common size, unused
    directions masked), so the whole batch takes its Newton steps together.
    """
    b, a1, a2, at = ps.shape
    n = a1 * a2 * at
    ps1t, ps2t, pt = ps.sum(axis=2), ps.sum(axis=1), ps.sum(axis=(1, 2))  # (B,A1,AT) (B,A2,AT) (B,AT)
    row_on, col_on = ps1t > 0, ps2t > 0
    cells = row_on[:, :, None, :] & col_on[:, None, :, :]  # (B, A1, A2, AT)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(cells, ps1t[:, :, None, :] * ps2t[:, None, :, :] / pt[:, None, None, :], 0.0)
    r0, c0 = row_on.argmax(axis=1), col_on.argmax(axis=1)  # (B, AT) first active row / column
    r, c, t = (g.ravel() for g in np.meshgrid(np.arange(a1), np.arange(a2), np.arange(at), indexing="ij"))
    cell = lambda s1, s2, tt: (s1 * a2 + s2) * at + tt  # noqa: E731  flat cell index
    R0, C0 = r0[:, t], c0[:, t]  # (B, n): reference row / column of each direction's block
    ok = cells.reshape(b, n) & (r[None] != R0) & (c[None] != C0)  # usable directions (B, D=n)
    basis = np.zeros((b, n, n))
    bi = np.repeat(np.arange(b), n)
    di = np.tile(np.arange(n), b)
    for s1, s2, sign in ((R0, C0, 1.0), (R0, c[None], -1.0), (r[None], C0, -1.0), (r[None], c[None], 1.0)):
        s1b, s2b = np.broadcast_to(s1, (b, n)), np.broadcast_to(s2, (b, n))
        np.add.at(basis, (bi, cell(s1b, s2b, t[None]).ravel(), di), sign * ok.ravel())
    agg = np.zeros((a1 * a2, n))
    agg[(r * a2 + c), np.arange(n)] = 1.0  # q(s1,s2) = agg q
    agg_basis = np.einsum("pn,bnd->bpd", agg, basis)
    mask = cells.reshape(b, n)
    q = q.reshape(b, n)

    def parts(q):
        qp = q @ agg.T
        lq = np.log(np.where(mask, q, 1.0))
        lqp = np.log(np.where(qp > 0, qp, 1.0))
        return qp, lq, lqp

    def barrier(q, mu):
        qp, lq, lqp = parts(q)
        return np.sum(q * lq, axis=1) - np.sum(qp * lqp, axis=1) - mu * np.sum(np.where(mask, lq, 0.0), axis=1)

    off = (~ok).astype(np.float64)
    mu = 1e-2
    while mu > 1e-15 and ok.any():
        for _ in range(60):
            qp, lq, lqp = parts(q)
            inv_q = np.where(mask, 1.0 / np.where(mask, q, 1.0), 0.0)
            grad = np.einsum("bn,bnd->bd", np.where(mask, lq - (lqp @ agg) - mu * inv_q, 0.0), basis) * ok
            w = inv_q + mu * inv_q**2
            inv_qp = np.where(qp > 0, 1.0 / np.where(qp > 0, qp, 1.0), 0.0)
            hess = np.einsum("bnd,bn,bne->bde", basis, w, basis) - np.einsum("bpd,bp,bpe->bde", agg_basis, inv_qp, agg_basis)
            hess += off[:, :, None] * np.eye(n)[None]  # unused directions: identity, zero gradient
            try:
                dz = -np.linalg.solve(hess, grad[..., None])[..., 0]
            except np.linalg.LinAlgError:  # numerically singular near the boundary: pseudo-inverse
                dz = -np.einsum("bde,be->bd", np.linalg.pinv(hess), grad)
            dec = -np.sum(grad * dz, axis=1)  # squared Newton decrement
            if not np.any(dec >= 1e-14):  # barrier objective within ~1e-14 nats of its minimum
                break
            d = np.einsum("bnd,bd->bn", basis, dz)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(mask & (d < 0), -q / d, np.inf).min(axis=1)
            step = np.where(dec < 1e-14, 0.0, np.minimum(1.0, 0.99 * ratio))
            phi = barrier(q, mu)
            done = step == 0.0
            for _ in range(60):  # backtracking (Armijo), all tables at once
                qn = q + step[:, None] * d
                pos = np.all(~mask | (qn > 0), axis=1)
                with np.errstate(divide="ignore", invalid="ignore"):
                    val = barrier(np.where(mask & (qn > 0), qn, np.where(mask, 1.0, 0.0)), mu)
                done |= pos & (val <= phi - 0.25 * step * dec)
                if done.all():
                    break
                step = np.where(done, step, 0.5 * step)
            q = q + np.where(done, step, 0.0)[:, None] * d
        mu *= 0.05
    q = np.where(mask, np.maximum(q, 0.0), 0.0).reshape(ps.shape)
    return q / q.sum(axis=(1, 2, 3), keepdims=True)


def _broja_batch(p: np.ndarray, chunk: int = 4096) -> dict[str, np.ndarray]:
    # identical tables recur often (small samples, nulls): solve each distinct one once
    flat = np.round(p.reshape(len(p), -1), 14)
    uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    u = uniq.reshape(-1, *p.shape[1:])
    u = u / u.sum(axis=(1, 2, 3), keepdims=True)
    q = np.concatenate([_broja_solve(u[i : i + chunk]) for i in range(0, len(u), chunk)])
    i1, i2, i12 = _mi_terms(u, _marginals(u))
    _, _, i12q = _mi_terms(q, _marginals(q))
    # on Delta_P, I_Q(S1;T|S2) = I_Q(S1,S2;T) - I(S2;T) since Q(s2,t) = P(s2,t)
    unq1 = np.maximum(i12q - i2, 0.0) + 0.0
    unq2 = np.maximum(i12q - i1, 0.0) + 0.0
    red = i1 - unq1 + 0.0
    syn = i12 - i12q + 0.0  # Syn = I_P(S1,S2;T) - min_Q I_Q(S1,S2;T)
    inv = inverse.ravel()
    return {"redundancy": red[inv], "unique_1": unq1[inv], "unique_2": unq2[inv], "synergy": syn[inv]}


# ----------------------------------------------------------------------------------------
# public API


def pid_distribution(p: object, measure: Measure = "imin") -> dict[str, float] | dict[str, np.ndarray]:
    """PID atoms (bits) of a table p[s1, s2, t], or of each table in a batch p[b, s1, s2, t].

    >>> import numpy as np
    >>> p = np.zeros((2, 2, 2)); p[0, 0, 0] = p[0, 1, 0] = p[1, 0, 0] = p[1, 1, 1] = 0.25  # AND
    >>> round(pid_distribution(p, "imin")["redundancy"], 4), round(pid_distribution(p, "ccs")["synergy"], 4)
    (0.3113, 0.2925)
    """
    check_measure(measure)
    a = np.asarray(p, dtype=np.float64)
    single = a.ndim == 3
    if a.ndim not in (3, 4):
        raise EmergenceInputError(
            f"p must have shape (A1, A2, AT) or (batch, A1, A2, AT), got {a.shape}."
        )
    a = a[None] if single else a
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        raise EmergenceInputError("p must hold finite, non-negative probabilities.")
    total = a.sum(axis=(1, 2, 3))
    if np.any(total <= 0):
        raise EmergenceInputError("each table in p must have positive total mass.")
    a = a / total[:, None, None, None]
    out = pid_tables(a, measure)
    return {k: float(v[0]) for k, v in out.items()} if single else out


def pid_tables(p: np.ndarray, measure: str) -> dict[str, np.ndarray]:
    """Batched core: normalised tables p[b, s1, s2, t] -> atoms, each of shape (b,)."""
    if measure == "broja":
        return _broja_batch(p)
    m = _marginals(p)
    i1, i2, i12 = _mi_terms(p, m)
    if measure == "imin":
        red = _red_imin(p, m)
    elif measure == "mmi":
        red = np.minimum(i1, i2)
    elif measure == "ccs":
        red = _red_ccs(p)
    else:
        raise EmergenceInputError(f"unknown PID measure {measure!r}; choose one of {', '.join(MEASURES)}.")
    return _atoms(red, i1, i2, i12)


def pid(
    source_1: object,
    source_2: object,
    target: object,
    measure: Measure = "imin",
    *,
    weights: object = None,
) -> dict[str, float]:
    """Two-source PID of samples (1-D integer arrays of equal length), atoms in bits.

    The distribution is the empirical one (plug-in); `weights` are frequency weights or, for an
    exact distribution, one probability per listed outcome. Combine several variables into one
    source or target with `experio.emergence.joint`.

    >>> import numpy as np
    >>> x1 = np.array([0, 0, 1, 1]); x2 = np.array([0, 1, 0, 1])
    >>> copy = x1 * 2 + x2                                     # COPY: Y = (X1, X2)
    >>> pid(x1, x2, copy, "broja")["unique_1"], pid(x1, x2, copy, "imin")["synergy"]
    (1.0, 1.0)
    """
    check_measure(measure)
    arrays = []
    for name, v in (("source_1", source_1), ("source_2", source_2), ("target", target)):
        a = as_samples(v, name)
        if a.ndim != 1:
            raise EmergenceInputError(
                f"{name} must be a 1-D array of samples, got shape {a.shape}; combine variables "
                f"with experio.emergence.joint(...) first."
            )
        arrays.append(a)
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise EmergenceInputError(
            f"source_1, source_2 and target need the same number of samples, got {lengths}."
        )
    w = check_weights(weights, arrays[0].shape, "plugin")
    (c1, k1), (c2, k2), (ct, kt) = (encode(a) for a in arrays)
    code = (c1 * k2 + c2) * kt + ct
    counts = np.bincount(code, weights=w, minlength=k1 * k2 * kt).astype(np.float64)
    if counts.sum() <= 0:
        raise EmergenceInputError("weights sum to zero: no sample left to estimate from.")
    table = (counts / counts.sum()).reshape(1, k1, k2, kt)
    return {k: float(v[0]) for k, v in pid_tables(table, measure).items()}
