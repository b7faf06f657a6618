"""JSON schema -> GBNF grammar for llama.cpp, with every string literal escaped.

    >>> grammar = schema_to_gbnf(json.dumps({"enum": ['say "hi"', "C:\\\\tmp"]}))

llama-cpp-python's converter (`llama_cpp.llama_grammar`, 0.3.x) escapes `"`, `\\r` and `\\n` in
a grammar literal but not `\\`. An `enum` or `const` value, or a property name, holding `"` is
written by `json.dumps` as `\\"`, which the converter turns into `\\\\"`: an escaped backslash
followed by a quote that ends the literal early. llama.cpp cannot parse the grammar, hands
llama-cpp-python a null sampler, and the process (or `llama_cpp.server`) dies with a
segmentation fault. The converter here is theirs with that one escape added, as llama.cpp's
own `json_schema_to_grammar.py` does; `needs_own_converter` tells whether a schema hits the
bug, i.e. whether a server that converts schemas with llama-cpp-python can be given it.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from .errors import NotSupportedError

_LITERAL_ESCAPE = re.compile(r'[\r\n"\\]')
_LITERAL_ESCAPES = {"\r": "\\r", "\n": "\\n", '"': '\\"', "\\": "\\\\"}


@lru_cache(maxsize=1)
def _converter_class():
    from llama_cpp.llama_grammar import SchemaConverter

    class EscapingSchemaConverter(SchemaConverter):
        def _format_literal(self, literal: str) -> str:
            return '"' + _LITERAL_ESCAPE.sub(lambda m: _LITERAL_ESCAPES[m.group(0)], literal) + '"'

    return EscapingSchemaConverter


@lru_cache(maxsize=128)
def schema_to_gbnf(schema_json: str) -> str:
    """The GBNF grammar of the JSON schema `schema_json` (properties keep their schema order)."""
    converter = _converter_class()(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    try:
        schema = converter.resolve_refs(json.loads(schema_json), "stdin")
        converter.visit(schema, "")
    except (ValueError, AssertionError, KeyError, TypeError) as e:  # it asserts on what it lacks
        raise NotSupportedError(
            f"cannot turn this JSON schema into a grammar ({e or type(e).__name__}): {schema_json[:200]}"
        ) from None
    return converter.format_grammar()


@lru_cache(maxsize=128)
def needs_own_converter(schema_json: str) -> bool:
    """Whether llama-cpp-python's own converter writes a broken grammar for this schema."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    ours = schema_to_gbnf(schema_json)
    try:
        return json_schema_to_gbnf(schema_json) != ours
    except Exception:  # noqa: BLE001 - whatever their converter lacks, ours is needed
        return True
