"""Audio in: file paths, encoded bytes, or `{"waveform", "sample_rate"}` dicts, out: float32
mono at 16 kHz, the rate every backend here takes.

    >>> import numpy as np
    >>> x = load_audio({"waveform": np.zeros((2, 8000)), "sample_rate": 8000})
    >>> x.shape, x.dtype
    ((16000,), dtype('float32'))

Files and bytes are decoded by PyAV (FFmpeg; the decoder faster-whisper ships with), so any
format FFmpeg reads works: wav, flac, mp3, ogg, m4a, ... Channels are averaged; the resampler
is soxr (high quality) for waveforms and FFmpeg's for files.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16_000

AudioInput = Union[str, os.PathLike, bytes, dict]


@dataclass
class Audio:
    """One input, decoded: 16 kHz mono samples and where they came from (a path, or "<bytes>")."""

    samples: np.ndarray
    source: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def _to_numpy(waveform: Any) -> np.ndarray:
    if hasattr(waveform, "detach"):  # a torch tensor, without importing torch here
        waveform = waveform.detach().cpu().float().numpy()
    return np.asarray(waveform, dtype=np.float32)


def mix_to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of (n,), (channels, n) or (n, channels) samples: the shorter axis is channels."""
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise AudioError(f"a waveform must have 1 or 2 dimensions (samples, or channels x samples), got shape {x.shape}")
    axis = 0 if x.shape[0] <= x.shape[1] else 1
    return x.mean(axis=axis)


def resample(x: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono samples from `rate` to `target` Hz (soxr, high quality)."""
    if rate == target:
        return x.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(x, rate, target, quality="HQ").astype(np.float32, copy=False)


def _decode(source: Any, label: str) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    try:
        return decode_audio(source, sampling_rate=SAMPLE_RATE)
    except Exception as e:  # PyAV raises its own error types, one per FFmpeg failure
        raise AudioError(f"{label} could not be decoded as audio ({type(e).__name__}: {e}); "
                         "pass a wav/flac/mp3/ogg file, its bytes, or {'waveform', 'sample_rate'}") from None


def load_audio(item: AudioInput, where: str = "input") -> np.ndarray:
    """16 kHz mono float32 samples of one input; AudioError for anything that is not audio."""
    if isinstance(item, dict):
        missing = {"waveform", "sample_rate"} - set(item)
        if missing:
            raise AudioError(f"{where}: a waveform dict needs the keys 'waveform' and 'sample_rate' "
                             f"(missing {', '.join(sorted(missing))})")
        rate = int(item["sample_rate"])
        if rate <= 0:
            raise AudioError(f"{where}: sample_rate must be positive, got {item['sample_rate']}")
        samples = resample(mix_to_mono(_to_numpy(item["waveform"])), rate)
    elif isinstance(item, (bytes, bytearray, memoryview)):
        samples = _decode(io.BytesIO(bytes(item)), f"{where} (bytes)")
    elif isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if not path.is_file():
            raise AudioError(f"{where}: audio file {path} does not exist or is not a file")
        samples = _decode(str(path), f"{where} {path}")
    else:
        raise AudioError(f"{where}: cannot read audio from a {type(item).__name__}; pass a path, bytes, "
                         "or {'waveform', 'sample_rate'}")
    if samples.size == 0:
        raise AudioError(f"{where} holds no audio samples (empty or zero-length); pass a recording")
    if not np.isfinite(samples).all():
        raise AudioError(f"{where} holds NaN or infinite samples")
    return samples


def describe(item: AudioInput) -> str:
    """How an input is named in outputs: its path, or "<bytes>" / "<waveform>"."""
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    return "<waveform>" if isinstance(item, dict) else "<bytes>"
