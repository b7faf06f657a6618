"""`experio speech transcribe | detect | eval | languages`: speech recognition in many languages,
offline (Whisper base) or with the real Omnilingual ASR, in Omnilingual's API shape and codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import orjson
import typer

from experio.errors import UsageError

from .common import console, make_app, table

app = make_app(help="Speech recognition for many languages, with Omnilingual ASR's codes (arXiv 2511.09690).",
               no_args_is_help=True)

ASR_HELP = "Backend: whisper (default, offline) or omnilingual (the real package, if installed). Env: EXPERIO_ASR."
MODEL_HELP = "whisper: base (built in), or a CTranslate2 Whisper folder; omnilingual: a model card."


def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def _srt(segments) -> str:
    blocks = [f"{i}\n{_srt_time(s.start)} --> {_srt_time(s.end)}\n{s.text}\n" for i, s in enumerate(segments, 1)]
    return "\n".join(blocks)


def _context(examples: List[str]) -> list[tuple[str, str]]:
    pairs = []
    for e in examples:
        audio, sep, text = e.partition("=")
        if not sep or not text.strip():
            raise UsageError(f"--example {e!r} must be AUDIO=TRANSCRIPT, like clip1.wav='good morning'")
        pairs.append((audio, text))
    return pairs


@app.command("transcribe")
def transcribe_command(
    files: List[Path] = typer.Argument(..., help="Audio files (any format FFmpeg reads)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Omnilingual code, like eng_Latn; detected when omitted."),
    asr: Optional[str] = typer.Option(None, "--asr", help=ASR_HELP),
    model: Optional[str] = typer.Option(None, "--model", help=MODEL_HELP),
    timestamps: bool = typer.Option(False, "--timestamps", help="Segment and word timestamps."),
    out: Optional[Path] = typer.Option(None, "--out", help="X.jsonl (one line per input) or X.srt (subtitles; one file)."),
    batch_size: int = typer.Option(8, "--batch-size", help="Clips decoded together; 1 streams segments as decoded."),
    example: List[str] = typer.Option([], "--example", help="AUDIO=TRANSCRIPT of the language (in-context "
                                      "adaptation; for Whisper: prompt conditioning). Repeatable."),
    hotwords: Optional[str] = typer.Option(None, "--hotwords", help="Terms to favour (names, jargon)."),
) -> None:
    """Transcribe audio files; segments stream to the terminal as they are decoded (batch size 1)."""
    from experio.speech import ASRPipeline

    if out is not None and out.suffix not in (".jsonl", ".srt"):
        raise UsageError(f"--out {out} must end in .jsonl or .srt")
    if out is not None and out.suffix == ".srt" and len(files) != 1:
        raise UsageError("--out X.srt takes one input file; use X.jsonl for several")
    pipe = ASRPipeline(model, asr=asr, progress=batch_size > 1 and len(files) > 1)
    context = _context(example)
    if batch_size == 1 and pipe.backend.name == "whisper":
        results = [_stream_one(pipe, f, lang, timestamps, context, hotwords) for f in files]
    else:
        results = pipe.transcribe([str(f) for f in files], lang=lang, batch_size=batch_size, words=timestamps,
                                  context=context, hotwords=hotwords)
        for t in results:
            console.print(f"[bold]{t.source}[/] ({t.lang}, {t.duration:.1f} s): {t.text}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".srt":
            out.write_text(_srt(results[0].segments), encoding="utf-8")
        else:
            out.write_bytes(b"".join(orjson.dumps({"path": t.source, **t.to_dict(timestamps)},
                                                  option=orjson.OPT_APPEND_NEWLINE) for t in results))
        console.print(f"Wrote {out}")


def _stream_one(pipe, path: Path, lang, timestamps, context, hotwords):
    from experio.speech import load_audio, transcript_from_segments

    segments, code, prob = pipe.stream(str(path), lang, words=timestamps, context=context, hotwords=hotwords)
    console.print(f"[bold]{path}[/] ({code}{'' if lang else f', p={prob:.2f}'}):")
    got = []
    for s in segments:
        got.append(s)
        console.print(f"  [{s.start:7.2f} -> {s.end:7.2f}] {s.text}" if timestamps else f"  {s.text}")
        sys.stdout.flush()
    return transcript_from_segments(str(path), load_audio(str(path)), got, code, prob)


@app.command("detect")
def detect_command(
    files: List[Path] = typer.Argument(..., help="Audio files."),
    top: int = typer.Option(3, "--top", help="Candidates to show."),
    model: Optional[str] = typer.Option(None, "--model", help=MODEL_HELP),
) -> None:
    """Identify the spoken language, with probabilities (Whisper's language ID)."""
    from experio.speech import ASRPipeline, language_name

    pipe = ASRPipeline(model, asr="whisper")
    for f, cands in zip(files, pipe.detect_language([str(f) for f in files], top=top)):
        console.print(f"[bold]{f}[/]: " + ", ".join(f"{c} {language_name(c)} {p:.2f}" for c, p in cands))


@app.command("languages")
def languages_command(asr: Optional[str] = typer.Option(None, "--asr", help=ASR_HELP)) -> None:
    """The languages the backend transcribes, as Omnilingual codes."""
    from experio.speech import language_name, whisper_omni_codes

    if (asr or "whisper") == "whisper":
        codes = whisper_omni_codes()
    else:
        from experio.speech import ASRPipeline

        codes = ASRPipeline(asr=asr).languages()
    t = table("code", "language", title=f"{len(codes)} languages")
    for c in codes:
        t.add_row(c, language_name(c))
    console.print(t)


@app.command("eval")
def eval_command(
    out: Path = typer.Option(..., "--out", help="Run folder, e.g. runs/speech-eval."),
    set_: str = typer.Option("builtin", "--set", help="builtin, or a JSONL manifest of {audio, text, lang} lines."),
    parts: str = typer.Option("espeak,asterisk,librivox", "--parts", help="Parts of the built-in set."),
    per_language: int = typer.Option(20, "--per-language", help="Asterisk prompts per language."),
    languages: Optional[str] = typer.Option(None, "--languages", help="Only these codes, comma-separated."),
    asr: Optional[str] = typer.Option(None, "--asr", help=ASR_HELP),
    model: Optional[str] = typer.Option(None, "--model", help=MODEL_HELP),
    batch_size: int = typer.Option(8, "--batch-size"),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted evaluation in --out."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """CER / WER per language and overall, the share under CER 10, RTF: report.md + PNG."""
    from experio.speech import ASRPipeline, builtin_set, evaluate_set, load_manifest

    langs = [c.strip() for c in languages.split(",")] if languages else None
    if set_ == "builtin":
        utts = builtin_set([p.strip() for p in parts.split(",")], per_language, langs)
    else:
        utts = [u for u in load_manifest(set_) if not langs or u.lang in langs]
    m = evaluate_set(ASRPipeline(model, asr=asr), utts, out, batch_size=batch_size, resume=resume,
                     progress=not quiet, set_name=set_)
    t = table("language", "utterances", "CER", "WER", title=f"{out}: {m['utterances']} utterances")
    for code, v in m["languages"].items():
        t.add_row(code, str(v["utterances"]), f"{100 * v['cer']:.1f}",
                  "n/a" if v["wer"] is None else f"{100 * v['wer']:.1f}")
    console.print(t)
    console.print(f"Languages under CER 10: {100 * m['share_under_cer10']:.1f} %; RTF {m['rtf']:.3f}. "
                  f"Report: {out}/report.md")
