"""Exceptions raised by `experio.embed`.

    ExperioError (experio.errors)
     └── EmbeddingError              (also a RuntimeError)
          └── DimensionError         vectors of different sizes (also a ValueError)

    >>> from experio.embed import load_embedder
    >>> load_embedder("word2vec")                # doctest: +SKIP
    EmbeddingError: unknown embedding backend 'word2vec'; choose minilm or openai
"""

from __future__ import annotations

from experio.errors import ExperioError


class EmbeddingError(ExperioError, RuntimeError):
    """An embedding backend is missing, misconfigured or unreachable."""


class DimensionError(EmbeddingError, ValueError):
    """Query vectors and stored vectors have different dimensions (e.g. another embedding model)."""
