"""The real Omnilingual ASR (Meta FAIR, arXiv 2511.09690) as a backend, when its package
(`pip install 'experio[omnilingual]'`, which brings fairseq2) and a checkpoint are on disk.

Its checkpoints download from Meta's servers at first use; experio never starts a download,
so a card whose checkpoint is not in fairseq2's asset cache (`FAIRSEQ2_CACHE_DIR`, default
`~/.cache/fairseq2/assets`) is a clear error naming the card and that path. What it lacks and
experio adds on top (chunking beyond 40 s, timestamps, language ID) comes from the Whisper
backend's VAD; this backend takes inputs of at most 40 s, as Omnilingual does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .audio import SAMPLE_RATE
from .errors import AudioError, BackendUnavailable, SpeechModelError
from .languages import check_code, unsupported

DEFAULT_CARD = "omniASR_LLM_300M"  # the smallest LLM-ASR card: language-conditioned, fits a CPU
MAX_SECONDS = 40  # Omnilingual rejects longer inputs


def fairseq2_cache() -> Path:
    return Path(os.environ.get("FAIRSEQ2_CACHE_DIR", Path.home() / ".cache" / "fairseq2" / "assets"))


class OmnilingualBackend:
    """`omnilingual_asr`'s `ASRInferencePipeline` behind experio's backend interface."""

    name = "omnilingual"

    def __init__(self, model: str = DEFAULT_CARD, *, device: str = "cpu") -> None:
        try:
            from omnilingual_asr.models.inference.pipeline import ASRInferencePipeline
        except ImportError:
            raise BackendUnavailable("the omnilingual backend needs the omnilingual-asr package: "
                                     "pip install 'experio[omnilingual]' (it builds fairseq2), or use --asr whisper") from None
        cache = fairseq2_cache()
        if not cache.is_dir() or not any(cache.iterdir()):
            raise SpeechModelError(f"no Omnilingual checkpoint on disk for card {model!r}: fairseq2's asset cache "
                                   f"{cache} is empty, and experio does not download; fetch the card on a machine "
                                   "with internet and copy that folder here (or set FAIRSEQ2_CACHE_DIR)")
        self.model_name = model
        try:
            self.pipeline = ASRInferencePipeline(model_card=model, device=device)
        except Exception as e:  # fairseq2 raises its own asset errors
            raise SpeechModelError(f"Omnilingual card {model!r} could not be loaded from {cache}: {e}") from None

    def languages(self) -> list[str]:
        from omnilingual_asr.models.wav2vec2_llama.lang_ids import supported_langs

        return sorted(supported_langs)

    def code(self, lang: str) -> str:
        check_code(lang)
        supported = self.languages()
        if lang not in supported:
            raise unsupported(lang, f"Omnilingual {self.model_name}", supported)
        return lang

    def transcribe_batch(self, audios: Sequence[np.ndarray], lang: str | None, *, batch_size: int = 8,
                         context: Sequence[tuple[np.ndarray, str]] | None = None) -> list[str]:
        """Raw texts of `audios` (each at most 40 s); `context` examples go to the zero-shot card."""
        for i, a in enumerate(audios):
            if len(a) > MAX_SECONDS * SAMPLE_RATE:
                raise AudioError(f"input {i} is {len(a) / SAMPLE_RATE:.0f} s; the omnilingual backend takes at most "
                                 f"{MAX_SECONDS} s: use --asr whisper, which chunks long audio")
        inputs = [{"waveform": a, "sample_rate": SAMPLE_RATE} for a in audios]
        if context:
            examples = [{"waveform": a, "sample_rate": SAMPLE_RATE, "text": t} for a, t in context]
            return list(self.pipeline.transcribe_with_context(inputs, context_examples=[examples] * len(inputs),
                                                              batch_size=batch_size))
        langs = [self.code(lang)] * len(inputs) if lang else None
        return list(self.pipeline.transcribe(inputs, lang=langs, batch_size=batch_size))
