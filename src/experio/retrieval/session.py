"""The tools as an agent (or an MCP client) calls them: keyword arguments in, compact text out.

Every call that returns documents names its result `R1`, `R2`, ... in the order of the calls;
a later call narrows or aggregates it by name (`within="R1"`, `over="R2"`), so an agent never
copies long id lists. Results list documents as `id "title"` with the fields a question can be
about, at most `show` of them (the rest are counted, and kept in the set).

    >>> s = ToolSession(RetrievalTools(corpus))                              # doctest: +SKIP
    >>> print(s.call("filter", {"field": "categories", "op": "contains", "value": "language"}))  # doctest: +SKIP
    R1: 1060 documents where categories contains "language": f00004 "$tonePits" (2014-11-04), ...
    >>> print(s.call("aggregate", {"op": "count", "over": "R1"}))           # doctest: +SKIP
    count over R1: 1060

`SPECS` describes the tools as data (name, description, JSON-schema parameters) for prompts,
ADP `available_apis`, OpenAI `tools` and MCP.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .errors import ToolError, UnknownSetError
from .tools import AGGREGATIONS, Aggregate, Hit, OPS, RetrievalTools

_ALL_OPS = sorted({op for ops in OPS.values() for op in ops})
_VALUE = {"description": "a number, a YYYY-MM-DD date, a label, or a list [low, high] / [v1, v2, ...]"}

SPECS: list[dict[str, Any]] = [
    {"name": "semantic_search",
     "description": "Find documents about a topic by meaning (dense embeddings). Returns a set R<n>.",
     "parameters": {"type": "object", "properties": {
         "query": {"type": "string", "description": "what the documents are about"},
         "k": {"type": "integer", "description": "how many documents (default 5)"},
         "within": {"type": "string", "description": "search only inside an earlier set, e.g. R1"}},
         "required": ["query"]}},
    {"name": "keyword_search",
     "description": "Find documents that contain the query's words (BM25). Returns a set R<n>.",
     "parameters": {"type": "object", "properties": {
         "query": {"type": "string", "description": "words the documents contain"},
         "k": {"type": "integer", "description": "how many documents (default 5)"},
         "within": {"type": "string", "description": "search only inside an earlier set, e.g. R1"}},
         "required": ["query"]}},
    {"name": "filter",
     "description": "All documents whose metadata field satisfies a condition. Returns a set R<n>.",
     "parameters": {"type": "object", "properties": {
         "field": {"type": "string", "description": "a metadata field"},
         "op": {"type": "string", "enum": _ALL_OPS,
                "description": "numbers and dates: eq ne lt le gt ge between in; a set of labels: contains in"},
         "value": _VALUE,
         "within": {"type": "string", "description": "keep only documents of an earlier set, e.g. R1"}},
         "required": ["field", "op", "value"]}},
    {"name": "aggregate",
     "description": "Count, min, max, sort or top-k of a field over a set of documents.",
     "parameters": {"type": "object", "properties": {
         "op": {"type": "string", "enum": list(AGGREGATIONS)},
         "field": {"type": "string", "description": "the field to compare (not needed for count)"},
         "over": {"type": "string", "description": "the set, e.g. R2 (default: the whole corpus)"},
         "k": {"type": "integer", "description": "how many for top_k (default 3)"}},
         "required": ["op"]}},
]


class ToolSession:
    """One agent's (or one MCP client's) use of the tools: the named result sets of its calls."""

    def __init__(self, tools: RetrievalTools, show: int = 10, snippet: int = 0):
        self.tools, self.show, self.snippet = tools, show, snippet
        self.sets: dict[str, list[str]] = {}
        # Every document id a result returned (in a named set, shown or not) or an aggregation named:
        # what the agent retrieved, for gold-document recall.
        self.seen: set[str] = set()

    @property
    def fields(self) -> str:
        return ", ".join(f"{f} ({t})" for f, t in self.tools.corpus.fields.items())

    def call(self, name: str, kwargs: dict[str, Any]) -> str:
        """Run tool `name` with `kwargs`; the result as text (ToolError on a call that cannot run)."""
        method = {"semantic_search": self.semantic_search, "keyword_search": self.keyword_search,
                  "filter": self.filter, "aggregate": self.aggregate}.get(name)
        if method is None:
            raise ToolError(f"unknown tool {name!r}; the tools are: {', '.join(s['name'] for s in SPECS)}")
        return method(**_check_arguments(name, kwargs))

    def semantic_search(self, query: str, k: int = 5, within: str | None = None) -> str:
        hits = self.tools.semantic_search(query, k, self._set(within))
        return self._hits(hits, f"semantic search {query!r}", within)

    def keyword_search(self, query: str, k: int = 5, within: str | None = None) -> str:
        hits = self.tools.keyword_search(query, k, self._set(within))
        return self._hits(hits, f"keyword search {query!r}", within)

    def filter(self, field: str, op: str, value: Any, within: str | None = None) -> str:
        ids = self.tools.filter(field, op, value, self._set(within))
        shown = value if isinstance(value, (int, float, list)) else f'"{value}"'
        what = f"where {field} {op} {shown}" + (f" within {_name(within)}" if within else "")
        return self._new_set(ids, what, fields=[field])

    def aggregate(self, op: str, field: str | None = None, over: str | None = None, k: int = 3) -> str:
        agg = self.tools.aggregate(op, field, self._set(over), k)
        return render_aggregate(agg, _name(over) if over else "the corpus", self.tools.corpus.titles,
                                self.tools.corpus.position, self.seen)

    # ------------------------------------------------------------------------ rendering

    def _set(self, name: str | None) -> list[str] | None:
        if name is None or name == "":
            return None
        ids = self.sets.get(_name(name))
        if ids is None:
            known = ", ".join(self.sets) or "none yet: search or filter first"
            raise UnknownSetError(f"no result set {name!r}; the sets are: {known}")
        return ids

    def _hits(self, hits: list[Hit], what: str, within: str | None) -> str:
        what += f" within {_name(within)}" if within else ""
        return self._new_set([h.id for h in hits], what, fields=None)

    def _new_set(self, ids: list[str], what: str, fields: list[str] | None) -> str:
        name = f"R{len(self.sets) + 1}"
        self.sets[name] = ids
        shown = ids[: self.show]
        self.seen.update(ids)
        docs = "; ".join(self._describe(i, fields) for i in shown)
        more = f"; ... and {len(ids) - len(shown)} more" if len(ids) > len(shown) else ""
        return f"{name}: {_count(len(ids))} {what}" + (f": {docs}{more}" if ids else "")

    def _describe(self, doc_id: str, fields: list[str] | None) -> str:
        corpus = self.tools.corpus
        i = corpus.position[doc_id]
        names = fields if fields is not None else list(corpus.fields)
        values = [(f, _text(corpus.table.column(f)[i].as_py())) for f in names]
        shown = ", ".join(f"{f}={v}" for f, v in values if v)
        extra = f" ({shown})" if shown else ""
        snippet = f": {corpus.texts[i][: self.snippet]}" if self.snippet else ""
        return f'{doc_id} "{corpus.titles[i]}"{extra}{snippet}'


def render_aggregate(agg: Aggregate, over: str, titles: list[str], position: dict[str, int],
                     seen: set[str] | None = None) -> str:
    """An aggregation's result as one line of text (the ids it names are added to `seen`)."""
    missing = f" ({agg.missing} without {agg.field})" if agg.missing else ""
    if agg.op == "count":
        return f"count over {over}: {agg.n}{missing}"
    if agg.op == "count_by":
        counts = ", ".join(f"{label}: {n}" for label, n in agg.rows[:20])
        more = f", ... {len(agg.rows) - 20} more labels" if len(agg.rows) > 20 else ""
        return f"count_by {agg.field} over {over} ({_count(agg.n)}){missing}: {counts}{more}"
    if seen is not None:
        seen.update(doc_id for doc_id, _ in agg.rows)
    rows = [f'{doc_id} "{titles[position[doc_id]]}" = {_text(v)}' for doc_id, v in agg.rows[:25]]
    more = f"; ... {len(agg.rows) - 25} more" if len(agg.rows) > 25 else ""
    body = "; ".join(f"{n}. {r}" for n, r in enumerate(rows, 1)) if agg.op not in ("min", "max") else "; ".join(rows)
    return f"{agg.op} of {agg.field} over {over} ({_count(agg.n)}){missing}: {body or 'no values'}{more}"


def _name(set_name: Any) -> str:
    """A result set's name as the session spells it: `r1 ` is R1."""
    return str(set_name).strip().upper()


def _count(n: int) -> str:
    return f"{n} document{'s' if n != 1 else ''}"


def _check_arguments(name: str, kwargs: Any) -> dict[str, Any]:
    """`kwargs` if tool `name` takes them (SPECS), else a ToolError naming its parameters."""
    params = _PARAMS[name]
    if not isinstance(kwargs, dict):
        raise ToolError(f"{name} takes an object of arguments, got {type(kwargs).__name__}")
    unknown = sorted(set(kwargs) - set(params["properties"]))
    missing = [p for p in params["required"] if kwargs.get(p) is None]
    if unknown or missing:
        wrong = f"unknown argument(s) {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
        raise ToolError(f"{name}: {wrong}; it takes {', '.join(params['properties'])} "
                        f"({', '.join(params['required'])} required)")
    return {k: v for k, v in kwargs.items() if v is not None}


_PARAMS = {spec["name"]: spec["parameters"] for spec in SPECS}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "/".join(value)
    return str(value)
