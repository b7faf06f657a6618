"""`experio.speech`: one speech-recognition pipeline for many languages, offline, with
Omnilingual ASR's API shape and language codes (Meta FAIR, arXiv 2511.09690).

    >>> from experio.speech import ASRPipeline, evaluate_set
    >>> asr = ASRPipeline()                                          # Whisper base, offline
    >>> asr.transcribe(["talk.wav"], lang=["eng_Latn"])[0].text      # doctest: +SKIP
    'good morning everyone'

`pipeline` holds `ASRPipeline`; `whisper` and `omnilingual` the backends; `audio` decoding and
resampling; `languages` the codes; `transcript` the results and the spoken form; `evaluate`
CER / WER and the report; `testset` the built-in multilingual test set. Errors:
`experio.speech.errors`.
"""

from .audio import SAMPLE_RATE, load_audio, mix_to_mono, resample
from .errors import AudioError, BackendUnavailable, LanguageError, SpeechError, SpeechModelError, TestSetError
from .languages import language_name, nearest, omni_code, whisper_code, whisper_omni_codes
from .evaluate import cer_wer, eval_form, evaluate_set, metrics, write_report
from .pipeline import BACKENDS, ASRPipeline, load_backend
from .testset import PARTS, Utterance, builtin_set, load_manifest, sentences
from .transcript import Segment, Transcript, Word, spoken_form
from .weights import whisper_base_path
from .whisper import Prompting, WhisperBackend, transcript_from_segments

__all__ = [
    "ASRPipeline", "AudioError", "BACKENDS", "PARTS", "Utterance", "builtin_set", "cer_wer", "eval_form", "evaluate_set", "load_manifest", "metrics", "sentences", "write_report", "BackendUnavailable", "LanguageError", "SAMPLE_RATE", "Segment",
    "SpeechError", "SpeechModelError", "TestSetError", "Transcript", "Word", "language_name", "load_audio",
    "load_backend", "mix_to_mono", "nearest", "omni_code", "resample", "spoken_form", "whisper_base_path",
    "whisper_code", "whisper_omni_codes", "Prompting", "WhisperBackend", "transcript_from_segments",
]
