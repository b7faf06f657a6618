"""Language codes in Omnilingual's form (ISO 639-3 + ISO 15924 script: `eng_Latn`, `cmn_Hans`,
`kor_Hang`), mapped to each backend's own codes and back.

    >>> whisper_code("eng_Latn"), whisper_code("cmn_Hans"), omni_code("ko")
    ('en', 'zh', 'kor_Hang')
    >>> whisper_code("gsw_Latn")                                   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    experio.speech.errors.LanguageError: Whisper cannot transcribe gsw_Latn (Swiss German); nearest it can: deu_Latn (German), ...

Where Whisper's ISO 639-1 code names a macrolanguage (`zh`, `ar`, `fa`, ...), the Omnilingual
code is the individual language its data is mostly in, as the FLORES-200 codes that Omnilingual
follows name them (`cmn_Hans`, `arb_Arab`, `pes_Arab`; the brief gives only `cmn_Hans`, the rest
is our reconstruction); the macrolanguage code (`zho_Hans`, `ara_Arab`) is accepted as well.
Language names, scripts and distances come from `langcodes` (CLDR data).
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from .errors import LanguageError

CODE = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")

# ISO 639-3 macrolanguage -> the individual language Omnilingual / FLORES-200 codes use.
INDIVIDUAL = {
    "zho": "cmn", "ara": "arb", "fas": "pes", "msa": "zsm", "nor": "nob", "uzb": "uzn", "est": "ekk",
    "lav": "lvs", "swa": "swh", "mon": "khk", "pus": "pbt", "aze": "azj", "sqi": "als", "yid": "ydd",
}
# Scripts CLDR gives differently from Omnilingual's cards.
SCRIPT = {"ko": "Hang"}
# Codes Whisper also serves beyond one per language: a second script it writes.
EXTRA = {"cmn_Hant": "zh", "yue_Hans": "yue"}


def whisper_languages() -> tuple[str, ...]:
    """The codes multilingual Whisper transcribes (faster-whisper's tokenizer list)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES  # the one list faster-whisper keeps

    return tuple(_LANGUAGE_CODES)


def _langcodes():
    try:
        import langcodes
    except ImportError:
        raise LanguageError("language names need the package langcodes: pip install langcodes language-data") from None
    return langcodes


@lru_cache(maxsize=None)
def omni_code(whisper: str) -> str:
    """The Omnilingual code (`lll_Ssss`) of a Whisper language code."""
    lc = _langcodes()
    lang = lc.Language.get(whisper)
    alpha3 = lang.to_alpha3()
    script = SCRIPT.get(whisper) or lang.maximize().script
    return f"{INDIVIDUAL.get(alpha3, alpha3)}_{script}"


@lru_cache(maxsize=None)
def _whisper_table() -> dict[str, str]:
    table = {omni_code(w): w for w in whisper_languages()}
    macro = {v: k for k, v in INDIVIDUAL.items()}
    for code, w in list(table.items()):
        lang, script = code.split("_")
        if lang in macro:
            table[f"{macro[lang]}_{script}"] = w
    table.update(EXTRA)
    return table


def language_name(code: str) -> str:
    """The English name of an Omnilingual code's language ("German" for `deu_Latn`)."""
    lang = code.split("_")[0]
    try:
        return _langcodes().Language.get(lang).display_name()
    except (LookupError, ValueError):
        return lang


def check_code(code: str) -> tuple[str, str]:
    """(language, script) of a well-formed code, else a LanguageError showing the form."""
    m = CODE.match(str(code))
    if not m:
        hint = ""
        if re.fullmatch(r"[a-z]{2,3}", str(code)):
            try:
                hint = f" (did you mean {omni_code(str(code))}?)"
            except (LookupError, ValueError):  # not a language code at all
                hint = ""
        raise LanguageError(f"language {code!r} is not in Omnilingual's form: ISO 639-3 code, underscore, "
                            f"ISO 15924 script, like eng_Latn, cmn_Hans, kor_Hang{hint}")
    return m.group(1), m.group(2)


def nearest(code: str, supported: list[str], k: int = 3) -> list[str]:
    """The `k` supported codes closest to `code`: by CLDR language distance, then by name."""
    lc = _langcodes()
    lang = code.split("_")[0]
    name = language_name(code).lower()

    def key(candidate: str) -> tuple[float, float]:
        try:
            distance = lc.tag_distance(lang, candidate.split("_")[0])
        except (LookupError, ValueError):
            distance = 1000
        similarity = difflib.SequenceMatcher(None, name, language_name(candidate).lower()).ratio()
        return distance, -similarity

    return sorted(supported, key=key)[:k]


def unsupported(code: str, backend: str, supported: list[str]) -> LanguageError:
    """The error for a well-formed code `backend` cannot do, naming the nearest codes it can."""
    near = ", ".join(f"{c} ({language_name(c)})" for c in nearest(code, supported))
    return LanguageError(f"{backend} cannot transcribe {code} ({language_name(code)}); nearest it can: {near}. "
                         f"`experio speech languages` lists all {len(supported)}")


def whisper_code(code: str) -> str:
    """The Whisper code of an Omnilingual code, else a LanguageError naming the nearest ones."""
    check_code(code)
    table = _whisper_table()
    if code in table:
        return table[code]
    raise unsupported(code, "Whisper", sorted({omni_code(w) for w in whisper_languages()}))


def whisper_omni_codes() -> list[str]:
    """Every language Whisper transcribes, as Omnilingual codes (one per language)."""
    return sorted(omni_code(w) for w in whisper_languages())
