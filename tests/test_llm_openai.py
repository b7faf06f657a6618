"""The openai backend against a real OpenAI-compatible server (llama_cpp.server) on 127.0.0.1."""

import pytest

from experio.llm import load_llm

pytestmark = pytest.mark.model

PROMPT = "Q: What is the capital of Italy?\nA: Rome\n\nQ: What is the capital of France?\nA:"


@pytest.fixture(scope="module")
def served(llama_server):
    return load_llm("openai", "gemma", base_url=llama_server)


def test_generate_through_the_server(served):
    [c] = served.generate(PROMPT, max_tokens=5, temperature=0, stop=["\n"])
    assert c.text.strip() == "Paris" and c.finish_reason == "stop" and c.prompt_tokens > 10
    # (the server's own sampling defaults, e.g. repeat_penalty 1.1, differ from llama_cpp.Llama's,
    # so greedy text is compared with the server itself, not with the in-process backend)
    greedy = served.generate("The sky is", max_tokens=10, temperature=0)[0]
    assert greedy.finish_reason == "length" and greedy.completion_tokens == 10
    assert "".join(served.stream("The sky is", max_tokens=10, temperature=0)) == greedy.text
    msgs = [{"role": "user", "content": "Say hello."}]
    assert len(served.generate(msgs, n=2, max_tokens=5, temperature=1.0, seed=1)) == 2


def test_json_schema_through_the_server(served):
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"]}
    [c] = served.generate("Sentence: Tom lives in Chicago.\nAs JSON:\n", max_tokens=30, temperature=0, json_schema=schema)
    assert isinstance(c.parsed["city"], str)


def test_score_through_echo_logprobs_matches_local(served, embedded_llm):
    remote, local = served.score(PROMPT, " Paris"), embedded_llm.score(PROMPT, " Paris")
    assert remote.tokens == local.tokens
    assert remote.total == pytest.approx(local.total, abs=0.05)


def test_count_tokens_is_exact_on_llama_cpp_server(served, embedded_llm):
    assert served.count_tokens("hello brave new world") == embedded_llm.count_tokens("hello brave new world")


QUOTED_ENUM = {
    "type": "object",
    "properties": {"action": {"enum": ['select(ref=4, option="Ora")', 'type "hi"', "C:\\temp"]}},
    "required": ["action"],
}


def test_chat_json_schema_falls_back_on_llama_cpp_server(llama_server):
    # llama_cpp.server answers HTTP 500 to response_format json_schema; the backend finds a way
    llm = load_llm("openai", "gemma", base_url=llama_server)
    msgs = [{"role": "user", "content": "Tom lives in Chicago. Give his city as JSON."}]
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"]}
    [c] = llm.generate(msgs, max_tokens=30, temperature=0, json_schema=schema)
    assert isinstance(c.parsed["city"], str)
    assert llm._schema_mode == "json_object"
    # quoted literals would crash the server's own converter: they go as experio's grammar
    [c] = llm.generate(msgs, max_tokens=40, temperature=0, json_schema=QUOTED_ENUM)
    assert c.parsed["action"] in QUOTED_ENUM["properties"]["action"]["enum"]
    [c] = llm.generate("Pick one as JSON:\n", max_tokens=40, temperature=0, json_schema=QUOTED_ENUM)
    assert c.parsed["action"] in QUOTED_ENUM["properties"]["action"]["enum"]
    assert llm.generate("The sky is", max_tokens=2, temperature=0)[0].completion_tokens == 2  # still up
