"""Real-time factor of `experio speech` against faster-whisper called directly, on the same
long recording, model and settings; and batched against one-at-a-time decoding.

The recording is real speech: Asterisk's English prompts (one human voice, Debian
`asterisk-core-sounds-en-wav`) laid end to end with 0.6 s pauses until `--minutes` long; the
reference is their transcripts in the same order. Every variant decodes the same samples
(decoded once, 16 kHz mono), Whisper base int8 on the CPU, beam 5, language given:

- faster-whisper sequential: `WhisperModel.transcribe(vad_filter=True)`;
- experio, batch 1: `ASRPipeline.transcribe(batch_size=1)` (the same call underneath);
- faster-whisper batched: `BatchedInferencePipeline.transcribe(batch_size=B)` (its own VAD chunks);
- experio, batch B: `ASRPipeline.transcribe(batch_size=B)` (the same call underneath).

Decoding is beam search at temperature 0 in every variant (`--temperature`): faster-whisper's
default falls back to sampling at higher temperatures when a window decodes badly, which makes
both time and text differ from run to run.

    python benchmarks/speech_rtf.py                    # 10 minutes, batch 8
    python benchmarks/speech_rtf.py --minutes 2 --repeats 1

Targets (issue 14): experio's overhead over faster-whisper at most 5 %; RTF at most 0.3 with
batching, with WER no worse than unbatched.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def long_recording(minutes: float) -> tuple[np.ndarray, str]:
    from experio.speech import SAMPLE_RATE, load_audio
    from experio.speech.testset import ASTERISK_SOUNDS, asterisk_transcripts  # the Asterisk prompt table

    table = asterisk_transcripts("en")
    pieces, texts, total = [], [], 0
    pause = np.zeros(int(0.6 * SAMPLE_RATE), dtype=np.float32)
    for name in sorted(table):
        path = ASTERISK_SOUNDS / "en" / f"{name}.wav"
        if len(table[name].split()) < 3 or not path.is_file():
            continue
        x = load_audio(str(path))
        pieces += [x, pause]
        texts.append(table[name])
        total += len(x) + len(pause)
        if total >= minutes * 60 * SAMPLE_RATE:
            break
    return np.concatenate(pieces), " ".join(texts)


def timed(fn, repeats: int) -> tuple[float, str]:
    best, text = float("inf"), ""
    for _ in range(repeats):
        start = time.perf_counter()
        text = fn()
        best = min(best, time.perf_counter() - start)
    return best, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=0.0)
    args = ap.parse_args()

    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from experio.speech import SAMPLE_RATE, ASRPipeline, cer_wer, whisper_base_path
    from experio.speech import spoken_form

    audio, reference = long_recording(args.minutes)
    seconds = len(audio) / SAMPLE_RATE
    t = args.temperature
    asr = ASRPipeline(temperature=t)  # int8, beam 5, all cores: the same settings as below
    direct = WhisperModel(str(whisper_base_path()), device="cpu", compute_type="int8",
                          cpu_threads=os.cpu_count() or 1)
    direct_batched = BatchedInferencePipeline(direct)
    b = args.batch_size

    def fw_sequential() -> str:
        segments, _ = direct.transcribe(audio, language="en", beam_size=5, vad_filter=True, temperature=t)
        return " ".join(s.text.strip() for s in segments)

    def fw_batched() -> str:
        segments, _ = direct_batched.transcribe(audio, language="en", beam_size=5, batch_size=b, temperature=t)
        return " ".join(s.text.strip() for s in segments)

    def ex(batch: int):
        return lambda: asr.transcribe({"waveform": audio, "sample_rate": SAMPLE_RATE}, lang="eng_Latn",
                                      batch_size=batch)[0].raw

    rows = []
    for name, fn in [("faster-whisper, sequential", fw_sequential), ("experio, batch 1", ex(1)),
                     (f"faster-whisper, batched {b}", fw_batched), (f"experio, batch {b}", ex(b))]:
        s, text = timed(fn, args.repeats)
        rows.append((name, s, s / seconds, cer_wer([reference], [spoken_form(text)], "eng_Latn")[1]))
        print(f"  {name}: {s:.1f} s", file=sys.stderr)

    print(f"\n{seconds / 60:.1f} minutes of real English speech (Asterisk prompts), Whisper base int8, CPU\n")
    print("| variant | seconds | RTF | WER | vs faster-whisper |")
    print("|---|---:|---:|---:|---:|")
    for i, (name, s, rtf, wer) in enumerate(rows):
        base = rows[i - 1][1] if name.startswith("experio") else s
        print(f"| {name} | {s:.1f} | {rtf:.3f} | {100 * wer:.1f} % | {s / base:.3f}x |")
    print(f"\nexperio overhead: sequential {rows[1][1] / rows[0][1] - 1:+.1%}, batched {rows[3][1] / rows[2][1] - 1:+.1%} "
          f"(target at most +5 %); batched RTF {rows[3][2]:.3f} (target at most 0.3); "
          f"WER batched {100 * rows[3][3]:.1f} % vs unbatched {100 * rows[1][3]:.1f} %")


if __name__ == "__main__":
    main()
