"""The layer table of DESIGN.md, checked on every import statement of `src/experio` (with `ast`).

A package may import (of experio) only what its row allows, only through another package's
public names (its `__init__`), and the sub-packages inside a package form no import cycle.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "experio"

# DESIGN.md, "Layers (bottom up)": package -> what it may import of experio. `errors` and
# `runs` share the bottom row; `runs` builds on `errors`.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "runs": {"errors"},
    "llm": {"errors"},
    "embed": {"errors"},
    "adp": {"errors", "runs"},
    "envs": {"errors"},
    "agent": {"llm", "adp", "envs", "errors", "runs"},
    "train": {"llm", "adp", "envs", "agent", "errors", "runs"},
    "memory": {"llm", "embed", "adp", "envs", "agent", "train", "errors", "runs"},
    "rlp": {"llm", "train", "errors", "runs"},
    "asyncthink": {"llm", "adp", "envs", "train", "errors", "runs"},
    "mamr": {"llm", "embed", "adp", "envs", "train", "errors", "runs"},
    "retrieval": {"llm", "embed", "adp", "agent", "train", "errors", "runs"},
    "dreamgym": {"llm", "embed", "adp", "envs", "agent", "train", "errors", "runs"},
    "emergence": {"llm", "adp", "errors", "runs"},
    "speech": {"errors", "runs"},
    "cli": {"*"},
}


def _modules(src: Path) -> list[tuple[str, Path]]:
    out = []
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imports(module: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) for every import in the file, nested ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "experio"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "experio":
                found.append((node.lineno, target, [a.name for a in node.names]))
    return found


def _exports(src: Path, package: str) -> set[str]:
    """The public names of `experio.<package>`: its `__all__`, else its non-underscore names."""
    init = src / package / "__init__.py"
    tree = ast.parse((init if init.exists() else src / f"{package}.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    literals: dict[str, set[str]] = {}  # NAME = {...} / [...]: what `*NAME` in __all__ stands for
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            keys = value.keys if isinstance(value, ast.Dict) else getattr(value, "elts", None)
            if keys is not None and all(isinstance(k, ast.Constant) for k in keys):
                literals[node.targets[0].id] = {k.value for k in keys}
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            elts = getattr(node.value, "elts", [])
            starred = [e.value.id for e in elts if isinstance(e, ast.Starred) and isinstance(e.value, ast.Name)]
            plain = [e for e in elts if not isinstance(e, ast.Starred)]
            if all(isinstance(e, ast.Constant) for e in plain) and all(n in literals for n in starred):
                return {e.value for e in plain}.union(*(literals[n] for n in starred))
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return {n for n in names if not n.startswith("_")}


def violations(src: Path = SRC) -> list[str]:
    """Every import in `src` that the layer table or the public-names rule forbids."""
    problems = []
    for module, path in _modules(src):
        pkg = _package_of(module)
        if pkg is None:
            continue
        allowed = ALLOWED.get(pkg)
        if allowed is None:
            problems.append(f"{module}: package {pkg!r} is not in the DESIGN.md layer table")
            continue
        for line, target, names in _imports(module, path):
            tpkg = _package_of(target)
            where = f"{path.relative_to(src.parent)}:{line}"
            problems += [f"{where}: imports the private name {name!r} of {target}; make it public or keep it there"
                         for name in names if name.startswith("_") and not name.startswith("__")]
            if tpkg is None or tpkg == pkg:
                continue
            if "*" not in allowed and tpkg not in allowed:
                problems.append(f"{where}: {pkg} may not import {tpkg} (DESIGN.md allows: {sorted(allowed)})")
            elif target != f"experio.{tpkg}":
                problems.append(f"{where}: imports {target}, a module inside {tpkg}; import from experio.{tpkg}")
            else:
                public = _exports(src, tpkg)
                problems += [f"{where}: {name!r} is not exported by experio.{tpkg}'s __init__"
                             for name in names if name not in public]
    return problems


def test_imports_follow_the_layer_table():
    problems = violations()
    assert not problems, "\n".join(problems)


def subpackage_cycles(src: Path = SRC) -> list[str]:
    """Pairs of sub-packages of one package that import each other (adp.tools <-> adp.exporters)."""
    subpackages = {f"experio.{p.parent.name}.{p.name}" for p in src.glob("*/*") if (p / "__init__.py").exists()}
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in _modules(src):
        owner = ".".join(module.split(".")[:3])
        if owner not in subpackages:
            continue
        for _, target, names in _imports(module, path):
            dests = {".".join(target.split(".")[:3])} | {f"{target}.{n}" for n in names}
            graph[owner] |= {d for d in dests if d in subpackages and d != owner}
    return sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if a < b and a in graph.get(b, ()))


def test_no_import_cycle_between_subpackages():
    cycles = subpackage_cycles()
    assert not cycles, "sub-packages import each other: " + ", ".join(cycles)


def test_table_matches_design_md(shared_dir):
    design = (shared_dir / "DESIGN.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (`experio\.[^|]+`) \| [^|]+ \| ([^|]+) \|$", design, flags=re.M)
    assert rows, "no layer table found in DESIGN.md"
    for names, allowed in rows:
        for name in re.findall(r"`experio\.(\w+)`", names):
            if name == "cli":
                continue
            want = set() if allowed.strip() == "nothing" else set(re.findall(r"\b([a-z]+)\b", allowed.split("(")[0]))
            if name == "runs":
                want |= {"errors"}  # the same row: runs builds on errors
            assert ALLOWED[name] == want, f"{name}: DESIGN.md says {sorted(want)}, this test {sorted(ALLOWED[name])}"


def test_the_checks_catch_bad_imports(tmp_path):
    """The checks are not vacuous: each kind of bad import in a small fake tree is reported."""
    src = tmp_path / "experio"
    files = {
        "llm/__init__.py": "from .base import LLM\n_LAZY = {'load': 'base'}\n__all__ = [*_LAZY, 'LLM']\n",
        "llm/base.py": "class LLM: ...\n",
        "envs/__init__.py": "",
        "envs/bad.py": "from experio.llm import LLM\n",
        "agent/__init__.py": "",
        "agent/ok.py": "from experio.llm import LLM, load\n",
        "agent/private.py": "from experio.llm.base import LLM\n",
        "agent/hidden.py": "def f():\n    from experio.llm import secret\n",
        "agent/under.py": "from .ok import _helper\n",
        "adp/__init__.py": "",
        "adp/tools/__init__.py": "from experio.adp.exporters import x\n",
        "adp/exporters/__init__.py": "from ..tools import y\n",
    }
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    problems = violations(src)
    assert any("envs/bad.py:1: envs may not import llm" in p for p in problems), problems
    assert any("agent/private.py:1: imports experio.llm.base" in p for p in problems), problems
    assert any("agent/hidden.py:2: 'secret' is not exported" in p for p in problems), problems
    assert any("agent/under.py:1: imports the private name '_helper'" in p for p in problems), problems
    assert not any("agent/ok.py" in p for p in problems), problems
    assert subpackage_cycles(src) == ["experio.adp.exporters <-> experio.adp.tools"]
