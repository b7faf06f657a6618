"""The llamacpp backend on the real embedded model (Gemma 3 270M, Q4_K_M)."""

import json
import threading

import pytest

from experio.llm import LLM, load_llm
from experio.llm.llamacpp import LlamaCppLLM

pytestmark = pytest.mark.model

PROMPT = "Q: What is the capital of Italy?\nA: Rome\n\nQ: What is the capital of France?\nA:"


def test_generate_returns_counted_completions(embedded_llm):
    assert isinstance(embedded_llm, LLM)
    [c] = embedded_llm.generate(PROMPT, max_tokens=5, temperature=0, stop=["\n"])
    assert c.text.strip() == "Paris"
    assert c.finish_reason == "stop"
    assert c.prompt_tokens == embedded_llm.count_tokens(PROMPT) + 1  # + BOS
    long = embedded_llm.generate("Once upon a time", max_tokens=12, temperature=0)[0]
    assert long.finish_reason == "length" and long.completion_tokens == 12


def test_seeded_sampling_is_reproducible_and_n_samples_differ(embedded_llm):
    a = [c.text for c in embedded_llm.generate("My favourite animal is", n=3, max_tokens=12, temperature=1.0, seed=7)]
    b = [c.text for c in embedded_llm.generate("My favourite animal is", n=3, max_tokens=12, temperature=1.0, seed=7)]
    assert a == b
    assert len(set(a)) > 1


def test_stream_equals_greedy_generate(embedded_llm):
    text = "".join(embedded_llm.stream("The sky is", max_tokens=16, temperature=0))
    assert text == embedded_llm.generate("The sky is", max_tokens=16, temperature=0)[0].text


def test_json_schema_constrained_output_is_valid(embedded_llm):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 24}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    outs = embedded_llm.generate("A person, as JSON:\n", n=3, max_tokens=48, temperature=1.0, seed=1, json_schema=schema)
    for c in outs:
        value = json.loads(c.text)
        assert set(value) == {"name", "age"} and isinstance(value["age"], int)
        assert c.parsed == value


def test_score_is_per_token_and_prefers_the_right_answer(embedded_llm):
    right = embedded_llm.score(PROMPT, " Paris")
    wrong = embedded_llm.score(PROMPT, " Banana")
    assert right.tokens == [" Paris"]
    assert right.total == pytest.approx(sum(right.logprobs)) and right.total < 0
    assert right.total > wrong.total + 3
    # scoring leaves generation intact
    assert embedded_llm.generate(PROMPT, max_tokens=3, temperature=0, stop=["\n"])[0].text.strip() == "Paris"


def test_chat_messages_use_a_transcript_on_the_base_model(embedded_llm):
    assert embedded_llm.chat_template is None and not embedded_llm.instruction_tuned
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    c = embedded_llm.generate(msgs, max_tokens=40, temperature=0)[0]
    assert "User:" not in c.text  # stopped at the next role label


def test_model_is_loaded_once_and_shared_by_threads(embedded_llm):
    other = load_llm("llamacpp")
    assert other._llama is embedded_llm._llama
    expected = embedded_llm.generate("Count: one, two,", max_tokens=8, temperature=0)[0].text
    results, errors = [], []

    def work():
        try:
            results.append(other.generate("Count: one, two,", max_tokens=8, temperature=0)[0].text)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [expected] * 4


def test_explicit_gguf_path(embedded_llm):
    llm = LlamaCppLLM(model_path=embedded_llm.model_path)
    assert llm.count_tokens("hello world") == embedded_llm.count_tokens("hello world")


def test_json_properties_come_in_schema_order(embedded_llm):
    schema = {"type": "object", "properties": {"thinking": {"type": "string", "maxLength": 30},
                                                "action": {"enum": ["go north", "go south"]}},
              "required": ["thinking", "action"]}
    [c] = embedded_llm.generate("Decide, as JSON:\n", json_schema=schema, temperature=0.8, seed=2, max_tokens=60)
    assert c.text.index('"thinking"') < c.text.index('"action"')
