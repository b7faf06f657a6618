"""JSON schema -> grammar: literals holding `"` or `\\` no longer crash llama.cpp.

llama-cpp-python's own converter leaves `\\` unescaped, so an enum value with a quote (MiniWoB++
`choose-list` options reach the model as `select(ref=4, option="Ora")`) made a grammar llama.cpp
cannot parse, and the process died with a segmentation fault. The model runs in a subprocess
here, so a crash fails the test instead of killing pytest.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from experio.llm import NotSupportedError
from experio.llm.grammar import needs_own_converter, schema_to_gbnf

QUOTED = ['select(ref=4, option="Ora")', 'say "hi"', "C:\\temp", "plain"]
SCHEMA = {
    "type": "object",
    "properties": {"thought": {"type": "string", "maxLength": 20}, "action": {"enum": QUOTED}},
    "required": ["thought", "action"],
    "additionalProperties": False,
}


def test_literals_are_escaped_in_the_grammar():
    gbnf = schema_to_gbnf(json.dumps({"enum": ['a"b', "c\\d"]}))
    # json.dumps('a"b') is "a\"b"; each of its quotes and its backslash is escaped once more
    assert r'"\"a\\\"b\""' in gbnf and r'"\"c\\\\d\""' in gbnf


def test_the_library_converter_is_broken_only_for_such_literals():
    assert needs_own_converter(json.dumps(SCHEMA))
    assert needs_own_converter(json.dumps({"const": "a\\b"}))
    plain = {"type": "object", "properties": {"name": {"type": "string"}, "kind": {"enum": ["a", "b"]}}}
    assert not needs_own_converter(json.dumps(plain))


def test_a_schema_the_converter_cannot_handle_is_a_clear_error():
    with pytest.raises(NotSupportedError, match="cannot turn this JSON schema into a grammar"):
        schema_to_gbnf(json.dumps({"type": "string", "pattern": "(?=lookahead)"}))


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


@pytest.mark.model
def test_quoted_enum_values_generate_valid_json_without_a_crash():
    proc = _run(f"""
        import json
        from experio.llm import load_llm
        llm = load_llm("llamacpp")
        schema = json.loads({json.dumps(json.dumps(SCHEMA))})
        for seed in range(3):
            c = llm.generate("Pick an action as JSON:\\n", max_tokens=80, temperature=1.0, seed=seed,
                             json_schema=schema)[0]
            print(json.dumps(c.parsed))
    """)
    assert proc.returncode == 0, f"exit {proc.returncode} (-11 is a segfault)\n{proc.stderr[-2000:]}"
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert json.loads(line)["action"] in QUOTED


@pytest.mark.model
def test_a_grammar_llama_cpp_cannot_parse_is_refused_not_sampled():
    proc = _run("""
        from experio.llm import load_llm
        from experio.llm.llamacpp import _grammar_parses
        llm = load_llm("llamacpp")
        print(_grammar_parses(llm._llama, 'root ::= "unterminated'), _grammar_parses(llm._llama, 'root ::= "ok"'))
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "True"]
