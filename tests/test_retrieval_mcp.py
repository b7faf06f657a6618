"""The retrieval tools over MCP: the real MCP client spawns `python -m experio.retrieval.mcp_server`
on a small JSONL corpus and talks to it over stdio (one server process for the whole file)."""

from __future__ import annotations

import json
import subprocess
import sys

import anyio
import pytest

from experio.retrieval import SPECS, Corpus
from experio.retrieval.mcp_server import build_server

DOCS = [
    {"id": "ada", "title": "Ada", "text": "A structured language for embedded systems.", "year": 1983,
     "tags": ["language", "embedded"]},
    {"id": "basic", "title": "BASIC", "text": "A simple language for beginners.", "year": 1964, "tags": ["language"]},
    {"id": "c", "title": "C", "text": "A systems programming language for kernels.", "year": 1972,
     "tags": ["language", "systems"]},
    {"id": "unix", "title": "Unix", "text": "An operating system written in C.", "year": 1971, "tags": ["os"]},
    {"id": "gc", "title": "garbage collection", "text": "Reclaiming memory no program uses any more.",
     "tags": ["memory"]},
]


def _stdio_session(corpus_path, steps):
    """Run `steps(client)` against a spawned stdio server; returns what it returns."""
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "experio.retrieval.mcp_server", str(corpus_path)])
    out = {}

    async def main():
        async with Client(params) as client:
            out["value"] = await steps(client)

    anyio.run(main)
    return out["value"]


def _text(result) -> str:
    return "".join(c.text for c in result.content)


def test_the_tools_over_stdio(tmp_path):
    path = tmp_path / "langs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")

    async def steps(client):
        listed = (await client.list_tools()).tools
        results = [await client.call_tool(name, args) for name, args in (
            ("filter", {"field": "year", "op": "lt", "value": 1980}),
            ("aggregate", {"op": "count", "over": "R1"}),
            ("aggregate", {"op": "min", "field": "year", "over": "R1"}),
            ("keyword_search", {"query": "language", "k": 2, "within": "R1"}),
            ("filter", {"field": "yeer", "op": "eq", "value": 1}),
            ("filter", {"field": "year", "op": "eq", "value": "abc"}),
            ("aggregate", {"op": "count", "over": "R9"}),
            ("filter", {"field": "year", "op": "between", "value": "[1970, 1980]"}),  # a list sent as JSON text
        )]
        return listed, results

    listed, results = _stdio_session(path, steps)
    assert [t.name for t in listed] == [s["name"] for s in SPECS]
    for tool, spec in zip(listed, SPECS):
        assert tool.description == spec["description"] and tool.input_schema == spec["parameters"]
    texts = [_text(r) for r in results]
    assert [r.is_error for r in results] == [False] * 4 + [True] * 3 + [False]
    assert texts[0] == ('R1: 3 documents where year lt 1980: basic "BASIC" (year=1964); c "C" (year=1972); '
                        'unix "Unix" (year=1971)')
    assert texts[1] == "count over R1: 3"
    assert texts[2] == 'min of year over R1 (3 documents): basic "BASIC" = 1964'
    assert texts[3].startswith("R2: 2 documents keyword search 'language' within R1: ")
    assert "unknown field 'yeer'; the fields are: tags, year" in texts[4]
    assert "field 'year' is a number; 'abc' is not" in texts[5]
    assert "no result set 'R9'; the sets are: R1, R2" in texts[6]
    assert texts[7].startswith("R3: 2 documents where year between [1970, 1980]: c \"C\"")


def test_a_missing_corpus_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "experio.retrieval.mcp_server", str(tmp_path / "nope.jsonl")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"error: corpus {tmp_path / 'nope.jsonl'} does not exist; pass a "
                                                ".jsonl, .csv or .parquet file, a folder of .txt files, or builtin"]


def test_build_server_in_process_names_missing_arguments():
    from mcp import Client

    server = build_server(Corpus.from_records(DOCS, name="langs"))

    async def main():
        async with Client(server) as client:
            return [await client.call_tool("filter", {"fild": "year", "op": "lt", "value": 1980}),
                    await client.call_tool("aggregate", {"op": "count"})]

    missing, count = anyio.run(main)
    assert missing.is_error and "filter: missing field; it takes field, op, value, within" in _text(missing)
    assert not count.is_error and _text(count) == "count over the corpus: 5"


def test_an_unknown_transport_is_refused_before_loading():
    from experio.errors import UsageError
    from experio.retrieval.mcp_server import serve_mcp

    with pytest.raises(UsageError, match="unknown MCP transport 'carrier-pigeon'; choose one of: sse, stdio"):
        serve_mcp("no-such-corpus.jsonl", "carrier-pigeon")
