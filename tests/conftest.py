"""Shared fixtures. Real-model fixtures are session-scoped: the model loads once per run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout (briefs, official data); tests skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: these tests need the team's shared/ folder beside the repo")
    return SHARED


@pytest.fixture(scope="session")
def embedded_llm():
    from experio.llm import load_llm

    return load_llm("llamacpp")


@pytest.fixture(scope="session")
def hf_llm():
    from experio.llm import load_llm

    return load_llm("hf")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def llama_server():
    """A real OpenAI-compatible server (llama_cpp.server) on 127.0.0.1 serving the embedded model."""
    from experio.llm import embedded_model_path

    port = free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"experio-llama-server-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path(progress=False)),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias", "gemma"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/models", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"llama_cpp.server did not start; see {log.name}")
            time.sleep(0.3)
    yield base
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def tiny_base(hf_llm, tmp_path_factory):
    """A randomly initialised 2-layer Gemma 3 with the embedded tokenizer: multi-process tests in seconds."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=len(hf_llm.tokenizer), hidden_size=16, intermediate_size=32,
                              num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=8,
                              layer_types=["sliding_attention", "full_attention"], sliding_window=64,
                              max_position_embeddings=512)
    folder = tmp_path_factory.mktemp("tiny")
    Gemma3ForCausalLM(config).save_pretrained(folder)
    hf_llm.tokenizer.save_pretrained(folder)
    return folder
