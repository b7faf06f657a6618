"""Cosine similarity top-k over L2-normalised float32 matrices."""

from __future__ import annotations

import numpy as np


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
        raise ValueError(
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
