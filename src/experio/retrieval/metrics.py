"""Scores of benchmark answers: SQuAD-style answer F1 and exact match, and gold-document recall.

An answer is compared as text after SQuAD's normalisation (lowercase, punctuation removed, the
articles a / an / the removed, whitespace collapsed); F1 is over the bags of words that remain.
A list answer is one text, its titles joined by ", " (`Question.answer_text`), so a list with
the right titles in another order still gets F1 1.0 but no exact match.

    >>> answer_f1("the cat sat", "cat sat down")          # precision 2/2, recall 2/3
    0.8
    >>> exact_match("The Cat.", "cat")
    1.0
    >>> doc_recall(["a", "b", "x"], ["a", "b", "c", "d"])
    0.5

`score` scores one prediction against a `Question`; `summarise` averages scored rows per
question family and overall.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
METRICS = ("f1", "em", "recall")


def as_text(answer: Any) -> str:
    """An answer as one text: a list's items joined by ", ", anything else as str.

        >>> as_text(["Ada", "BASIC"]), as_text(37)
        ('Ada, BASIC', '37')
    """
    if isinstance(answer, (list, tuple)):
        return ", ".join(str(a) for a in answer)
    return "" if answer is None else str(answer)


def normalize_answer(text: Any) -> str:
    """SQuAD's normalisation: lowercase, no punctuation, no articles, single spaces.

        >>> normalize_answer("  The  Free-On-line Dictionary, of COMPUTING! ")
        'freeonline dictionary of computing'
    """
    text = as_text(text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_f1(prediction: Any, gold: Any) -> float:
    """F1 of the normalised words of `prediction` against those of `gold` (SQuAD).

    When either side normalises to no words, F1 is 1.0 if both do, else 0.0.

        >>> answer_f1("37", 37), answer_f1("37 entries", "37"), answer_f1("", "37")
        (1.0, 0.6667, 0.0)
    """
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return round(2 * precision * recall / (precision + recall), 4)


def exact_match(prediction: Any, gold: Any) -> float:
    """1.0 when `prediction` and `gold` are the same text after normalisation, else 0.0.

        >>> exact_match("Ada, BASIC", ["Ada", "BASIC"]), exact_match("BASIC, Ada", ["Ada", "BASIC"])
        (1.0, 0.0)
    """
    return float(normalize_answer(prediction) == normalize_answer(gold))


def doc_recall(retrieved_ids: Iterable[str], gold_ids: Sequence[str]) -> float:
    """The share of `gold_ids` among `retrieved_ids` (1.0 when there are no gold ids).

        >>> doc_recall([], []), doc_recall(["a"], ["a", "b", "c"])
        (1.0, 0.3333)
    """
    gold = set(gold_ids)
    if not gold:
        return 1.0
    return round(len(gold & set(retrieved_ids)) / len(gold), 4)


def score(prediction_text: str, question: Any, retrieved_ids: Iterable[str]) -> dict[str, Any]:
    """One prediction scored against a `Question`: its id, family, f1, em and recall.

        >>> from experio.retrieval.bench import Question
        >>> q = Question(id="max-0001", family="max", question="Which ...?", answer="Ada", answer_text="Ada",
        ...              gold_ids=["d1", "d2"], answer_ids=["d1"], conditions=[["year", "eq", 1983]], target="words")
        >>> score("Ada.", q, ["d1"])
        {'id': 'max-0001', 'family': 'max', 'f1': 1.0, 'em': 1.0, 'recall': 0.5}
    """
    return {"id": question.id, "family": question.family, "f1": answer_f1(prediction_text, question.answer_text),
            "em": exact_match(prediction_text, question.answer_text),
            "recall": doc_recall(retrieved_ids, question.gold_ids)}


def summarise(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Means of f1, em and recall over scored rows: `overall` and `by_family` (each with `n`).

        >>> rows = [{"family": "count", "f1": 1.0, "em": 1.0, "recall": 0.5},
        ...         {"family": "max", "f1": 0.5, "em": 0.0, "recall": 1.0}]
        >>> summarise(rows)["overall"]
        {'n': 2, 'f1': 0.75, 'em': 0.5, 'recall': 0.75}
        >>> summarise(rows)["by_family"]["max"]
        {'n': 1, 'f1': 0.5, 'em': 0.0, 'recall': 1.0}
    """
    rows = list(rows)
    families: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        families.setdefault(str(row.get("family", "")), []).append(row)
    return {"overall": _means(rows), "by_family": {f: _means(rs) for f, rs in sorted(families.items())}}


def _means(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for metric in METRICS:
        values = [float(r[metric]) for r in rows if r.get(metric) is not None]
        out[metric] = round(sum(values) / len(values), 4) if values else None
    return out
