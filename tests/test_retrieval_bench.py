"""The GlobalQA-style benchmark (experio.retrieval.bench) and its metrics (experio.retrieval.metrics).

Every gold answer is recomputed by a path that does not go through RetrievalTools: SQL written
here, run by DuckDB over the corpus's Arrow table. On a small hand-made corpus and on FOLDOC
(skipped when the built-in corpus is not installed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import duckdb
import pytest

from experio.retrieval.bench import (FAMILIES, Question, Wording, answer_from, check_disjoint, generate_questions,
                                     make_plan, overlap, question_text, read_questions, run_plan, split_questions,
                                     wording_for, write_benchmark)
from experio.retrieval.corpus import Corpus
from experio.retrieval.errors import CorpusError, CorpusNotFoundError, QuestionFileError, SplitOverlapError
from experio.retrieval.metrics import answer_f1, doc_recall, exact_match, normalize_answer, score, summarise
from experio.retrieval.session import ToolSession
from experio.retrieval.tools import RetrievalTools
from experio.runs import RejectsFile

TAGS = ["db", "lang", "net", "os"]


def small_corpus() -> Corpus:
    """30 documents: tags (categories), licence (category), size (integers, one tie, one missing),
    rating (floats, asked about in ranges), published (date, 2001-2004)."""
    records = []
    for i in range(1, 31):
        tags = [TAGS[i % 4]] + (["web"] if i % 5 == 0 else [])
        size = None if i == 30 else (50 if i == 8 else (i * 37) % 101 + 10)
        records.append({"id": f"d{i:02d}", "title": f"Doc {i}", "text": f"document number {i} about {tags[0]}",
                        "tags": tags, "licence": ["gpl", "mit", "bsd"][i % 3], "size": size,
                        "rating": round((i * 7.3) % 10, 2),
                        "published": dt.date(2001 + i % 4, 1 + i % 12, 1 + (i * 7) % 28).isoformat()})
    records[6]["size"] = 50  # d07 and d08 tie on size
    return Corpus.from_records(records, fields={"tags": "categories", "licence": "category", "size": "number",
                                                "rating": "number", "published": "date"}, name="small")


@pytest.fixture(scope="module")
def small():
    corpus = small_corpus()
    return corpus, generate_questions(corpus, n_per_family=10, seed=0)


@pytest.fixture(scope="module")
def foldoc():
    from experio.retrieval import load_corpus
    from experio.retrieval.foldoc import foldoc_file

    try:
        foldoc_file()
    except CorpusNotFoundError as e:
        pytest.skip(f"FOLDOC is not installed ({e})")
    corpus = load_corpus("builtin")
    return corpus, generate_questions(corpus)


@pytest.fixture(params=["small", "foldoc"])
def generated(request):
    return request.getfixturevalue(request.param)


# ------------------------------------------------------------------ the independent check

def sql_where(corpus: Corpus, conditions) -> tuple[str, list]:
    """The WHERE clause of a question's conditions, written here (not RetrievalTools.condition)."""
    parts, params = [], []
    for field, op, value in conditions:
        typ, col = corpus.fields[field], f'"{field}"'
        cast = "::DATE" if typ == "date" else ""
        if op == "contains":
            parts.append(f"list_contains({col}, ?)")
            params.append(value)
        elif op == "eq":
            parts.append(f"{col} = ?{cast}")
            params.append(value)
        elif op == "between":
            parts.append(f"{col} BETWEEN ?{cast} AND ?{cast}")
            params += list(value)
        else:
            raise AssertionError(f"the generator made an operator the test does not know: {op}")
    return " AND ".join(parts), params


def sql_answer(con, corpus: Corpus, q: Question):
    """(gold ids, answer, values that decide it) of a question, all computed in SQL."""
    where, params = sql_where(corpus, q.conditions)
    ids = [r[0] for r in con.execute(f"SELECT id FROM docs WHERE {where} ORDER BY id", params).fetchall()]
    if q.family == "count":
        return ids, con.execute(f"SELECT count(*) FROM docs WHERE {where}", params).fetchone()[0], []
    t = f'"{q.target}"'
    n_values = con.execute(f"SELECT count({t}), count(DISTINCT {t}) FROM docs WHERE {where}", params).fetchone()
    assert n_values[0] == len(ids), f"{q.id}: some documents of the set have no {q.target}"
    if q.family in ("min", "max"):
        agg = "min" if q.family == "min" else "max"
        rows = con.execute(f"SELECT title FROM docs WHERE {where} AND {t} = (SELECT {agg}({t}) FROM docs "
                           f"WHERE {where})", params + params).fetchall()
        assert len(rows) == 1, f"{q.id}: the {q.family} of {q.target} is shared by {len(rows)} documents"
        return ids, rows[0][0], []
    desc = "DESC" if q.family in ("sort_desc", "top_k_largest") else "ASC"
    rows = con.execute(f"SELECT title, {t} FROM docs WHERE {where} ORDER BY {t} {desc}", params).fetchall()
    if q.family.startswith("sort"):
        assert n_values[1] == len(ids), f"{q.id}: values of {q.target} repeat in a sort question"
        return ids, [r[0] for r in rows], [r[1] for r in rows]
    head = rows[: q.k + 1]
    assert len(head) == q.k + 1 and len({r[1] for r in head}) == q.k + 1, f"{q.id}: the top {q.k} is not unique"
    return ids, [r[0] for r in rows[: q.k]], [r[1] for r in head]


def test_every_gold_answer_is_recomputed_in_sql(generated):
    corpus, questions = generated
    con = duckdb.connect()
    con.register("docs", corpus.table)
    for q in questions:
        ids, answer, _ = sql_answer(con, corpus, q)
        assert sorted(q.gold_ids) == ids, q.id
        assert q.answer == answer, (q.id, q.question, q.answer, answer)
        if q.family == "count":
            assert q.answer == len(ids) and q.answer_ids == [] and q.answer_text == str(len(ids))
        else:
            titles = [corpus.titles[corpus.position[i]] for i in q.answer_ids]
            assert titles == (answer if isinstance(answer, list) else [answer]), q.id
            assert set(q.answer_ids) <= set(q.gold_ids)
            assert q.answer_text == (", ".join(answer) if isinstance(answer, list) else answer)


# --------------------------------------------------------------------------- generation

def test_every_family_within_its_set_sizes(generated):
    corpus, questions = generated
    by_family = {f: [q for q in questions if q.family == f] for f in FAMILIES}
    assert all(by_family.values()), {f: len(qs) for f, qs in by_family.items()}
    assert len({q.id for q in questions}) == len(questions)
    assert len({q.question for q in questions}) == len(questions)
    for q in questions:
        n = len(q.gold_ids)
        assert len(set(q.gold_ids)) == n and q.id.startswith(q.family + "-")
        if q.family.startswith("sort"):
            assert 3 <= n <= 8 and len(q.answer) == n
        elif q.family.startswith("top_k"):
            assert 2 <= q.k <= 5 and q.k < n <= 40 and len(q.answer) == q.k
        else:
            assert 2 <= n <= 40 and q.k is None
        assert (q.target is None) == (q.family == "count")
        assert q.target not in {c[0] for c in q.conditions}


def test_texts_name_the_conditions_the_field_and_titles(generated):
    corpus, questions = generated
    wording = wording_for(corpus)
    for q in questions:
        for field, op, value in q.conditions:
            if corpus.fields[field] in ("category", "categories"):
                assert f'"{value}"' in q.question, q.question
        if q.family == "count":
            assert q.question.startswith(f"How many {wording.count_nouns} ")
            continue
        assert wording.measure(q.target, corpus.fields[q.target])[1] in q.question, q.question
        if q.family not in ("min", "max"):
            assert "list the titles" in q.question.lower(), q.question


def test_foldoc_wording(foldoc):
    corpus, questions = foldoc
    assert {len(qs) for qs in ([q for q in questions if q.family == f] for f in FAMILIES)} == {40}
    q = next(q for q in questions if q.family == "count")
    assert q.question.startswith("How many FOLDOC entries ")
    fields = corpus.fields
    assert question_text("max", [["categories", "contains", "database"]], fields, wording_for(corpus), "words") == \
        'Which entry in the category "database" has the most words?'
    assert question_text("sort_asc", [["categories", "contains", "chemistry"], ["year", "eq", 2014]], fields,
                         wording_for(corpus), "words") == ('List the titles of the entries in the category "chemistry" '
                                                           'last updated in 2014, from the fewest words to the most.')
    in_1995 = ["updated", "between", ["1995-01-01", "1995-12-31"]]
    assert question_text("count", [["categories", "contains", "language"], in_1995], fields, wording_for(corpus)) == \
        'How many FOLDOC entries in the category "language" last updated in 1995 are there?'


def test_generation_is_deterministic(small):
    corpus, questions = small
    again = generate_questions(corpus, n_per_family=10, seed=0)
    assert [q.to_dict() for q in again] == [q.to_dict() for q in questions]
    other = generate_questions(corpus, n_per_family=10, seed=1)
    assert [q.question for q in other] != [q.question for q in questions]


def test_ambiguous_questions_are_not_made():
    # sizes 9 9 7 5 5 1: the maximum is tied, values repeat, every top-k's first k+1 values repeat
    docs = [{"id": f"a{i}", "text": "x", "tags": ["a"], "size": s} for i, s in enumerate([9, 9, 7, 5, 5, 1])]
    questions = generate_questions(Corpus.from_records(docs), n_per_family=10)
    counts = {f: sum(q.family == f for q in questions) for f in FAMILIES}
    # count: tag a (6), size 9 (2), size 5 (2); "tag a and size 9" has size 9's set, so it is not asked again
    assert counts == {"count": 3, "min": 1, "max": 0, "sort_asc": 0, "sort_desc": 0,
                      "top_k_smallest": 0, "top_k_largest": 0}
    assert next(q for q in questions if q.family == "min").answer == "a5"
    assert sorted(q.answer for q in questions if q.family == "count") == [2, 2, 6]


def test_a_corpus_without_fields_cannot_make_questions():
    with pytest.raises(CorpusError, match="nothing to ask about"):
        generate_questions(Corpus.from_records([{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]))


# -------------------------------------------------------------------------------- oracle

def test_the_oracle_plans_reproduce_every_gold_answer(generated):
    corpus, questions = generated
    tools = RetrievalTools(corpus)
    for q in questions:
        assert q.plan == make_plan(q.conditions, q.family, q.target, q.k)
        assert q.plan[-1]["tool"] == "aggregate" and len(q.plan) == len(q.conditions) + 1
        direct = answer_from(run_plan(tools, q.plan), corpus, q.family)
        session = ToolSession(tools)
        through = answer_from(run_plan(tools, q.plan, session), corpus, q.family)
        assert direct == through == (q.answer, q.answer_text, q.answer_ids), q.id
        assert session.sets[f"R{len(q.conditions)}"] == q.gold_ids
        assert set(q.answer_ids) <= session.seen


def test_plan_steps_are_checked(small):
    corpus, _ = small
    tools = RetrievalTools(corpus)
    from experio.retrieval.errors import ToolError, UnknownSetError

    with pytest.raises(ToolError, match="one aggregate"):
        run_plan(tools, [{"tool": "filter", "args": {"field": "tags", "op": "contains", "value": "db"}}])
    with pytest.raises(ToolError, match="missing value"):
        run_plan(tools, [{"tool": "filter", "args": {"field": "tags", "op": "contains"}},
                         {"tool": "aggregate", "args": {"op": "count"}}])
    with pytest.raises(UnknownSetError, match="R2"):
        run_plan(tools, [{"tool": "aggregate", "args": {"op": "count", "over": "R2"}}])
    assert run_plan(tools, [{"tool": "aggregate", "args": {"op": "count"}}]).n == 30


# --------------------------------------------------------------------------------- splits

def test_split_keeps_questions_and_gold_sets_apart(generated):
    _, questions = generated
    split = split_questions(questions, test_fraction=0.3, seed=0)
    train = [q for q in split if q.split == "train"]
    test = [q for q in split if q.split == "test"]
    assert len(train) + len(test) == len(questions) and train and test
    assert overlap(train, test) == {"questions": 0, "gold_sets": 0}
    assert check_disjoint(train, test) == {"questions": 0, "gold_sets": 0}
    assert not {frozenset(q.gold_ids) for q in train} & {frozenset(q.gold_ids) for q in test}
    assert [q.id for q in split] == [q.id for q in questions]
    assert split == split_questions(questions, test_fraction=0.3, seed=0)


def test_questions_sharing_a_gold_set_or_a_text_share_a_side():
    base = dict(family="count", answer=2, answer_text="2", answer_ids=[], conditions=[])
    qs = [Question(id=f"q{i}", question=f"Question {i}?", gold_ids=[f"d{i}", f"e{i}"], **base) for i in range(40)]
    qs += [Question(id=f"r{i}", question=f"Other question {i}?", gold_ids=[f"d{i}", f"e{i}"], **base)
           for i in range(40)]
    qs += [Question(id=f"s{i}", question=f"question {i}?", gold_ids=[f"x{i}"], **base) for i in range(40)]
    side = {q.id: q.split for q in split_questions(qs, test_fraction=0.5, seed=3)}
    assert all(side[f"q{i}"] == side[f"r{i}"] == side[f"s{i}"] for i in range(40))
    assert 5 < sum(s == "test" for s in side.values()) / 3 < 35


def test_an_overlapping_split_is_refused(small):
    _, questions = small
    split = split_questions(questions, seed=0)
    train, test = [q for q in split if q.split == "train"], [q for q in split if q.split == "test"]
    assert overlap(train, test) == {"questions": 0, "gold_sets": 0}
    once = [q for q in test if sum(set(p.gold_ids) == set(q.gold_ids) for p in test) == 1]  # a gold set of one question
    leaked = [dataclasses.replace(once[0], id="leak-1"), dataclasses.replace(once[1], id="leak-2", question="new?")]
    assert overlap(train + leaked, test) == {"questions": 1, "gold_sets": 2}
    with pytest.raises(SplitOverlapError, match="1 of .* test questions share their text and 2"):
        check_disjoint(train + leaked, test)


# ---------------------------------------------------------------------------------- files

def test_write_and_read_a_benchmark(small, tmp_path):
    corpus, questions = small
    split = split_questions(questions, seed=0)
    summary = write_benchmark(split, tmp_path / "bench", corpus, settings={"seed": 0, "n_per_family": 10})
    n_train = sum(q.split == "train" for q in split)
    assert summary["questions"] == {"train": n_train, "test": len(split) - n_train, "total": len(split)}
    assert summary["overlap"] == {"questions": 0, "gold_sets": 0}
    assert summary["fingerprint"] == corpus.fingerprint() and summary["seed"] == 0 and summary["corpus"] == "small"
    on_disk = json.loads((tmp_path / "bench" / "summary.json").read_text())
    assert on_disk["families"]["train"]["count"] == sum(q.split == "train" and q.family == "count" for q in split)
    back = read_questions(tmp_path / "bench" / "train.jsonl") + read_questions(tmp_path / "bench" / "test.jsonl")
    assert sorted(back, key=lambda q: q.id) == sorted(split, key=lambda q: q.id)
    gold = [json.loads(line) for line in (tmp_path / "bench" / "gold.jsonl").read_text().splitlines()]
    assert {g["id"]: g["gold_ids"] for g in gold} == {q.id: q.gold_ids for q in split}


def test_write_benchmark_refuses_unsplit_or_overlapping_questions(small, tmp_path):
    from experio.errors import UsageError

    corpus, questions = small
    with pytest.raises(UsageError, match="no split"):
        write_benchmark(questions, tmp_path / "b", corpus)
    bad = [dataclasses.replace(q, split="train" if i % 2 else "test") for i, q in enumerate(questions)]
    bad.append(dataclasses.replace(bad[0], id="copy", split="train"))
    with pytest.raises(SplitOverlapError):
        write_benchmark(bad, tmp_path / "b", corpus)
    assert not (tmp_path / "b").exists()


def bad_file(tmp_path, small):
    good = small[1][0].to_dict()
    no_gold = {k: v for k, v in good.items() if k != "gold_ids"} | {"id": "x"}
    lines = [json.dumps(good), "{not json", json.dumps(no_gold),
             json.dumps(good | {"id": "y", "answer": "many"}), json.dumps(good)]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_question_files_name_the_line(small, tmp_path):
    path = bad_file(tmp_path, small)
    with pytest.raises(QuestionFileError, match=r"questions\.jsonl:2: not JSON"):
        read_questions(path)
    path.write_text("\n".join(path.read_text().splitlines()[:1] + path.read_text().splitlines()[2:]) + "\n")
    with pytest.raises(QuestionFileError, match=r"questions\.jsonl:2: question 'x' lacks gold_ids"):
        read_questions(path)


def test_bad_question_lines_go_to_the_rejects_file(small, tmp_path):
    path = bad_file(tmp_path, small)
    rejects = RejectsFile(path)
    questions = read_questions(path, rejects=rejects)
    rejects.commit()
    assert [q.id for q in questions] == [small[1][0].id]
    rows = [json.loads(line) for line in open(rejects.path)]
    assert [r["line"] for r in rows] == [2, 3, 4, 5]
    assert "not JSON" in rows[0]["reason"] and "lacks gold_ids" in rows[1]["reason"]
    assert "integer" in rows[2]["reason"] and "appears again (first on line 1)" in rows[3]["reason"]


# -------------------------------------------------------------------------------- metrics

def test_metrics_on_known_cases():
    assert answer_f1("the cat sat", "cat sat down") == 0.8
    assert answer_f1("Cat sat down.", "cat sat down") == 1.0
    assert answer_f1("dog", "cat") == 0.0 and answer_f1("", "") == 1.0 and answer_f1("a the", "cat") == 0.0
    assert answer_f1("BASIC, Ada", ["Ada", "BASIC"]) == 1.0 and exact_match("BASIC, Ada", ["Ada", "BASIC"]) == 0.0
    assert exact_match("The answer is 37.", 37) == 0.0 and exact_match(" 37 ", 37) == 1.0
    assert normalize_answer("An  Apple,  the PIE!") == "apple pie"
    assert doc_recall(["a", "b"], ["a", "b", "c", "d"]) == 0.5 and doc_recall([], []) == 1.0
    assert doc_recall(["z"], ["a"]) == 0.0


def test_score_and_summarise(small):
    _, questions = small
    count = next(q for q in questions if q.family == "count")
    top = next(q for q in questions if q.family == "top_k_largest")
    rows = [score(str(count.answer), count, count.gold_ids),
            score("nothing", top, top.gold_ids[:1]),
            score(", ".join(reversed(top.answer)), top, [])]
    assert rows[0] == {"id": count.id, "family": "count", "f1": 1.0, "em": 1.0, "recall": 1.0}
    assert rows[1]["f1"] == 0.0 and rows[1]["recall"] == round(1 / len(top.gold_ids), 4)
    assert rows[2]["f1"] == 1.0 and rows[2]["em"] == 0.0 and rows[2]["recall"] == 0.0
    summary = summarise(rows)
    assert summary["overall"]["n"] == 3 and summary["overall"]["em"] == round(1 / 3, 4)
    assert summary["by_family"]["top_k_largest"] == {"n": 2, "f1": 0.5, "em": 0.0,
                                                     "recall": round(rows[1]["recall"] / 2, 4)}


def test_generic_wording():
    fields = {"tags": "categories", "genre": "category", "price": "number", "published": "date"}
    w = Wording()
    in_2001 = ["published", "between", ["2001-01-01", "2001-12-31"]]
    text = question_text("top_k_largest", [["genre", "eq", "rock"], in_2001], fields, w, "price", 3)
    assert text == ('Of the documents whose genre is "rock" and whose published is in 2001, list the titles of the 3 '
                    "with the highest price, from the highest price to the lowest.")
    assert question_text("min", [["tags", "contains", "x"]], fields, w, "published") == \
        'Which document whose tags include "x" has the earliest published?'
