"""Cosine similarity top-k over L2-normalised float32 matrices: brute force (`cosine_top_k`)
and exact two-pass search through a float16 copy (`exact_top_k_two_pass`)."""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from .errors import DimensionError


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cosine_top_k(queries: np.ndarray, matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and similarities of the `k` rows of `matrix` most similar to each query.

    Both inputs must be L2-normalised (what every `Embedder` returns). Returns two arrays of
    shape (n_queries, min(k, n_rows)), best first; ties break by the lower row index.
    """
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float32))
    if matrix.shape[0] == 0 or k <= 0:
        empty = np.empty((queries.shape[0], 0))
        return empty.astype(np.int64), empty.astype(np.float32)
    if queries.shape[1] != matrix.shape[1]:
        raise DimensionError(
            f"dimension mismatch: queries have {queries.shape[1]} dims, matrix rows {matrix.shape[1]}"
        )
    sims = queries @ matrix.T
    k = min(k, matrix.shape[0])
    # argpartition finds the top k in O(n); only those k are then sorted.
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    part_sims = np.take_along_axis(sims, part, axis=1)
    order = np.lexsort((part, -part_sims), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    return idx, np.take_along_axis(sims, idx, axis=1)


# ---------------------------------------------------------------------- exact top-k in two passes
#
# A brute-force float32 scan reads 4 bytes per stored value: 154 MB per query at 100k x 384,
# which is memory-bandwidth bound. `exact_top_k_two_pass` reads a float16
# copy instead (half the bytes; torch has a float16 matrix-vector kernel with float32
# accumulation, numpy has none), then re-ranks a few candidates exactly. A proven error bound
# on the float16 scores decides which rows must be re-ranked, so the result is exact.
#
# "Exact" score: `exact_scores` = the dot product of the float32 row and the float32 query,
# in float64 (float32 x float32 products are exact in float64; the sum of 384 terms is then
# within ~1e-14 of the real value). Each row is reduced by the same numpy pairwise sum, so a
# row's score depends on the row and the query only. A float32 BLAS scan (`matrix @ q`) does
# not have that property: OpenBLAS rounds the same row differently depending on the matrix's
# shape and the row's position (1 ulp), so duplicates or near-ties can come out in either
# order; the float64 score orders them by their real value and ties by the caller's keys.

_U16 = 2.0 ** -11          # unit roundoff of float16 (round to nearest)
_U32 = 2.0 ** -24          # unit roundoff of float32
_SMALL = 2048              # at most this many rows: score them all exactly, no first pass
_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved = 0


def exact_scores(matrix: np.ndarray, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Exact cosine scores (float64) of `matrix[rows]` against `query` (see above)."""
    return (np.asarray(matrix[rows], dtype=np.float64) * np.asarray(query, dtype=np.float64)).sum(axis=1)


def half_copy(matrix: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The float16 copy of `matrix` for `exact_top_k_two_pass`, with its two error constants.

    Returns (matrix16, max_residual, max_norm): max_residual = max_i ||x_i - fp16(x_i)||_2 and
    max_norm = max_i ||x_i||_2, both in float64 and rounded up. Rows may be added later to a
    copy (append-only) as long as the two constants passed along are maxima over every row.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    m16 = matrix.astype(np.float16)
    residual = norm = 0.0
    for s in range(0, len(matrix), 8192):  # float64 temporaries of 8192 rows at a time
        x = matrix[s:s + 8192].astype(np.float64)
        residual = max(residual, float(np.linalg.norm(x - m16[s:s + 8192], axis=1).max()))
        norm = max(norm, float(np.linalg.norm(x, axis=1).max()))
    return m16, residual * (1 + 1e-12), norm * (1 + 1e-12)


class _single_thread_torch:
    """Run torch ops with one intra-op thread, then restore the caller's setting.

    On 2 busy cores a 2-thread kernel waits for the scheduler (4 ms ticks) for its second
    thread; one thread streams the float16 copy at full speed however busy the other core is.
    torch's thread count is process-wide, so overlapping users are reference-counted.
    """

    def __enter__(self) -> None:
        global _threads_users, _threads_saved
        import torch

        with _threads_lock:
            if _threads_users == 0:
                _threads_saved = torch.get_num_threads()
                if _threads_saved != 1:
                    torch.set_num_threads(1)
            _threads_users += 1

    def __exit__(self, *exc: object) -> None:
        global _threads_users
        import torch

        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0 and _threads_saved != 1:
                torch.set_num_threads(_threads_saved)


def _approx_scores(matrix16: np.ndarray, q16: np.ndarray, single_thread: bool) -> np.ndarray:
    """float16 matrix-vector product (float32 accumulation in torch's CPU kernel) as float32."""
    import torch

    m, v = torch.from_numpy(matrix16), torch.from_numpy(q16)
    if single_thread:
        with _single_thread_torch():
            return torch.mv(m, v).float().numpy()
    return torch.mv(m, v).float().numpy()


def exact_top_k_two_pass(query: np.ndarray, matrix: np.ndarray, matrix16: np.ndarray, k: int, *,
                         max_residual: float, max_norm: float, keep: np.ndarray | None = None,
                         tiebreak: Sequence[np.ndarray] = (), single_thread: bool = True
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k rows of `matrix` by `exact_scores`, found through its float16 copy.

    `matrix` (n, d) float32 and `matrix16` = its float16 copy with `max_residual` and
    `max_norm` from `half_copy` (or larger). `keep`: bool (n,) mask of the rows allowed (applied
    before any selection). `tiebreak`: arrays (n,) ordering equal scores, the first one most
    significant, ascending; the row index breaks what they leave tied. Returns (rows, scores):
    at most k rows, best first, scores in float64: exactly what sorting every kept row by
    (-exact score, *tiebreak, row) and keeping k gives.

    Why it is exact. For a row x with float16 copy x' and query q with float16 copy q':
        q.x - q'.x' = q.(x - x') + (q - q').x'
        |q.x - q'.x'| <= |q| r + |q - q'| (|x| + r)            (Cauchy-Schwarz; r >= |x - x'|)
    torch sums the (exact in float32) float16 products in float32, in any order: error at most
    gamma_d |q'| (|x| + r), gamma_d = d u32 / (1 - d u32); then rounds to float16: error at
    most u16 |A| (1 + 2u16) + 2^-25 (subnormals) for the returned score A. So with
        E = |q| R + |q - q'| (X + R) + gamma_d |q'| (X + R) + 2^-24 + 1e-6
    (R, X: the maxima over rows; 1e-6 covers the float64 scores and float32 thresholds),
    every row's exact score S satisfies  S <= A + u |A| + E  with u = u16 (1 + 2 u16).
    Take the k kept rows with the best A and their exact k-th best score T. At least k kept
    rows score >= T, so every row of the true top k (ties included) has S >= T, hence
    A + u|A| >= T - E. Every row passing that test is re-ranked exactly (the k first ones
    pass it too), so the true top k is among them and the final sort is the brute force's.
    The bound is loose (the re-ranked set grows only with rows truly that close to the k-th
    score), never wrong; a worst case (everything within E) degrades to a full exact scan.
    """
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    q = np.asarray(query, dtype=np.float32)
    if keep is not None:
        k = min(k, int(np.count_nonzero(keep)))
    k = min(k, n)
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    if n <= _SMALL:
        cand = np.arange(n) if keep is None else np.flatnonzero(keep)
    else:
        q16 = q.astype(np.float16)
        approx = _approx_scores(matrix16[:n], q16, single_thread)
        if keep is not None:
            approx[~keep] = -np.inf  # masked before selection: never a candidate
        first = np.argpartition(approx, n - k)[n - k:]
        kth = float(exact_scores(matrix, first, q).min())
        q64, q16_64 = q.astype(np.float64), q16.astype(np.float64)
        nq, nq16, dq = (float(np.linalg.norm(v)) for v in (q64, q16_64, q64 - q16_64))
        d = matrix.shape[1]
        gamma = d * _U32 / (1 - d * _U32)
        spread = max_norm + max_residual
        e = nq * max_residual + dq * spread + gamma * nq16 * spread + _U32 + 1e-6
        u = _U16 * (1 + 2 * _U16)
        # Rows with A + u|A| >= kth - e. A + u|A| increases with A, so this is A >= t:
        v = kth - e
        t = v / (1 + u) if v >= 0 else v / (1 - u)
        t32 = np.float32(t)
        if t32 > t:  # the comparison runs in float32: round the threshold down, never up
            t32 = np.nextafter(t32, np.float32(-np.inf))
        cand = np.flatnonzero(approx >= t32)
    scores = exact_scores(matrix, cand, q)
    keys = [cand] + [np.asarray(a)[cand] for a in reversed(list(tiebreak))] + [-scores]
    order = np.lexsort(keys)[:k]
    return cand[order], scores[order]
