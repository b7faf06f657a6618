"""Test sets: the built-in multilingual one, made offline, and manifests of a user's own audio.

The built-in set has three parts, each from packages that install offline:
- `espeak`: espeak-ng (Debian) speaking the same five everyday sentences in 26 languages
  (`data/sentences.json`), synthesized once into `$EXPERIO_HOME/speech/espeak-<version>/`;
  synthetic speech, one voice per language (Mandarin read from pinyin: Debian's espeak-ng
  does not read Han characters; the reference stays in characters);
- `asterisk`: real recorded prompts of Asterisk's core sounds (Debian
  `asterisk-core-sounds-{en,es,fr,it,ru}-wav`, one human voice per language, 8 kHz telephone
  audio, CC-BY-SA 3.0, Digium) with the transcripts of `asterisk-core-sounds-LL`; prompts of at
  least four words, `per_language` of them drawn with a fixed seed;
- `librivox`: five LibriVox clips of *Sense and Sensibility* read aloud, with transcripts
  (Debian `pocketsphinx-testdata`; public domain).

A manifest is JSONL, one utterance a line: `{"audio": "clips/a.wav", "text": "...", "lang":
"eng_Latn"}` (optional `"id"`); audio paths are relative to the manifest's folder and may not
leave it. A malformed line goes to `MANIFEST.rejects.jsonl` with its reason; the rest is used.

    >>> utts = builtin_set(parts=["librivox"])               # doctest: +SKIP
    >>> utts[0].lang, utts[0].text[:20]                      # doctest: +SKIP
    ('eng_Latn', 'and mister john dash')
"""

from __future__ import annotations

import gzip
import json
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

import orjson

from experio.runs import RejectsFile, experio_home

from .errors import TestSetError
from .errors import LanguageError
from .languages import check_code

PARTS = ("espeak", "asterisk", "librivox")
ASTERISK = {"eng_Latn": "en", "spa_Latn": "es", "fra_Latn": "fr", "ita_Latn": "it", "rus_Cyrl": "ru"}
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
ASTERISK_DOCS = Path("/usr/share/doc")
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@dataclass
class Utterance:
    """One test recording: its id, audio path, reference transcript, language and set part."""

    id: str
    audio: str
    text: str
    lang: str
    part: str


def sentences() -> dict:
    """The built-in sentences and espeak-ng voices (`{"voices": {code: voice}, "sentences": {code: [...]}}`)."""
    return json.loads(resources.files("experio.speech").joinpath("data/sentences.json").read_text("utf-8"))


def _espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TestSetError("the built-in set's synthetic part needs espeak-ng: apt-get install espeak-ng "
                           "(`make install` does it), or pass --parts asterisk,librivox")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return m.group(1) if m else "unknown"


def espeak_part(languages: Sequence[str] | None = None) -> list[Utterance]:
    """The synthetic part, synthesized on first use (atomic per file, so an interrupted build resumes)."""
    data = sentences()
    folder = experio_home() / "speech" / f"espeak-{_espeak_version()}"
    out = []
    for code, texts in data["sentences"].items():
        if languages and code not in languages:
            continue
        spoken = data.get("spoken", {}).get(code, texts)  # what espeak-ng reads, where it differs
        for i, text in enumerate(texts):
            wav = folder / code / f"{i:02d}.wav"
            if not wav.is_file():
                wav.parent.mkdir(parents=True, exist_ok=True)
                tmp = wav.with_name(f".{wav.name}.part")
                subprocess.run(["espeak-ng", "-v", data["voices"][code], "-w", str(tmp), spoken[i]],
                               check=True, capture_output=True, timeout=60)
                tmp.replace(wav)
            out.append(Utterance(f"espeak/{code}/{i:02d}", str(wav), text, code, "espeak"))
    return out


def asterisk_transcripts(ll: str) -> dict[str, str]:
    path = ASTERISK_DOCS / f"asterisk-core-sounds-{ll}" / f"core-sounds-{ll}.txt.gz"
    if not path.is_file():
        return {}
    table = {}
    for line in gzip.open(path, "rt", encoding="utf-8", errors="replace"):
        name, sep, text = line.partition(":")
        if line.startswith(";") or not sep:
            continue
        text = re.sub(r"\[[^\]]*\]", " ", text).strip()  # [tones], [pause]: not speech
        if text:
            table[name.strip()] = text
    return table


def asterisk_part(per_language: int = 20, seed: int = 0) -> list[Utterance]:
    """The real-speech part: Asterisk prompts with transcripts, for each language installed."""
    out = []
    for code, ll in ASTERISK.items():
        folder = ASTERISK_SOUNDS / ll
        table = asterisk_transcripts(ll)
        usable = sorted(n for n, t in table.items() if len(t.split()) >= 4 and (folder / f"{n}.wav").is_file())
        for name in random.Random(seed).sample(usable, min(per_language, len(usable))):
            out.append(Utterance(f"asterisk/{ll}/{name}", str(folder / f"{name}.wav"), table[name], code, "asterisk"))
    return out


def librivox_part() -> list[Utterance]:
    """Five LibriVox clips of English read speech with their transcripts."""
    path = LIBRIVOX / "transcription"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        m = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
        if m and (LIBRIVOX / f"{m.group(2)}.wav").is_file():
            out.append(Utterance(f"librivox/{m.group(2)}", str(LIBRIVOX / f"{m.group(2)}.wav"),
                                 " ".join(m.group(1).split()), "eng_Latn", "librivox"))
    return out


def builtin_set(parts: Sequence[str] = PARTS, per_language: int = 20,
                languages: Sequence[str] | None = None) -> list[Utterance]:
    """The built-in test set (the named parts); a TestSetError when nothing of it is installed."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise TestSetError(f"unknown test-set part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    utts: list[Utterance] = []
    if "espeak" in parts:
        utts += espeak_part(languages)
    if "asterisk" in parts:
        utts += asterisk_part(per_language)
    if "librivox" in parts:
        utts += librivox_part()
    if languages:
        utts = [u for u in utts if u.lang in languages]
    if not utts:
        raise TestSetError("the built-in test set is empty here: install espeak-ng, asterisk-core-sounds-en-wav "
                           "(and -es, -fr, -it, -ru) and pocketsphinx-testdata with apt-get (`make install` does)")
    return utts


def _manifest_row(row: object, base: Path, n: int) -> Utterance:
    if not isinstance(row, dict):
        raise TestSetError("not a JSON object")
    for key in ("audio", "text", "lang"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise TestSetError(f"missing or empty string field {key!r}")
    check_code(row["lang"])
    audio = (base / row["audio"]).resolve()
    if not audio.is_relative_to(base):
        raise TestSetError(f"audio path {row['audio']!r} leaves the manifest's folder {base}")
    if not audio.is_file():
        raise TestSetError(f"audio file {row['audio']!r} does not exist under {base}")
    return Utterance(str(row.get("id") or f"line{n}"), str(audio), row["text"], row["lang"], "manifest")


def load_manifest(path: str | Path) -> list[Utterance]:
    """The utterances of a JSONL manifest; bad lines to `PATH.rejects.jsonl`, the rest kept."""
    path = Path(path)
    if not path.is_file():
        raise TestSetError(f"manifest {path} does not exist; pass a JSONL file of {{audio, text, lang}} lines or --set builtin")
    base, out, rejects = path.parent.resolve(), [], RejectsFile(path)
    for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_manifest_row(orjson.loads(line), base, n))
        except (orjson.JSONDecodeError, TestSetError, LanguageError) as e:
            rejects.add(n, str(e), line)
    rejects.commit()
    if not out:
        raise TestSetError(f"manifest {path} has no usable line (see {rejects.path})")
    return out
