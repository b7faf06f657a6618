"""`experio generate` as a new user runs it: the shipped example schema, bad schema files, hf output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXPERIO = str(Path(sys.executable).with_name("experio"))
PROMPT = "Q: What is the capital of Italy?\nA: Rome\n\nQ: What is the capital of France?\nA:"


def experio(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([EXPERIO, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.mark.model
def test_the_readme_person_schema_is_shipped_and_filled():
    proc = experio("generate", "A person as JSON:", "--json-schema", "examples/person.json")
    assert proc.returncode == 0, proc.stderr
    person = json.loads(proc.stdout)
    assert isinstance(person["name"], str) and isinstance(person["age"], int)
    assert all(isinstance(h, str) for h in person["hobbies"])


@pytest.mark.parametrize("content, message", [
    (None, "is a directory"),
    ("{not json", "is not valid JSON: .* line 1"),
    ("[1, 2]", "holds a JSON list, not a JSON schema object"),
])
def test_a_bad_schema_file_is_one_line_before_the_model_loads(tmp_path, content, message):
    import re

    path = tmp_path / "schema.json"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    proc = experio("generate", "x", "--json-schema", str(path), timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and re.search(message, proc.stderr), proc.stderr


def test_quiet_transformers_hides_bars_and_warnings_then_restores_them():
    from transformers.utils import logging as hf_logging

    from experio.llm.hf import quiet_transformers

    hf_logging.enable_progress_bar()
    before = hf_logging.get_verbosity()
    with quiet_transformers():
        assert not hf_logging.is_progress_bar_enabled()
        assert hf_logging.get_verbosity() == hf_logging.ERROR
    assert hf_logging.is_progress_bar_enabled() and hf_logging.get_verbosity() == before


@pytest.mark.model
def test_hf_generate_prints_only_the_answer():
    proc = experio("generate", PROMPT, "--llm", "hf", "-n", "4", "--temperature", "0", "--stop", "\n", timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Paris"
    assert "Loading" not in proc.stderr and "it/s" not in proc.stderr, proc.stderr


def test_assembling_the_model_in_a_fresh_home_writes_nothing_to_stdout(tmp_path):
    code = "from experio.llm import embedded_model_path; embedded_model_path()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "EXPERIO_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
