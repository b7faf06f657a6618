"""`ASRPipeline`: Omnilingual's API shape over experio's speech backends.

    >>> from experio.speech import ASRPipeline
    >>> asr = ASRPipeline()                                    # Whisper base, offline, CPU
    >>> [t.text for t in asr.transcribe(["a.wav", "b.flac"], lang=["eng_Latn", "deu_Latn"])]   # doctest: +SKIP
    ['hello world', 'guten tag']
    >>> asr.detect_language("c.wav")[0]                        # doctest: +SKIP
    [('fra_Latn', 0.97), ('ita_Latn', 0.01), ...]

Inputs are file paths, encoded bytes, or `{"waveform", "sample_rate"}` dicts (numpy or
torch); `lang` is one Omnilingual code for all, one per input, or None to detect it. The
backend is `whisper` (default; faster-whisper, offline weights) or `omnilingual` (the real
package, when installed with its checkpoints), by argument or `EXPERIO_ASR`.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Sequence

import numpy as np

from experio.errors import unknown_name
from experio.runs import progress as progress_bar

from .audio import SAMPLE_RATE, AudioInput, describe, load_audio
from .errors import LanguageError
from .transcript import Segment, Transcript, spoken_form
from .whisper import Prompting, WhisperBackend, transcript_from_segments

BACKENDS = ("whisper", "omnilingual")


def load_backend(asr: str | None = None, model: str | None = None, **options: Any):
    """The backend named `asr` (or `EXPERIO_ASR`, default whisper), loaded with `model`."""
    name = (asr or os.environ.get("EXPERIO_ASR") or "whisper").lower()
    if name == "whisper":
        return WhisperBackend(model or "base", **options)
    if name == "omnilingual":
        from .omnilingual import DEFAULT_CARD, OmnilingualBackend

        return OmnilingualBackend(model or DEFAULT_CARD, **{k: v for k, v in options.items() if k == "device"})
    raise unknown_name("speech backend (--asr / EXPERIO_ASR)", name, BACKENDS)


def _as_list(inputs: AudioInput | Sequence[AudioInput]) -> list[AudioInput]:
    if isinstance(inputs, (str, os.PathLike, bytes, bytearray, dict)):
        return [inputs]
    return list(inputs)


def _langs(lang: str | Sequence[str | None] | None, n: int) -> list[str | None]:
    if lang is None or isinstance(lang, str):
        return [lang] * n
    langs = list(lang)
    if len(langs) != n:
        raise LanguageError(f"lang has {len(langs)} codes for {n} inputs; give one code, one per input, or None")
    return langs


class ASRPipeline:
    """Transcribe speech in any language a backend knows, with Omnilingual's codes and API."""

    def __init__(self, model: str | None = None, *, asr: str | None = None, device: str = "cpu",
                 progress: bool = False, **options: Any) -> None:
        self.backend = load_backend(asr, model, device=device, **options)
        self.progress = progress

    def languages(self) -> list[str]:
        """The Omnilingual codes the backend transcribes."""
        return self.backend.languages()

    def detect_language(self, inputs: AudioInput | Sequence[AudioInput], top: int = 5) -> list[list[tuple[str, float]]]:
        """For each input, the `top` most likely languages with their probabilities, best first."""
        if not hasattr(self.backend, "detect_language"):
            raise LanguageError(f"the {self.backend.name} backend has no language identification; use --asr whisper")
        return [self.backend.detect_language(load_audio(x, f"input {i}"), top) for i, x in enumerate(_as_list(inputs))]

    def transcribe(self, inputs: AudioInput | Sequence[AudioInput], lang: str | Sequence[str | None] | None = None,
                   batch_size: int = 8, *, words: bool = False, context: Sequence[tuple[AudioInput, str]] | None = None,
                   hotwords: str | None = None) -> list[Transcript]:
        """One Transcript per input, in input order.

        `words` adds word timestamps; `context` is a handful of (audio, transcript) examples of
        the language (in-context adaptation: see the backend), `hotwords` terms to favour.
        """
        items = _as_list(inputs)
        langs = _langs(lang, len(items))
        for code in {c for c in langs if c}:
            self.backend.code(code)  # an unknown code fails before any decoding
        audios = [load_audio(x, f"input {i}") for i, x in enumerate(items)]
        if self.backend.name == "omnilingual":
            return self._omnilingual(items, audios, langs, batch_size, context)
        prompting, langs = self._prompting(context, hotwords, langs)
        return self._whisper(items, audios, langs, batch_size, words, prompting)

    def stream(self, item: AudioInput, lang: str | None = None, *, words: bool = False,
               context: Sequence[tuple[AudioInput, str]] | None = None,
               hotwords: str | None = None) -> tuple[Iterator[Segment], str, float]:
        """Segments of one input as they are decoded, with the language used and its probability."""
        if self.backend.name != "whisper":
            raise LanguageError(f"streaming needs --asr whisper; the {self.backend.name} backend returns whole texts")
        prompting, (lang,) = self._prompting(context, hotwords, [lang])
        return self.backend.stream(load_audio(item), lang, words=words, prompting=prompting)

    # ---------------------------------------------------------------------------- helpers

    def _prompting(self, context, hotwords, langs: list[str | None]) -> tuple[Prompting, list[str | None]]:
        """Whisper's conditioning from the examples; their audio names the language where none is given."""
        if not context:
            return Prompting(hotwords=hotwords), langs
        examples = [(load_audio(a, f"context example {i}"), t) for i, (a, t) in enumerate(context)]
        if any(c is None for c in langs):
            guess = self.backend.detect_language(np.concatenate([a for a, _ in examples]), 1)[0][0]
            langs = [c or guess for c in langs]
        return Prompting(initial_prompt=" ".join(t.strip() for _, t in examples), hotwords=hotwords), langs

    def _whisper(self, items, audios, langs, batch_size, words, prompting) -> list[Transcript]:
        found: dict[int, list[tuple[str, float]]] = {}
        for i, code in enumerate(langs):
            if code is None:
                found[i] = self.backend.detect_language(audios[i])
        used = [code or found[i][0][0] for i, code in enumerate(langs)]
        out: list[Transcript | None] = [None] * len(items)
        with progress_bar("Transcribing", len(items), enabled=self.progress, counter=None) as advance:
            if batch_size > 1:
                for code in dict.fromkeys(used):
                    idx = [i for i, c in enumerate(used) if c == code]
                    for i, segs in zip(idx, self.backend.transcribe_batch([audios[i] for i in idx], code,
                                                                          batch_size=batch_size, words=words,
                                                                          prompting=prompting)):
                        out[i] = self._result(items[i], audios[i], segs, used[i], found.get(i))
                        advance()
            else:
                for i, audio in enumerate(audios):
                    segs, code, _ = self.backend.stream(audio, used[i], words=words, prompting=prompting)
                    out[i] = self._result(items[i], audio, list(segs), code, found.get(i))
                    advance()
        return out  # type: ignore[return-value]

    @staticmethod
    def _result(item, audio, segments, code, probs) -> Transcript:
        probability = probs[0][1] if probs else 1.0
        return transcript_from_segments(describe(item), audio, segments, code, probability, probs)

    def _omnilingual(self, items, audios, langs, batch_size, context) -> list[Transcript]:
        ctx = [(load_audio(a, f"context example {i}"), t) for i, (a, t) in enumerate(context or [])]
        out = []
        for code in dict.fromkeys(langs):
            idx = [i for i, c in enumerate(langs) if c == code]
            texts = self.backend.transcribe_batch([audios[i] for i in idx], code, batch_size=batch_size, context=ctx)
            for i, raw in zip(idx, texts):
                out.append((i, Transcript(source=describe(items[i]), text=spoken_form(raw), raw=raw, lang=code,
                                          duration=round(len(audios[i]) / SAMPLE_RATE, 3))))
        return [t for _, t in sorted(out, key=lambda p: p[0])]
