"""A GlobalQA-style benchmark made from a corpus's metadata: corpus-level questions with exact answers.

GlobalQA (MARAG-R1, arXiv 2510.27569) asks questions that need a whole corpus, not a few
passages: how many documents satisfy a condition, which one is the extreme of a field, the
documents of a set in order, the top k. Here such questions are generated from any corpus with
typed metadata (`Corpus.fields`), so each has a checkable gold answer and gold document set:

    >>> corpus = load_corpus("builtin")                                     # doctest: +SKIP
    >>> questions = split_questions(generate_questions(corpus, n_per_family=40, seed=0))  # doctest: +SKIP
    >>> questions[0].question, questions[0].answer                          # doctest: +SKIP
    ('How many FOLDOC entries in the category "computer" last updated in 2010 are there?', 3)
    >>> write_benchmark(questions, "runs/globalqa", corpus=corpus, settings={"seed": 0})   # doctest: +SKIP

The seven families (`FAMILIES`) and what their answer is:

    count                  the number of documents in the set             37
    min, max               the title of the one document with the         "Ada"
                           smallest / largest value of a field
    sort_asc, sort_desc    every title of the set, ordered by a field     ["Ada", "BASIC", "C"]
    top_k_smallest,        the k titles with the smallest / largest       ["Ada", "BASIC"]
    top_k_largest          values, in order (k from 2 to 5)

A question's set is defined by one or two filter conditions (`Question.conditions`): a label of
a category / categories field, a value or range of a number field (one value per level when the
field has at most `LEVELS` integer values, e.g. a year; otherwise a range between quantiles), a
calendar year of a date field; or a label together with one of those, or two labels that
documents share. The field a question orders by (`target`) is a number or date field that no
condition uses. Set sizes: `min_set`..`max_set` documents (default 2..40) for count and min /
max, 3..`max_sort` (default 8) for the sort families, k+1..`max_set` for top-k.

Gold answers come from the tools (`RetrievalTools.filter` then `aggregate`), and each question
carries the oracle tool program that computes it (`plan`, in the `ToolSession` call format;
`run_plan` executes it). Ambiguous questions are not made: min / max only when one document
holds the extreme value, sort only when every value of the set differs, top-k only when the
first k+1 values all differ; and every document of the set must have a value of the target.
Texts name the conditions and the ordering field in words (`Wording`; FOLDOC's is built in, any
other corpus says "documents" and the field names) and are unique.

`split_questions` puts every question that shares a gold document set or a text with another in
the same split (GlobalQA's published split has 92.5 % of its test questions in train), choosing
the side of each such group from a hash of the seed and its gold set: deterministic, and a gold
set keeps its side when other questions are added (unless a shared text joins it to another).
`write_benchmark` writes `train.jsonl`, `test.jsonl`, `gold.jsonl` and `summary.json`;
`read_questions` reads a question file back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import orjson

from experio.errors import UsageError, input_file, unknown_name
from experio.runs import RejectsFile, write_json, write_text

from .corpus import Corpus
from .errors import CorpusError, QuestionFileError, SplitOverlapError, ToolError, UnknownSetError
from .session import SPECS, ToolSession
from .tools import Aggregate, RetrievalTools

FAMILIES = ("count", "min", "max", "sort_asc", "sort_desc", "top_k_smallest", "top_k_largest")
LIST_FAMILIES = ("sort_asc", "sort_desc", "top_k_smallest", "top_k_largest")
SPLITS = ("train", "test")
LEVELS = 40  # an integer field with at most this many distinct values is asked about value by value
QUANTILES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 1.0)
K_RANGE = (2, 5)


# ------------------------------------------------------------------------------ questions

@dataclass(frozen=True)
class Question:
    """One benchmark question with its gold answer, gold documents and oracle tool program.

        >>> q = Question(id="count-0001", family="count", question="How many ...?", answer=2, answer_text="2",
        ...              gold_ids=["d1", "d2"], answer_ids=[], conditions=[["tags", "contains", "x"]])
        >>> Question.from_dict(q.to_dict()) == q
        True
    """

    id: str
    family: str
    question: str
    answer: int | str | list[str]   # count: a number; min / max: a title; the other families: titles in order
    answer_text: str                # the answer as one string: "37", "Ada", "Ada, BASIC, C"
    gold_ids: list[str]             # the documents the answer is computed from (the filtered set)
    answer_ids: list[str]           # the documents the answer names ([] for count)
    conditions: list[list[Any]]     # [field, op, value] filters that define the set, applied in order
    target: str | None = None       # the field min / max / sort / top-k order by
    k: int | None = None            # top-k only
    plan: list[dict[str, Any]] = field(default_factory=list)  # the oracle program, ToolSession calls
    split: str = ""                 # "train" or "test" once `split_questions` has assigned it

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "Question":
        """A Question from its dict; QuestionFileError saying which key is missing or wrong."""
        if not isinstance(data, dict):
            raise QuestionFileError(f"a question is a JSON object, got {type(data).__name__}")
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise QuestionFileError(f"question {data.get('id', '?')!r} lacks {', '.join(missing)}")
        problem = _problem(data)
        if problem:
            raise QuestionFileError(f"question {data.get('id')!r}: {problem}")
        return cls(**{k: data[k] for k in _FIELDS if k in data})


_FIELDS = tuple(f.name for f in dataclasses.fields(Question))
_REQUIRED = _FIELDS[:8]


def _problem(d: dict[str, Any]) -> str | None:
    """What is wrong with the values of a question dict (None when nothing is)."""
    if not isinstance(d["id"], str) or not d["id"]:
        return "id must be a non-empty string"
    if d["family"] not in FAMILIES:
        return f"unknown family {d['family']!r}; the families are: {', '.join(FAMILIES)}"
    if not isinstance(d["question"], str) or not isinstance(d["answer_text"], str):
        return "question and answer_text must be strings"
    answer, family = d["answer"], d["family"]
    if family == "count" and (not isinstance(answer, int) or isinstance(answer, bool)):
        return f"a count answer is an integer, got {answer!r}"
    if family in ("min", "max") and not isinstance(answer, str):
        return f"a {family} answer is a title (a string), got {answer!r}"
    if family in LIST_FAMILIES and not _strings(answer):
        return f"a {family} answer is a list of titles, got {answer!r}"
    if not _strings(d["gold_ids"]) or not _strings(d["answer_ids"]):
        return "gold_ids and answer_ids must be lists of document ids"
    if not isinstance(d["conditions"], list) or not all(isinstance(c, list) and len(c) == 3 for c in d["conditions"]):
        return "conditions must be a list of [field, op, value]"
    if d.get("split", "") not in ("", *SPLITS):
        return f"split must be train or test, got {d.get('split')!r}"
    k = d.get("k")
    if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
        return f"k must be a positive integer, got {k!r}"
    return None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# ------------------------------------------------------------------------------- wording

SCALES = {"count": ("fewest", "most"), "amount": ("lowest", "highest"), "date": ("earliest", "latest")}
_GENERIC_CONDITIONS = {"category": "whose {field} is {v}", "categories": "whose {field} include {v}",
                       "number": "whose {field} is {v}", "date": "whose {field} is {v}"}
_COMPARISONS = {"lt": "less than", "le": "at most", "gt": "more than", "ge": "at least", "ne": "not"}


@dataclass(frozen=True)
class Wording:
    """How questions name a corpus's documents, the fields they order by, and conditions.

    `measures`: field -> (scale, words); the scale gives the words of the extremes ("count":
    fewest / most, "amount": lowest / highest, "date": earliest / latest). `conditions`: field
    -> a phrase with `{v}` for the value ('in the category {v}', 'with {v} words'). A field not
    named is worded from its name.

        >>> w = Wording()
        >>> w.condition(["price", "between", [10, 20]], "number"), w.measure("price", "number")
        ('whose price is between 10 and 20', ('amount', 'price'))
    """

    noun: str = "document"
    nouns: str = "documents"
    count_nouns: str = "documents"  # what "How many ..." counts, e.g. "FOLDOC entries"
    measures: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    conditions: Mapping[str, str] = field(default_factory=dict)

    def measure(self, name: str, typ: str) -> tuple[str, str]:
        """(scale, words) of a field questions order by."""
        return self.measures.get(name) or ("date" if typ == "date" else "amount", name.replace("_", " "))

    def condition(self, condition: Sequence[Any], typ: str) -> str:
        """A filter condition [field, op, value] in words."""
        name, op, value = condition
        template = self.conditions.get(name) or _GENERIC_CONDITIONS[typ].replace("{field}", name.replace("_", " "))
        return template.format(v=_value_words(op, value, typ))


def _value_words(op: str, value: Any, typ: str) -> str:
    """The value part of a condition: '"language"', '1995', 'in 1995', 'between 10 and 20'."""
    if typ in ("category", "categories"):
        return " or ".join(f'"{v}"' for v in value) if isinstance(value, list) else f'"{value}"'
    if op == "between":
        lo, hi = value
        if typ == "date" and str(lo)[:4] == str(hi)[:4] and str(lo)[4:] == "-01-01" and str(hi)[4:] == "-12-31":
            return f"in {str(lo)[:4]}"
        return f"between {_number(lo)} and {_number(hi)}"
    if op == "in":
        return "one of " + ", ".join(_number(v) for v in value)
    if op == "eq":
        return f"on {value}" if typ == "date" else _number(value)
    return f"{_COMPARISONS[op]} {_number(value)}"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


FOLDOC_WORDING = Wording(
    noun="entry", nouns="entries", count_nouns="FOLDOC entries",
    measures={"words": ("count", "words"), "links": ("count", "links to other entries"),
              "updated": ("date", "last-update date"), "year": ("date", "year of last update")},
    conditions={"categories": "in the category {v}", "updated": "last updated {v}", "year": "last updated in {v}",
                "words": "with {v} words", "links": "with {v} links to other entries"},
)
WORDINGS = {"foldoc": FOLDOC_WORDING}


def wording_for(corpus: Corpus) -> Wording:
    """The built-in wording of a corpus (by its name), else the generic one."""
    return WORDINGS.get(corpus.name, Wording())


def question_text(family: str, conditions: Sequence[Sequence[Any]], fields: Mapping[str, str],
                  wording: Wording, target: str | None = None, k: int | None = None) -> str:
    """The English question of a family over the set `conditions` define.

        >>> fields = {"tags": "categories", "year": "number", "size": "number"}
        >>> question_text("count", [["tags", "contains", "db"], ["year", "eq", 1995]], fields, Wording())
        'How many documents whose tags include "db" and whose year is 1995 are there?'
        >>> question_text("sort_asc", [["tags", "contains", "db"]], fields, Wording(), "size")
        'List the titles of the documents whose tags include "db", from the lowest size to the highest.'
    """
    where = _join([wording.condition(c, fields[c[0]]) for c in conditions])
    if family == "count":
        return f"How many {wording.count_nouns} {where} are there?"
    if family not in FAMILIES:
        raise unknown_name("question family", family, FAMILIES)
    scale, words = wording.measure(str(target), fields[str(target)])
    low, high = SCALES[scale]
    if family in ("min", "max"):
        return f"Which {wording.noun} {where} has the {low if family == 'min' else high} {words}?"
    ascending = family in ("sort_asc", "top_k_smallest")
    order = f"from the {low} {words} to the {high}" if ascending else f"from the {high} {words} to the {low}"
    if family.startswith("sort"):
        return f"List the titles of the {wording.nouns} {where}, {order}."
    extreme = low if ascending else high
    return f"Of the {wording.nouns} {where}, list the titles of the {k} with the {extreme} {words}, {order}."


def _join(phrases: list[str]) -> str:
    """Condition phrases as one: "and" between two that start alike ('in the category "a" and in
    the category "b"'), a space otherwise ('in the category "a" last updated in 1995')."""
    out = phrases[0] if phrases else ""
    for before, phrase in zip(phrases, phrases[1:]):
        same = before.split()[0] == phrase.split()[0]
        out += (" and " if same else " ") + phrase
    return out


# ----------------------------------------------------------------------------------- plans

def make_plan(conditions: Sequence[Sequence[Any]], family: str, target: str | None = None,
              k: int | None = None) -> list[dict[str, Any]]:
    """The tool program of a question: one filter per condition, each within the last, then the aggregation.

        >>> for step in make_plan([["tags", "contains", "db"], ["year", "eq", 1995]], "count"):
        ...     print(step)
        {'tool': 'filter', 'args': {'field': 'tags', 'op': 'contains', 'value': 'db'}}
        {'tool': 'filter', 'args': {'field': 'year', 'op': 'eq', 'value': 1995, 'within': 'R1'}}
        {'tool': 'aggregate', 'args': {'op': 'count', 'over': 'R2'}}
    """
    plan: list[dict[str, Any]] = []
    for i, (name, op, value) in enumerate(conditions):
        args = {"field": name, "op": op, "value": value}
        if i:
            args["within"] = f"R{i}"
        plan.append({"tool": "filter", "args": args})
    agg: dict[str, Any] = {"op": family}
    if target is not None:
        agg["field"] = target
    if conditions:
        agg["over"] = f"R{len(conditions)}"
    if k is not None:
        agg["k"] = k
    plan.append({"tool": "aggregate", "args": agg})
    return plan


def run_plan(tools: RetrievalTools, plan: Sequence[Mapping[str, Any]], session: ToolSession | None = None) -> Aggregate:
    """The final aggregation of a plan; run through `session` (its sets R1, R2, ... and `seen`
    grow as an agent's would) or, without one, directly on the tools.

    Every step but the last makes a set (filter, keyword_search, semantic_search); the last is
    an aggregate. Set names count from R1 within the plan, so a session must be a fresh one.
    A malformed step is a ToolError naming it.
    """
    if session is not None and session.sets:
        raise ToolError(f"run a plan in a fresh ToolSession: this one already has sets {', '.join(session.sets)}")
    steps = [_step(i, s) for i, s in enumerate(plan, 1)]
    if not steps or steps[-1][0] != "aggregate" or any(name == "aggregate" for name, _ in steps[:-1]):
        raise ToolError("a plan is set-making steps (filter, keyword_search, semantic_search) then one aggregate")
    sets: dict[str, list[str]] = session.sets if session is not None else {}
    for name, args in steps[:-1]:
        if session is not None:
            session.call(name, args)
            continue
        within = _named_set(sets, args.pop("within", None))
        if name == "filter":
            ids = tools.filter(args["field"], args["op"], args["value"], within)
        else:
            ids = [h.id for h in getattr(tools, name)(args["query"], args.get("k", 5), within)]
        sets[f"R{len(sets) + 1}"] = ids
    args = steps[-1][1]
    if session is not None:
        session.call("aggregate", dict(args))
    ids = _named_set(sets, args.get("over"))
    return tools.aggregate(args["op"], args.get("field"), ids, args.get("k", 3))


_SPEC = {s["name"]: s["parameters"] for s in SPECS}


def _step(i: int, step: Any) -> tuple[str, dict[str, Any]]:
    """(tool name, a copy of its arguments) of plan step `i`, checked against the tools' SPECS."""
    if not isinstance(step, Mapping) or not isinstance(step.get("args", {}), Mapping):
        raise ToolError(f'plan step {i} must be {{"tool": name, "args": {{...}}}}, got {step!r}')
    name, args = step.get("tool"), dict(step.get("args", {}))
    spec = _SPEC.get(str(name))
    if spec is None:
        raise ToolError(f"plan step {i}: unknown tool {name!r}; the tools are: {', '.join(_SPEC)}")
    missing = [a for a in spec["required"] if a not in args]
    unknown = [a for a in args if a not in spec["properties"]]
    problems = [f"{what} {', '.join(names)}" for what, names in (("missing", missing), ("unknown", unknown)) if names]
    if problems:
        raise ToolError(f"plan step {i} ({name}): {'; '.join(problems)}")
    return str(name), args


def _named_set(sets: Mapping[str, list[str]], name: str | None) -> list[str] | None:
    if name is None or name == "":
        return None
    if name not in sets:
        raise UnknownSetError(f"no result set {name!r}; the sets are: {', '.join(sets) or 'none'}")
    return sets[name]


def answer_from(aggregate: Aggregate, corpus: Corpus, family: str) -> tuple[int | str | list[str], str, list[str]]:
    """(answer, answer_text, answer_ids) of a family from its final aggregation.

    min / max name the first document of the extreme (the generator makes no question whose
    extreme is shared); an empty aggregation gives an empty answer.

        >>> from experio.retrieval.tools import Aggregate
        >>> c = Corpus.from_records([{"id": "a", "title": "Ada", "text": "x"},
        ...                          {"id": "b", "title": "BASIC", "text": "y"}])
        >>> answer_from(Aggregate("sort_desc", "year", 2, [("b", 1964), ("a", 1983)]), c, "sort_desc")
        (['BASIC', 'Ada'], 'BASIC, Ada', ['b', 'a'])
    """
    if family not in FAMILIES:
        raise unknown_name("question family", family, FAMILIES)
    if family == "count":
        return aggregate.n, str(aggregate.n), []
    ids = [doc_id for doc_id, _ in aggregate.rows]
    titles = [corpus.titles[corpus.position[i]] for i in ids]
    if family in ("min", "max"):
        return (titles[0], titles[0], ids[:1]) if titles else ("", "", [])
    return titles, ", ".join(titles), ids


# ------------------------------------------------------------------------------ generation

@dataclass
class _Pool:
    """What generation draws from: the conditions of one field each (`atoms`, with the boolean
    mask of their documents) and the sets of one or two of them (`candidates`, with sizes)."""

    tools: RetrievalTools
    wording: Wording
    atoms: list[list[Any]]
    masks: np.ndarray
    candidates: list[tuple[int, ...]]
    sizes: np.ndarray
    targets: list[str]
    texts: set[str] = field(default_factory=set)


def generate_questions(corpus: Corpus, n_per_family: int = 40, seed: int = 0, min_set: int = 2, max_set: int = 40,
                       max_sort: int = 8, families: Sequence[str] = FAMILIES, wording: Wording | None = None,
                       tools: RetrievalTools | None = None) -> list[Question]:
    """Up to `n_per_family` questions of each family (fewer when the corpus has no more
    unambiguous ones), deterministic for a seed; ids `count-0001`, ... (see the module docstring)."""
    families = list(dict.fromkeys(families))
    for family in families:
        if family not in FAMILIES:
            raise unknown_name("question family", family, FAMILIES)
    if min_set < 1 or max_set < min_set or max_sort < 3:
        raise UsageError(f"set sizes need 1 <= min_set <= max_set and max_sort >= 3; got min_set {min_set}, "
                         f"max_set {max_set}, max_sort {max_sort}")
    tools = tools or RetrievalTools(corpus)
    pool = _pool(tools, wording or wording_for(corpus), min_set)
    out: list[Question] = []
    for family in families:
        rng = random.Random(f"{seed}:{family}")
        lo, hi = _bounds(family, min_set, max_set, max_sort)
        order = np.flatnonzero((pool.sizes >= lo) & (pool.sizes <= hi)).tolist()
        rng.shuffle(order)
        made: set[frozenset[str]] = set()  # the gold sets of the family's questions so far
        for c in order:
            if len(made) >= n_per_family:
                break
            q = _question(pool, family, pool.candidates[c], rng, made)
            if q is not None:
                out.append(dataclasses.replace(q, id=f"{family}-{len(made):04d}"))
    return out


def _bounds(family: str, min_set: int, max_set: int, max_sort: int) -> tuple[int, int]:
    """The smallest and largest set a family asks about (top-k: k+1 with the smallest k)."""
    if family.startswith("sort"):
        return max(3, min_set), max_sort
    if family.startswith("top_k"):
        return max(K_RANGE[0] + 1, min_set), max_set
    return min_set, max_set


def _question(pool: _Pool, family: str, candidate: tuple[int, ...], rng: random.Random,
              made: set[frozenset[str]]) -> Question | None:
    """The question of `family` over one candidate set, or None when it would be ambiguous or
    repeat a set or text of the family (a made one's gold set is added to `made`)."""
    tools, corpus = pool.tools, pool.tools.corpus
    conditions = [pool.atoms[a] for a in candidate]
    gold = None
    for name, op, value in conditions:
        gold = tools.filter(name, op, value, within=gold)
    gold = gold or []
    key = frozenset(gold)
    if key in made:
        return None
    used = {c[0] for c in conditions}
    targets = [t for t in pool.targets if t not in used] if family != "count" else [None]
    rng.shuffle(targets)
    k = rng.randint(K_RANGE[0], min(K_RANGE[1], len(gold) - 1)) if family.startswith("top_k") else None
    for target in targets:
        if target is not None and not _unambiguous(tools, family, target, gold, k):
            continue
        text = question_text(family, conditions, corpus.fields, pool.wording, target, k)
        if text in pool.texts:
            continue
        agg = tools.aggregate(family, target, gold, k or 3)
        answer, answer_text, answer_ids = answer_from(agg, corpus, family)
        pool.texts.add(text)
        made.add(key)
        return Question(id="", family=family, question=text, answer=answer, answer_text=answer_text,
                        gold_ids=list(gold), answer_ids=answer_ids, conditions=[list(c) for c in conditions],
                        target=target, k=k, plan=make_plan(conditions, family, target, k))
    return None


def _unambiguous(tools: RetrievalTools, family: str, target: str, ids: list[str], k: int | None) -> bool:
    """Whether the answer of `family` over `ids` ordered by `target` is one answer: every document
    has a value, and the values that decide it differ (see the module docstring)."""
    ordered = tools.aggregate("sort_asc", target, ids)
    if ordered.missing or not ordered.rows:
        return False
    values = [v for _, v in ordered.rows]
    if family == "min":
        return len(values) == 1 or values[0] != values[1]
    if family == "max":
        return len(values) == 1 or values[-1] != values[-2]
    if family.startswith("sort"):
        return len(set(values)) == len(values)
    head = (values if family == "top_k_smallest" else values[::-1])[: (k or 0) + 1]
    return len(head) == (k or 0) + 1 and len(set(head)) == len(head)


def _pool(tools: RetrievalTools, wording: Wording, min_set: int) -> _Pool:
    """The conditions generation combines, their document masks, and the candidate sets."""
    corpus = tools.corpus
    atoms: list[list[Any]] = []
    for name, typ in corpus.fields.items():
        labels = typ in ("category", "categories")
        atoms += _label_atoms(tools, name, typ) if labels else _value_atoms(corpus, name, typ)
    masks = np.zeros((len(atoms), len(corpus)), dtype=bool)
    for i, (name, op, value) in enumerate(atoms):
        masks[i, tools.positions(tools.filter(name, op, value))] = True
    keep = masks.sum(axis=1) >= min_set
    atoms, masks = [a for a, ok in zip(atoms, keep) if ok], masks[keep]
    targets = [f for f, t in corpus.fields.items() if t in ("number", "date")]
    if not atoms:
        raise CorpusError(f"corpus {corpus.name!r} has no category, number or date field with a value shared by "
                          f"{min_set} documents: there is nothing to ask about")
    candidates = _candidates(atoms, masks, corpus.fields, min_set)
    sizes = np.array([np.count_nonzero(np.logical_and.reduce(masks[list(c)])) for c in candidates], dtype=np.int64)
    return _Pool(tools, wording, atoms, masks, candidates, sizes, targets)


def _label_atoms(tools: RetrievalTools, name: str, typ: str) -> list[list[Any]]:
    """One condition per label of a category / categories field."""
    op = "contains" if typ == "categories" else "eq"
    return [[name, op, label] for label, _ in sorted(tools.aggregate("count_by", name).rows)]


def _value_atoms(corpus: Corpus, name: str, typ: str) -> list[list[Any]]:
    """Conditions on a number field (each value, or ranges between quantiles) or a date field (each year)."""
    values = corpus.table.column(name).drop_null().to_numpy()
    if not len(values):
        return []
    if typ == "date":
        years = np.unique(values.astype("datetime64[Y]").astype(np.int64) + 1970).tolist()
        return [[name, "between", [f"{y:04d}-01-01", f"{y:04d}-12-31"]] for y in years]
    distinct = np.unique(values)
    if values.dtype.kind in "iu" and len(distinct) <= LEVELS:
        return [[name, "eq", int(v)] for v in distinct]
    cuts = np.quantile(values, QUANTILES)
    bounds = [values.min().item()] + [_round(c) for c in cuts[1:-1]] + [values.max().item()]
    if values.dtype.kind in "iu":
        bounds = [int(b) for b in bounds]
    bounds = sorted(set(bounds))
    return [[name, "between", [lo, hi]] for lo, hi in zip(bounds, bounds[1:])]


def _round(x: float) -> float:
    """`x` to two significant digits (1234.5 -> 1200.0)."""
    if x == 0:
        return 0.0
    return float(round(x, 1 - int(np.floor(np.log10(abs(x))))))


def _candidates(atoms: list[list[Any]], masks: np.ndarray, fields: Mapping[str, str],
                min_set: int) -> list[tuple[int, ...]]:
    """Sets of one atom, of a label and a value atom, and of two labels at least `min_set` documents share."""
    labels = [i for i, a in enumerate(atoms) if fields[a[0]] in ("category", "categories")]
    values = [i for i, a in enumerate(atoms) if fields[a[0]] in ("number", "date")]
    out: list[tuple[int, ...]] = [(i,) for i in range(len(atoms))]
    out += [(lab, val) for lab in labels for val in values]
    docs: dict[int, list[int]] = {}
    for lab in labels:
        for pos in np.flatnonzero(masks[lab]).tolist():
            docs.setdefault(pos, []).append(lab)
    shared = Counter(pair for labs in docs.values() for pair in itertools.combinations(labs, 2))
    out += sorted(pair for pair, n in shared.items() if n >= min_set)
    return out


# ---------------------------------------------------------------------------------- splits

def split_questions(questions: Sequence[Question], test_fraction: float = 0.3, seed: int = 0) -> list[Question]:
    """The questions with `split` set: questions linked by a shared gold set or text form a group,
    and a group goes to test when the hash of its gold set (with `seed`) falls below `test_fraction`.

        >>> qs = [Question(id=f"q{i}", family="count", question=f"Q{i}?", answer=2, answer_text="2",
        ...                gold_ids=[f"d{i % 3}", "x"], answer_ids=[], conditions=[]) for i in range(6)]
        >>> split = split_questions(qs)
        >>> overlap([q for q in split if q.split == "train"], [q for q in split if q.split == "test"])
        {'questions': 0, 'gold_sets': 0}
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise UsageError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    parent = list(range(len(questions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[Any, int] = {}
    for i, q in enumerate(questions):
        for key in _keys(q):
            j = first.setdefault(key, i)
            parent[root(i)] = root(j)
    group_key: dict[int, str] = {}
    for i, q in enumerate(questions):
        mine = ",".join(sorted(q.gold_ids)) or _text_key(q.question)
        r = root(i)
        group_key[r] = min(group_key.get(r, mine), mine)
    return [dataclasses.replace(q, split="test" if _unit(seed, group_key[root(i)]) < test_fraction else "train")
            for i, q in enumerate(questions)]


def _keys(q: Question) -> list[Any]:
    """What links questions into one group: their text, and their gold set when it is not empty."""
    keys: list[Any] = [("text", _text_key(q.question))]
    if q.gold_ids:
        keys.append(("gold", frozenset(q.gold_ids)))
    return keys


def _text_key(text: str) -> str:
    return " ".join(text.lower().split())


def _unit(seed: int, key: str) -> float:
    """A number in [0, 1) from `seed` and `key`, the same on every machine and run."""
    return int(hashlib.sha256(f"{seed}\0{key}".encode()).hexdigest()[:16], 16) / 2**64


def overlap(train: Sequence[Question], test: Sequence[Question]) -> dict[str, int]:
    """How many test questions have their text (case and spacing aside) or their non-empty gold
    set in train.

        >>> a = Question(id="a", family="count", question="How many?", answer=1, answer_text="1",
        ...              gold_ids=["d1"], answer_ids=[], conditions=[])
        >>> overlap([a], [dataclasses.replace(a, id="b", question="how  many?", gold_ids=["d2"])])
        {'questions': 1, 'gold_sets': 0}
    """
    texts = {_text_key(q.question) for q in train}
    golds = {frozenset(q.gold_ids) for q in train if q.gold_ids}
    return {"questions": sum(_text_key(q.question) in texts for q in test),
            "gold_sets": sum(bool(q.gold_ids) and frozenset(q.gold_ids) in golds for q in test)}


def check_disjoint(train: Sequence[Question], test: Sequence[Question]) -> dict[str, int]:
    """`overlap(train, test)` when it is all zeros, else a SplitOverlapError with the counts."""
    counts = overlap(train, test)
    if any(counts.values()):
        raise SplitOverlapError(f"{counts['questions']} of {len(test)} test questions share their text and "
                                f"{counts['gold_sets']} their gold document set with train; split with "
                                "split_questions, which keeps each gold set on one side")
    return counts


# ----------------------------------------------------------------------------------- files

def write_benchmark(questions: Sequence[Question], out_dir: str | Path, corpus: Corpus,
                    settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write `train.jsonl`, `test.jsonl`, `gold.jsonl` (id, split, gold_ids, answer_ids) and
    `summary.json` into `out_dir`, each atomically; returns the summary. The questions must be
    split (`split_questions`) with no overlap (SplitOverlapError otherwise)."""
    unsplit = [q.id for q in questions if q.split not in SPLITS]
    if unsplit:
        raise UsageError(f"{len(unsplit)} questions have no split (first: {unsplit[0]}); run split_questions first")
    ids = Counter(q.id for q in questions)
    repeated = [i for i, n in ids.items() if n > 1]
    if repeated:
        raise UsageError(f"question ids must be unique; {repeated[0]!r} appears {ids[repeated[0]]} times")
    parts = {s: [q for q in questions if q.split == s] for s in SPLITS}
    counts = check_disjoint(parts["train"], parts["test"])
    out = Path(out_dir)
    for s, qs in parts.items():
        write_text(out / f"{s}.jsonl", _jsonl(q.to_dict() for q in qs))
    write_text(out / "gold.jsonl", _jsonl({"id": q.id, "split": q.split, "gold_ids": q.gold_ids,
                                           "answer_ids": q.answer_ids} for q in questions))
    summary = {
        "corpus": corpus.name, "fingerprint": corpus.fingerprint(), "documents": len(corpus),
        "seed": (settings or {}).get("seed"), "settings": dict(settings or {}),
        "questions": {s: len(qs) for s, qs in parts.items()} | {"total": len(questions)},
        "families": {s: {f: sum(q.family == f for q in qs) for f in FAMILIES} for s, qs in parts.items()},
        "overlap": counts,
    }
    write_json(out / "summary.json", summary)
    return summary


def _jsonl(rows: Any) -> str:
    return "".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE).decode() for r in rows)


def read_questions(path: str | Path, rejects: RejectsFile | None = None) -> list[Question]:
    """The questions of a JSONL file. A bad line (not JSON, a missing key, a wrong value, a repeated
    id) is a QuestionFileError naming file and line, or, given `rejects`, goes there and is skipped."""
    path = input_file(path, "question file")
    out: list[Question] = []
    lines: dict[str, int] = {}
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                q = Question.from_dict(_json(raw))
                if q.id in lines:
                    raise QuestionFileError(f"question id {q.id!r} appears again (first on line {lines[q.id]})")
            except QuestionFileError as e:
                if rejects is None:
                    raise QuestionFileError(f"{path}:{n}: {e}") from None
                rejects.add(n, str(e), raw.decode("utf-8", "replace").rstrip("\n"))
                continue
            lines[q.id] = n
            out.append(q)
    return out


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise QuestionFileError(f"not JSON ({e})") from None


def build_benchmark(corpus: str | Path | Corpus, out_dir: str | Path, *, per_family: int = 40,
                    test_fraction: float = 0.3, seed: int = 0) -> dict[str, Any]:
    """Generate, split and write a benchmark (`experio retrieval bench`); its summary.

        >>> build_benchmark("builtin", "runs/bench")["questions"]        # doctest: +SKIP
        {'train': 185, 'test': 95, 'total': 280}
    """
    from .corpus import load_corpus

    if not 0.0 < test_fraction < 1.0:
        raise UsageError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    c = corpus if isinstance(corpus, Corpus) else load_corpus(corpus)
    questions = split_questions(generate_questions(c, n_per_family=per_family, seed=seed), test_fraction, seed)
    return write_benchmark(questions, out_dir, c, {"seed": seed, "per_family": per_family,
                                                   "test_fraction": test_fraction})


def first_per_family(questions: Sequence[Question], n: int) -> list[Question]:
    """The first `n` questions of each family, in file order (an evaluation subset every method shares).

        >>> qs = [Question(f"{f}-{i}", f, "?", 1, "1", [], [], []) for f in ("count", "max") for i in range(3)]
        >>> [q.id for q in first_per_family(qs, 2)]
        ['count-0', 'count-1', 'max-0', 'max-1']
    """
    seen: Counter = Counter()
    out = []
    for q in questions:
        if seen[q.family] < n:
            out.append(q)
        seen[q.family] += 1
    return out
