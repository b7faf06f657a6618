"""CER and WER per language and overall, the share of languages under CER 10 (Omnilingual's
headline measure), and the real-time factor; written as a run folder with a report.

    >>> cer_wer(["the cat sat"], ["the cat sad"], "eng_Latn")
    (0.0909..., 0.3333...)

Normalisation, applied to reference and hypothesis alike (`eval_form`): the spoken form
(NFKC, case-folded, punctuation off; `transcript.spoken_form`); where the reference of a
Latin-script language is plain ASCII (typed without accents, as Asterisk's Spanish, French and
Italian transcripts are), diacritics are removed from the hypothesis too; for scripts written
without spaces (Han, Japanese, Thai, Khmer, Lao, Myanmar) CER is over characters without
spaces and WER is not reported. Scores are corpus-level: total edits over total reference
characters (words), by jiwer.
"""

from __future__ import annotations

import time
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from experio.runs import RunFolder, markdown_table, pct, save_figure, write_json, write_text

from .languages import language_name
from .pipeline import ASRPipeline
from .testset import Utterance
from .transcript import spoken_form

NO_SPACES = {"Hans", "Hant", "Jpan", "Thai", "Khmr", "Laoo", "Mymr"}
CER_GOOD = 0.10  # the paper's threshold: CER below 10


def _strip_diacritics(text: str) -> str:
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFKD", text)
                                                if unicodedata.category(c) != "Mn"))


def eval_form(reference: str, hypothesis: str, lang: str) -> tuple[str, str]:
    """(reference, hypothesis) normalised for scoring (see the module docstring)."""
    ref, hyp = spoken_form(reference), spoken_form(hypothesis)
    script = lang.split("_")[-1]
    if script == "Latn" and ref.isascii():
        hyp = _strip_diacritics(hyp)
    if script in NO_SPACES:
        ref, hyp = ref.replace(" ", ""), hyp.replace(" ", "")
    return ref, hyp


def cer_wer(references: Sequence[str], hypotheses: Sequence[str], lang: str) -> tuple[float, float | None]:
    """Corpus-level (CER, WER) of `hypotheses` against `references` in language `lang` (WER None
    for scripts without spaces)."""
    import jiwer

    pairs = [eval_form(r, h, lang) for r, h in zip(references, hypotheses)]
    refs = [r for r, _ in pairs if r]
    hyps = [h for r, h in pairs if r]
    if not refs:
        return 0.0, None
    cer = jiwer.cer(refs, hyps)
    wer = None if lang.split("_")[-1] in NO_SPACES else jiwer.wer(refs, [h or "" for h in hyps])
    return float(cer), None if wer is None else float(wer)


def _by_language(utts: Sequence[Utterance]) -> dict[str, list[Utterance]]:
    groups: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        groups[u.lang].append(u)
    return dict(groups)


def evaluate_set(asr: ASRPipeline, utts: Sequence[Utterance], out: str | Path, *, batch_size: int = 8,
                 resume: bool = False, progress: bool = True, set_name: str = "builtin") -> dict:
    """Transcribe every utterance (in the language it is labelled with), score, write the report.

    Records go to `OUT/transcripts.jsonl` one language at a time, so an interrupted run resumes
    where it stopped (`resume=True`).
    """
    run = RunFolder(out, kind="speech eval", records="transcripts.jsonl")
    done = {r["id"] for r in run.records()} if run.records_path.exists() else set()
    run.open(resume=resume, finished=len(done), what="transcript(s)")
    run.set_config(["eval"], {"set": set_name, "backend": asr.backend.name, "model": asr.backend.model_name,
                              "batch_size": batch_size, "utterances": len(utts)})
    todo = [u for u in utts if u.id not in done]
    from experio.runs import progress as progress_bar

    with run.appender() as records, progress_bar("Evaluating", len(utts), len(utts) - len(todo),
                                                 enabled=progress, counter=None) as advance:
        for lang, group in _by_language(todo).items():
            start = time.perf_counter()
            results = asr.transcribe([u.audio for u in group], lang=lang, batch_size=batch_size)
            seconds = (time.perf_counter() - start) / len(group)  # the group's decode time, shared evenly
            for u, t in zip(group, results):
                records.write({"id": u.id, "part": u.part, "lang": lang, "reference": u.text, "hypothesis": t.text,
                               "raw": t.raw, "audio_seconds": t.duration, "decode_seconds": round(seconds, 4)})
                advance()
    return write_report(run)


def metrics(records: Sequence[dict]) -> dict:
    """Per-language and overall CER / WER, the share of languages under CER 10, and the RTF."""
    langs = {}
    for lang, rows in sorted(_group(records, "lang").items()):
        cer, wer = cer_wer([r["reference"] for r in rows], [r["hypothesis"] for r in rows], lang)
        audio = sum(r["audio_seconds"] for r in rows)
        langs[lang] = {"name": language_name(lang), "utterances": len(rows), "audio_seconds": round(audio, 1),
                       "parts": sorted({r["part"] for r in rows}), "cer": cer, "wer": wer,
                       "rtf": sum(r["decode_seconds"] for r in rows) / audio if audio else None}
    audio = sum(r["audio_seconds"] for r in records)
    good = [l for l, m in langs.items() if m["cer"] < CER_GOOD]
    return {"languages": langs, "utterances": len(records), "audio_seconds": round(audio, 1),
            "cer_mean": sum(m["cer"] for m in langs.values()) / len(langs) if langs else None,
            "share_under_cer10": len(good) / len(langs) if langs else None,
            "rtf": sum(r["decode_seconds"] for r in records) / audio if audio else None,
            "by_part": {p: _part(rows) for p, rows in sorted(_group(records, "part").items())}}


def _group(records: Sequence[dict], key: str) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[r[key]].append(r)
    return groups


def _part(rows: list[dict]) -> dict:
    cer = {lang: cer_wer([r["reference"] for r in g], [r["hypothesis"] for r in g], lang)[0]
           for lang, g in sorted(_group(rows, "lang").items())}
    per = list(cer.values())
    return {"languages": len(per), "utterances": len(rows), "cer_mean": sum(per) / len(per),
            "share_under_cer10": sum(c < CER_GOOD for c in per) / len(per), "cer": cer}


def _plot(path: Path, langs: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = sorted(langs, key=lambda l: langs[l]["cer"])
    fig, ax = plt.subplots(figsize=(max(6, 0.32 * len(order)), 3.8))
    ax.bar(range(len(order)), [100 * langs[l]["cer"] for l in order], color="#4c72b0")
    ax.axhline(100 * CER_GOOD, color="#c44e52", linestyle="--", label="CER 10")
    ax.set_xticks(range(len(order)), order, rotation=70, fontsize=7)
    ax.set_ylabel("CER (%)")
    ax.set_title("CER by language")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


def write_report(run: RunFolder) -> dict:
    """metrics.json, report.md and cer_by_language.png of an evaluation folder."""
    m = metrics(run.records())
    write_json(run.path / "metrics.json", m)
    _plot(run.path / "cer_by_language.png", m["languages"])
    cfg = run.config().get("eval", {})
    rows = [[l, v["name"], ", ".join(v["parts"]), v["utterances"], v["audio_seconds"], pct(v["cer"]),
             pct(v["wer"]), f"{v['rtf']:.3f}" if v["rtf"] is not None else "n/a"] for l, v in m["languages"].items()]
    parts = [[p, v["languages"], v["utterances"], pct(v["cer_mean"]), pct(v["share_under_cer10"]),
              ", ".join(f"{l} {100 * c:.1f}" for l, c in v["cer"].items()) if len(v["cer"]) <= 6 else "see below"]
             for p, v in m["by_part"].items()]
    lines = [f"# Speech evaluation: {cfg.get('backend')} {cfg.get('model')}, set {cfg.get('set')}", "",
             f"{m['utterances']} utterances, {m['audio_seconds']} s of audio, {len(m['languages'])} languages; "
             f"batch size {cfg.get('batch_size')}.", "",
             f"- languages under CER 10: **{pct(m['share_under_cer10'])}** (Omnilingual reports 78 % of 1,600+ languages)",
             f"- mean per-language CER: {pct(m['cer_mean'])}",
             f"- real-time factor (decode seconds per audio second): {m['rtf']:.3f}", "",
             *markdown_table(["part", "languages", "utterances", "mean CER", "under CER 10", "CER by language (%)"], parts), "",
             "![CER by language](cer_by_language.png)", "",
             *markdown_table(["language", "name", "parts", "utterances", "audio s", "CER", "WER", "RTF"], rows), "",
             "Normalisation: spoken form (case-folded, punctuation removed); diacritics removed from the hypothesis "
             "where a Latin-script reference is plain ASCII; no spaces in CER for scripts written without them.", ""]
    write_text(run.path / "report.md", "\n".join(lines))
    return m
