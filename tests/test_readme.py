"""The README's examples run as written: every shell and Python block that takes under 30 s.

Each ```bash line (continuations joined, comments dropped) and each ```python block of the
README is either run, in a scratch folder that sees the repository's `tests/` and
`examples/`, or named in SLOW with the reason; a new example that is neither fails this test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md"]
TIMEOUT = 30

# Examples that take minutes (model-played episodes, set-up, benchmarks) or need a server the
# reader starts: a substring that identifies each, and why it is not run here.
SLOW = {
    "make demo": "the whole set-up",
    "make test": "the whole test suite",
    "experio agent run": "plays model episodes for minutes",
    "experio agent report runs/": "reads the agent runs above",
    "experio memory run": "plays model episodes for minutes",
    "experio memory show runs/": "reads the bank of a memory run above",
    "experio emergence game": "plays the guessing game with the model for minutes",
    "experio demo": "plays a stream of games",
    "benchmarks/": "benchmarks take minutes",
    "experio train": "trains or exports a model (minutes)",
    "experio rlp": "trains or evaluates with RLP (a minute or more)",
    "--methods rag-bm25,agent": "the model answers questions and plays agent episodes (a minute or more)",
    "runs/sft/model.gguf": "needs the model trained above",
    "--llm openai": "needs a server the reader starts",
    "EXPERIO_LLM=openai": "needs a server the reader starts",
    "llama_cpp.server": "starts a server",
    "scripts/": "an experiment script (minutes to hours)",
    "run_episode(": "plays an episode with the model",
    "run_memory(": "plays episodes with the model",
    "play_groups(": "plays the guessing game with the model",
    "workers=2": "a script meant to be run as a file (spawned workers)",
}


def examples() -> list[tuple[str, str, str]]:
    """(where, kind, text) for every bash line and python block of the README."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(r"```(bash|python)\n(.*?)```", text, flags=re.S):
            line = text[: m.start()].count("\n") + 1
            where = f"{doc.relative_to(REPO)}:{line}"
            if m.group(1) == "python":
                found.append((where, "python", m.group(2)))
                continue
            for cmd in re.sub(r"\\\n\s*", " ", m.group(2)).splitlines():
                cmd = re.sub(r"\s+#.*$", "", cmd).strip()
                if cmd and not cmd.startswith("#"):
                    found.append((where, "bash", cmd))
    return found


def _slow(text: str) -> str | None:
    return next((why for key, why in SLOW.items() if key in text), None)


QUICK = [e for e in examples() if not _slow(e[2])]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("readme")
    for name in ("tests", "examples"):
        if (REPO / name).exists():
            (d / name).symlink_to(REPO / name)
    return d


def test_the_readme_has_examples_to_run():
    assert len(QUICK) >= 10, QUICK


@pytest.mark.model
@pytest.mark.parametrize("where,kind,text", QUICK, ids=[f"{w}:{t[:40]}" for w, _, t in QUICK])
def test_example_runs(where, kind, text, scratch):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", COLUMNS="160")
    argv = [sys.executable, "-c", text] if kind == "python" else ["bash", "-euo", "pipefail", "-c", text]
    try:
        done = subprocess.run(argv, cwd=scratch, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{where}: took over {TIMEOUT} s; speed it up or name it in SLOW with the reason:\n{text}")
    assert done.returncode == 0, f"{where} failed (exit {done.returncode}):\n{text}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, f"{where} printed a traceback:\n{done.stderr[-3000:]}"
