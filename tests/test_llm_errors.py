"""Each setup and output error is specific and says what to do."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from experio.llm import (
    ModelFileError,
    ModelLoadError,
    NotSupportedError,
    SchemaMismatchError,
    ScriptedLLM,
    ServerUnreachableError,
    embedded_model_path,
)
from experio.llm.llamacpp import LlamaCppLLM
from experio.llm.openai_backend import OpenAILLM


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="model file not found: .*nope.gguf"):
        LlamaCppLLM(model_path=tmp_path / "nope.gguf")


def test_checksum_mismatch_of_the_embedded_model(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPERIO_HOME", str(tmp_path))
    bad = tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf"
    bad.parent.mkdir()
    bad.write_bytes(b"GGUF" + b"\0" * 1000)
    with pytest.raises(ModelFileError, match="checksum mismatch .* delete it"):
        embedded_model_path(progress=False)


def test_assembly_into_a_fresh_home_verifies(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPERIO_HOME", str(tmp_path))
    path = embedded_model_path(progress=False)
    assert path.parent == tmp_path / "models" and path.stat().st_size > 200 * 2**20
    assert (path.parent / (path.name + ".sha256")).is_file()  # the next check costs a stat


def test_file_that_is_not_gguf(tmp_path):
    f = tmp_path / "model.gguf"
    f.write_text("this is not a model")
    with pytest.raises(ModelLoadError, match="is not a GGUF file"):
        LlamaCppLLM(model_path=f)


@pytest.mark.model
def test_truncated_gguf(tmp_path):
    src = embedded_model_path(progress=False)
    f = tmp_path / "truncated.gguf"
    with open(src, "rb") as a, open(f, "wb") as b:
        b.write(a.read(2**20))
    with pytest.raises(ModelLoadError, match="llama.cpp could not load"):
        LlamaCppLLM(model_path=f)


def test_server_unreachable(unused_port):
    llm = OpenAILLM(base_url=f"http://127.0.0.1:{unused_port}/v1", max_retries=0, timeout=2)
    with pytest.raises(ServerUnreachableError, match="Is it running"):
        llm.generate("hi", max_tokens=2)


class _NoLogprobsHandler(BaseHTTPRequestHandler):
    """An OpenAI-compatible completion endpoint that, like many servers, returns no log-probs."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({
            "id": "c1", "object": "text_completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "text": " ok", "finish_reason": "length", "logprobs": None}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_server_without_logprobs():
    server = HTTPServer(("127.0.0.1", 0), _NoLogprobsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        llm = OpenAILLM(base_url=f"http://127.0.0.1:{server.server_port}/v1", max_retries=0)
        assert llm.generate("hi", max_tokens=1)[0].text == " ok"
        with pytest.raises(NotSupportedError, match="score is not supported by the server"):
            llm.score("hi", " there")
    finally:
        server.shutdown()


def test_output_not_matching_schema():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with pytest.raises(SchemaMismatchError, match="at \\(root\\): 'n' is a required property"):
        ScriptedLLM(replies=['{"m": 1}']).generate("x", json_schema=schema)
