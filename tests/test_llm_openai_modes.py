"""The openai backend against small stub servers: schema modes, reachability, the API key.

Each stub is an OpenAI-compatible server on 127.0.0.1 that accepts only some ways of asking for
JSON, as real servers do (llama-cpp-python's server answers HTTP 500 to a `json_schema`
response_format). The real server is exercised in test_llm_openai.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from experio.llm import BackendConfigError, ServerError, ServerUnreachableError, load_llm
from experio.llm.openai_backend import OpenAILLM

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
QUOTED = {"type": "object", "properties": {"pick": {"enum": ['say "hi"', "plain"]}}, "required": ["pick"]}
EXPERIO = str(Path(sys.executable).with_name("experio"))


def request_mode(body: dict) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") in ("json_schema", "json_object"):
        return fmt["type"]
    return "grammar" if "grammar" in body else "prompt"


class Stub:
    """A chat server that accepts the schema modes in `accepts` and answers `replies` in turn."""

    def __init__(self, accepts=(), replies=('{"n": 1}',), models_status=200, broken=False):
        self.accepts, self.replies, self.models_status = set(accepts), list(replies), models_status
        self.broken = broken  # every chat request fails, whatever its mode
        self.modes: list[str] = []  # the mode of every chat request, in order
        self.bodies: list[dict] = []
        self.auth: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stub.auth.append(self.headers.get("Authorization", ""))
                self.reply(stub.models_status, {"object": "list", "data": [{"id": "m", "object": "model"}]})

            def do_POST(self):
                stub.auth.append(self.headers.get("Authorization", ""))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                mode = request_mode(body)
                stub.modes.append(mode)
                stub.bodies.append(body)
                if stub.broken:
                    return self.reply(500, {"error": {"message": "the model crashed"}})
                if mode in ("json_schema", "json_object") and mode not in stub.accepts:
                    return self.reply(500, {"error": {"message": f"response_format type {mode} is not supported"}})
                if mode == "grammar" and "grammar" not in stub.accepts:
                    return self.reply(400, {"error": {"message": "unknown field: grammar"}})
                text = stub.replies.pop(0) if len(stub.replies) > 1 else stub.replies[0]
                self.reply(200, {
                    "id": "c", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                })

            def reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_server():
    made = []

    def make(**kwargs) -> Stub:
        made.append(Stub(**kwargs))
        return made[-1]

    yield make
    for s in made:
        s.close()


CHAT = [{"role": "user", "content": "A number as JSON."}]


def test_json_schema_refused_falls_back_to_json_object_once(stub_server):
    stub = stub_server(accepts={"json_object"})
    llm = load_llm("openai", base_url=stub.url)
    assert llm.generate(CHAT, json_schema=SCHEMA)[0].parsed == {"n": 1}
    assert stub.modes == ["json_schema", "json_object"]
    assert stub.bodies[-1]["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert llm.generate(CHAT, json_schema=SCHEMA, n=2)[1].parsed == {"n": 1}
    assert stub.modes[2:] == ["json_object", "json_object"]  # remembered: no second probe


def test_a_server_that_takes_json_schema_keeps_it(stub_server):
    stub = stub_server(accepts={"json_schema"})
    llm = load_llm("openai", base_url=stub.url)
    llm.generate(CHAT, json_schema=SCHEMA)
    llm.generate(CHAT, json_schema=SCHEMA)
    assert stub.modes == ["json_schema", "json_schema"]


def test_quoted_literals_go_as_our_grammar_not_as_a_json_object_schema(stub_server):
    # llama_cpp.server would build a broken grammar (and crash) from this schema itself
    stub = stub_server(accepts={"json_object", "grammar"}, replies=['{"pick": "say \\"hi\\""}'])
    llm = load_llm("openai", base_url=stub.url)
    assert llm.generate(CHAT, json_schema=QUOTED)[0].parsed == {"pick": 'say "hi"'}
    assert stub.modes == ["json_schema", "grammar"]
    assert r'"\"say \\\"hi\\\"\""' in stub.bodies[-1]["grammar"]


def test_unconstrained_replies_are_checked_and_sampled_again(stub_server):
    stub = stub_server(replies=['```json\n{"n": "three"}\n```', '```json\n{"n": 3}\n```'])
    llm = load_llm("openai", base_url=stub.url)
    assert llm.generate(CHAT, json_schema=SCHEMA, seed=5)[0].parsed == {"n": 3}
    assert stub.modes == ["json_schema", "json_object", "grammar", "prompt", "prompt"]
    assert "matches this JSON schema" in stub.bodies[-1]["messages"][-1]["content"]
    assert stub.bodies[-1]["seed"] != stub.bodies[-2]["seed"]


def test_an_error_that_every_mode_gets_is_raised_and_nothing_is_remembered(stub_server):
    stub = stub_server(broken=True)
    llm = OpenAILLM(base_url=stub.url, max_retries=0)
    with pytest.raises(ServerError, match="answered HTTP 500: .*the model crashed"):
        llm.generate(CHAT, json_schema=SCHEMA)
    assert stub.modes == ["json_schema", "json_object", "grammar", "prompt"]
    assert llm._schema_mode is None


def test_a_closed_port_is_one_clear_error_up_front(unused_port):
    t0 = time.perf_counter()
    with pytest.raises(ServerUnreachableError) as e:
        load_llm("openai", base_url=f"http://127.0.0.1:{unused_port}/v1")
    assert time.perf_counter() - t0 < 5
    message = str(e.value)
    assert f"http://127.0.0.1:{unused_port}/v1" in message and "--base-url" in message and "\n" not in message


def test_generate_against_a_closed_port_prints_one_line(unused_port):
    proc = subprocess.run(
        [EXPERIO, "generate", "hi", "--llm", "openai", "--base-url", f"http://127.0.0.1:{unused_port}/v1"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no OpenAI-compatible server answers" in lines[0], proc.stderr


def test_the_api_key_flag_reaches_the_server(stub_server, tmp_path):
    stub = stub_server(accepts={"json_schema"}, replies=['{"n": 7}'])
    schema = tmp_path / "n.json"
    schema.write_text(json.dumps(SCHEMA))
    proc = subprocess.run(
        [EXPERIO, "generate", "hi", "--chat", "--json-schema", str(schema), "--llm", "openai",
         "--base-url", stub.url, "--api-key", "sekret"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"n": 7}
    assert len(stub.auth) == 2 and set(stub.auth) == {"Bearer sekret"}  # the check, the request


def test_the_api_key_comes_from_the_environment(stub_server, monkeypatch):
    stub = stub_server()
    monkeypatch.delenv("EXPERIO_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    load_llm("openai", base_url=stub.url).generate(CHAT)
    assert set(stub.auth) == {"Bearer from-env"}


def test_a_refused_key_says_to_pass_one(stub_server):
    stub = stub_server(models_status=401)
    with pytest.raises(BackendConfigError, match="refused the API key .*--api-key"):
        load_llm("openai", base_url=stub.url)


@pytest.mark.parametrize("url", ["localhost:8000/v1", "http://[::1/v1", "http://host:port/v1"])
def test_something_that_is_not_an_address_is_a_usage_error(url):
    with pytest.raises(BackendConfigError, match="is not a server address; pass one like http://"):
        load_llm("openai", base_url=url)
