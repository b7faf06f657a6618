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
