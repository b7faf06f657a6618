"""experio.retrieval: corpus loaders, types and bad input; the four tools on a hand-made corpus
with hand-checked answers; the agent-facing session; the FOLDOC parser and the built-in corpus.

Everything here runs in seconds except the semantic-search test, which embeds 15 short texts
with the real MiniLM model.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from experio.retrieval import (AGGREGATIONS, SPECS, Corpus, CorpusError, CorpusNotFoundError, EmptyCorpusError,
                               FieldTypeError, FilterValueError, RetrievalTools, ToolError, ToolSession,
                               UnknownFieldError, UnknownSetError, load_corpus, load_foldoc)
from experio.retrieval.foldoc import FIELDS as FOLDOC_FIELDS, parse_entries
from experio.runs import RejectsFile


def _rejects(path) -> list[dict]:
    return [json.loads(line) for line in open(f"{path}.rejects.jsonl", encoding="utf-8")]


def _write_jsonl(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


# ------------------------------------------------------------------------- the hand-made corpus
# Corpus order is the order below; every expected answer in this file was worked out by hand
# from this table. `rating` is missing for lisp and gc, `paradigm` for unix and gc, `updated`
# for prolog, `year` for gc; gc's tags are an empty list (no labels: missing too).

LANGS = [
    ("ada", "Ada", "Ada is a structured language for embedded real-time systems used by defence projects.",
     1983, "2019-03-01", "imperative", ["language", "embedded", "safety"], 4.1),
    ("basic", "BASIC", "BASIC is a simple language for beginners and home computers.",
     1964, "2018-07-15", "imperative", ["language", "education"], 3.2),
    ("c", "C", "C is a systems programming language used to write the Unix kernel and compilers.",
     1972, "2020-11-30", "imperative", ["language", "systems"], 4.5),
    ("cobol", "COBOL", "COBOL is a business language for records and reports on mainframes.",
     1959, "2017-01-20", "imperative", ["language", "business"], 2.9),
    ("erlang", "Erlang", "Erlang is a functional language for concurrent telecom switches with lightweight processes.",
     1986, "2021-06-05", "functional", ["language", "concurrency"], 4.0),
    ("fortran", "Fortran", "Fortran is a language for numerical computing and scientific simulations.",
     1957, "2019-03-01", "imperative", ["language", "scientific"], 3.8),
    ("haskell", "Haskell", "Haskell is a lazy purely functional language with type classes.",
     1990, "2022-02-14", "functional", ["language", "research"], 4.3),
    ("lisp", "Lisp", "Lisp is a functional language of lists, macros and garbage collection.",
     1958, "2016-09-09", "functional", ["language", "research"], None),
    ("ml", "ML", "ML is a functional language with type inference, used to write theorem provers.",
     1973, "2020-11-30", "functional", ["language", "research"], 3.9),
    ("pascal", "Pascal", "Pascal is a structured language designed for teaching programming.",
     1970, "2018-07-15", "imperative", ["language", "education"], 3.5),
    ("prolog", "Prolog", "Prolog is a logic language of facts, rules and backtracking search.",
     1972, None, "logic", ["language", "research", "ai"], 3.6),
    ("python", "Python", "Python is a language for scripting, data analysis and teaching.",
     1991, "2023-10-02", "multi-paradigm", ["language", "scripting", "education"], 4.7),
    ("sql", "SQL", "SQL is a query language for relational databases and reports.",
     1974, "2021-06-05", "declarative", ["language", "database", "business"], 4.2),
    ("unix", "Unix", "Unix is an operating system written in C with pipes and a shell.",
     1971, "2020-11-30", None, ["os", "systems"], 4.5),
    ("gc", "garbage collection", "Garbage collection reclaims memory that a program no longer uses.",
     None, "2015-05-05", None, [], None),
]
ALL_IDS = [row[0] for row in LANGS]


def lang_records() -> list[dict]:
    keys = ("id", "title", "text", "year", "updated", "paradigm", "tags", "rating")
    return [{k: v for k, v in zip(keys, row) if v is not None} for row in LANGS]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.from_records(lang_records(), name="langs")


@pytest.fixture(scope="module")
def tools(corpus) -> RetrievalTools:
    return RetrievalTools(corpus).build(dense=False)


# ------------------------------------------------------------------------------ the corpus


def test_types_are_inferred_from_the_values(corpus):
    assert corpus.fields == {"paradigm": "category", "rating": "number", "tags": "categories",
                             "updated": "date", "year": "number"}
    schema = corpus.table.schema
    assert schema.field("year").type == pa.int64() and schema.field("rating").type == pa.float64()
    assert schema.field("updated").type == pa.date32() and schema.field("tags").type == pa.list_(pa.string())
    ada = corpus.doc("ada")
    assert ada.title == "Ada" and ada.meta["updated"] == dt.date(2019, 3, 1)
    assert ada.meta["tags"] == ["embedded", "language", "safety"]  # a set of labels: sorted, distinct
    assert corpus.doc("gc").meta == {"paradigm": None, "rating": None, "tags": [], "updated": dt.date(2015, 5, 5),
                                     "year": None}
    assert len(corpus) == 15 and [d.id for d in corpus][:3] == ["ada", "basic", "c"]
    with pytest.raises(CorpusError, match="no document 'cobra'"):
        corpus.doc("cobra")


def test_declared_types_convert_values_and_drop_undeclared_fields():
    rows = [{"id": "a", "text": "x", "year": "1983", "code": 7, "when": "2001-02-03", "extra": "dropped"},
            {"id": 2, "text": "y", "year": 1990.5, "code": "z", "meta": {"when": None}}]
    c = Corpus.from_records(rows, fields={"year": "number", "code": "category", "when": "date"})
    assert c.fields == {"code": "category", "when": "date", "year": "number"}
    assert c.ids == ["a", "2"] and c.titles == ["a", "2"]  # an integer id is text; the title defaults to the id
    assert c.doc("a").meta == {"code": "7", "when": dt.date(2001, 2, 3), "year": 1983}
    assert c.table.schema.field("year").type == pa.float64()  # 1983 and 1990.5: not every value an integer
    with pytest.raises(FieldTypeError, match="'integer'.*number, date, category, categories"):
        Corpus.from_records(rows, fields={"year": "integer"})


def test_a_field_takes_the_type_most_of_its_values_have(tmp_path):
    rows = [{"id": "a", "text": "x", "year": 1983}, {"id": "b", "text": "y", "year": "abc"},
            {"id": "c", "text": "z", "year": 1990}]
    rejects = RejectsFile(tmp_path / "c")
    c = Corpus.from_records(rows, rejects=rejects)
    rejects.commit()
    assert c.ids == ["a", "c"] and c.fields == {"year": "number"}
    [bad] = _rejects(tmp_path / "c")
    assert bad["line"] == 2 and "field 'year' is a number; 'abc' is not" in bad["reason"]
    with pytest.raises(CorpusError, match="^row 2: field 'year' is a number"):
        Corpus.from_records(rows)  # without a rejects file a bad row is an error naming it


def test_jsonl_with_a_malformed_line_loads_the_rest(tmp_path):
    path = tmp_path / "docs.jsonl"
    _write_jsonl(path, [{"id": "a", "text": "first", "year": 2001}, '{"id": "b", "text": "cut off',
                        {"id": "c", "text": "third", "meta": {"year": 2003}}, "",
                        {"id": "d", "title": "Dee", "text": "fifth", "year": 2005}])
    rejects = RejectsFile(tmp_path / "out")
    c = load_corpus(path, rejects=rejects)
    assert rejects.commit() == f"{tmp_path / 'out'}.rejects.jsonl"
    assert c.name == "docs" and c.ids == ["a", "c", "d"] and c.doc("c").meta == {"year": 2003}
    assert c.doc("d").title == "Dee"
    [bad] = _rejects(tmp_path / "out")
    assert bad["line"] == 2 and bad["reason"].startswith("not JSON") and "cut off" in bad["row"]["text"]
    with pytest.raises(CorpusError, match=r"docs.jsonl:2: not JSON"):
        load_corpus(path)


def test_gzipped_jsonl(tmp_path):
    path = tmp_path / "docs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "a", "text": "zipped"}) + "\n")
    c = load_corpus(path)
    assert c.name == "docs" and c.texts == ["zipped"]


def test_rows_without_an_id_or_text_or_with_a_repeated_id_are_rejected(tmp_path):
    path = tmp_path / "docs.jsonl"
    _write_jsonl(path, [{"title": "no id", "text": "x"}, {"id": "", "text": "x"}, {"id": "a", "text": " "},
                        {"id": "a", "text": "kept"}, {"id": "a", "text": "again"}, ["not", "an", "object"],
                        {"id": "b", "text": "x", "meta": "not an object"}])
    rejects = RejectsFile(tmp_path / "out")
    c = load_corpus(path, rejects=rejects)
    rejects.commit()
    assert c.ids == ["a"] and c.texts == ["kept"]
    reasons = {r["line"]: r["reason"] for r in _rejects(tmp_path / "out")}
    assert reasons[1].startswith('a document without an "id"') and reasons[2].startswith('a document without an "id"')
    assert reasons[3] == "document 'a' has no \"text\""
    assert reasons[5] == "id 'a' appears twice; ids must be unique"
    assert reasons[6].startswith("a document is an object") and '"meta" is an object' in reasons[7]


def test_every_row_rejected_names_the_rejects_file(tmp_path):
    path = tmp_path / "docs.jsonl"
    _write_jsonl(path, [{"text": "no id"}, {"title": "no id either", "text": "x"}])
    rejects = RejectsFile(tmp_path / "out")
    with pytest.raises(EmptyCorpusError, match="every row was rejected, see .*out.rejects.jsonl") as e:
        load_corpus(path, rejects=rejects)
    rejects.abort()  # what a caller does on an error: the rejects the message names stay
    assert str(tmp_path / "out.rejects.jsonl") in str(e.value)
    assert [r["reason"] for r in _rejects(tmp_path / "out")] == ['a document without an "id" (a non-empty string)'] * 2


def test_empty_corpora(tmp_path):
    with pytest.raises(EmptyCorpusError, match="no usable document"):
        Corpus.from_records([])
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(EmptyCorpusError):
        load_corpus(tmp_path / "empty.jsonl")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(EmptyCorpusError, match="empty CSV"):
        load_corpus(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("id,text\n")
    with pytest.raises(EmptyCorpusError):
        load_corpus(tmp_path / "header.csv")
    (tmp_path / "folder").mkdir()
    with pytest.raises(EmptyCorpusError, match="no .txt files"):
        load_corpus(tmp_path / "folder")


def test_missing_path_and_unknown_format(tmp_path):
    with pytest.raises(CorpusNotFoundError, match="does not exist") as e:
        load_corpus(tmp_path / "nope.jsonl")
    assert isinstance(e.value, FileNotFoundError)
    (tmp_path / "docs.xml").write_text("<docs/>")
    with pytest.raises(CorpusError, match="unknown format"):
        load_corpus(tmp_path / "docs.xml")


def test_csv_with_categories_as_a_semicolon_list(tmp_path):
    path = tmp_path / "langs.csv"
    path.write_text("id,title,text,year,tags,updated,score\n"
                    "ada,Ada,A language for embedded systems.,1983,language,2019-03-01,4.1\n"  # one label first
                    'c,C,"Systems, kernels and compilers.",1972,language; systems,,4.5\n'
                    "ml,ML,Type inference.,1973,language;research;language,2020-11-30,\n", encoding="utf-8")
    c = load_corpus(path)
    assert c.fields == {"score": "number", "tags": "categories", "updated": "date", "year": "number"}
    assert c.texts[1] == "Systems, kernels and compilers."
    assert [d.meta["tags"] for d in c] == [["language"], ["language", "systems"], ["language", "research"]]
    assert c.doc("c").meta["updated"] is None and c.doc("ml").meta["score"] is None
    assert c.doc("ada").meta == {"score": 4.1, "tags": ["language"], "updated": dt.date(2019, 3, 1), "year": 1983}
    declared = load_corpus(path, fields={"year": "category", "tags": "category", "score": "number"})
    assert declared.doc("ml").meta == {"score": None, "tags": "language;research;language", "year": "1973"}
    assert declared.doc("c").meta == {"score": 4.5, "tags": "language; systems", "year": "1972"}


def test_parquet(tmp_path):
    path = tmp_path / "langs.parquet"
    pq.write_table(pa.table({
        "id": ["a", "b"], "title": ["A", "B"], "text": ["first text", "second text"],
        "year": pa.array([1983, None], pa.int64()), "tags": [["x", "y"], None],
        "updated": pa.array([dt.date(2020, 1, 2), dt.date(2021, 3, 4)], pa.date32()), "kind": ["k1", "k2"],
    }), path)
    c = load_corpus(path)
    assert c.fields == {"kind": "category", "tags": "categories", "updated": "date", "year": "number"}
    assert c.doc("a").meta == {"kind": "k1", "tags": ["x", "y"], "updated": dt.date(2020, 1, 2), "year": 1983}
    assert c.doc("b").meta["year"] is None and c.doc("b").meta["tags"] is None


def test_folder_of_txt_files_with_metadata(tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "intro.txt").write_text("Introduction\nThe first document.\n")
    (root / "sub" / "deep.txt").write_text("Deep title\nA nested document.\n")
    (root / "notes.md").write_text("not a .txt file")
    (tmp_path / "secret.txt").write_text("Outside the corpus folder\n")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")  # leads outside: ignored
    (root / "metadata.csv").write_text("id,year,tags\nintro,2001,a;b\nsub/deep.txt,2002,c\nghost,2003,d\n")
    c = load_corpus(root)
    assert c.name == "docs" and sorted(c.ids) == ["intro", "sub/deep"]
    assert c.doc("sub/deep").title == "Deep title" and c.doc("sub/deep").text == "Deep title\nA nested document.\n"
    assert c.fields == {"tags": "categories", "year": "number"}
    assert c.doc("intro").meta == {"tags": ["a", "b"], "year": 2001} and c.doc("sub/deep").meta["tags"] == ["c"]
    assert not any("Outside" in t for t in c.texts)


def test_folder_metadata_row_without_an_id(tmp_path):
    (tmp_path / "a.txt").write_text("A\ntext\n")
    (tmp_path / "metadata.jsonl").write_text('{"year": 2001}\n')
    with pytest.raises(CorpusError, match=r"metadata.jsonl:1: a metadata row needs an id"):
        load_corpus(tmp_path)


# ---------------------------------------------------------------------------- keyword search


def test_keyword_search_ranks_the_obvious_document_first(tools):
    hits = tools.keyword_search("garbage collection", k=5)
    assert [h.id for h in hits] == ["gc", "lisp"]  # only these two contain the words; gc has them twice
    assert hits[0].score > hits[1].score > 0
    assert [h.id for h in tools.keyword_search("concurrent telecom switches")] == ["erlang"]
    assert [h.id for h in tools.keyword_search("Unix", k=1)] == ["unix"]


def test_keyword_search_k_within_and_no_match(tools):
    assert len(tools.keyword_search("language", k=3)) == 3
    assert len(tools.keyword_search("language", k=100)) == 13  # every document with the word, no more
    assert {h.id for h in tools.keyword_search("language", within=["sql", "cobol", "unix"])} == {"sql", "cobol"}
    assert [h.id for h in tools.keyword_search("reports", within=["sql", "sql"])] == ["sql"]
    assert tools.keyword_search("zyzzyva") == [] and tools.keyword_search("the of and") == []
    assert tools.keyword_search("garbage", within=[]) == []
    with pytest.raises(ToolError, match="needs a query"):
        tools.keyword_search("  ")
    with pytest.raises(ToolError, match="k must be a positive integer"):
        tools.keyword_search("language", k=0)
    with pytest.raises(ToolError, match="document id 'cobra' is not in corpus 'langs'"):
        tools.keyword_search("language", within=["c", "cobra"])


# ------------------------------------------------------------------------------------ filter

FILTERS = [
    ("year", "eq", 1972, ["c", "prolog"]),
    ("year", "ne", 1972, [i for i in ALL_IDS if i not in ("c", "prolog", "gc")]),  # gc has no year
    ("year", "lt", 1959, ["fortran", "lisp"]),
    ("year", "le", 1959, ["cobol", "fortran", "lisp"]),
    ("year", "gt", 1986, ["haskell", "python"]),
    ("year", "ge", "1986", ["erlang", "haskell", "python"]),  # a number given as text is read as one
    ("year", "between", [1970, 1973], ["c", "ml", "pascal", "prolog", "unix"]),
    ("year", "in", [1964, 1991, 2000], ["basic", "python"]),
    ("rating", "ge", 4.5, ["c", "python", "unix"]),
    ("rating", "lt", 3, ["cobol"]),
    ("updated", "eq", "2020-11-30", ["c", "ml", "unix"]),
    ("updated", "ne", "2020-11-30", ["ada", "basic", "cobol", "erlang", "fortran", "haskell", "lisp", "pascal",
                                     "python", "sql", "gc"]),  # prolog has no date
    ("updated", "lt", "2017-01-20", ["lisp", "gc"]),
    ("updated", "le", "2017-01-20", ["cobol", "lisp", "gc"]),
    ("updated", "gt", "2022-02-14", ["python"]),
    ("updated", "ge", dt.date(2022, 2, 14), ["haskell", "python"]),
    ("updated", "between", ["2021-01-01", "2021-12-31"], ["erlang", "sql"]),
    ("updated", "in", ["2019-03-01", "2023-10-02"], ["ada", "fortran", "python"]),
    ("paradigm", "eq", "functional", ["erlang", "haskell", "lisp", "ml"]),
    ("paradigm", "ne", "imperative", ["erlang", "haskell", "lisp", "ml", "prolog", "python", "sql"]),
    ("paradigm", "in", ["logic", "declarative"], ["prolog", "sql"]),
    ("tags", "contains", "research", ["haskell", "lisp", "ml", "prolog"]),
    ("tags", "in", ["business", "ai"], ["cobol", "prolog", "sql"]),
    ("tags", "contains", "nothing-has-this", []),
]


@pytest.mark.parametrize("field,op,value,expected", FILTERS, ids=[f"{f}-{o}" for f, o, _, _ in FILTERS])
def test_filter(tools, field, op, value, expected):
    assert tools.filter(field, op, value) == expected


def test_filter_within_a_set(tools):
    research = tools.filter("tags", "contains", "research")
    assert tools.filter("paradigm", "eq", "functional", within=research) == ["haskell", "lisp", "ml"]
    assert tools.filter("year", "lt", 1980, within=["unix", "python", "c", "c"]) == ["c", "unix"]
    assert tools.filter("year", "lt", 1980, within=[]) == []


BAD_FILTERS = [
    (("yeer", "eq", 1972), UnknownFieldError,
     "unknown field 'yeer'; the fields are: paradigm, rating, tags, updated, year"),
    (("year", "eq", "abc"), FilterValueError, "field 'year' is a number; 'abc' is not"),
    (("year", "eq", True), FilterValueError, "is a number"),
    (("updated", "eq", "2020-13-01"), FilterValueError, "field 'updated' is a date; '2020-13-01' is not .*YYYY-MM-DD"),
    (("updated", "lt", "yesterday"), FilterValueError, "is a date"),
    (("tags", "lt", "x"), FilterValueError, "'tags' is a categories field; its operators are: contains, in"),
    (("paradigm", "between", ["a", "b"]), FilterValueError, "its operators are: eq, ne, in"),
    (("year", "contains", 1), FilterValueError, "its operators are: eq, ne, lt, le, gt, ge, between, in"),
    (("year", "between", [1, 2, 3]), FilterValueError, r"needs \[low, high\]"),
    (("year", "in", 1972), FilterValueError, "needs a non-empty list"),
    (("year", "in", []), FilterValueError, "needs a non-empty list"),
    (("year", "eq", [1972]), FilterValueError, "use op 'in' for a list"),
    (("year", "eq", None), FilterValueError, "needs a value"),
]


@pytest.mark.parametrize("args,error,message", BAD_FILTERS, ids=[" ".join(map(str, a)) for a, _, _ in BAD_FILTERS])
def test_bad_filters_say_what_to_change(tools, args, error, message):
    with pytest.raises(error, match=message) as e:
        tools.filter(*args)
    assert isinstance(e.value, ToolError) and isinstance(e.value, ValueError)


def test_a_field_name_is_quoted_in_sql():
    c = Corpus.from_records([{"id": "a", "text": "x", 'odd "name"': 1, "pos": 5}, {"id": "b", "text": "y", "pos": 6}])
    t = RetrievalTools(c)
    assert t.filter('odd "name"', "eq", 1) == ["a"] and t.filter("pos", "ge", 6) == ["b"]


# --------------------------------------------------------------------------------- aggregate


def test_count_and_count_by(tools):
    assert tools.aggregate("count").value == 15
    assert tools.aggregate("count", ids=["c", "ml", "c"]).value == 2  # a repeated id counts once
    rating = tools.aggregate("count", "rating")
    assert (rating.n, rating.missing) == (13, 2)  # lisp and gc have no rating
    by = tools.aggregate("count_by", "paradigm")
    assert by.rows == [("imperative", 6), ("functional", 4), ("declarative", 1), ("logic", 1), ("multi-paradigm", 1)]
    assert (by.n, by.missing) == (13, 2)
    tags = tools.aggregate("count_by", "tags")
    assert tags.rows[:5] == [("language", 13), ("research", 4), ("education", 3), ("business", 2), ("systems", 2)]
    assert (tags.n, tags.missing) == (14, 1)  # gc's empty list of tags
    years = tools.aggregate("count_by", "year", ids=["c", "prolog", "ml"])
    assert years.rows == [("1972", 2), ("1973", 1)]
    dates = tools.aggregate("count_by", "updated", ids=["c", "ml", "unix", "prolog"])
    assert dates.rows == [("2020-11-30", 3)] and dates.missing == 1


def test_min_and_max_return_every_document_with_the_extreme(tools):
    education = tools.filter("tags", "contains", "education")
    assert tools.aggregate("min", "updated", ids=education).rows == [("basic", dt.date(2018, 7, 15)),
                                                                      ("pascal", dt.date(2018, 7, 15))]
    systems = tools.aggregate("max", "rating", ids=tools.filter("tags", "contains", "systems"))
    assert systems.rows == [("c", 4.5), ("unix", 4.5)] and systems.value == 4.5
    oldest = tools.aggregate("min", "year")
    assert oldest.rows == [("fortran", 1957)] and (oldest.n, oldest.missing) == (14, 1)
    assert tools.aggregate("max", "updated").rows == [("python", dt.date(2023, 10, 2))]
    none = tools.aggregate("max", "rating", ids=["lisp", "gc"])
    assert none.rows == [] and none.value is None and none.missing == 2


def test_sort_and_top_k(tools):
    research = tools.filter("tags", "contains", "research")
    assert tools.aggregate("sort_asc", "year", ids=research).rows == [
        ("lisp", 1958), ("prolog", 1972), ("ml", 1973), ("haskell", 1990)]
    newest = tools.aggregate("sort_desc", "updated", ids=research)
    assert newest.rows == [("haskell", dt.date(2022, 2, 14)), ("ml", dt.date(2020, 11, 30)),
                           ("lisp", dt.date(2016, 9, 9))] and newest.missing == 1  # prolog: no date
    best = tools.aggregate("top_k_largest", "rating", k=3)
    assert best.rows == [("python", 4.7), ("c", 4.5), ("unix", 4.5)]  # a tie keeps corpus order
    assert (best.n, best.missing) == (13, 2)
    assert tools.aggregate("top_k_smallest", "year", k=2).rows == [("fortran", 1957), ("lisp", 1958)]
    assert tools.aggregate("top_k_smallest", "year", ids=["c", "ml"], k=5).rows == [("c", 1972), ("ml", 1973)]
    shuffled = tools.aggregate("top_k_largest", "rating", ids=["unix", "c", "python", "c"], k=2)
    assert shuffled.rows == [("python", 4.7), ("c", 4.5)] and shuffled.n == 3  # ties: corpus order, not the list's
    assert len(tools.aggregate("sort_asc", "year").rows) == 14


def test_remembered_positions_follow_a_changed_list(corpus, monkeypatch):
    from experio.retrieval import tools as tools_module

    monkeypatch.setattr(tools_module, "_REMEMBER_FROM", 1)  # remember every list, however short
    tools = RetrievalTools(corpus)
    research = tools.filter("tags", "contains", "research")
    assert research == ["haskell", "lisp", "ml", "prolog"]
    assert tools.aggregate("min", "year", ids=research).rows == [("lisp", 1958)]
    research[1] = "python"  # changed in place, same length: its ids are looked up anew
    assert tools.aggregate("min", "year", ids=research).rows == [("prolog", 1972)]
    research.append("fortran")
    assert tools.aggregate("min", "year", ids=research).rows == [("fortran", 1957)]
    assert tools.filter("year", "lt", 1960, within=research) == ["fortran"]


def test_bad_aggregations(tools):
    with pytest.raises(ToolError, match="unknown aggregation 'median'; choose one of: count, count_by"):
        tools.aggregate("median", "year")
    with pytest.raises(UnknownFieldError, match="aggregation 'max': unknown field 'yeer'"):
        tools.aggregate("max", "yeer")
    with pytest.raises(UnknownFieldError):
        tools.aggregate("min")
    with pytest.raises(FilterValueError, match="min needs a number or date field; 'paradigm' is a category"):
        tools.aggregate("min", "paradigm")
    with pytest.raises(ToolError, match="k must be a positive integer"):
        tools.aggregate("top_k_largest", "year", k=0)
    with pytest.raises(ToolError, match="'cobra' is not in corpus"):
        tools.aggregate("count", ids=["cobra"])
    with pytest.raises(ToolError, match="a list of ids, got the text"):
        tools.aggregate("count", ids="ada")
    assert set(AGGREGATIONS) == set(SPECS[3]["parameters"]["properties"]["op"]["enum"])


# --------------------------------------------------------------------------- semantic search


def test_semantic_search_with_minilm_and_its_cache(corpus, tmp_path):
    from experio.embed import load_embedder

    embedder = load_embedder("minilm")
    tools = RetrievalTools(corpus, embedder=embedder, cache_dir=tmp_path)
    hits = tools.semantic_search("automatically freeing memory a program does not need any more", k=3)
    assert hits[0].id == "gc" and hits[0].score > hits[1].score
    assert tools.semantic_search("asking a relational database for rows", k=1)[0].id == "sql"
    assert [h.id for h in tools.semantic_search("memory", k=2, within=["sql", "basic"])] in (["sql", "basic"],
                                                                                                ["basic", "sql"])
    [cached] = tmp_path.glob("dense-*.npy")
    assert cached.name == "dense-MiniLMEmbedder.npy" and np.load(cached).shape == (15, 384)

    calls = []
    embed = embedder.embed
    embedder.embed = lambda texts: calls.append(len(texts)) or embed(texts)  # counts what is embedded
    try:
        again = RetrievalTools(corpus, embedder=embedder, cache_dir=tmp_path).build()
        assert again.semantic_search("automatically freeing memory a program does not need any more",
                                     k=3) == hits
    finally:
        del embedder.embed
    assert calls == [1]  # only the query: the 15 documents came from the cached .npy


# --------------------------------------------------------------------------------- the session


def test_session_names_result_sets_and_narrows_them(tools):
    s = ToolSession(tools, show=2)
    assert s.call("filter", {"field": "tags", "op": "contains", "value": "research"}) == (
        'R1: 4 documents where tags contains "research": haskell "Haskell" (tags=language/research); '
        'lisp "Lisp" (tags=language/research); ... and 2 more')
    assert s.call("filter", {"field": "year", "op": "lt", "value": 1973, "within": "R1"}) == (
        'R2: 2 documents where year lt 1973 within R1: lisp "Lisp" (year=1958); prolog "Prolog" (year=1972)')
    assert s.call("aggregate", {"op": "count", "over": "R1"}) == "count over R1: 4"
    assert s.call("aggregate", {"op": "count", "field": "updated", "over": "r1"}) == (
        "count over R1: 3 (1 without updated)")
    assert s.call("aggregate", {"op": "max", "field": "year", "over": "R2"}) == (
        'max of year over R2 (2 documents): prolog "Prolog" = 1972')
    assert s.call("aggregate", {"op": "top_k_largest", "field": "rating", "k": 2}) == (
        'top_k_largest of rating over the corpus (13 documents) (2 without rating): 1. python "Python" = 4.7; '
        '2. c "C" = 4.5')
    assert s.call("keyword_search", {"query": "garbage collection"}).startswith(
        'R3: 2 documents keyword search \'garbage collection\': gc "garbage collection"')
    assert s.call("filter", {"field": "year", "op": "eq", "value": 2050}) == "R4: 0 documents where year eq 2050"
    assert set(s.sets) == {"R1", "R2", "R3", "R4"} and s.sets["R2"] == ["lisp", "prolog"]
    assert {"haskell", "lisp", "ml", "prolog", "python", "c", "gc"} <= s.seen and "ada" not in s.seen


def test_session_errors_say_what_to_change(tools):
    s = ToolSession(tools)
    with pytest.raises(UnknownSetError, match="no result set 'R1'; the sets are: none yet"):
        s.call("aggregate", {"op": "count", "over": "R1"})
    s.call("filter", {"field": "year", "op": "lt", "value": 1960})
    with pytest.raises(UnknownSetError, match="no result set 'R7'; the sets are: R1"):
        s.call("keyword_search", {"query": "language", "within": "R7"})
    with pytest.raises(ToolError, match="unknown tool 'grep'; the tools are: semantic_search, keyword_search"):
        s.call("grep", {})
    with pytest.raises(ToolError, match="filter: unknown argument.* fild; it takes field, op, value, within"):
        s.call("filter", {"fild": "year", "op": "lt", "value": 1})
    with pytest.raises(ToolError, match="filter: missing value"):
        s.call("filter", {"field": "year", "op": "lt"})
    with pytest.raises(UnknownFieldError):
        s.call("filter", {"field": "yeer", "op": "lt", "value": 1})
    assert list(s.sets) == ["R1"]  # a failed call names no set


def test_specs_describe_the_session_methods():
    import inspect

    assert [s["name"] for s in SPECS] == ["semantic_search", "keyword_search", "filter", "aggregate"]
    for spec in SPECS:
        params = inspect.signature(getattr(ToolSession, spec["name"])).parameters
        assert list(spec["parameters"]["properties"]) == [p for p in params if p != "self"]
        assert set(spec["parameters"]["required"]) <= set(spec["parameters"]["properties"])


# ------------------------------------------------------------------------------------- FOLDOC

FOLDOC_SAMPLE = """
00-database-short
     The Free On-line Dictionary of Computing (19 January 2023)

Ada
Ada 83

   <language> (After {Ada Lovelace}) A {Pascal}-descended
   language, designed by Jean Ichbiah's team.

   Ada is a large language.

   (1995-03-01)

ad

   <networking> The {country code} for Andorra.

   (1999-01-26)

ad

   <jargon, humour> A second entry with the same
headword, its line wrapped at the margin.

no definition

kludge

   A clumsy but working solution.
"""


def test_foldoc_parser_on_a_dictd_sample(tmp_path):
    docs = parse_entries(FOLDOC_SAMPLE)
    assert [(d["id"], d["title"]) for d in docs] == [("f00001", "Ada"), ("f00002", "ad"), ("f00003", "ad (2)"),
                                                     ("f00004", "kludge")]
    ada = docs[0]
    assert ada["text"] == ("(After {Ada Lovelace}) A {Pascal}-descended language, designed by Jean Ichbiah's "
                           "team.\n\nAda is a large language.")
    assert (ada["categories"], ada["updated"], ada["year"], ada["words"], ada["links"]) == (
        ["language"], "1995-03-01", 1995, 16, 2)
    assert ada["aliases"] == ["Ada 83"]
    second = docs[2]
    assert second["categories"] == ["humour", "jargon"] and second["updated"] is None and second["year"] is None
    assert second["text"] == "A second entry with the same headword, its line wrapped at the margin."
    assert docs[3]["categories"] == [] and docs[3]["words"] == 5

    path = tmp_path / "sample.dict.dz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(FOLDOC_SAMPLE)
    c = load_foldoc(path)
    assert c.fields == FOLDOC_FIELDS and len(c) == 4 and c.licence.startswith("FOLDOC")
    assert c.doc("f00001").meta == {"categories": ["language"], "links": 2, "updated": dt.date(1995, 3, 1),
                                    "words": 16, "year": 1995}
    assert c.doc("f00004").meta["categories"] == []


def test_builtin_foldoc_corpus():
    from experio.retrieval.foldoc import foldoc_file

    try:
        foldoc_file()
    except CorpusNotFoundError as e:
        pytest.skip(f"FOLDOC is not installed here ({e})")
    c = load_corpus("builtin")
    assert len(c) > 10_000 and c.name == "foldoc" and c.fields == FOLDOC_FIELDS
    schema = c.table.schema
    assert schema.field("updated").type == pa.date32() and schema.field("words").type == pa.int64()
    assert schema.field("categories").type == pa.list_(pa.string())
    assert len(set(c.titles)) == len(c)  # repeated headwords get " (2)"
    ada = c.doc(c.ids[c.titles.index("Ada")])
    assert "language" in ada.meta["categories"] and ada.text.startswith("(After {Ada Lovelace})")
    assert ada.meta["year"] == ada.meta["updated"].year and ada.meta["links"] > 10
    gc = c.doc(c.ids[c.titles.index("garbage collection")])
    assert "reclaimed" in gc.text and gc.meta["categories"] == ["programming"]
    tools = RetrievalTools(c)
    hits = tools.keyword_search("garbage collection", k=5)
    assert gc.id in [h.id for h in hits[:3]]  # next to "copying garbage collection", "mark-sweep ..."
    assert all("garbage collection" in (c.doc(h.id).title + c.doc(h.id).text).lower() for h in hits)
    languages = tools.filter("categories", "contains", "language")
    assert len(languages) > 500 and tools.aggregate("count", ids=languages).value == len(languages)
