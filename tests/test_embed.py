"""Embeddings: all-MiniLM-L6-v2 from its PyPI package, offline; cosine top-k."""

import numpy as np
import pytest

from experio.embed import cosine_top_k, l2_normalize, load_embedder


@pytest.fixture(scope="module")
def embedder():
    return load_embedder("minilm", batch_size=4)


def test_shape_dtype_and_norm(embedder):
    texts = [f"sentence number {i}" for i in range(10)]  # more than one batch
    v = embedder.embed(texts)
    assert v.shape == (10, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError, match="wrap a single text"):
        embedder.embed("not a list")


def test_paraphrases_are_closer_than_unrelated(embedder):
    a, b, c = embedder.embed([
        "The cat is sleeping on the sofa.",
        "A cat naps on the couch.",
        "Quarterly revenue grew by four percent.",
    ])
    assert a @ b > 0.6 and a @ b > a @ c + 0.4


def test_batching_does_not_change_vectors(embedder):
    texts = ["open the door", "take the key", "go north", "read the note", "eat the apple"]
    one_by_one = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(embedder.embed(texts), one_by_one, atol=1e-5)


def test_cosine_top_k_matches_brute_force():
    rng = np.random.default_rng(0)
    m = l2_normalize(rng.normal(size=(500, 16)))
    q = l2_normalize(rng.normal(size=(3, 16)))
    idx, sims = cosine_top_k(q, m, k=5)
    brute = np.argsort(-(q @ m.T), axis=1, kind="stable")[:, :5]
    assert (idx == brute).all()
    assert np.allclose(sims, np.take_along_axis(q @ m.T, brute, 1))
    assert cosine_top_k(q, m[:2], k=5)[0].shape == (3, 2)
    with pytest.raises(ValueError, match="dimension mismatch"):
        cosine_top_k(q, m[:, :8], k=1)


# ---------------------------------------------------------------------- exact two-pass top-k
from experio.embed import exact_scores, exact_top_k_two_pass, half_copy  # noqa: E402


def brute(q, m, k, keep=None, tiebreak=()):
    """Brute force: every kept row's exact score, sorted (score desc, *tiebreak asc, row asc)."""
    rows = np.arange(len(m)) if keep is None else np.flatnonzero(keep)
    s = exact_scores(m, rows, q)
    order = np.lexsort([rows] + [np.asarray(t)[rows] for t in reversed(tiebreak)] + [-s])[:k]
    return rows[order], s[order]


def two_pass(q, m, k, **kw):
    m16, r, x = half_copy(m)
    return exact_top_k_two_pass(q, m, m16, k, max_residual=r, max_norm=x, **kw)


def hard_matrix(rng, n, d=384):
    """Random unit rows plus duplicates, near-duplicates (1e-7..1e-3 apart) of a few rows,
    rows near the query's direction, sparse rows and rows with float16-subnormal values."""
    m = rng.standard_normal((n, d)).astype(np.float32)
    hot = rng.integers(0, n, 5)
    for j in range(n // 10):
        src = m[hot[j % 5]]
        m[rng.integers(0, n)] = src if j % 3 == 0 else src + rng.standard_normal(d) * 10.0 ** rng.integers(-7, -2)
    sparse = rng.integers(0, n, n // 50)
    m[sparse] = 0
    m[sparse, rng.integers(0, d, len(sparse))] = 1
    m[sparse, 0] += 1e-6  # tiny values: float16 subnormals
    return l2_normalize(m)


@pytest.mark.parametrize("seed", range(12))
def test_two_pass_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2_500, 9_000))  # above the all-exact cut-off (2048): the float16 pass runs
    m = hard_matrix(rng, n)
    created = rng.integers(0, 50, n).astype(np.float64)  # many equal timestamps: row order decides
    for trial in range(8):
        if trial % 2:
            q = m[rng.integers(0, n)].copy()  # a stored row (and its duplicates) as the query
        else:
            q = l2_normalize(rng.standard_normal(384))
        k = int(rng.choice([1, 2, 5, 10, 50]))
        keep = None if trial < 4 else rng.random(n) < rng.choice([0.5, 0.01, 0.001])
        got = two_pass(q, m, k, keep=keep, tiebreak=(created,))
        want = brute(q, m, k, keep, (created,))
        assert np.array_equal(got[0], want[0]), (seed, trial)
        assert np.array_equal(got[1], want[1])
        # Where float32 brute force (BLAS `m @ q`) is unambiguous, it gives the same rows.
        f32 = m @ q
        gaps = np.diff(np.sort(f32)[::-1][: len(want[0]) + 1])
        if keep is None and len(gaps) and np.all(np.abs(gaps) > 1e-6):
            assert np.array_equal(np.argsort(-f32, kind="stable")[: len(want[0])], got[0])


def test_two_pass_ties_duplicates_and_k_beyond_rows():
    rng = np.random.default_rng(7)
    n = 4_000
    m = l2_normalize(rng.standard_normal((n, 384)))
    q = m[123].copy()
    dups = [3000, 50, 999, 3999]
    m[dups] = q  # exact duplicates: tie broken by tiebreak, then row
    created = np.zeros(n)
    created[3000] = -1.0  # the oldest wins the tie
    rows, sims = two_pass(q, m, 3, tiebreak=(created,))
    assert rows.tolist() == [3000, 50, 123] and np.all(sims == sims[0])
    rows, _ = two_pass(q, m, 5)
    assert rows.tolist() == [50, 123, 999, 3000, 3999]
    keep = np.zeros(n, bool)
    keep[[7, 8, 9]] = True
    rows, _ = two_pass(q, m, 10, keep=keep)  # k larger than the allowed rows
    assert sorted(rows.tolist()) == [7, 8, 9] and rows.tolist() == brute(q, m, 10, keep)[0].tolist()
    assert two_pass(q, m, 5, keep=np.zeros(n, bool))[0].size == 0
    assert two_pass(q, m, 0)[0].size == 0
    assert two_pass(q, m, 10 * n)[0].tolist() == brute(q, m, 10 * n)[0].tolist()


def test_two_pass_all_rows_within_the_bound():
    """Worst case: every row within the error bound of the k-th: all re-ranked, still exact."""
    rng = np.random.default_rng(3)
    q = l2_normalize(rng.standard_normal(384))
    m = l2_normalize(q + rng.standard_normal((3_000, 384)).astype(np.float32) * 1e-5)
    for k in (1, 7):
        assert np.array_equal(two_pass(q, m, k)[0], brute(q, m, k)[0])


def test_float16_error_bound_holds():
    """The bound the proof uses, checked on the kernel: |exact - approx| <= E + u|approx|."""
    from experio.embed import topk

    rng = np.random.default_rng(11)
    m = hard_matrix(rng, 20_000)
    m16, r, x = half_copy(m)
    d = m.shape[1]
    for _ in range(10):
        q = l2_normalize(rng.standard_normal(d)) if _ % 2 else m[rng.integers(0, len(m))].copy()
        q16 = q.astype(np.float16)
        approx = topk._approx_scores(m16, q16, True).astype(np.float64)
        exact = exact_scores(m, np.arange(len(m)), q)
        dq = float(np.linalg.norm(q.astype(np.float64) - q16))
        gamma = d * 2.0 ** -24 / (1 - d * 2.0 ** -24)
        e = float(np.linalg.norm(q.astype(np.float64))) * r + dq * (x + r) + gamma * (1 + dq) * (x + r) + 2.0 ** -24
        assert np.all(np.abs(exact - approx) <= e + 2.0 ** -11 * (1 + 2 ** -10) * np.abs(approx))


def test_exact_scores_do_not_depend_on_the_row_set():
    """Unlike float32 BLAS `m @ q`, a row's exact score is the same in any subset/position."""
    rng = np.random.default_rng(5)
    m = l2_normalize(rng.standard_normal((10_003, 384)))
    q = l2_normalize(rng.standard_normal(384))
    full = exact_scores(m, np.arange(len(m)), q)
    for size in (1, 2, 3, 5, 17, 1000):
        rows = rng.choice(len(m), size, replace=False)
        assert np.array_equal(exact_scores(m, rows, q), full[rows])


def test_torch_thread_setting_is_restored():
    import torch

    before = torch.get_num_threads()
    rng = np.random.default_rng(1)
    m = l2_normalize(rng.standard_normal((3_000, 384)))
    two_pass(m[0], m, 3)
    assert torch.get_num_threads() == before
