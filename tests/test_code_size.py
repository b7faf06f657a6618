"""Functions stay short enough to read in one sitting (DEVELOPERS.md: under about 80 lines)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "experio"
LIMIT = 80

# Documented numerical solvers, read best as one piece (each says so in its docstring).
SOLVERS = {"emergence.pid._broja_solve"}


def long_functions(src: Path = SRC, limit: int = LIMIT) -> list[str]:
    """`file:line name (N lines)` for every function or method longer than `limit` lines."""
    found = []
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                name = f"{path.relative_to(src).with_suffix('')}.{node.name}".replace("/", ".")
                if n > limit and name not in SOLVERS:
                    found.append(f"{path.relative_to(src)}:{node.lineno} {node.name} ({n} lines)")
    return found


def test_no_function_over_80_lines():
    found = long_functions()
    assert not found, "split these functions:\n" + "\n".join(found)


def test_the_check_sees_a_long_function(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n" + "    x = 1\n" * 90)
    assert long_functions(tmp_path) == ["m.py:1 f (91 lines)"]
