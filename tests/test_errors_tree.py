"""The one error tree: every error experio raises on purpose is an `ExperioError`.

Each package's `errors.py` draws its classes as a tree in its docstring, each class has a
one-line docstring, and the code raises no bare built-in error where a user's input or data
is at fault (TypeError for a caller passing the wrong type, and pydantic validators, which must
raise ValueError, are the exceptions).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from experio.errors import ExperioError

SRC = Path(__file__).resolve().parents[1] / "src" / "experio"
BUILTINS = {"ValueError", "RuntimeError", "KeyError", "FileNotFoundError", "OSError", "Exception", "IOError"}
VALIDATORS = {"adp/schema.py"}  # pydantic turns a ValueError raised in a validator into its ValidationError
ERROR_MODULES = sorted(p.parent.name for p in SRC.glob("*/errors.py"))


def bare_raises(src: Path = SRC) -> list[str]:
    found = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if rel in VALIDATORS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
                if node.exc.func.id in BUILTINS:
                    found.append(f"{rel}:{node.lineno} raises {node.exc.func.id}")
    return found


def test_no_bare_builtin_errors_are_raised():
    problems = bare_raises()
    assert not problems, "raise an error of the package's errors.py instead:\n" + "\n".join(problems)


def test_the_check_finds_a_bare_raise(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("def f(x):\n    if x:\n        raise ValueError('bad')\n")
    assert bare_raises(tmp_path) == ["pkg/mod.py:3 raises ValueError"]


@pytest.mark.parametrize("package", ERROR_MODULES)
def test_each_errors_module_is_one_drawn_tree(package):
    module = importlib.import_module(f"experio.{package}.errors")
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if issubclass(c, BaseException) and c.__module__ == module.__name__]
    assert classes, f"experio/{package}/errors.py defines no error"
    for cls in classes:
        assert issubclass(cls, ExperioError), f"{cls.__name__} is not an ExperioError"
        assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__name__} has no docstring"
        assert cls.__name__ in module.__doc__, f"{cls.__name__} is not drawn in the tree of {package}/errors.py"
